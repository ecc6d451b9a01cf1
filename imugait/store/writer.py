"""Crash-safe session writer (HDF5, SWMR), and the one way any session file is changed.

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

Who writes (docs/session-schema.md, "Writers, locks and atomic changes"):

* The writer holds an advisory lock on ``FILE.h5.lock`` (:class:`SessionLock`) from the
  moment it starts until the file is closed, and stamps its identity (host, pid, process
  start time, boot id, command) into the file. A second writer — ``record --overwrite``,
  ``import --overwrite``, storing results — is refused with a sentence naming the first;
  a file whose writer died is recognised as such and its write marks are cleared
  (:mod:`imugait.store.repair`).
* Every change to an existing file (closing attributes and compaction, analysis results,
  recovery) is made on an in-memory copy and swapped in with ``os.replace``
  (:func:`rewrite_session`, :func:`write_file_atomically`): the file under its final name is
  the old version or the new one at every instant, never a half-written one. HDF5 itself
  only ever writes to disk in the SWMR recording loop; every other disk write is plain
  Python I/O, so a full disk is an ``OSError`` with a sentence, not a crash inside HDF5.
* Imports (``in_memory=True``) are built in memory and appear under their final name only
  when complete.
* While recording, the writer checks at every flush that ``FILE.h5`` is still its file;
  if another program replaced or deleted it, the recording so far is saved as
  ``FILE.rescued-<time>.h5`` and the recording stops with a message.

Disk full: before every flush the writer checks the free space (and the process file-size
limit); when less than ``reserve_bytes`` would remain (default: 4 flushes' worth plus the
room the closing compaction needs, at least 64 kB), it closes the file cleanly
(``stop_reason`` says why) and raises :class:`SessionWriteError`. Any other write error (I/O
error, or a disk that fills faster than the check) also raises :class:`SessionWriteError`;
the file on disk then holds everything up to the last successful flush and opens normally.
HDF5 2.0 cannot shut down cleanly after such an error (it crashes at interpreter exit while
closing the failed file), so a program should end with ``os._exit`` after reporting it —
``imugait record`` does.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import math
import os
import sys
import time
import uuid
import warnings
from pathlib import Path

import h5py
import numpy as np

from imugait._version import __version__
from imugait.clock import SessionClock
from imugait.conventions import SIDES
from imugait.events import ClockPoints, GapEvent, InfoEvent, LinkEvent, SessionEvent, StatusEvent
from imugait.errors import FileWriteError, ImugaitError, describe_os_error, file_write_error
from imugait.store import raw as raw_store
from imugait.store import schema as S
from imugait.store.repair import (SessionBusyError, SessionLock, busy_sentence, clear_write_flags, cleared_image,
                                  live_writer, lock_holder, lock_path, temp_sibling, utc_now_iso, writer_identity)
from imugait.types import SampleBlock, SensorInfo

_RESID_LIMIT_NS = 2**31 - 1
_TS_TOL_S = 1e-6  # session-time linear model must reproduce t_s to 1 µs

COMPACT_BYTES_PER_SAMPLE = 12
"""Room kept free for the closing compaction, per stored sample (a compacted file holds
9.4-9.6 bytes per 6-axis sample: docs/session-schema.md, Figures)."""

PAUSE_ENV = "IMUGAIT_PAUSE_AT"
"""Test hook: ``IMUGAIT_PAUSE_AT=results-write`` makes the process stop at that point of a
file change (printing ``imugait: paused at results-write`` to stderr) so a test can kill it
there deterministically. Points: ``<tag>-edit`` (in-memory copy changed, nothing on disk
yet), ``<tag>-write`` (temporary file half written), ``<tag>-replace`` (temporary file
complete, not yet swapped in); tags: ``results``, ``compact``, ``creating``, ``recover``."""

class SessionWriteError(FileWriteError):
    """Writing the session failed (disk full, I/O error); what was flushed before is kept."""


def pause_point(name: str) -> None:
    """Stop here forever when ``IMUGAIT_PAUSE_AT`` names this point (kill tests)."""
    want = os.environ.get(PAUSE_ENV, "")
    if want and name in want.split(","):
        print(f"imugait: paused at {name}", file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_file_atomically(path, data: bytes | memoryview, tag: str, doing: str = "be written", kept: str = "") -> None:
    """Write ``data`` to a temporary sibling, fsync it, and swap it in with ``os.replace``:
    ``path`` holds the old content or the new one at every instant. Errors (disk full,
    read-only, ...) raise :class:`SessionWriteError` with one sentence; the temporary file is
    removed and ``path`` is untouched."""
    path = Path(path)
    tmp = temp_sibling(path, tag)
    try:
        mode = os.stat(path).st_mode & 0o7777 if path.exists() else None
    except OSError:
        mode = None
    try:
        with open(tmp, "wb") as fh:
            if mode is not None:
                os.fchmod(fh.fileno(), mode)  # the new version keeps the file's permissions
            view = memoryview(data)
            step = 1 << 22
            half = len(view) // 2
            for i in range(0, len(view), step):
                fh.write(view[i:i + step])
                if i <= half < i + step:
                    fh.flush()
                    pause_point(f"{tag}-write")
            fh.flush()
            os.fsync(fh.fileno())
        pause_point(f"{tag}-replace")
        os.replace(tmp, path)
    except OSError as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise SessionWriteError(str(file_write_error(path, doing, e, kept or f"{path.name} is unchanged"))) from e
    _fsync_dir(path.parent)


_mem_counter = [0]


def memory_file() -> h5py.File:
    """A new HDF5 file in memory (HDF5 core driver; nothing is written to disk)."""
    _mem_counter[0] += 1
    return h5py.File(f"imugait-memory-{os.getpid()}-{_mem_counter[0]}.h5", "w", driver="core",
                     backing_store=False, libver="latest")


def file_image(f: h5py.File) -> bytes:
    """The bytes of an open in-memory HDF5 file (write marks clear)."""
    f.flush()
    return f.id.get_file_image()


RESULTS_WAIT_S = 60.0
"""How long a change waits for another program's short change of the same file (results of a
parallel `reprocess`, a compaction) before giving up with a sentence."""


def _real(path) -> Path:
    """A session reached through a symbolic link is changed where it really is (the link stays)."""
    return Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)


def _refuse_read_only(path: Path, doing: str) -> None:
    """A file its owner made read-only (chmod a-w) is not replaced behind their back."""
    if path.exists() and not os.access(path, os.W_OK):
        raise SessionWriteError(f"{path}: is read-only (file permissions) — cannot {doing}; it is unchanged "
                                "(make it writable, e.g. chmod u+w, to allow it)")


def rewrite_session(path, edit, *, lock: SessionLock | None = None, purpose: str = "analysed",
                    tag: str = "results", doing: str = "store results in it"):
    """Change a session file atomically: ``edit(f)`` runs on an in-memory copy (an
    ``h5py.File`` opened read/write), which then replaces the file (:func:`write_file_atomically`).
    Holds the session lock (``lock`` if given, else a new one for ``purpose``). Returns what
    ``edit`` returns. The file must not carry write marks (see :func:`imugait.store.results.recover_if_interrupted`).
    """
    path = _real(path)
    _refuse_read_only(path, doing)
    lock = lock or SessionLock(path, purpose)
    lock.acquire(wait_s=RESULTS_WAIT_S)
    try:
        try:
            before = os.stat(path)
            bio = io.BytesIO(path.read_bytes())
        except OSError as e:
            raise file_write_error(path, doing, e, "nothing was changed") from e
        try:
            f = h5py.File(bio, "r+", libver="latest")
        except OSError as e:
            raise SessionBusyError(f"{path}: cannot be opened to {doing} ({str(e).split('(')[0].strip()})") from e
        try:
            out = edit(f)
        finally:
            f.close()
        data = bio.getbuffer()
        pause_point(f"{tag}-edit")
        after = os.stat(path)
        if (after.st_ino, after.st_size, after.st_mtime_ns) != (before.st_ino, before.st_size, before.st_mtime_ns):
            raise SessionBusyError(f"{path}: was changed by another program while imugait prepared its change "
                                   "— nothing was written; run the command again")
        write_file_atomically(path, data, tag, doing)
        return out
    finally:
        lock.release()  # re-entrant: a lock we were given stays held by its owner


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

    ``overwrite``: replace an existing file (never one that another program is writing).
    ``in_memory``: build the whole file in memory and write it under its name only at
    :meth:`close` (imports: a killed import leaves no file). Otherwise the file appears at
    :meth:`start` and is flushed to disk as it grows (recordings). ``lock``: the path's
    :class:`SessionLock` when the caller holds it already (kept held after :meth:`close`
    until the caller releases it); otherwise the writer takes it until it closes.
    """

    def __init__(self, path, meta: dict | None = None, *, overwrite: bool = False,
                 flush_interval_s: float = 1.0, clock=time.monotonic, reserve_bytes: int | None = None,
                 in_memory: bool = False, command: str | None = None, lock: SessionLock | None = None):
        self.path = Path(path)
        self.meta = dict(meta or {})
        self.flush_interval_s = float(flush_interval_s)
        self.in_memory = bool(in_memory)
        self.overwrite = bool(overwrite)
        self._clock = clock
        self._sensors: dict[str, _SensorBuf] = {}
        self._raw: dict[str, raw_store.RawTable] = {}
        self._started = False
        self._closed = False
        self._failed: Exception | None = None      # writing stopped (an error, or our file was replaced)
        self._hdf5_error: Exception | None = None  # HDF5 failed a write: the process must end with os._exit
        self._last_flush = clock()
        self.reserve_bytes = reserve_bytes
        self._max_growth = 0
        self._last_size = 0
        self._file_id: tuple[int, int] | None = None  # (st_dev, st_ino) of the published file
        self.rescued_path: Path | None = None
        if self.path.is_dir():
            raise ImugaitError(f"{self.path}: is a folder — give a file name for the session (e.g. run.h5)")
        if self.path.exists() and not overwrite:
            raise ImugaitError(f"{self.path}: file exists — choose another --out name, or add --overwrite")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise file_write_error(self.path, "be created", e, "nothing was recorded") from e
        self.lock = lock or SessionLock(self.path, "imported" if in_memory else "recorded", command)
        self.lock.acquire()  # refuses a file another writer holds (re-entrant for a lock we were given)
        try:
            if self.path.exists() and overwrite:
                w = live_writer(self.path)  # an older imugait, or a writer on another machine
                if w is not None:
                    raise SessionBusyError(busy_sentence(self.path, {**w, "purpose": "recorded"}))
            self._open_file()
        except BaseException:
            self.lock.release()
            raise

    def _open_file(self):
        # Built under a temporary name (or in memory) and published once it is a complete
        # file: a crash while the structure is being created never leaves a half-made file
        # under the final name.
        self._tmp_path = temp_sibling(self.path, "creating")
        try:
            if self.in_memory:
                self.f = memory_file()
            else:
                self.f = h5py.File(self._tmp_path, "w", libver="latest")
        except OSError as e:
            raise SessionWriteError(str(file_write_error(self.path, "be created", e, "nothing was recorded"))) from e
        self.t0_host_s = float(self.meta.get("t0_host_s", self._clock()))
        a = self.f.attrs
        a["format"] = S.FORMAT_NAME
        a["schema_version"] = S.SCHEMA_VERSION
        a["imugait_version"] = __version__
        a["created_utc"] = utc_now_iso()
        for k in ("subject_id", "condition", "activity", "protocol", "notes", "source"):
            a[k] = str(self.meta.get(k, "") or "")
        a["source_json"] = json.dumps(self.meta.get("source_json", {}), default=str, sort_keys=True)
        a["t0_host_s"] = self.t0_host_s
        a["t0_utc"] = str(self.meta.get("t0_utc", utc_now_iso()))
        a["session_uuid"] = self.session_uuid = str(uuid.uuid4())
        for k, v in writer_identity(self.lock.command).items():
            a[k] = v
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
        """Freeze the structure and switch to SWMR (readers may open the file from now on).
        In memory, the file stays invisible until :meth:`close`."""
        if self._started:
            return
        if not self._sensors:
            raise ImugaitError(f"{self.path}: no sensor declared — nothing to record")
        self.f.attrs["sides"] = json.dumps(list(self.sides))
        self._started = True
        self.log("recording started" if not self.in_memory else "import started")
        self._guard(self._write_pending)
        if self.in_memory:
            return
        self._guard(lambda: setattr(self.f, "swmr_mode", True))
        self._guard(self.f.flush)
        self._guard(self._publish)
        self._last_flush = self._clock()

    def _publish(self) -> None:
        if self.overwrite:
            os.replace(self._tmp_path, self.path)
        else:
            try:  # never replaces a file created meanwhile
                os.link(self._tmp_path, self.path)
                os.unlink(self._tmp_path)
            except FileExistsError:
                raise ImugaitError(f"{self.path}: was created by another program a moment ago — "
                                   "choose another --out name, or add --overwrite") from None
            except OSError:  # no hard links here (FAT, some shares)
                os.replace(self._tmp_path, self.path)
        _fsync_dir(self.path.parent)
        st = os.stat(self.path)
        self._file_id = (st.st_dev, st.st_ino)

    def session_time(self) -> float:
        return self._clock() - self.t0_host_s

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
        """Keep clock points of the live mapping (:class:`imugait.events.ClockPoints`) for the final mapping."""
        self._check_open()
        buf = self._sensors.get(side)
        if buf is None or "clock_points" not in buf.tables or not len(t_dev_s):
            return
        buf.tables["clock_points"].add_many(t_dev_s=np.asarray(t_dev_s, np.float64),
                                            t_arrival_host_s=np.asarray(t_arrival_host_s, np.float64),
                                            used=np.asarray(used, np.int8), segment=np.asarray(segment, np.int32),
                                            epoch=np.asarray(epoch, np.int32))

    def add_event(self, ev: SessionEvent) -> bool:
        """Store an acquisition event in its table — link changes, status, re-read sensor
        information, data gaps, clock points (:mod:`imugait.events`). The one mapping from
        events to the file, used by every recording (``imugait record``, the live view) and the
        re-decoder.
        Returns False for events that have no table (packets, blocks) or unknown sides."""
        if isinstance(ev, LinkEvent):
            self.add_link_event(ev.side, ev.state, ev.t_host_s, ev.reason, ev.intentional)
        elif isinstance(ev, StatusEvent):
            self.add_status(ev.side, ev.t_host_s - self.t0_host_s, ev.battery_pct,
                            ev.device_dropped_samples, ev.fifo_overflow)
        elif isinstance(ev, InfoEvent):
            self.add_info(ev.info, ev.t_host_s - self.t0_host_s)
        elif isinstance(ev, GapEvent) and ev.side in self._sensors:
            self.add_gap(ev.side, ev.t_s_start, ev.t_s_end, ev.first_missing_index, ev.n_missing, ev.reason)
        elif isinstance(ev, ClockPoints):
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
        if self.in_memory:  # written at close
            self._last_flush = self._clock()
            return
        self._check_still_ours()
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

    def _check_still_ours(self) -> None:
        """Has another program replaced or deleted our file? Then save what we recorded
        under another name and stop (never write into someone else's file)."""
        if self._file_id is None:
            return
        try:
            st = os.stat(self.path)
            same = (st.st_dev, st.st_ino) == self._file_id
        except OSError:
            same = False
        if same:
            return
        rescued = None
        why = ""
        try:
            self._write_pending()
            self.f.flush()
            rescued = self._rescue()
        except Exception as e:  # noqa: BLE001 - report what we could not save
            why = str(e)
        self._failed = RuntimeError("the file was replaced by another program")
        self._closed = True
        try:  # our file is an orphan now: close it (nothing failed inside HDF5) and let the path go
            self.f.close()
        except (OSError, RuntimeError):
            pass
        self.lock.release()
        if rescued is not None:
            self.rescued_path = rescued
            raise SessionWriteError(
                f"{self.path}: was replaced or deleted by another program while it was being recorded — "
                f"the recording so far is saved as {rescued}; recording stopped (record to a file no other "
                "program writes)")
        raise SessionWriteError(
            f"{self.path}: was replaced or deleted by another program while it was being recorded, and the "
            f"recording could not be saved elsewhere ({why}); recording stopped")

    def _rescue(self) -> Path:
        """Copy our (unlinked or renamed) file, as of the last flush, to a new name."""
        stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        dest = self.path.with_name(f"{self.path.stem}.rescued-{stamp}{self.path.suffix or '.h5'}")
        fd = self.f.id.get_vfd_handle()
        size = os.fstat(fd).st_size
        chunks, off = [], 0
        while off < size:
            b = os.pread(fd, min(1 << 22, size - off), off)
            if not b:
                break
            chunks.append(b)
            off += len(b)
        write_file_atomically(dest, b"".join(chunks), "rescued", "save the recording")
        clear_write_flags(dest)
        finalize(dest, reason="file replaced by another program while recording (rescued copy)", recovered=True)
        return dest

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

    def _compact_room(self) -> int:
        """Bytes the closing compaction will need (a compact copy of the file)."""
        return int(COMPACT_BYTES_PER_SAMPLE * sum(b.rows for b in self._sensors.values())) + 128 * 1024

    def _check_space(self):
        reserve = self.reserve_bytes
        if reserve is None:
            reserve = max(64 * 1024, 4 * self._max_growth) + self._compact_room()
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
            self._failed = self._hdf5_error = e
            if self.in_memory or not self._started:
                raise SessionWriteError(str(file_write_error(self.path, "be written", e, "nothing was kept"))) from e
            what, fix = describe_os_error(e)
            raise SessionWriteError(
                f"{self.path}: write failed ({what}) — recording stopped; data flushed up to "
                f"the last second is kept ({fix}, then start a new session)") from e

    @property
    def failed(self) -> bool:
        """HDF5 failed a write (disk full, I/O error): the file on disk is as of the last
        flush, and HDF5 cannot shut down cleanly — end the process with ``os._exit``."""
        return self._hdf5_error is not None

    def close(self, reason: str = "") -> None:
        """Flush, close, and mark the file as closed cleanly (adds FINAL_ATTRS); compact it.
        In memory: write the finished file under its name. After a write error the file is
        left as flushed."""
        if self._closed:
            return
        self._closed = True
        try:
            self._close(reason)
        finally:
            self.lock.release()

    def _close(self, reason: str) -> None:
        if self._failed is not None:
            # Do not close: closing would flush metadata of the failed write (extents without
            # data). The file on disk stays as of the last successful flush.
            return
        if not self._sensors:  # nothing declared: nothing to keep
            try:
                self.f.close()
            finally:
                if not self.in_memory:
                    self._tmp_path.unlink(missing_ok=True)
            return
        if not self._started:
            self._closed = False
            try:
                self.start()
            finally:
                self._closed = True
        if self.in_memory:
            self._close_in_memory(reason)
            return
        try:
            self._check_still_ours()
            self._root["log"].add(t_s=self.session_time(), text=f"recording stopped: {reason or 'closed'}")
            self._write_pending()
            self.f.flush()
            self.f.close()
        except (OSError, RuntimeError) as e:
            self._failed = self._hdf5_error = e
            what, fix = describe_os_error(e)
            raise SessionWriteError(f"{self.path}: closing failed ({what}); data flushed before is kept ({fix})") from e
        try:
            finalize(self.path, reason=reason, lock=self.lock, expect_uuid=self.session_uuid)
        except ImugaitError as e:
            warnings.warn(f"{self.path}: recording closed and complete, but not compacted: {e}", stacklevel=3)

    def _close_in_memory(self, reason: str) -> None:
        try:
            self._root["log"].add(t_s=self.session_time(), text=f"import finished: {reason or 'closed'}")
            self._write_pending()
            attrs = {"closed_cleanly": True, "closed_utc": utc_now_iso(), "stop_reason": str(reason)}
            data = compact_image(self.f, attrs, self.path)
        finally:
            self.f.close()
        write_file_atomically(self.path, data, "creating", "be written", "nothing was written")

    def abort(self) -> None:
        """Give up: an in-memory session is dropped (no file appears); a recording is closed
        as far as it was flushed."""
        if self.in_memory and not self._closed:
            self._closed = True
            try:
                self.f.close()
            finally:
                self.lock.release()
            return
        self.close("aborted")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close("closed")
        elif self.in_memory:
            self.abort()
        else:
            try:
                self.close(f"error: {exc_type.__name__}")
            except SessionWriteError:
                pass


