"""Session file schema (HDF5), version 1 — the single source of names, types and units.

The human description is ``docs/session-schema.md``; this module is what the writer
creates and the reader checks, so the two cannot drift apart.

Layout (v1)::

    /                     attrs: format="imugait-session", schema_version=1, ... (ROOT_ATTRS)
    /sensors/<side>/      attrs: SensorInfo fields (SENSOR_ATTRS)
        acc_counts        (n,3) int16   raw accelerometer counts, sensor frame
        gyr_counts        (n,3) int16   raw gyroscope counts, sensor frame
        t_dev_resid_ns    (n,)  int32   device time minus the per-packet linear model
        packets/          one row per stored packet (PACKET_COLUMNS)
        gaps/             one row per detected gap (GAP_COLUMNS)
        link/             one row per link state change (LINK_COLUMNS)
        status/           battery and device-side drops (STATUS_COLUMNS)
        info_log/         every SensorInfo received (reconnects re-read it)
        clock_points/     optional: every clock point of the live mapping (CLOCK_POINT_COLUMNS);
                          the reader maps samples from them (final mapping, imugait/clock.py)
    /markers/             t_s, text
    /log/                 t_s, text   (session events: start, stop and why)
    /derived/             attrs: current=<run-id>   (created by process_session)
        <run-id>/         attrs: algorithm_version, parameters_json, raw_sha256, created_utc, ...
            strides/      one 1-D dataset per column of the stride table
            summary_json, asymmetry_json, calibration_json   (scalar UTF-8 strings)

Per-sample values are reconstructed from the packet table (k = 0..n-1 within a packet):
``sample_index = first_index + k``;
``t_dev_s = t_dev_s[packet] + k * dt_dev_s[packet] + t_dev_resid_ns * 1e-9``;
``t_s = t_s[packet] + ds_ddev[packet] * (t_dev_s - t_dev_s[packet])`` (the live mapping);
when ``clock_points`` holds points, the reader returns the final mapping of ``t_dev_s``
instead (:class:`imugait.clock.SessionClock`; docs/session-schema.md, "Final clock mapping").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FORMAT_NAME = "imugait-session"
SCHEMA_VERSION = 1
"""Version this imugait writes. Readers accept every version in ``READABLE_VERSIONS``."""
READABLE_VERSIONS = (1,)

STR = "str"  # marker for variable-length UTF-8 strings


@dataclass(frozen=True)
class Column:
    name: str
    dtype: Any  # numpy dtype or STR
    units: str
    description: str
    tail: tuple = ()  # extra (fixed) dimensions, e.g. (3,) for xyz
    fill: object = None  # HDF5 fill value: rows allocated but never written read as this


def _c(name, dtype, units, description, tail=(), fill=None):
    return Column(name, dtype, units, description, tail, fill)


RESID_FILL = -(2**31)
"""Fill value of t_dev_resid_ns: marks rows that were never written (the writer never
stores it; residuals are limited to +-(2**31-1) ns)."""


# Per-sample datasets directly under /sensors/<side>/ (equal length, rows in arrival order).
SAMPLE_COLUMNS: tuple[Column, ...] = (
    _c("acc_counts", np.int16, "count", "Raw accelerometer x/y/z in the sensor frame as sent; "
       "m/s^2 = counts * acc_scale_mps2 (group attribute).", (3,)),
    _c("gyr_counts", np.int16, "count", "Raw gyroscope x/y/z in the sensor frame as sent; "
       "deg/s = counts * gyr_scale_dps (group attribute).", (3,)),
    _c("t_dev_resid_ns", np.int32, "ns", "Device time of the sample minus the packet's linear "
       "model t_dev_s + k*dt_dev_s (zero for evenly sampled packets); -2**31 marks an unwritten row.",
       fill=RESID_FILL),
)

PACKET_COLUMNS: tuple[Column, ...] = (
    _c("seq", np.int64, "1", "Packet sequence number from the device (-1: source has none). "
       "A packet split on storage repeats its seq."),
    _c("first_index", np.int64, "sample", "Device sample counter of the packet's first sample."),
    _c("n", np.int32, "sample", "Number of samples in the packet.", fill=0),
    _c("row", np.int64, "row", "Row of the packet's first sample in acc_counts/gyr_counts.", fill=-1),
    _c("t_dev_s", np.float64, "s", "Device time of the packet's first sample (device clock).", fill=np.nan),
    _c("dt_dev_s", np.float64, "s", "Device-time step between consecutive samples in the packet.",
       fill=np.nan),
    _c("t_arrival_host_s", np.float64, "s", "Host monotonic time when the packet arrived "
       "(NaN for file imports). Never used as sample time."),
    _c("t_s", np.float64, "s", "Session time of the packet's first sample, from the live "
       "device->host clock mapping.", fill=np.nan),
    _c("ds_ddev", np.float64, "s/s", "Slope of session time over device time used within the packet.",
       fill=np.nan),
    _c("epoch", np.int32, "1", "Sample-counter epoch from the acquisition engine: increments when the "
       "device restarts its counter (reboot); sample indices are unique within an epoch."),
)

GAP_COLUMNS: tuple[Column, ...] = (
    _c("t_s_start", np.float64, "s", "Session time of the last sample before the gap."),
    _c("t_s_end", np.float64, "s", "Session time of the first sample after the gap."),
    _c("first_missing_index", np.int64, "sample", "Device sample index of the first missing sample."),
    _c("n_missing", np.int64, "sample", "Number of missing samples."),
    _c("reason", STR, "", "Why samples are missing (packet_loss, disconnect, reboot, ...)."),
)

LINK_COLUMNS: tuple[Column, ...] = (
    _c("t_host_s", np.float64, "s", "Host monotonic time of the link state change."),
    _c("t_s", np.float64, "s", "Session time of the change (t_host_s - t0_host_s)."),
    _c("state", STR, "", "connecting | connected | reconnecting | stopped."),
    _c("reason", STR, "", "Why (e.g. 'link lost', 'user stop')."),
    _c("intentional", np.int8, "bool", "1 when the change was asked for (never counted as loss)."),
)

STATUS_COLUMNS: tuple[Column, ...] = (
    _c("t_s", np.float64, "s", "Session time of the status report."),
    _c("battery_pct", np.float32, "%", "Battery level (NaN: not reported)."),
    _c("device_dropped_samples", np.int64, "sample", "Samples the device reported as dropped."),
    _c("fifo_overflow", np.int8, "bool", "1 when the device reported a FIFO overflow."),
)

INFO_COLUMNS: tuple[Column, ...] = (
    _c("t_s", np.float64, "s", "Session time the sensor information was received."),
    _c("json", STR, "", "SensorInfo as JSON (fields of imugait.types.SensorInfo)."),
)

MARKER_COLUMNS: tuple[Column, ...] = (
    _c("t_s", np.float64, "s", "Session time of the annotation."),
    _c("text", STR, "", "Annotation text."),
)

LOG_COLUMNS: tuple[Column, ...] = (
    _c("t_s", np.float64, "s", "Session time of the event."),
    _c("text", STR, "", "What happened (recording started, stopped and why, errors)."),
)

SENSOR_TABLES: dict[str, tuple[Column, ...]] = {
    "packets": PACKET_COLUMNS,
    "gaps": GAP_COLUMNS,
    "link": LINK_COLUMNS,
    "status": STATUS_COLUMNS,
    "info_log": INFO_COLUMNS,
}
CLOCK_POINT_COLUMNS: tuple[Column, ...] = (
    _c("t_dev_s", np.float64, "s", "Device time paired with the arrival (the packet's hand-off time, else "
       "its last sample), device clock."),
    _c("t_arrival_host_s", np.float64, "s", "Host monotonic time the notification arrived (same clock as "
       "t0_host_s)."),
    _c("used", np.int8, "bool", "1 when the live clock mapper used the point (0: sent from the device "
       "FIFO, or handed over before a reconnect)."),
    _c("segment", np.int32, "1", "Clock segment of the live mapper (a reconnect or a reboot starts one)."),
    _c("epoch", np.int32, "1", "Sample-counter epoch, as in packets/epoch."),
)

OPTIONAL_SENSOR_TABLES: dict[str, tuple[Column, ...]] = {"clock_points": CLOCK_POINT_COLUMNS}
"""Per-sensor tables a file may lack (written since the final clock mapping; earlier recordings and imports have
none): the writer creates them, the reader uses them when present."""

ROOT_TABLES: dict[str, tuple[Column, ...]] = {"markers": MARKER_COLUMNS, "log": LOG_COLUMNS}

SENSOR_ATTRS = (
    "side", "kind", "sample_rate_hz", "acc_scale_mps2", "gyr_scale_dps", "acc_range_g",
    "gyr_range_dps", "firmware", "mounting", "device_id", "name",
)
"""Group attributes of /sensors/<side> (the fields of :class:`imugait.types.SensorInfo`)."""

ROOT_ATTRS = (
    "format", "schema_version", "imugait_version", "created_utc", "subject_id", "condition",
    "activity", "protocol", "notes", "t0_host_s", "t0_utc", "source", "source_json", "sides",
    "session_uuid", "writer_host", "writer_pid", "writer_pid_start_ticks", "writer_boot_id", "writer_command",
)
"""Root attributes written at creation (before SWMR starts). The ``writer_*`` ones identify the
creating process (imugait.store.repair.writer_identity): a file with write marks whose writer
no longer runs is recovered on the next open."""

FINAL_ATTRS = ("closed_cleanly", "closed_utc", "stop_reason")
"""Root attributes added when a recording is closed normally (absent after a crash)."""

# Storage settings. Chunks of ~1.3 s at 200 Hz keep per-flush rewrites small.
SAMPLE_CHUNK_ROWS = 1024
TABLE_CHUNK_ROWS = 256
SMALL_CHUNK_ROWS = 64
FINAL_CHUNK_ROWS = 16384
"""Chunk rows of growing datasets once a file is closed and compacted (fast reading)."""
COMPRESSION = "gzip"
COMPRESSION_LEVEL = 4

STRIDE_UNITS = {
    "_s": "s", "_spm": "steps/min", "_pct": "%", "_deg": "deg", "_hz": "Hz", "_dps": "deg/s",
}


def units_for_column(name: str) -> str:
    """Units of a derived-table column from its name suffix (conventions: unit in every name)."""
    for suffix, unit in STRIDE_UNITS.items():
        if name.endswith(suffix):
            return unit
    return "1"
