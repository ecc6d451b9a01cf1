"""Raw notifications of commercial sensors in a session file: ``/sensors/<side>/raw/``.

A decoder bug must never destroy a recording: sessions from Polar and Movesense sensors
also keep every notification's bytes with its arrival time — and the commands imugait
wrote, which say what was asked (START settings, subscription paths) — so that
``imugait reprocess --redecode`` can decode them again with a fixed decoder
(:mod:`imugait.app.redecode`). Layout (``docs/session-schema.md``, "Raw notifications")::

    raw/                attrs: channels = JSON list, code -> channel name
        t_arrival_host_s  (n,) float64  host monotonic time the notification arrived
                                         (for a command: when it was written)
        channel           (n,) uint8    index into ``channels``
        offset            (n,) int64    where its bytes start in ``bytes``
        length            (n,) int32    how many bytes
        bytes             (m,) uint8    all payloads back to back

SWMR-safe: every dataset is created before the file switches to SWMR and only grows; the
bytes are written before the rows that point at them, so a crash never leaves a row
pointing past the written bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import h5py
import numpy as np

GROUP = "raw"
CHANNELS = ("other", "pmd_data", "pmd_cp", "pmd_cp_write", "gsp", "gsp_cmd", "battery", "data", "status")
"""Channel codes. New channels are appended (codes never change); unknown ones are stored as 0."""
_CODE = {c: i for i, c in enumerate(CHANNELS)}
_ROW_COLUMNS = (("t_arrival_host_s", np.float64, "s"), ("channel", np.uint8, "code"), ("offset", np.int64, "byte"),
                ("length", np.int32, "byte"))
_CHUNK = 1024


def create(sensor_group: h5py.Group) -> "RawTable":
    """Create the raw group in a sensor's group (before SWMR starts)."""
    g = sensor_group.create_group(GROUP)
    g.attrs["channels"] = json.dumps(list(CHANNELS))
    g.attrs["description"] = ("Every notification as received (and every command written), for re-decoding: "
                              "see docs/session-schema.md, 'Raw notifications'.")
    for name, dtype, units in _ROW_COLUMNS:
        ds = g.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(_CHUNK,),
                              compression="gzip", compression_opts=4, shuffle=True)
        ds.attrs["units"] = units
    ds = g.create_dataset("bytes", shape=(0,), maxshape=(None,), dtype=np.uint8, chunks=(16 * _CHUNK,),
                          compression="gzip", compression_opts=4)
    ds.attrs["units"] = "byte"
    return RawTable(g)


class RawTable:
    """Buffered writer of one sensor's raw group (rows and bytes written on :meth:`write`)."""

    def __init__(self, group: h5py.Group):
        self.g = group
        self._rows: list[tuple[float, int, int]] = []
        self._data: list[bytes] = []
        self._n_bytes = int(group["bytes"].shape[0])

    def add(self, t_arrival_host_s: float, channel: str, data: bytes) -> None:
        self._rows.append((float(t_arrival_host_s), _CODE.get(channel, 0), len(data)))
        self._data.append(bytes(data))

    def write(self) -> None:
        if not self._rows:
            return
        blob = np.frombuffer(b"".join(self._data), dtype=np.uint8)
        ds = self.g["bytes"]
        n0 = ds.shape[0]
        ds.resize((n0 + len(blob),))
        if len(blob):
            ds[n0:] = blob
        lengths = np.array([r[2] for r in self._rows], dtype=np.int64)
        offsets = n0 + np.concatenate([[0], np.cumsum(lengths)[:-1]])
        cols = {"t_arrival_host_s": np.array([r[0] for r in self._rows]), "channel": np.array([r[1] for r in self._rows]),
                "offset": offsets, "length": lengths}
        for name, dtype, _units in _ROW_COLUMNS:
            d = self.g[name]
            m0 = d.shape[0]
            d.resize((m0 + len(self._rows),))
            d[m0:] = cols[name].astype(dtype)
        self._rows, self._data = [], []


@dataclass(frozen=True)
class RawNotification:
    t_arrival_host_s: float
    channel: str
    data: bytes


def read(sensor_group: h5py.Group) -> list[RawNotification]:
    """All raw rows of a sensor group, in arrival order ([] when the session has none). Rows
    whose bytes were never written (a crash between the two writes) are left out."""
    if GROUP not in sensor_group:
        return []
    g = sensor_group[GROUP]
    names = json.loads(g.attrs.get("channels", "[]")) or list(CHANNELS)
    blob = g["bytes"][...].tobytes()
    t, ch, off, ln = (g[c][...] for c in ("t_arrival_host_s", "channel", "offset", "length"))
    n = min(len(t), len(ch), len(off), len(ln))
    out = []
    for i in range(n):
        a, b = int(off[i]), int(off[i]) + int(ln[i])
        if b > len(blob):
            break
        out.append(RawNotification(float(t[i]), names[int(ch[i])] if int(ch[i]) < len(names) else "other", blob[a:b]))
    return out


def has_raw(sensor_group: h5py.Group) -> bool:
    return GROUP in sensor_group and sensor_group[GROUP]["t_arrival_host_s"].shape[0] > 0
