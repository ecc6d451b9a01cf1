"""Read session files: ``imugait.open_session(path)``.

::

    with imugait.open_session("run.h5") as s:
        s.meta["condition"], s.sides              # metadata, ("left", "right")
        info = s.sensor_info("left")              # SensorInfo (scales, rates, firmware...)
        raw = s.raw("left")                       # counts, sample_index, t_dev_s, t_s, packets...
        t_s, acc_mps2, gyr_dps = s.imu("left")    # session clock, SI units, time-ordered
        s.strides, s.summary, s.markers           # derived results of the current run
        s.derived_current                         # do they match the raw data and algorithm?
        s.writer_state                            # closed / being recorded (by whom) / interrupted
        s.quality("left")                         # damaged or cut-off packets and samples

Files may be read while a recording is still being written (HDF5 SWMR): a reader sees
the data up to the writer's last flush; :meth:`Session.refresh` picks up newer data, and
:attr:`Session.partial_note` names the file as partial. A file whose writer died (kill -9,
power cut) carries HDF5's "open for writing" marks; ``open_session`` recognises the writer
as gone (its lock is free and its recorded identity — host, pid, process start time, boot
id — names no running process) and clears the marks, so the file opens like any other
(docs/session-schema.md, "Writers, locks and atomic changes").

Damage is never silent: packets whose values contradict the file's own structure (rows
outside the sample datasets, overlapping rows, times that disagree with the sample counter,
non-finite or absurd time steps) are left out and counted (:meth:`Session.quality`,
``imugait info``); a time column that runs backwards is refused.

Every problem with the file raises :class:`imugait.errors.InputFileError` with one
sentence naming the file and what is wrong.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from imugait.clock import SessionClock
from imugait.conventions import SIDES
from imugait.errors import InputFileError
from imugait.analysis.params import ALGORITHM_VERSION
from imugait.store import flexor_schema
from imugait.store import schema as S
from imugait.store.repair import (SWMR_WRITE_FLAG, cleared_image, describe_writer, hdf5_write_locked,
                                  identity_from_attrs, superblock_info, writer_alive)
from imugait.store.writer import recover_file, tidy_after_dead_writer
from imugait.types import SensorInfo

_FIX_DAMAGED = "the file is incomplete or damaged; restore it from a backup copy"
_FIX_RESULTS = "the stored results are damaged; run `imugait analyze {path}` to compute them again"

# What a packet may look like (plausibility limits of the stored time model).
DS_DDEV_RANGE = (0.9, 1.1)      # session-time seconds per device-time second (drift is ppm)
DT_TOLERANCE = 0.10             # a packet's sample step may differ 10 % from the median
RESID_LIMIT_S = 0.25            # device-time residual of a sample within its packet
BACKWARDS_REFUSE_FRACTION = 0.10  # more packet steps running backwards: the time column is damaged
TIME_OUTLIER_S = 0.5
"""A packet whose session time disagrees with both neighbours (by the sample counter) by more
than this is damaged. Legitimately, the first packets of a clock segment are mapped before
the fit settles (tens of ms) and a stale packet after a reconnect was measured 285–306 ms off
(imugait.clock, point 6), so the limit sits above that."""

SENSOR_NUMBER_ATTRS = {
    # attribute: (lowest, highest) possible value. A 16-bit count at the highest scale spans
    # ±3277 m/s² (±334 g) and ±32768 deg/s — far beyond any body-worn IMU's range.
    "sample_rate_hz": (1e-3, 1e5),
    "acc_scale_mps2": (1e-7, 0.1),
    "gyr_scale_dps": (1e-7, 1.0),
}


def _clean_text(t: str) -> str:
    """Text as valid UTF-8: h5py hands undecodable bytes over as lone surrogates, which
    pandas and JSON refuse — they become U+FFFD."""
    try:
        t.encode("utf-8")
        return t
    except UnicodeEncodeError:
        return t.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _str(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return _clean_text(str(v))


def _attr_value(v):
    if isinstance(v, str):
        return _clean_text(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def _get(attrs, key, default=None):
    """An attribute's value, or ``default`` when it is absent or cannot be read (a damaged
    or undecodable value)."""
    try:
        return _attr_value(attrs[key]) if key in attrs else default
    except Exception:  # noqa: BLE001 - h5py raises many types for damaged attributes
        return default


def _all_attrs(attrs) -> dict:
    """Every readable attribute (damaged ones left out)."""
    out: dict = {}
    try:
        keys = list(attrs.keys())
    except Exception:  # noqa: BLE001
        return out
    for k in keys:
        v = _get(attrs, k, _UNREADABLE)
        if v is not _UNREADABLE:
            out[k] = v
    return out


_UNREADABLE = object()


def _number(v) -> float | None:
    """A real number from an attribute value, or None (strings, arrays, booleans)."""
    v = _attr_value(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def _json_attr(v, default):
    v = _attr_value(v)
    if not isinstance(v, str):
        return default
    try:
        return json.loads(v or "null") if v else default
    except ValueError:
        return default


def _swmr_probe_ok(path: Path, timeout_s: float = 20.0) -> bool:
    import subprocess
    import sys

    code = ("import sys, h5py; f = h5py.File(sys.argv[1], 'r', libver='latest', swmr=True); "
            "[f[k] for k in f]; f.close()")
    try:
        r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return False
    return r.returncode == 0


def results_digest(g: h5py.Group) -> str:
    """SHA-256 over every dataset of a derived run (names and values): stored as the run's
    ``results_sha256`` when written, checked when read — a changed byte in stored results is
    named, never shown as a number."""
    h = hashlib.sha256()
    names: list[str] = []
    g.visit(names.append)
    for name in sorted(names):
        obj = g[name]
        if not isinstance(obj, h5py.Dataset):
            continue
        v = obj[()]
        h.update(name.encode())
        if isinstance(v, np.ndarray) and v.dtype.kind not in "OSU":
            h.update(str(v.dtype.str).encode() + repr(v.shape).encode())
            h.update(np.ascontiguousarray(v).tobytes())
        else:
            h.update(repr([_str(x) for x in np.atleast_1d(v)]).encode("utf-8", "replace"))
    return h.hexdigest()


# -- who is writing: state of the file's writer ---------------------------------------------

@dataclass(frozen=True)
class WriterState:
    """What the file's writer is doing. ``state``: ``closed`` (no write marks),
    ``recording`` (a live writer has it open: the file is partial and growing) or
    ``interrupted`` (the writer died; ``marks_cleared`` when this open removed its marks)."""

    state: str
    writer: dict = field(default_factory=dict)
    marks_cleared: bool = False
    note: str = ""

    @property
    def live(self) -> bool:
        return self.state == "recording"

    @property
    def who(self) -> str:
        return describe_writer(self.writer) if self.writer.get("writer_pid") else "another program"


def _h5file(path: Path, swmr: bool = False, fileobj=None):
    kw = dict(libver="latest", swmr=True) if swmr else {}
    try:
        return h5py.File(fileobj if fileobj is not None else path, "r", **kw)
    except OSError as e:
        msg = str(e)
        if "truncated" in msg:
            raise InputFileError(path, None, "is truncated (the file ends before its data does)",
                                 "was the copy or download interrupted? copy the original again") from e
        if "SWMR" in msg or "already open" in msg:
            raise InputFileError(path, None, "is open for writing in another program and not readable yet",
                                 "try again when that program has finished") from e
        raise InputFileError(path, None, f"cannot be opened as HDF5 ({msg.split('(')[0].strip()})",
                             _FIX_DAMAGED) from e
    except (RuntimeError, ValueError, KeyError) as e:
        raise InputFileError(path, None, f"cannot be opened as HDF5 ({str(e).split('(')[0].strip()})",
                             _FIX_DAMAGED) from e


def _h5open(path: Path, recover: bool = True):
    """Open for reading -> (h5py.File, WriterState or None). Files with write marks: a live
    writer's file is opened in SWMR read mode (sees everything up to the last flush). A
    dead writer's file is recovered (``recover``): read in SWMR mode, copied compactly with
    the closing attributes, swapped in atomically (:func:`imugait.store.writer.recover_file`);
    where the file cannot be changed it is read as it is (SWMR), or from a copy in memory
    with the marks cleared."""
    try:
        sb = superblock_info(path)
    except (OSError, ValueError):
        sb = {"flags": None, "eof": None}
    flags = sb["flags"] or 0
    if sb["eof"] is not None and os.path.getsize(path) < sb["eof"]:
        # A write that failed (disk full) can leave the end-of-file mark beyond the data;
        # such a file still opens in SWMR mode. A truly truncated file makes HDF5's SWMR
        # reader retry for a long time, so probe in a child process with a time limit.
        if not (flags and _swmr_probe_ok(path)):
            raise InputFileError(path, None, f"is truncated ({os.path.getsize(path)} of {sb['eof']} bytes present)",
                                 "was the copy or download interrupted? copy the original again")
    if not flags:
        return _h5file(path), None
    if flags & SWMR_WRITE_FLAG:
        f = _h5file(path, swmr=True)
        try:
            ident = identity_from_attrs(f.attrs)
        except (OSError, RuntimeError, KeyError):
            ident = {}
        alive = writer_alive(path, ident)
        if alive is not False:
            return f, WriterState("recording", ident)
        if recover and recover_file(path, f):
            f.close()
            return _h5file(path), WriterState("interrupted", ident, marks_cleared=True)
        return f, WriterState("interrupted", ident, note="write marks left (the file could not be changed here)")
    # write marks without SWMR: a program opened the file read/write (an older imugait storing
    # results, another HDF5 tool). While it runs, HDF5 holds its lock on the file.
    if hdf5_write_locked(path):
        raise InputFileError(path, None, "is open for writing in another program (it holds the file's lock)",
                             "close that program or wait until it finishes, then try again")
    if recover and recover_file(path, None):
        f = _h5file(path)
        return f, WriterState("interrupted", identity_from_attrs(f.attrs), marks_cleared=True)
    try:
        data = cleared_image(path.read_bytes())
    except (OSError, ValueError) as e:
        raise InputFileError(path, None, "was left open for writing by a program that stopped, and cannot be "
                             f"read ({e})", "copy it to a writable folder and open the copy") from e
    f = _h5file(path, fileobj=io.BytesIO(data))
    return f, WriterState("interrupted", identity_from_attrs(f.attrs),
                          note="read from a copy in memory (the file could not be changed here)")


def open_session(path, mode: str = "r", *, recover: bool = True) -> "Session":
    """Open a session file for reading; see the module docstring. ``recover=False`` never
    changes the file (a dead writer's marks are then left in place)."""
    if mode != "r":
        raise ValueError("open_session opens files read-only (mode='r'); use process_session to write results")
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, None, "does not exist", "check the path")
    if path.is_dir():
        raise InputFileError(path, None, "is a folder, not a session file", "give the .h5 file inside it")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as e:
        raise InputFileError(path, None, f"cannot be read ({e.strerror})", "check permissions") from e
    if head != b"\x89HDF\r\n\x1a\n" and not h5py.is_hdf5(path):
        raise InputFileError(path, None, "is not an HDF5 file",
                             "give a session recorded or imported by imugait (.h5)")
    if recover:
        tidy_after_dead_writer(path)
    f, state = _h5open(path, recover)
    try:
        try:
            fmt = _str(_get(f.attrs, "format", ""))
        except (OSError, RuntimeError, KeyError) as e:
            raise InputFileError(path, "/", f"attributes cannot be read ({str(e).split('(')[0].strip()})",
                                 _FIX_DAMAGED) from e
        if fmt != S.FORMAT_NAME:
            raise InputFileError(path, None, "is an HDF5 file but not an imugait session (no format='imugait-session' attribute)",
                                 "import raw data with `imugait import` first")
        try:
            version = _number(_get(f.attrs, "schema_version"))
            if version is None or not math.isfinite(version) or version != int(version):
                raise ValueError
            version = int(version)
        except (KeyError, TypeError, ValueError, OSError):
            raise InputFileError(path, "/", "has no valid schema_version attribute", _FIX_DAMAGED) from None
        cls = SESSION_READERS.get(version)
        if cls is None:
            if version > S.SCHEMA_VERSION:
                raise InputFileError(
                    path, None, f"uses session schema v{version}, newer than this imugait reads (up to v{S.SCHEMA_VERSION})",
                    "upgrade imugait (pip install -U imugait)")
            raise InputFileError(path, None, f"uses unknown session schema v{version}", _FIX_DAMAGED)
        return cls(path, f, writer_state=state)
    except BaseException:
        f.close()
        raise