def finalize(path, reason: str = "", recovered: bool = False, compact: bool = True,
             lock: SessionLock | None = None, expect_uuid: str | None = None) -> None:
    """Mark a recording closed (FINAL_ATTRS) and compact the file — atomically.

    Compacting matters: in SWMR mode HDF5 never reuses the space of a chunk that a flush
    rewrote, so a live file holds every intermediate version of its growing chunks (about
    6x the data). :func:`compact_image` copies every object into a fresh in-memory file, adds
    the closing attributes there and verifies the raw data hash; the copy then replaces the
    original (:func:`write_file_atomically`) — the original is never modified in place, so a
    reader that still has it open (live view, ``imugait info``) is not disturbed, and a crash
    leaves the old version. If compacting fails for another reason than the disk, the
    closing attributes are added to an uncompacted copy instead. Raises
    :class:`SessionWriteError` when neither can be written (the file stays as it was:
    complete, only without its closing marks).
    """
    path = _real(path)
    _refuse_read_only(path, "be closed")
    attrs = {"closed_cleanly": not recovered, "closed_utc": utc_now_iso(), "stop_reason": str(reason)}
    if recovered:
        attrs["recovered_utc"] = utc_now_iso()
    lock = lock or SessionLock(path, "compacted")
    lock.acquire()
    try:
        if compact:
            try:
                with h5py.File(path, "r", locking=False) as src:
                    if expect_uuid and str(src.attrs.get("session_uuid", "")) != expect_uuid:
                        raise SessionBusyError(f"{path}: is no longer the file this program wrote "
                                               "(replaced by another program) — left as it is")
                    data = compact_image(src, attrs, path)
                write_file_atomically(path, data, "compact", "be closed")
                return
            except (SessionWriteError, SessionBusyError):
                raise
            except Exception:  # noqa: BLE001 - compaction is an optimisation: mark the file closed without it
                pass

        def _mark(f):
            if expect_uuid and str(f.attrs.get("session_uuid", "")) != expect_uuid:
                raise SessionBusyError(f"{path}: is no longer the file this program wrote — left as it is")
            for k, v in attrs.items():
                f.attrs[k] = v

        rewrite_session(path, _mark, lock=lock, tag="compact", doing="be closed")
    finally:
        lock.release()  # re-entrant: a lock we were given stays held by its owner


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


