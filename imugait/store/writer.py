"""Crash-safe session writer (HDF5, SWMR).

Life cycle::

    w = SessionWriter("run.h5", meta={"subject_id": "R01", "condition": "pre-stretch"})
    w.add_sensor(info_left); w.add_sensor(info_right)   # declare every sensor first
    w.start()                                          # (or implicitly on the first append)
    w.append_block(block, t_s)                         # as samples arrive
    w.add_marker(t_s, "start stretching")
    ...
    w.close("duration reached")

Why this is crash-safe: every dataset is created before the file is switched to SWMR
mode (HDF5 forbids creating objects afterwards), data is appended along the first axis
only, and the writer flushes at least every ``flush_interval_s`` (1 s). SWMR orders its
metadata writes so that the file on disk is a valid HDF5 file after every flush; a
``kill -9`` therefore loses only what arrived since the last flush. Readers
(:func:`imugait.store.reader.open_session`) can open the file while it grows.

Within each flush the sample rows are written before the packet rows that describe them,
so a reader (or a crash) never sees a packet whose samples are missing; rows without a
packet are ignored by the reader.

Disk full: before every flush the writer checks the free space (and the process file-size
limit); when less than ``reserve_bytes`` (default: 4 flushes' worth, at least 64 kB) would
remain, it closes the file cleanly (``stop_reason`` says why) and raises
:class:`SessionWriteError`. Any other write error (I/O error, or a disk that fills faster
than the check) also raises :class:`SessionWriteError`; the file on disk then holds
everything up to the last successful flush and opens normally. HDF5 2.0 cannot shut down
cleanly after such an error (it crashes at interpreter exit while closing the failed file),
so a program should end with ``os._exit`` after reporting it — ``imugait record`` does.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import socket
import time
from pathlib import Path

import h5py
import numpy as np

import imugait
from imugait.conventions import SIDES
from imugait.errors import ImugaitError
from imugait.store import raw as raw_store
from imugait.store import schema as S
from imugait.types import SampleBlock, SensorInfo

_RESID_LIMIT_NS = 2**31 - 1
_TS_TOL_S = 1e-6  # session-time linear model must reproduce t_s to 1 µs


class SessionWriteError(ImugaitError):
    """Writing the session failed (disk full, I/O error); what was flushed before is kept."""


def utc_now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _create_table(group: h5py.Group, name: str, columns, chunk_rows: int) -> h5py.Group:
    g = group.create_group(name)
    for col in columns:
        _create_column(g, col, chunk_rows)
    return g


def _create_column(group: h5py.Group, col: S.Column, chunk_rows: int) -> h5py.Dataset:
    dtype = h5py.string_dtype("utf-8") if col.dtype is S.STR else np.dtype(col.dtype)
    kw = {}
    if col.dtype is not S.STR:
        kw = dict(compression=S.COMPRESSION, compression_opts=S.COMPRESSION_LEVEL, shuffle=True)
        if col.fill is not None:
            kw["fillvalue"] = col.fill
    ds = group.create_dataset(
        col.name, shape=(0, *col.tail), maxshape=(None, *col.tail), dtype=dtype,
        chunks=(chunk_rows, *col.tail), **kw,
    )
    ds.attrs["units"] = col.units
    ds.attrs["description"] = col.description
    return ds


def info_to_attrs(info: SensorInfo) -> dict:
    d = info.to_dict()
    return {k: d[k] for k in S.SENSOR_ATTRS}


class _Table:
    """Buffered rows for one table (a group of equal-length 1-D/2-D datasets)."""

    def __init__(self, group: h5py.Group, columns):
        self.group = group
        self.columns = columns
        self.ds = {c.name: group[c.name] for c in columns}
        self.pending: dict[str, list] = {c.name: [] for c in columns}
        self.n_pending = 0

    def add(self, **row):
        for c in self.columns:
            self.pending[c.name].append(row[c.name])
        self.n_pending += 1

    def add_many(self, **cols):
        n = None
        for c in self.columns:
            v = cols[c.name]
            self.pending[c.name].append(np.asarray(v))
            n = len(v)
        self.n_pending += n if n else 0

    def write(self):
        if not self.n_pending:
            return
        for c in self.columns:
            vals = self.pending[c.name]
            if c.dtype is S.STR:
                arr = np.array([str(v) for v in vals], dtype=object)
            elif vals and isinstance(vals[0], np.ndarray):
                arr = np.concatenate(vals).astype(c.dtype, copy=False)
            else:
                arr = np.asarray(vals, dtype=c.dtype)
            ds = self.ds[c.name]
            n0 = ds.shape[0]
            ds.resize((n0 + len(arr), *c.tail))
            ds[n0:] = arr
        self.pending = {c.name: [] for c in self.columns}
        self.n_pending = 0


class _SensorBuf:
    def __init__(self, group: h5py.Group, info: SensorInfo):
        self.group = group
        self.info = info
        self.samples = _Table(group, S.SAMPLE_COLUMNS)
        self.tables = {name: _Table(group[name], cols) for name, cols in S.SENSOR_TABLES.items()}
        for name, cols in S.OPTIONAL_SENSOR_TABLES.items():  # clock points (final clock mapping)
            if name in group:
                self.tables[name] = _Table(group[name], cols)
        self.rows = 0  # rows written or pending
        self.n_samples = 0


class SessionWriter:
    """Append-only, crash-safe writer of one session file.

    ``meta`` keys (all optional): subject_id, condition, activity, protocol, notes,
    source ("ble" | "simulated" | "csv" | "hugadb" | ...), source_json (dict → JSON:
    simulator config, provenance of imported files), t0_host_s (host monotonic time of
    session time 0; default: now), t0_utc.
    """

    def __init__(self, path, meta: dict | None = None, *, overwrite: bool = False,
                 flush_interval_s: float = 1.0, clock=time.monotonic, reserve_bytes: int | None = None):
        self.path = Path(path)
        self.meta = dict(meta or {})
        self.flush_interval_s = float(flush_interval_s)
        self._clock = clock
        self._sensors: dict[str, _SensorBuf] = {}
        self._raw: dict[str, raw_store.RawTable] = {}
        self._started = False
        self._closed = False
        self._failed: Exception | None = None
        self._last_flush = clock()
        self.reserve_bytes = reserve_bytes
        self._max_growth = 0
        self._last_size = 0
        if self.path.exists() and not overwrite:
            raise ImugaitError(f"{self.path}: file exists — choose another --out name or delete it first")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Built under a temporary name and renamed once it is a complete SWMR file: a crash
        # while the structure is being created never leaves a half-made file at ``path``.
        self._tmp_path = self.path.with_name(self.path.name + ".creating")
        try:
            self.f = h5py.File(self._tmp_path, "w", libver="latest")
        except OSError as e:
            raise SessionWriteError(f"{self.path}: cannot create the session file ({e})") from e
        self.t0_host_s = float(self.meta.get("t0_host_s", clock()))
        a = self.f.attrs
        a["format"] = S.FORMAT_NAME
        a["schema_version"] = S.SCHEMA_VERSION
        a["imugait_version"] = imugait.__version__
        a["created_utc"] = utc_now_iso()
        for k in ("subject_id", "condition", "activity", "protocol", "notes", "source"):
            a[k] = str(self.meta.get(k, "") or "")
        a["source_json"] = json.dumps(self.meta.get("source_json", {}), default=str, sort_keys=True)
        a["t0_host_s"] = self.t0_host_s
        a["t0_utc"] = str(self.meta.get("t0_utc", utc_now_iso()))
        a["writer_pid"] = os.getpid()
        a["writer_host"] = socket.gethostname()
        self.f.create_group("sensors")
        self._root = {name: _Table(_create_table(self.f, name, cols, S.SMALL_CHUNK_ROWS), cols)
                      for name, cols in S.ROOT_TABLES.items()}

    # -- structure (before start) -------------------------------------------------
    def add_sensor(self, info: SensorInfo, raw: bool = False) -> None:
        """Declare a sensor; ``raw=True`` also creates its raw-notification group
        (:mod:`imugait.store.raw`, filled by :meth:`add_raw`)."""
        if self._started:
            raise ImugaitError(
                f"{self.path}: sensor '{info.side}' added after recording started — declare all sensors first")
        if info.side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {info.side!r}")
        if info.side in self._sensors:
            raise ValueError(f"sensor {info.side!r} already added")
        g = self.f["sensors"].create_group(info.side)
        for k, v in info_to_attrs(info).items():
            g.attrs[k] = v
        for col in S.SAMPLE_COLUMNS:
            _create_column(g, col, S.SAMPLE_CHUNK_ROWS)
        for name, cols in S.SENSOR_TABLES.items():
            _create_table(g, name, cols, S.TABLE_CHUNK_ROWS if name == "packets" else S.SMALL_CHUNK_ROWS)
        for name, cols in S.OPTIONAL_SENSOR_TABLES.items():
            _create_table(g, name, cols, S.TABLE_CHUNK_ROWS)
        buf = _SensorBuf(g, info)
        self._sensors[info.side] = buf
        if raw:
            self._raw[info.side] = raw_store.create(g)
        buf.tables["info_log"].add(t_s=self.session_time(), json=json.dumps(info.to_dict(), default=str))

    @property
    def sides(self) -> tuple[str, ...]:
        return tuple(s for s in SIDES if s in self._sensors)

    def start(self) -> None:
        """Freeze the structure and switch to SWMR (readers may open the file from now on)."""
        if self._started:
            return
        if not self._sensors:
            raise ImugaitError(f"{self.path}: no sensor declared — nothing to record")
        self.f.attrs["sides"] = json.dumps(list(self.sides))
        self._started = True
        self.log("recording started")
        self._guard(self._write_pending)
        self._guard(lambda: setattr(self.f, "swmr_mode", True))
        self._guard(self.f.flush)
        self._guard(lambda: os.replace(self._tmp_path, self.path))
        self._last_flush = self._clock()

    def session_time(self) -> float:
        return self._clock() - self.t0_host_s

    # -- data ------------------------------------------------------------------------
    def append_block(self, block: SampleBlock, t_s=None) -> None:
        """Store one block. ``t_s``: session time per sample (from the clock mapping);
        None means device time is the session clock (file imports)."""
        self._check_open()
        if not self._started:
            self.start()
        buf = self._sensors.get(block.side)
        if buf is None:
            raise ImugaitError(f"{self.path}: block for undeclared sensor '{block.side}'")
        n = len(block)
        if n == 0:
            return
        if (not math.isclose(block.acc_scale_mps2, buf.info.acc_scale_mps2, rel_tol=1e-9)
                or not math.isclose(block.gyr_scale_dps, buf.info.gyr_scale_dps, rel_tol=1e-9)):
            raise ImugaitError(
                f"{self.path}: {block.side} sensor changed its scale factors during the recording "
                f"(acc {buf.info.acc_scale_mps2}->{block.acc_scale_mps2}); start a new session")
        t_dev = np.asarray(block.t_dev_s, dtype=np.float64)
        ts = t_dev if t_s is None else np.asarray(t_s, dtype=np.float64)
        acc = np.asarray(block.acc_counts, dtype=np.int16).reshape(n, 3)
        gyr = np.asarray(block.gyr_counts, dtype=np.int16).reshape(n, 3)
        self._store(buf, block, 0, n, t_dev, ts, acc, gyr)
        self.maybe_flush()

    def _store(self, buf, block, i0, i1, t_dev, ts, acc, gyr):
        """Store samples i0..i1 of a block as one packet row, splitting if the linear
        time models cannot represent it exactly (residual overflow / non-linear t_s)."""
        n = i1 - i0
        td = t_dev[i0:i1]
        tss = ts[i0:i1]
        k = np.arange(n, dtype=np.float64)
        dt = (td[-1] - td[0]) / (n - 1) if n > 1 else 0.0
        resid = np.round((td - (td[0] + k * dt)) * 1e9)
        slope = (tss[-1] - tss[0]) / (td[-1] - td[0]) if n > 1 and td[-1] != td[0] else 1.0
        ts_err = np.abs(tss[0] + slope * (td - td[0]) - tss) if n > 1 else np.zeros(1)
        if n > 1 and (not np.all(np.isfinite(resid)) or np.max(np.abs(resid)) > _RESID_LIMIT_NS
                      or np.max(ts_err) > _TS_TOL_S):
            mid = i0 + n // 2
            self._store(buf, block, i0, mid, t_dev, ts, acc, gyr)
            self._store(buf, block, mid, i1, t_dev, ts, acc, gyr)
            return
        buf.samples.add_many(acc_counts=acc[i0:i1], gyr_counts=gyr[i0:i1],
                             t_dev_resid_ns=resid.astype(np.int32))
        buf.tables["packets"].add(
            seq=int(block.seq), first_index=int(block.first_index) + i0, n=n, row=buf.rows,
            t_dev_s=float(td[0]), dt_dev_s=float(dt), t_arrival_host_s=float(block.t_arrival_host_s),
            t_s=float(tss[0]), ds_ddev=float(slope), epoch=int(block.extra.get("epoch", 0) or 0))
        buf.rows += n
        buf.n_samples += n

    def add_raw(self, side: str, t_arrival_host_s: float, channel: str, data: bytes) -> None:
        """Keep one notification's bytes (sensors declared with ``raw=True``; others: ignored)."""
        self._check_open()
        table = self._raw.get(side)
        if table is not None:
            table.add(t_arrival_host_s, channel, data)

    def add_marker(self, t_s: float, text: str) -> None:
        self._check_open()
        self._root["markers"].add(t_s=float(t_s), text=str(text))
        self.maybe_flush()

    def log(self, text: str, t_s: float | None = None) -> None:
        self._check_open()
        self._root["log"].add(t_s=self.session_time() if t_s is None else float(t_s), text=str(text))

    def add_gap(self, side: str, t_s_start: float, t_s_end: float, first_missing_index: int,
                n_missing: int, reason: str = "packet_loss") -> None:
        self._check_open()
        self._sensors[side].tables["gaps"].add(
            t_s_start=float(t_s_start), t_s_end=float(t_s_end),
            first_missing_index=int(first_missing_index), n_missing=int(n_missing), reason=str(reason))

    def add_link_event(self, side: str, state: str, t_host_s: float, reason: str = "",
                       intentional: bool = False) -> None:
        self._check_open()
        if side not in self._sensors:
            return
        self._sensors[side].tables["link"].add(
            t_host_s=float(t_host_s), t_s=float(t_host_s) - self.t0_host_s, state=str(state),
            reason=str(reason), intentional=int(bool(intentional)))

    def add_status(self, side: str, t_s: float, battery_pct: float | None = None,
                   device_dropped_samples: int = 0, fifo_overflow: bool = False) -> None:
        self._check_open()
        if side not in self._sensors:
            return
        self._sensors[side].tables["status"].add(
            t_s=float(t_s), battery_pct=float("nan") if battery_pct is None else float(battery_pct),
            device_dropped_samples=int(device_dropped_samples), fifo_overflow=int(bool(fifo_overflow)))

    def add_info(self, info: SensorInfo, t_s: float | None = None) -> None:
        """Log a (re-)read SensorInfo (after a reconnect)."""
        self._check_open()
        if info.side not in self._sensors:
            return
        self._sensors[info.side].tables["info_log"].add(
            t_s=self.session_time() if t_s is None else float(t_s),
            json=json.dumps(info.to_dict(), default=str))

    def add_clock_points(self, side: str, t_dev_s, t_arrival_host_s, used, segment, epoch) -> None:
        """Keep clock points of the live mapping (``engine.ClockPoints``) for the final mapping."""
        self._check_open()
        buf = self._sensors.get(side)
        if buf is None or "clock_points" not in buf.tables or not len(t_dev_s):
            return
        buf.tables["clock_points"].add_many(t_dev_s=np.asarray(t_dev_s, np.float64),
                                            t_arrival_host_s=np.asarray(t_arrival_host_s, np.float64),
                                            used=np.asarray(used, np.int8), segment=np.asarray(segment, np.int32),
                                            epoch=np.asarray(epoch, np.int32))

    def add_event(self, ev) -> bool:
        """Store an acquisition event in its table — link changes, status, re-read sensor
        information, data gaps, clock points (``imugait.acquire.base`` / ``engine.GapEvent``,
        ``engine.ClockPoints``). The one
        mapping from events to the file, used by ``imugait record`` and the live view.
        Returns False for events that have no table (packets, blocks) or unknown sides."""
        from imugait.acquire.base import InfoEvent, LinkEvent, StatusEvent

        if isinstance(ev, LinkEvent):
            self.add_link_event(ev.side, ev.state, ev.t_host_s, ev.reason, ev.intentional)
        elif isinstance(ev, StatusEvent):
            self.add_status(ev.side, ev.t_host_s - self.t0_host_s, ev.battery_pct,
                            ev.device_dropped_samples, ev.fifo_overflow)
        elif isinstance(ev, InfoEvent):
            self.add_info(ev.info, ev.t_host_s - self.t0_host_s)
        elif type(ev).__name__ == "GapEvent" and ev.side in self._sensors:
            self.add_gap(ev.side, ev.t_s_start, ev.t_s_end, ev.first_missing_index, ev.n_missing, ev.reason)
        elif type(ev).__name__ == "ClockPoints":  # imugait.acquire.engine.ClockPoints
            self.add_clock_points(ev.side, ev.t_dev_s, ev.t_arrival_host_s, ev.used, ev.segment, ev.epoch)
        else:
            return False
        return True

    # -- flushing ------------------------------------------------------------------
    def maybe_flush(self) -> None:
        if self._clock() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        self._check_open()
        if not self._started:
            self.start()
            return
        self._check_space()
        self._guard(self._write_pending)
        self._guard(self.f.flush)
        self._last_flush = self._clock()
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return
        self._max_growth = max(self._max_growth, size - self._last_size)
        self._last_size = size

    def space_left_bytes(self) -> float:
        """Bytes this file may still grow: free disk space, and the process file-size limit."""
        left = float("inf")
        try:
            st = os.statvfs(self.path.parent)
            left = st.f_bavail * st.f_frsize
        except (OSError, AttributeError):
            pass
        try:
            import resource

            soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
            if soft != resource.RLIM_INFINITY:
                left = min(left, soft - self._last_size)
        except (ImportError, OSError, ValueError):
            pass
        return left

    def _check_space(self):
        reserve = self.reserve_bytes
        if reserve is None:
            reserve = max(64 * 1024, 4 * self._max_growth)
        if reserve <= 0:
            return
        left = self.space_left_bytes()
        if left < reserve:
            reason = f"disk full: only {left / 1e6:.2f} MB left for the file"
            self.close(reason)
            raise SessionWriteError(
                f"{self.path}: recording stopped — {reason}; everything recorded so far is kept "
                "(free disk space and start a new session)")

    def _write_pending(self):
        for buf in self._sensors.values():
            buf.samples.write()          # samples first ...
            for t in buf.tables.values():  # ... then the packets that describe them
                t.write()
        for t in self._root.values():
            t.write()
        for raw in self._raw.values():
            raw.write()

    def n_samples(self, side: str) -> int:
        return self._sensors[side].n_samples

    # -- errors and closing ------------------------------------------------------------
    def _check_open(self):
        if self._failed is not None:
            raise SessionWriteError(
                f"{self.path}: writing stopped after an earlier error ({self._failed}); "
                "data flushed before the error is kept")
        if self._closed:
            raise ImugaitError(f"{self.path}: session already closed")

    def _guard(self, fn):
        try:
            return fn()
        except (OSError, RuntimeError) as e:
            self._failed = e
            raise SessionWriteError(
                f"{self.path}: write failed ({_short(e)}) — recording stopped; data flushed up to "
                f"the last second is kept (free disk space and start a new session)") from e

    @property
    def failed(self) -> bool:
        return self._failed is not None

    def close(self, reason: str = "") -> None:
        """Flush, close, and mark the file as closed cleanly (adds FINAL_ATTRS).
        After a write error the file is closed as far as possible and left as flushed."""
        if self._closed:
            return
        self._closed = True
        if self._failed is not None:
            # Do not close: closing would flush metadata of the failed write (extents without
            # data). The file on disk stays as of the last successful flush.
            return
        if not self._sensors:  # nothing declared: nothing to keep
            try:
                self.f.close()
            finally:
                self._tmp_path.unlink(missing_ok=True)
            return
        try:
            if not self._started and self._sensors:
                self._closed = False
                self.start()
                self._closed = True
            self._root["log"].add(t_s=self.session_time(), text=f"recording stopped: {reason or 'closed'}")
            self._write_pending()
            self.f.flush()
            self.f.close()
        except (OSError, RuntimeError) as e:
            self._failed = e
            raise SessionWriteError(f"{self.path}: closing failed ({_short(e)}); data flushed before is kept") from e
        try:
            finalize(self.path, reason=reason)
        except Exception as e:  # noqa: BLE001 - the file is complete and valid; only the closing marks are missing
            import warnings

            warnings.warn(f"{self.path}: recording closed, but marking it closed failed ({_short(e)})", stacklevel=2)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close("closed")
        else:
            try:
                self.close(f"error: {exc_type.__name__}")
            except SessionWriteError:
                pass