class Session:
    """A session file opened for reading (schema v1). Use as a context manager or call close()."""

    schema_version = 1

    def __init__(self, path: Path, f: h5py.File, owned: bool = True, writer_state: WriterState | None = None):
        self.path = Path(path)
        self._f = f
        self._owned = owned
        self._pcache: dict = {}
        self._verified: set = set()  # derived runs whose checksum was checked
        self._check_structure()
        self.meta: dict = _all_attrs(f.attrs)
        self.meta["source_info"] = _json_attr(self.meta.get("source_json"), {})
        sides = _json_attr(self.meta.get("sides"), None)
        if isinstance(sides, list):
            self.meta["sides"] = sides
        self.sides: tuple[str, ...] = tuple(s for s in SIDES if s in f["sensors"])
        self._clocks: dict = {}  # side -> SessionClock | None (final clock mapping, cached)
        self.writer_state: WriterState = writer_state or self._state_from_attrs()

    def _state_from_attrs(self) -> WriterState:
        ident = identity_from_attrs(self._f.attrs)
        if "closed_utc" in self._f.attrs:
            return WriterState("closed", ident)
        if self._f.swmr_mode:  # opened as a live file by someone else's Session
            return WriterState("recording", ident)
        return WriterState("interrupted", ident)

    # -- reading with sentences ----------------------------------------------------------
    def _read(self, ds: h5py.Dataset, sel=()):
        """Read a dataset (or part); HDF5 errors (a damaged chunk) become a sentence."""
        if isinstance(sel, slice) and sel.start in (None, 0) and sel.step is None and ds.shape \
                and sel.stop is not None and sel.stop >= ds.shape[0]:
            sel = ()  # the whole dataset: h5py's fast read path
        try:
            return ds[sel]
        except (OSError, RuntimeError, ValueError, TypeError) as e:
            raise InputFileError(self.path, ds.name, f"cannot be read ({str(e).split('(')[0].strip()})",
                                 _FIX_DAMAGED) from e

    # -- structure ------------------------------------------------------------------
    def _need(self, name: str):
        if name.lstrip("/") not in self._names:
            raise InputFileError(self.path, name, "is missing", _FIX_DAMAGED)

    def _check_structure(self):
        names: set[str] = set()
        try:
            self._f.visit(names.add)
        except (OSError, RuntimeError, KeyError, ValueError) as e:
            raise InputFileError(self.path, None, f"structure cannot be read ({str(e).split('(')[0].strip()})",
                                 _FIX_DAMAGED) from e
        self._names = names
        self._need("/sensors")
        for name in S.ROOT_TABLES:
            for col in S.ROOT_TABLES[name]:
                self._need(f"/{name}/{col.name}")
        if not isinstance(self._f["sensors"], h5py.Group) or not len(self._f["sensors"]):
            raise InputFileError(self.path, "/sensors", "contains no sensor", _FIX_DAMAGED)
        for side in self._f["sensors"]:
            if side not in SIDES:
                raise InputFileError(self.path, f"/sensors/{side}", "is not a known side (left/right)", _FIX_DAMAGED)
            base = f"/sensors/{side}"
            for col in S.SAMPLE_COLUMNS:
                self._need(f"{base}/{col.name}")
            for tname, cols in S.SENSOR_TABLES.items():
                for col in cols:
                    self._need(f"{base}/{tname}/{col.name}")
            attrs = self._f[base].attrs
            if "kind" not in attrs:
                raise InputFileError(self.path, base, "lacks the attribute 'kind'", _FIX_DAMAGED)
            for a, (lo, hi) in SENSOR_NUMBER_ATTRS.items():
                if a not in attrs:
                    raise InputFileError(self.path, base, f"lacks the attribute '{a}'", _FIX_DAMAGED)
                raw = _get(attrs, a, "(unreadable)")
                v = _number(raw)
                if v is None:
                    raise InputFileError(self.path, base, f"attribute '{a}' is {str(raw)[:40]!r}, not a number",
                                         _FIX_DAMAGED)
                if not (math.isfinite(v) and lo <= v <= hi):
                    raise InputFileError(self.path, base, f"attribute '{a}' is {v:g}, outside the possible "
                                         f"{lo:g}..{hi:g}", _FIX_DAMAGED)

    # -- context ----------------------------------------------------------------------
    def close(self):
        if self._f is not None:
            if self._owned:
                self._f.close()
            self._f = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<Session {self.path} sides={self.sides} schema=v{self.schema_version}>"

    def refresh(self) -> None:
        """See data flushed by a writer since the file was opened (SWMR)."""
        if not self._f.swmr_mode:
            return
        self._pcache.clear()

        def _r(_name, obj):
            if isinstance(obj, h5py.Dataset):
                obj.refresh()
        self._f.visititems(_r)

    # -- state ------------------------------------------------------------------------
    @property
    def closed_cleanly(self) -> bool:
        v = _get(self._f.attrs, "closed_cleanly", False)
        return v is True or (isinstance(v, (int, float)) and v == 1)

    @property
    def recording_active_or_interrupted(self) -> bool:
        return "closed_utc" not in self._f.attrs

    @property
    def being_recorded(self) -> bool:
        """A live writer has the file open: what you read is partial and growing."""
        return self.writer_state.live

    @property
    def partial_note(self) -> str | None:
        """"…still being recorded by imugait record (pid N on host H) — results cover the
        first X s" while a live writer has the file, else None."""
        if not self.being_recorded:
            return None
        d = self.duration_s
        cover = f"{d:.1f} s" if math.isfinite(d) else "0 s"
        return (f"{self.path}: still being recorded by {self.writer_state.who} — results cover the first "
                f"{cover} only")

    def state_text(self) -> str:
        """One line for ``imugait info``: closed cleanly / being recorded / interrupted."""
        m = self.meta
        if self.being_recorded:
            return f"being recorded by {self.writer_state.who}"
        if self.closed_cleanly:
            return "closed cleanly" + (f" — {m['stop_reason']}" if m.get("stop_reason") else "")
        if "recovered_utc" in m:
            return "recording interrupted (recovered)" + (f" — {m['stop_reason']}" if m.get("stop_reason") else "")
        if "closed_utc" in m:
            return "closed" + (f" — {m['stop_reason']}" if m.get("stop_reason") else "")
        last = ""
        try:
            log = self.log
            if len(log):
                last = str(log.text.iloc[-1])
        except InputFileError:
            pass
        if last.startswith(("recording stopped:", "import finished:")):
            return f"closed ({last.split(':', 1)[1].strip()}); closing marks missing (disk full while closing?)"
        who = self.writer_state.who
        text = f"recording interrupted — its writer ({who}) stopped without closing the file"
        if self.writer_state.marks_cleared:
            text += "; write marks cleared"
        return text

    # -- sensors ----------------------------------------------------------------------
    def _side(self, side: str) -> h5py.Group:
        if side not in self.sides:
            raise InputFileError(self.path, None, f"has no '{side}' sensor (sensors: {', '.join(self.sides)})",
                                 f"choose one of {', '.join(self.sides)}")
        return self._f["sensors"][side]

    def sensor_info(self, side: str) -> SensorInfo:
        a = self._side(side).attrs
        kw = {}
        for k in S.SENSOR_ATTRS:
            v = _get(a, k, _UNREADABLE)
            if v is _UNREADABLE:
                continue
            if k in SENSOR_NUMBER_ATTRS or k in ("acc_range_g", "gyr_range_dps"):
                v = _number(v)
                if v is None:
                    continue  # validated at open for the ones that matter
            elif not isinstance(v, str):
                v = _str(v)
            kw[k] = v
        kw["side"] = side
        return SensorInfo(**kw)

    def packets(self, side: str) -> dict[str, np.ndarray]:
        """The usable packets of the packet table (storage order). Left out — and counted in
        :meth:`quality` — are packets a crash cut off (rows never written read as the fill
        values) and packets whose values contradict the file (see the module docstring)."""
        return self._packet_table(side)[0]

    def quality(self, side: str) -> dict:
        """What the file lost or could not use, per side: ``damaged_packets`` /
        ``damaged_samples`` (left out in the middle of the recording: the file is damaged),
        ``cut_packets`` / ``cut_samples`` (after the last usable packet: a write cut off by a
        crash or a full disk; ≤ one flush after a crash), ``backwards_steps`` (packet-to-packet
        steps where session time runs backwards against the sample counter; a few are clock
        re-fits, many are refused)."""
        return dict(self._packet_table(side)[1])

    def cut_is_damage(self, side: str) -> bool:
        """More cut off at the end than an interrupted write can explain (a crash loses at
        most the last flush, < 1 s): the file ends early or its tables disagree."""
        q = self.quality(side)
        rate = float(self.sensor_info(side).sample_rate_hz or 0.0)
        return q["cut_samples"] > max(2.0 * rate, 64) and not self.being_recorded

    def _packet_table(self, side: str):
        if side in self._pcache:
            return self._pcache[side]
        g = self._side(side)
        gp = g["packets"]
        cols = {c.name: gp[c.name] for c in S.PACKET_COLUMNS}
        lens = [ds.shape[0] for ds in cols.values()]
        m = min(lens)
        p = {k: np.asarray(self._read(ds, slice(0, m))) for k, ds in cols.items()}
        n_rows = min(g[c.name].shape[0] for c in S.SAMPLE_COLUMNS)
        resid = np.asarray(self._read(g["t_dev_resid_ns"], slice(0, n_rows)))
        q = dict(damaged_packets=0, damaged_samples=0, cut_packets=int(max(lens) - m), cut_samples=0,
                 backwards_steps=0)
        if m == 0:
            q["cut_samples"] = int(max(g[c.name].shape[0] for c in S.SAMPLE_COLUMNS))
            out = (p, q, np.zeros(0, dtype=np.int64), resid)
            self._pcache[side] = out
            return out
        valid = self._valid_packets(side, p, n_rows, resid, q)
        vi = np.flatnonzero(valid)
        max_rows = max(g[c.name].shape[0] for c in S.SAMPLE_COLUMNS)
        first_tail = vi[-1] + 1 if len(vi) else 0
        claimed = int(np.clip(p["n"][first_tail:].astype(np.int64), 0, 1 << 20).sum())  # by cut-off packets
        if len(vi):
            n = p["n"][vi].astype(np.int64)
            last_end = int((p["row"][vi] + n).max())
            q["damaged_samples"] = int(last_end - n.sum())
            q["damaged_packets"] = int(np.count_nonzero(~valid[:vi[-1]]))
        else:
            last_end = 0
        q["cut_samples"] = int(max(max_rows - last_end, claimed))
        q["cut_packets"] += int(m - first_tail)
        pv = p if len(vi) == m else {k: v[vi] for k, v in p.items()}
        # rows of the usable samples, in packet order (contiguous 0..n-1 in an undamaged file)
        nv = pv["n"].astype(np.int64)
        start = np.concatenate([[0], np.cumsum(nv)[:-1]]) if len(nv) else np.zeros(0, dtype=np.int64)
        rows = np.arange(int(nv.sum()), dtype=np.int64) + np.repeat(pv["row"].astype(np.int64) - start, nv)
        out = (pv, q, rows, resid)
        self._pcache[side] = out
        return out

    def _valid_packets(self, side, p, n_rows, resid, q) -> np.ndarray:
        n = p["n"].astype(np.int64)
        row = p["row"].astype(np.int64)
        dt = p["dt_dev_s"]
        ds = p["ds_ddev"]
        fin = (np.isfinite(p["t_dev_s"]) & np.isfinite(dt) & np.isfinite(p["t_s"]) & np.isfinite(ds))
        with np.errstate(invalid="ignore"):
            # (each bound before the sum: a damaged row near 2**63 must not wrap around)
            ok = ((n > 0) & (n <= n_rows) & (row >= 0) & (row < n_rows) & (row + np.minimum(n, n_rows) <= n_rows)
                  & fin & (p["first_index"] >= 0) & (p["first_index"] < 2**62)
                  & (dt >= 0) & ((n == 1) | (dt > 0)) & (ds > DS_DDEV_RANGE[0]) & (ds < DS_DDEV_RANGE[1]))
        # rows claimed twice (a damaged row or n): both claimants are suspect
        idx = np.flatnonzero(ok)
        if len(idx) > 1:
            r = row[idx]
            o = idx if np.all(r[1:] >= r[:-1]) else idx[np.argsort(r, kind="stable")]
            end = row[o] + n[o]
            clash = row[o][1:] < end[:-1]
            if clash.any():
                ok[o[1:][clash]] = False
                ok[o[:-1][clash]] = False
        # sample rows never written (fill value) or with an absurd time residual
        if len(resid):
            bad_row = (resid == S.RESID_FILL) | (np.abs(resid.astype(np.int64)) > int(RESID_LIMIT_S * 1e9))
            if bad_row.any():
                cs = np.concatenate([[0], np.cumsum(bad_row)])
                idx = np.flatnonzero(ok)
                hits = cs[row[idx] + n[idx]] - cs[row[idx]]
                ok[idx[hits > 0]] = False
        # a sample step unlike every other packet's (a damaged dt_dev_s)
        multi = ok & (n > 1)
        if multi.sum() >= 3:
            step = dt[multi] * ds[multi]
            med = float(np.median(step))
            if med > 0:
                off = np.abs(dt * ds / med - 1.0) > DT_TOLERANCE
                ok &= ~(multi & off)
        self._check_time_order(side, p, ok, q)
        return ok

    def _check_time_order(self, side, p, ok, q) -> None:
        """Session time must advance with the device's sample counter (within a counter
        epoch). Many backward steps: the time column is damaged (refused). A single packet
        whose time or counter disagrees with both neighbours (which agree with each other):
        left out and counted."""
        ep = p["epoch"]
        n_back, n_pairs = 0, 0
        epochs = [ep[0]] if len(ep) and np.all(ep == ep[0]) else np.unique(ep[ok])
        for e in epochs:
            sel = np.flatnonzero(ok & (ep == e))
            if len(sel) < 2:
                continue
            f_sel = p["first_index"][sel]
            o = sel if np.all(f_sel[1:] >= f_sel[:-1]) else sel[np.argsort(f_sel, kind="stable")]
            fi = p["first_index"][o].astype(np.float64)
            t = p["t_s"][o]
            dfi = np.diff(fi)
            dts = np.diff(t)
            pair = dfi > 0
            n_pairs += int(pair.sum())
            n_back += int(np.count_nonzero(pair & (dts < 0)))
            if pair.sum() < 2:
                continue
            per = float(np.median(dts[pair] / dfi[pair]))  # session seconds per sample
            if not per > 0:
                continue
            tol = max(TIME_OUTLIER_S, 4 * per)
            err = np.abs(dts - dfi * per)  # step i -> i+1 vs the counter
            bad = np.zeros(len(o), dtype=bool)
            if len(o) >= 3:
                skip = np.abs((t[2:] - t[:-2]) - (fi[2:] - fi[:-2]) * per)
                bad[1:-1] = (err[:-1] > tol) & (err[1:] > tol) & (skip <= tol)
                bad[0] |= (err[0] > tol) & (err[1] <= tol)
                bad[-1] |= (err[-1] > tol) & (err[-2] <= tol)
            ok[o[bad]] = False
        q["backwards_steps"] = n_back
        if n_pairs and n_back > 2 and n_back > BACKWARDS_REFUSE_FRACTION * n_pairs:
            raise InputFileError(self.path, f"/sensors/{side}/packets/t_s",
                                 f"runs backwards against the sample counter in {n_back} of {n_pairs} packet steps",
                                 "the time column is damaged; restore the file from a backup copy")

    def clock_points(self, side: str) -> dict[str, np.ndarray] | None:
        """The live mapping's clock points (``clock_points`` table), or None when the file
        has none (recorded before the final clock mapping existed, imported, or a source without
        arrival times)."""
        g = self._side(side)
        if "clock_points" not in g:
            return None
        gc = g["clock_points"]
        cols = [c.name for c in S.CLOCK_POINT_COLUMNS]
        if any(c not in gc for c in cols):
            return None
        m = min(gc[c].shape[0] for c in cols)
        if m == 0:
            return None
        return {c: self._read(gc[c], slice(0, m)) for c in cols}

    def clock(self, side: str):
        """The final device->host mapping of ``side`` from all its stored clock points
        (:class:`imugait.clock.SessionClock` — the one implementation, also used when
        ``imugait record`` closes a session), or None without clock points."""
        if side not in self._clocks:
            p = self.clock_points(side)
            sc = None
            if p is not None and np.any(p["used"] != 0):
                sc = self._stored_clock_map(side, p)
                if sc is None:
                    sc = SessionClock(p["t_dev_s"], p["t_arrival_host_s"], p["segment"], p["epoch"],
                                      used=p["used"] != 0)
                if not sc.segments:  # nothing usable (e.g. damaged values): the live mapping stays
                    sc = None
            self._clocks[side] = sc
        return self._clocks[side]

    def _stored_clock_map(self, side: str, points: dict):
        """The final mapping stored when the session was closed (``clock_map``, see
        :func:`imugait.store.writer.add_clock_maps`), if it was made from exactly these clock
        points by this version of the fit; else None (the caller refits)."""
        g = self._side(side)
        if "clock_map" not in g:
            return None
        gm = g["clock_map"]
        try:
            fp = SessionClock.fingerprint(points["t_dev_s"], points["t_arrival_host_s"], points["segment"],
                                          points["epoch"], points["used"])
            if str(gm.attrs.get("points_sha256", "")) != fp:
                return None
            table = {c: gm[c][()] for c in SessionClock.MAP_COLUMNS}
            if len({len(v) for v in table.values()}) != 1 or not all(np.all(np.isfinite(table[c]))
                                                                     for c in SessionClock.MAP_COLUMNS[2:]):
                return None
            return SessionClock.from_table(table, n_points=int(np.count_nonzero(points["used"])))
        except (KeyError, OSError, ValueError, TypeError):
            return None  # damaged or unexpected: refit from the points

    def _t0_host_s(self) -> float | None:
        """The session start on the host clock (root attribute ``t0_host_s``) that turns the
        final mapping's host times into session time; None when missing or not a finite number
        (a damaged attribute: the stored live session times are used instead)."""
        v = self._f.attrs.get("t0_host_s")
        try:
            x = float(np.asarray(v).item()) if v is not None else None
        except (TypeError, ValueError):
            return None
        return x if x is not None and math.isfinite(x) else None

    def raw(self, side: str) -> dict:
        """Stored data as recorded, in storage (arrival) order — the usable packets only
        (see :meth:`packets` and :meth:`quality`).

        Keys: acc_counts (n,3) int16, gyr_counts (n,3) int16, sample_index (n,) int64,
        t_dev_s (n,), t_s (n,) session time, t_s_live (n,) session time of the live mapping,
        t_dev_resid_ns, packets (dict of per-packet arrays), acc_scale_mps2, gyr_scale_dps,
        gaps (DataFrame). ``t_s`` is the final clock mapping (:meth:`clock`) where the file
        has clock points for the sample's epoch, else the live mapping stored with the packet.
        """
        g = self._side(side)
        p, _q, rows, resid_all = self._packet_table(side)
        n_samples = len(rows)
        contiguous = n_samples == 0 or (rows[0] == 0 and rows[-1] == n_samples - 1)
        acc_ds, gyr_ds = g["acc_counts"], g["gyr_counts"]
        if contiguous:
            acc = self._read(acc_ds, slice(0, n_samples))
            gyr = self._read(gyr_ds, slice(0, n_samples))
            resid = resid_all[:n_samples]
        else:
            end = int(rows.max()) + 1
            acc = self._read(acc_ds, slice(0, end))[rows]
            gyr = self._read(gyr_ds, slice(0, end))[rows]
            resid = resid_all[rows]
        n = p["n"].astype(np.int64)
        start = np.concatenate([[0], np.cumsum(n)[:-1]]) if len(n) else np.zeros(0, dtype=np.int64)
        k = np.arange(n_samples, dtype=np.int64) - np.repeat(start, n)
        off = k * np.repeat(p["dt_dev_s"], n)
        if resid.any():
            off += resid * 1e-9
        t_dev = np.repeat(p["t_dev_s"], n) + off
        t_s_live = np.repeat(p["t_s"], n) + np.repeat(p["ds_ddev"], n) * off
        t_s = t_s_live
        sc = self.clock(side) if n_samples else None
        t0_host = self._t0_host_s()
        if sc is not None and t0_host is not None:  # without a readable session start: the live mapping
            t_final = sc.to_host(t_dev, np.repeat(p["epoch"], n)) - t0_host
            t_s = np.where(np.isfinite(t_final), t_final, t_s_live)
        a = g.attrs
        return {
            "acc_counts": acc,
            "gyr_counts": gyr,
            "t_dev_resid_ns": resid,
            "sample_index": np.repeat(p["first_index"], n) + k,
            "t_dev_s": t_dev,
            "t_s": t_s,
            "t_s_live": t_s_live,
            "packets": p,
            # both checked against SENSOR_NUMBER_ATTRS when the file was opened: numbers here
            "acc_scale_mps2": float(_number(_get(a, "acc_scale_mps2"))),  # type: ignore[arg-type]
            "gyr_scale_dps": float(_number(_get(a, "gyr_scale_dps"))),  # type: ignore[arg-type]
            "gaps": self.gaps(side),
        }

    def imu(self, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(t_s, acc_mps2, gyr_dps) on the session clock, time-ordered, duplicates removed."""
        r = self.raw(side)
        t = r["t_s"]
        idx = r["sample_index"]
        if len(t) > 1 and np.all(t[1:] > t[:-1]):  # the usual case: stored in time order
            return t, r["acc_counts"] * r["acc_scale_mps2"], r["gyr_counts"] * r["gyr_scale_dps"]
        order = np.argsort(t, kind="stable")
        idx = idx[order]
        keep = np.ones(len(order), dtype=bool)
        if len(order) > 1:
            keep[1:] = idx[1:] != idx[:-1]
        order = order[keep]
        acc = r["acc_counts"][order] * r["acc_scale_mps2"]
        gyr = r["gyr_counts"][order] * r["gyr_scale_dps"]
        return t[order], acc, gyr

    def _table(self, group: h5py.Group, columns) -> pd.DataFrame:
        data = {}
        m = min((group[c.name].shape[0] for c in columns), default=0)
        for c in columns:
            v = self._read(group[c.name], slice(0, m))
            if c.dtype is S.STR:
                v = [_str(x) for x in v]
            data[c.name] = v
        return pd.DataFrame(data, columns=[c.name for c in columns])

    def gaps(self, side: str) -> pd.DataFrame:
        return self._table(self._side(side)["gaps"], S.GAP_COLUMNS)

    def link_events(self, side: str) -> pd.DataFrame:
        return self._table(self._side(side)["link"], S.LINK_COLUMNS)

    def status(self, side: str) -> pd.DataFrame:
        return self._table(self._side(side)["status"], S.STATUS_COLUMNS)

    def info_log(self, side: str) -> pd.DataFrame:
        return self._table(self._side(side)["info_log"], S.INFO_COLUMNS)

    @property
    def markers(self) -> pd.DataFrame:
        return self._table(self._f["markers"], S.MARKER_COLUMNS)

    @property
    def log(self) -> pd.DataFrame:
        return self._table(self._f["log"], S.LOG_COLUMNS)

    def stats(self, side: str) -> dict:
        """Cheap per-side figures from the packet table: n_samples, t_first_s, t_last_s,
        duration_s, estimated_rate_hz (sample counter over session time), gap_pct (missing /
        expected samples, per counter epoch), n_packets, counter_restarts (device reboots),
        and what :meth:`quality` counts (damaged / cut-off packets and samples)."""
        p = self.packets(side)
        qual = self.quality(side)
        info = self.sensor_info(side)
        if not len(p["n"]):
            return dict(n_samples=0, n_packets=0, t_first_s=float("nan"), t_last_s=float("nan"),
                        duration_s=0.0, estimated_rate_hz=float("nan"), gap_pct=float("nan"),
                        configured_rate_hz=info.sample_rate_hz, counter_restarts=0, **qual)
        n_samples = int(p["n"].sum())
        fi = p["first_index"].astype(np.int64)
        n = p["n"].astype(np.int64)
        t_end = p["t_s"] + p["ds_ddev"] * p["dt_dev_s"] * (n - 1)
        t_first = float(p["t_s"].min())
        t_last = float(t_end.max())
        # a device reboot restarts the sample counter: count each counter epoch on its own
        ep = p["epoch"]
        epochs = np.unique(ep)
        expected, w_sum, rate_sum = 0, 0.0, 0.0
        for e in epochs:
            sel = np.flatnonzero(ep == e)
            lo = int(fi[sel].min())
            hi = int((fi[sel] + n[sel]).max())
            expected += hi - lo
            # samples per second of session time: least-squares slope of the packets' first
            # sample index over their session time (robust to the first packets of a clock
            # segment, which are mapped before the clock fit has settled)
            t = p["t_s"][sel]
            if sel.size >= 3 and float(np.ptp(t)) > 0:
                span = float(np.ptp(t))
                rate_sum += float(np.polyfit(t - t.mean(), fi[sel].astype(np.float64), 1)[0]) * span
                w_sum += span
            else:  # one or two packets (e.g. an import): first to last sample
                i_first = sel[int(np.argmin(t))]
                i_last = sel[int(np.argmax(t_end[sel]))]
                span = float(t_end[i_last] - p["t_s"][i_first])
                if span > 0:
                    rate_sum += float((fi[i_last] + n[i_last] - 1) - fi[i_first])
                    w_sum += span
        expected = max(expected, n_samples)
        return dict(n_samples=n_samples, n_packets=int(len(n)), t_first_s=t_first, t_last_s=t_last,
                    duration_s=t_last - t_first, estimated_rate_hz=float(rate_sum / w_sum) if w_sum > 0 else float("nan"),
                    gap_pct=100.0 * (expected - n_samples) / expected if expected else 0.0,
                    configured_rate_hz=info.sample_rate_hz, counter_restarts=int(len(epochs) - 1), **qual)


    # -- provenance -------------------------------------------------------------------
    def raw_sha256(self) -> str:
        """SHA-256 over the raw data of every side (counts, time residuals, packet table,
        scale factors) — the usable packets and their samples: derived results are
        "current" only for the same raw data (a damaged file's hash differs)."""
        h = hashlib.sha256()
        for side in self.sides:
            g = self._side(side)
            p, _q, rows, _r = self._packet_table(side)
            n = len(rows)
            contiguous = n == 0 or (rows[0] == 0 and rows[-1] == n - 1)
            h.update(side.encode())
            h.update(np.float64([_number(_get(g.attrs, "acc_scale_mps2")),  # type: ignore[arg-type]  # checked at open
                                 _number(_get(g.attrs, "gyr_scale_dps"))]).tobytes())
            for c in S.SAMPLE_COLUMNS:
                v = self._read(g[c.name], slice(0, n if contiguous else int(rows.max()) + 1))
                if not contiguous:
                    v = v[rows]
                h.update(np.ascontiguousarray(v).astype(np.dtype(c.dtype).newbyteorder("<")).tobytes())
            for c in S.PACKET_COLUMNS:
                h.update(np.ascontiguousarray(p[c.name]).astype(np.dtype(c.dtype).newbyteorder("<")).tobytes())
            cp = self.clock_points(side)  # they decide the sample times (final clock mapping)
            if cp is not None:
                for c in S.CLOCK_POINT_COLUMNS:
                    h.update(np.ascontiguousarray(cp[c.name]).astype(np.dtype(c.dtype).newbyteorder("<")).tobytes())
        return h.hexdigest()

    # -- derived results ----------------------------------------------------------------
    def _derived(self) -> h5py.Group | None:
        d = self._f.get("derived") if "derived" in self._names else None
        return d if isinstance(d, h5py.Group) else None

    @property
    def current_run(self) -> str | None:
        d = self._derived()
        if d is None:
            return None
        cur = _str(_get(d.attrs, "current", ""))
        return cur if cur and cur in d and isinstance(d[cur], h5py.Group) else None

    @property
    def derived_runs(self) -> pd.DataFrame:
        rows = []
        d = self._derived()
        if d is not None:
            cur = self.current_run
            for run_id, g in d.items():
                if not isinstance(g, h5py.Group):
                    continue
                a = g.attrs
                rows.append(dict(run_id=run_id, created_utc=_str(_get(a, "created_utc", "")),
                                 algorithm_version=_str(_get(a, "algorithm_version", "")),
                                 raw_sha256=_str(_get(a, "raw_sha256", "")), current=run_id == cur))
        return pd.DataFrame(rows, columns=["run_id", "created_utc", "algorithm_version", "raw_sha256", "current"])

    def _run(self, run_id: str | None):
        run_id = run_id or self.current_run
        if run_id is None:
            return None
        d = self._derived()
        if d is None or run_id not in d or not isinstance(d[run_id], h5py.Group):
            raise InputFileError(self.path, f"/derived/{run_id}", "does not exist",
                                 f"runs: {', '.join(self.derived_runs.run_id) or 'none'}")
        g = d[run_id]
        if run_id not in self._verified:
            stored = _str(_get(g.attrs, "results_sha256", ""))
            if stored:  # runs stored before results were checksummed have none
                try:
                    now = results_digest(g)
                except (OSError, RuntimeError, ValueError, TypeError, KeyError) as e:
                    raise self._results_error(g.name, f"cannot be read ({str(e).split('(')[0].strip()})") from e
                if now != stored:
                    raise self._results_error(g.name, "does not match its checksum (results_sha256)")
            self._verified.add(run_id)
        return g

    def run_attrs(self, run_id: str | None = None) -> dict | None:
        g = self._run(run_id)
        return None if g is None else _all_attrs(g.attrs)

    def _results_error(self, where: str, problem: str) -> InputFileError:
        return InputFileError(self.path, where, problem, _FIX_RESULTS.format(path=self.path))

    def strides_of(self, run_id: str | None = None) -> pd.DataFrame | None:
        g = self._run(run_id)
        if g is None:
            return None
        if "strides" not in g or not isinstance(g["strides"], h5py.Group):
            raise self._results_error(f"{g.name}/strides", "is missing")
        sg = g["strides"]
        cols = _json_attr(_get(sg.attrs, "columns", "[]"), None)
        if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols) or not cols:
            cols = list(sg)
        data, lengths = {}, {}
        for c in cols:
            if c not in sg or not isinstance(sg[c], h5py.Dataset):
                raise self._results_error(f"{sg.name}/{c}", "is missing")
            try:
                v = sg[c][()]
            except (OSError, RuntimeError, ValueError) as e:
                raise self._results_error(f"{sg.name}/{c}", f"cannot be read ({str(e).split('(')[0].strip()})") from e
            if np.ndim(v) != 1:
                raise self._results_error(f"{sg.name}/{c}", f"has shape {np.shape(v)}, not one value per stride")
            if v.dtype.kind in "OS":
                v = [_str(x) for x in v]
            data[c] = v
            lengths[c] = len(v)
        if len(set(lengths.values())) > 1:
            common = max(set(lengths.values()), key=list(lengths.values()).count)
            odd = [f"{c} ({n} rows)" for c, n in lengths.items() if n != common]
            raise self._results_error(sg.name, f"has columns of different lengths: {', '.join(odd[:3])} "
                                      f"vs {common} rows in the others")
        df = pd.DataFrame(data, columns=cols)
        if "valid" in df:
            df["valid"] = df["valid"].astype(bool)
        return df

    def _json(self, name: str, run_id: str | None = None):
        g = self._run(run_id)
        if g is None or name not in g:
            return None
        try:
            return json.loads(_str(g[name][()]))
        except (OSError, RuntimeError, ValueError, TypeError) as e:
            raise self._results_error(f"{g.name}/{name}", f"cannot be read as JSON ({str(e).split('(')[0].strip()})") from e

    @property
    def strides(self) -> pd.DataFrame | None:
        return self.strides_of()

    @property
    def summary(self) -> dict | None:
        return self._json("summary_json")

    @property
    def asymmetry(self) -> dict | None:
        return self._json("asymmetry_json")

    @property
    def calibration(self) -> dict | None:
        return self._json("calibration_json")

    @property
    def derived_current(self) -> bool:
        """True when the current derived run was computed from exactly this raw data by
        the installed algorithm version."""
        a = self.run_attrs()
        if a is None:
            return False
        return (a.get("raw_sha256") == self.raw_sha256()
                and str(a.get("algorithm_version")) == str(ALGORITHM_VERSION))

    @property
    def flexor_test(self) -> dict | None:
        """The stored hip-flexor (Thomas) test result of the current run — the
        ``flexor_test.json`` dict plus ``run_id`` and ``current`` — or None (see
        :mod:`imugait.store.flexor_schema`)."""
        try:
            return flexor_schema.read_group(self._f.get(flexor_schema.GROUP), self.raw_sha256, self.path)
        except InputFileError:
            raise
        except Exception as e:  # noqa: BLE001 - a damaged group or attribute: a sentence, not a traceback
            raise InputFileError(self.path, f"/{flexor_schema.GROUP}", f"cannot be read ({str(e).split('(')[0].strip()})",
                                 f"re-run `imugait flexor-test {self.path}`") from e

    @property
    def duration_s(self) -> float:
        ds = [self.stats(s) for s in self.sides]
        t0 = min((d["t_first_s"] for d in ds if d["n_samples"]), default=float("nan"))
        t1 = max((d["t_last_s"] for d in ds if d["n_samples"]), default=float("nan"))
        return t1 - t0 if ds else 0.0


SESSION_READERS: dict[int, type[Session]] = {1: Session}
"""schema_version -> reader class. A future v2 adds its class here and keeps v1's."""