def add_clock_maps(f: h5py.File) -> None:
    """Store each sensor's final clock mapping (``/sensors/<side>/clock_map``) fitted from its
    ``clock_points``, with the points' fingerprint — so that reading a closed session does not
    refit it (≈ 1 s per sensor-hour; the reader refits whenever the fingerprint differs). Made
    when a file is closed or recovered (:func:`compact_image`); derived data, not part of the
    raw-data digest."""
    for _side, g in f["sensors"].items():
        if "clock_map" in g:
            del g["clock_map"]
        gc = g.get("clock_points")
        if gc is None or any(c.name not in gc for c in S.CLOCK_POINT_COLUMNS):
            continue
        m = min(gc[c.name].shape[0] for c in S.CLOCK_POINT_COLUMNS)
        p = {c.name: gc[c.name][:m] for c in S.CLOCK_POINT_COLUMNS}
        if m == 0 or not np.any(p["used"] != 0):
            continue
        try:
            sc = SessionClock(p["t_dev_s"], p["t_arrival_host_s"], p["segment"], p["epoch"], used=p["used"] != 0)
        except (ValueError, FloatingPointError):  # damaged points: the reader refits (and copes) itself
            continue
        gm = g.create_group("clock_map")
        gm.attrs["points_sha256"] = SessionClock.fingerprint(p["t_dev_s"], p["t_arrival_host_s"], p["segment"],
                                                             p["epoch"], p["used"])
        gm.attrs["map_version"] = SessionClock.MAP_VERSION
        for c, v in sc.to_table().items():
            gm.create_dataset(c, data=v)