def finalize(path, reason: str = "", recovered: bool = False, compact: bool = True) -> None:
    """Mark a recording closed (FINAL_ATTRS) and compact the file.

    Compacting matters: in SWMR mode HDF5 never reuses the space of a chunk that a flush
    rewrote, so a live file holds every intermediate version of its growing chunks (about
    6x the data). :func:`compact_file` copies every object into a fresh file, adds the
    closing attributes there, verifies the raw data hash and replaces the original
    atomically — the original is never modified in place, so a reader that still has it
    open (live view, ``imugait info``) is not disturbed. If compacting fails, the closing
    attributes are written in place instead.
    """
    attrs = {"closed_cleanly": not recovered, "closed_utc": utc_now_iso(), "stop_reason": str(reason)}
    if recovered:
        attrs["recovered_utc"] = utc_now_iso()
    if compact and compact_file(path, attrs):
        return
    # in place; readers may hold the file open (their shared lock would block us)
    with h5py.File(path, "r+", libver="latest", locking=False) as f:
        for k, v in attrs.items():
            f.attrs[k] = v


def _copy_compact(src: h5py.Group, dst: h5py.Group) -> None:
    """Copy a group tree; growing (unlimited) datasets are re-chunked to the large
    read-friendly chunks of :data:`schema.FINAL_CHUNK_ROWS` and recompressed."""
    for k, v in src.attrs.items():
        dst.attrs[k] = v
    for name, obj in src.items():
        if isinstance(obj, h5py.Group):
            _copy_compact(obj, dst.create_group(name))
        elif obj.maxshape and obj.maxshape[0] is None and obj.chunks is not None:
            rows = S.FINAL_CHUNK_ROWS if obj.dtype.kind != "O" else S.SMALL_CHUNK_ROWS * 16
            kw = {}
            if obj.compression:
                kw = dict(compression=obj.compression, compression_opts=obj.compression_opts, shuffle=obj.shuffle)
            if obj.fillvalue is not None and obj.dtype.kind != "O":
                kw["fillvalue"] = obj.fillvalue
            n = obj.shape[0]
            ds = dst.create_dataset(name, shape=obj.shape, maxshape=obj.maxshape, dtype=obj.dtype,
                                    chunks=(max(1, min(rows, max(n, 1))), *obj.shape[1:]), **kw)
            step = rows * 4
            for i in range(0, n, step):
                ds[i:i + step] = obj[i:i + step]
            for k, v in obj.attrs.items():
                ds.attrs[k] = v
        else:
            src.copy(obj, dst, name=name)


def compact_file(path, extra_attrs: dict | None = None) -> bool:
    """Rewrite ``path`` compactly (no SWMR leftovers, large chunks), with ``extra_attrs``
    added to the root, and replace it if the raw data hash is unchanged. Returns True if
    replaced; on any problem the original is kept as it is and False is returned."""
    from imugait.store.reader import open_session

    path = Path(path)
    tmp = path.with_name(path.name + ".compact")
    try:
        with h5py.File(path, "r", locking=False) as src, h5py.File(tmp, "w", libver="latest") as dst:
            _copy_compact(src, dst)
            for k, v in (extra_attrs or {}).items():
                dst.attrs[k] = v
        with open_session(path) as a, open_session(tmp) as b:
            same = a.raw_sha256() == b.raw_sha256() and a.sides == b.sides
        if not same:
            raise OSError("raw data hash changed while compacting")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except Exception:  # noqa: BLE001 - compaction is an optimisation; the original stays as it is
        tmp.unlink(missing_ok=True)
        return False
    return True


def _short(e: Exception) -> str:
    s = str(e)
    return s if len(s) < 160 else s[:157] + "..."
