"""Read session files: ``imugait.open_session(path)``.

::

    with imugait.open_session("run.h5") as s:
        s.meta["condition"], s.sides              # metadata, ("left", "right")
        info = s.sensor_info("left")              # SensorInfo (scales, rates, firmware...)
        raw = s.raw("left")                       # counts, sample_index, t_dev_s, t_s, packets...
        t_s, acc_mps2, gyr_dps = s.imu("left")    # session clock, SI units, time-ordered
        s.strides, s.summary, s.markers           # derived results of the current run
        s.derived_current                         # do they match the raw data and algorithm?

Files may be read while a recording is still being written (HDF5 SWMR): a reader sees
the data up to the writer's last flush; :meth:`Session.refresh` picks up newer data.
Files left by a crashed recording open the same way (everything up to the last flush).

Every problem with the file raises :class:`imugait.errors.InputFileError` with one
sentence naming the file and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from imugait.conventions import SIDES
from imugait.errors import InputFileError
from imugait.store import flexor_schema
from imugait.store import schema as S
from imugait.types import SensorInfo

_FIX_DAMAGED = "the file is incomplete or damaged; restore it from a backup copy"


def _str(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def _attr_value(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


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


def _h5open(path: Path):
    """Open for reading. Files marked "open for write" (a recording in progress, or one that
    was killed) are opened in SWMR read mode, which sees everything up to the last flush."""
    from imugait.store.repair import superblock_info

    try:
        sb = superblock_info(path)
    except (OSError, ValueError):
        sb = {"flags": None, "eof": None}
    if sb["eof"] is not None and os.path.getsize(path) < sb["eof"]:
        # A write that failed (disk full) can leave the end-of-file mark beyond the data;
        # such a file still opens in SWMR mode. A truly truncated file makes HDF5's SWMR
        # reader retry for a long time, so probe in a child process with a time limit.
        if not (sb["flags"] and _swmr_probe_ok(path)):
            raise InputFileError(path, None, f"is truncated ({os.path.getsize(path)} of {sb['eof']} bytes present)",
                                 "was the copy or download interrupted? copy the original again")
    kw = dict(libver="latest", swmr=True) if sb["flags"] else {}
    try:
        return h5py.File(path, "r", **kw)
    except OSError as e:
        msg = str(e)
        if "truncated" in msg:
            raise InputFileError(path, None, "is truncated (the file ends before its data does)",
                                 "was the copy or download interrupted? copy the original again") from e
        if "SWMR" in msg or "already open" in msg:
            raise InputFileError(path, None, "is being created by another program and not readable yet",
                                 "try again in a second") from e
        raise InputFileError(path, None, f"cannot be opened as HDF5 ({msg.split('(')[0].strip()})",
                             _FIX_DAMAGED) from e


def open_session(path, mode: str = "r") -> "Session":
    """Open a session file for reading; see the module docstring."""
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
    f = _h5open(path)
    try:
        fmt = _str(f.attrs.get("format", ""))
        if fmt != S.FORMAT_NAME:
            raise InputFileError(path, None, "is an HDF5 file but not an imugait session (no format='imugait-session' attribute)",
                                 "import raw data with `imugait import` first")
        try:
            version = int(f.attrs["schema_version"])
        except (KeyError, TypeError, ValueError):
            raise InputFileError(path, "/", "has no valid schema_version attribute", _FIX_DAMAGED) from None
        cls = SESSION_READERS.get(version)
        if cls is None:
            if version > S.SCHEMA_VERSION:
                raise InputFileError(
                    path, None, f"uses session schema v{version}, newer than this imugait reads (up to v{S.SCHEMA_VERSION})",
                    "upgrade imugait (pip install -U imugait)")
            raise InputFileError(path, None, f"uses unknown session schema v{version}", _FIX_DAMAGED)
        return cls(path, f)
    except BaseException:
        f.close()
        raise


class Session:
    """A session file opened for reading (schema v1). Use as a context manager or call close()."""

    schema_version = 1

    def __init__(self, path: Path, f: h5py.File):
        self.path = Path(path)
        self._f = f
        self._check_structure()
        self.meta: dict = {k: _attr_value(v) for k, v in f.attrs.items()}
        try:
            self.meta["source_info"] = json.loads(self.meta.get("source_json", "{}") or "{}")
        except ValueError:
            self.meta["source_info"] = {}
        try:
            self.meta["sides"] = json.loads(self.meta.get("sides", "[]") or "[]")
        except ValueError:
            pass
        self.sides: tuple[str, ...] = tuple(s for s in SIDES if s in f["sensors"])
        self._clocks: dict = {}

    # -- structure ------------------------------------------------------------------
    def _need(self, name: str):
        if name.lstrip("/") not in self._names:
            raise InputFileError(self.path, name, "is missing", _FIX_DAMAGED)

    def _check_structure(self):
        names = set()
        self._f.visit(names.add)
        self._names = names
        self._need("/sensors")
        for name in S.ROOT_TABLES:
            for col in S.ROOT_TABLES[name]:
                self._need(f"/{name}/{col.name}")
        if not len(self._f["sensors"]):
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
            for a in ("kind", "sample_rate_hz", "acc_scale_mps2", "gyr_scale_dps"):
                if a not in self._f[base].attrs:
                    raise InputFileError(self.path, base, f"lacks the attribute '{a}'", _FIX_DAMAGED)

    # -- context ----------------------------------------------------------------------
    def close(self):
        if self._f:
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

        def _r(_name, obj):
            if isinstance(obj, h5py.Dataset):
                obj.refresh()
        self._f.visititems(_r)

    @property
    def closed_cleanly(self) -> bool:
        return bool(self._f.attrs.get("closed_cleanly", False))

    @property
    def recording_active_or_interrupted(self) -> bool:
        return "closed_utc" not in self._f.attrs

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
            if k in a:
                kw[k] = _attr_value(a[k])
        kw["side"] = side
        return SensorInfo(**kw)

    def packets(self, side: str) -> dict[str, np.ndarray]:
        """The valid part of the packet table: the longest prefix of packets that are fully
        written and whose samples are all stored (a crash or a failed write may cut a flush
        in the middle; rows never written read as the fill values and end the prefix)."""
        return self._packets(side, None)

    def _packets(self, side: str, resid: np.ndarray | None) -> dict[str, np.ndarray]:
        g = self._side(side)
        gp = g["packets"]
        cols = {c.name: gp[c.name] for c in S.PACKET_COLUMNS}
        m = min(ds.shape[0] for ds in cols.values())
        p = {k: (ds[()] if ds.shape[0] == m else ds[:m]) for k, ds in cols.items()}
        n_rows = min(g[c.name].shape[0] for c in S.SAMPLE_COLUMNS)
        if m == 0:
            return p
        n = p["n"].astype(np.int64)
        expected_row = np.concatenate([[0], np.cumsum(n)[:-1]])
        ok = ((n > 0) & (p["row"] == expected_row) & (p["row"] + n <= n_rows)
              & np.isfinite(p["t_dev_s"]) & np.isfinite(p["dt_dev_s"]) & np.isfinite(p["t_s"])
              & np.isfinite(p["ds_ddev"]))
        keep = m if ok.all() else int(np.argmin(ok))
        if keep:
            end = int(expected_row[keep - 1] + n[keep - 1])
            r = resid if resid is not None else g["t_dev_resid_ns"][:end]
            bad = np.flatnonzero(r[:end] == S.RESID_FILL)
            if len(bad):
                keep = int(np.searchsorted(expected_row[:keep], bad[0], side="right")) - 1
        if keep == m:
            return p
        return {k: v[:keep] for k, v in p.items()}

    def clock_points(self, side: str) -> dict[str, np.ndarray] | None:
        """The live mapping's clock points (``clock_points`` table), or None when the file
        has none (recorded before imugait 0.6, imported, or a source without arrival times)."""
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
        return {c: gc[c][:m] for c in cols}

    def clock(self, side: str):
        """The final device->host mapping of ``side`` from all its stored clock points
        (:class:`imugait.acquire.clock.SessionClock` — the one implementation, also used when
        ``imugait record`` closes a session), or None without clock points."""
        if side not in self._clocks:
            from imugait.acquire.clock import SessionClock

            p = self.clock_points(side)
            sc = None
            if p is not None and np.any(p["used"] != 0):
                sc = SessionClock(p["t_dev_s"], p["t_arrival_host_s"], p["segment"], p["epoch"], used=p["used"] != 0)
            self._clocks[side] = sc
        return self._clocks[side]

    def raw(self, side: str) -> dict:
        """Stored data as recorded, in storage (arrival) order.

        Keys: acc_counts (n,3) int16, gyr_counts (n,3) int16, sample_index (n,) int64,
        t_dev_s (n,), t_s (n,) session time, t_s_live (n,) session time of the live mapping,
        t_dev_resid_ns, packets (dict of per-packet arrays), acc_scale_mps2, gyr_scale_dps,
        gaps (DataFrame). ``t_s`` is the final clock mapping (:meth:`clock`) where the file
        has clock points for the sample's epoch, else the live mapping stored with the packet.
        """
        g = self._side(side)
        resid_all = g["t_dev_resid_ns"][()]
        p = self._packets(side, resid_all)
        n_rows = int(p["row"][-1] + p["n"][-1]) if len(p["n"]) else 0
        acc_ds, gyr_ds = g["acc_counts"], g["gyr_counts"]
        acc = acc_ds[()] if acc_ds.shape[0] == n_rows else acc_ds[:n_rows]
        gyr = gyr_ds[()] if gyr_ds.shape[0] == n_rows else gyr_ds[:n_rows]
        resid = resid_all[:n_rows]
        n = p["n"].astype(np.int64)
        k = np.arange(n_rows, dtype=np.int64) - np.repeat(p["row"], n)
        off = k * np.repeat(p["dt_dev_s"], n)
        if resid.any():
            off += resid * 1e-9
        t_dev = np.repeat(p["t_dev_s"], n) + off
        t_s_live = np.repeat(p["t_s"], n) + np.repeat(p["ds_ddev"], n) * off
        t_s = t_s_live
        sc = self.clock(side) if n_rows else None
        if sc is not None:
            t_final = sc.to_host(t_dev, np.repeat(p["epoch"], n)) - float(self._f.attrs.get("t0_host_s", 0.0))
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
            "acc_scale_mps2": float(a["acc_scale_mps2"]),
            "gyr_scale_dps": float(a["gyr_scale_dps"]),
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
            v = group[c.name][:m]
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
        expected samples, per counter epoch), n_packets, counter_restarts (device reboots)."""
        p = self.packets(side)
        info = self.sensor_info(side)
        if not len(p["n"]):
            return dict(n_samples=0, n_packets=0, t_first_s=float("nan"), t_last_s=float("nan"),
                        duration_s=0.0, estimated_rate_hz=float("nan"), gap_pct=float("nan"),
                        configured_rate_hz=info.sample_rate_hz, counter_restarts=0)
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
                    configured_rate_hz=info.sample_rate_hz, counter_restarts=int(len(epochs) - 1))

    # -- provenance -------------------------------------------------------------------
    def raw_sha256(self) -> str:
        """SHA-256 over the raw data of every side (counts, time residuals, packet table,
        scale factors): derived results are "current" only for the same raw data."""
        h = hashlib.sha256()
        for side in self.sides:
            g = self._side(side)
            p = self.packets(side)
            n_rows = int(p["row"][-1] + p["n"][-1]) if len(p["n"]) else 0
            h.update(side.encode())
            h.update(np.float64([g.attrs["acc_scale_mps2"], g.attrs["gyr_scale_dps"]]).tobytes())
            for c in S.SAMPLE_COLUMNS:
                h.update(np.ascontiguousarray(g[c.name][:n_rows]).astype(np.dtype(c.dtype).newbyteorder("<")).tobytes())
            for c in S.PACKET_COLUMNS:
                h.update(np.ascontiguousarray(p[c.name]).astype(np.dtype(c.dtype).newbyteorder("<")).tobytes())
            cp = self.clock_points(side)  # they decide the sample times (final clock mapping)
            if cp is not None:
                for c in S.CLOCK_POINT_COLUMNS:
                    h.update(np.ascontiguousarray(cp[c.name]).astype(np.dtype(c.dtype).newbyteorder("<")).tobytes())
        return h.hexdigest()

    # -- derived results ----------------------------------------------------------------
    @property
    def current_run(self) -> str | None:
        if "derived" not in self._f:
            return None
        cur = _str(self._f["derived"].attrs.get("current", ""))
        return cur if cur and cur in self._f["derived"] else None

    @property
    def derived_runs(self) -> pd.DataFrame:
        rows = []
        if "derived" in self._f:
            cur = self.current_run
            for run_id, g in self._f["derived"].items():
                a = g.attrs
                rows.append(dict(run_id=run_id, created_utc=_str(a.get("created_utc", "")),
                                 algorithm_version=_str(a.get("algorithm_version", "")),
                                 raw_sha256=_str(a.get("raw_sha256", "")), current=run_id == cur))
        return pd.DataFrame(rows, columns=["run_id", "created_utc", "algorithm_version", "raw_sha256", "current"])

    def _run(self, run_id: str | None):
        run_id = run_id or self.current_run
        if run_id is None:
            return None
        if run_id not in self._f.get("derived", {}):
            raise InputFileError(self.path, f"/derived/{run_id}", "does not exist",
                                 f"runs: {', '.join(self.derived_runs.run_id)}")
        return self._f["derived"][run_id]

    def run_attrs(self, run_id: str | None = None) -> dict | None:
        g = self._run(run_id)
        return None if g is None else {k: _attr_value(v) for k, v in g.attrs.items()}

    def strides_of(self, run_id: str | None = None) -> pd.DataFrame | None:
        g = self._run(run_id)
        if g is None:
            return None
        sg = g["strides"]
        cols = json.loads(_str(sg.attrs.get("columns", "[]"))) or list(sg)
        data = {}
        for c in cols:
            v = sg[c][()]
            if v.dtype.kind in "OS":
                v = [_str(x) for x in v]
            data[c] = v
        df = pd.DataFrame(data, columns=cols)
        if "valid" in df:
            df["valid"] = df["valid"].astype(bool)
        return df

    def _json(self, name: str, run_id: str | None = None):
        g = self._run(run_id)
        if g is None or name not in g:
            return None
        return json.loads(_str(g[name][()]))

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
        try:
            from imugait.analysis import ALGORITHM_VERSION
        except ImportError:  # analysis package not installed/landed
            ALGORITHM_VERSION = None
        return a.get("raw_sha256") == self.raw_sha256() and (
            ALGORITHM_VERSION is None or str(a.get("algorithm_version")) == str(ALGORITHM_VERSION))

    @property
    def flexor_test(self) -> dict | None:
        """The stored hip-flexor (Thomas) test result of the current run — the
        ``flexor_test.json`` dict plus ``run_id`` and ``current`` — or None (see
        :mod:`imugait.store.flexor_schema`)."""
        return flexor_schema.read_group(self._f.get(flexor_schema.GROUP), self.raw_sha256, self.path)

    @property
    def duration_s(self) -> float:
        ds = [self.stats(s) for s in self.sides]
        t0 = min((d["t_first_s"] for d in ds if d["n_samples"]), default=float("nan"))
        t1 = max((d["t_last_s"] for d in ds if d["n_samples"]), default=float("nan"))
        return t1 - t0 if ds else 0.0


SESSION_READERS: dict[int, type[Session]] = {1: Session}
"""schema_version -> reader class. A future v2 adds its class here and keeps v1's."""