def _data_digest(f: h5py.Group) -> str:
    """SHA-256 over every dataset under ``/sensors`` (names, shapes, values): a copy must
    reproduce it exactly."""
    h = hashlib.sha256()
    names: list[str] = []
    f["sensors"].visit(names.append)
    for name in sorted(n for n in names if "clock_map" not in n.split("/")):  # derived, rebuilt on copy
        obj = f["sensors"][name]
        if isinstance(obj, h5py.Dataset):
            h.update(name.encode())
            h.update(repr(obj.shape).encode())
            for i in range(0, obj.shape[0] if obj.shape else 1, 1 << 20):
                v = obj[i:i + (1 << 20)] if obj.shape else obj[()]
                h.update(np.asarray(v).tobytes() if np.asarray(v).dtype.kind != "O" else repr(list(v)).encode())
    return h.hexdigest()


def compact_image(src: h5py.File, extra_attrs: dict | None = None, path=None) -> bytes:
    """A compact copy of an open session file (no SWMR leftovers, large chunks) with
    ``extra_attrs`` added to the root, as bytes; every sensor dataset of the copy is checked
    against the source's (raises ``OSError`` if one differs)."""
    dst = memory_file()
    try:
        _copy_compact(src, dst)
        add_clock_maps(dst)
        for k, v in (extra_attrs or {}).items():
            dst.attrs[k] = v
        data = file_image(dst)
        same = _data_digest(src) == _data_digest(dst)
    finally:
        dst.close()
    if not same:
        raise OSError("raw data changed while compacting")
    return data


def tidy_after_dead_writer(path) -> bool:
    """A lock file nobody holds means its writer died: take the lock (which removes the
    dead writer's temporary files) and let it go (which removes the lock file). Cheap when
    there is nothing to tidy (one ``stat``). Returns True if it tidied."""
    path = Path(path)
    if not lock_path(path).exists() or lock_holder(path) is not None:
        return False
    try:
        SessionLock(path, "repaired").acquire(wait_s=0.0).release()
    except ImugaitError:
        return False
    return True


def recover_file(path, src: h5py.File | None = None, lock: SessionLock | None = None) -> bool:
    """Recover a file whose writer died: copy it compactly — read through ``src`` (the file
    opened in SWMR read mode, which sees everything up to the writer's last flush) or, for a
    file marked by a non-SWMR writer, through an in-memory copy with the marks cleared — add
    the closing attributes of an interrupted recording (unless it was closed already), and
    swap the copy in atomically. The old file's marks are never edited in place. Returns
    False when that is not possible here (read-only, disk full, another writer appeared,
    damage); the file is then left exactly as it was."""
    path = _real(path)
    if not os.access(path, os.W_OK):
        return False  # read-only: read it as it is
    try:
        lock = lock or SessionLock(path, "repaired")
        lock.acquire(wait_s=0.0)
    except ImugaitError:
        return False
    tmp_f = None
    try:
        if src is None:
            tmp_f = h5py.File(io.BytesIO(cleared_image(path.read_bytes())), "r")
            src = tmp_f
        attrs = {}
        if "closed_utc" not in src.attrs:
            attrs = {"closed_cleanly": False, "closed_utc": utc_now_iso(),
                     "stop_reason": "recording interrupted (recovered)", "recovered_utc": utc_now_iso()}
        data = compact_image(src, attrs, path)
        write_file_atomically(path, data, "recover", "be recovered")
        return True
    except Exception:  # noqa: BLE001 - recovery is best effort; the file stays readable as it is
        return False
    finally:
        if tmp_f is not None:
            tmp_f.close()
        lock.release()  # re-entrant: a lock we were given stays held by its owner


def compact_file(path, extra_attrs: dict | None = None) -> bool:
    """Rewrite ``path`` compactly with ``extra_attrs`` added to the root, atomically. Returns
    True if replaced; on any problem the original is kept as it is and False is returned."""
    path = Path(path)
    try:
        with SessionLock(path, "compacted"):
            with h5py.File(path, "r", locking=False) as src:
                data = compact_image(src, extra_attrs, path)
            write_file_atomically(path, data, "compact", "be compacted")
    except Exception:  # noqa: BLE001 - compaction is an optimisation; the original stays as it is
        return False
    return True


def _short(e: Exception) -> str:
    s = str(e)
    return s if len(s) < 160 else s[:157] + "..."
