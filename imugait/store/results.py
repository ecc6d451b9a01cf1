"""Analysis results in a session file: ``/derived/<run-id>/`` runs with their provenance.

* :class:`SessionAnalysis` — one analysis of one session file, ready to be stored (made by
  :func:`imugait.app.analyze_session`, the one session -> analysis path);
* :func:`store_analysis` writes it as a new run: the stride table, summary, asymmetry and
  calibration, stamped with ``algorithm_version``, ``parameters_json``, ``fs_hz_json``,
  ``raw_sha256`` (hash of the raw data used), ``imugait_version`` and ``created_utc``;
  ``/derived`` attribute ``current`` points to the new run; earlier runs are kept with their
  own provenance unless ``replace=True``. Raw data is never written here.
* :func:`recover_if_interrupted` finalises a file left by a killed recording (write marks
  cleared, ``closed_cleanly=False``, ``recovered_utc`` set) after checking that its writer is
  gone.

The results are written atomically: on an in-memory copy of the file that replaces it in
one ``os.replace`` (:func:`imugait.store.writer.rewrite_session`), under the session lock —
a ``kill -9`` at any moment leaves the file as it was or with the new run, never locked or
half-written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from imugait._version import __version__
from imugait.analysis import ALGORITHM_VERSION, AnalysisParams, AnalysisResult
from imugait.inputcheck import ImuData
from imugait.outputs import jsonable
from imugait.store import schema as S
from imugait.store.reader import Session, open_session, results_digest
from imugait.store.repair import clear_write_flags, read_consistency_flags
from imugait.store.writer import (SessionBusyError, SessionLock, SessionWriteError, finalize,
                                  rewrite_session, utc_now_iso)

__all__ = ["SessionAnalysis", "SessionBusyError", "file_fingerprint", "recover_if_interrupted", "store_analysis",
           "write_run"]

def recover_if_interrupted(path, lock: SessionLock | None = None) -> bool:
    """Finalise a file whose writer died: :func:`open_session` recovers it (SWMR read,
    compact copy with the closing attributes, atomic swap); this adds the closing attributes
    where only they are missing and, as a last resort, clears the marks in place. Returns
    True if the file was changed. Raises :class:`SessionBusyError` while a live program
    writes the file."""
    path = Path(path)
    with open_session(path) as s:
        if s.being_recorded:
            raise SessionBusyError(f"{path}: is still being recorded by {s.writer_state.who} — wait for the "
                                   "recording to stop")
        changed = s.writer_state.marks_cleared
        has_closing = "closed_utc" in s.meta
        last = ""
        if not has_closing:
            log = s.log
            last = str(log.text.iloc[-1]) if len(log) else ""
    marked = bool(read_consistency_flags(path))
    if marked:  # the recovering copy could not be made (damage?): clear the marks in place
        try:
            clear_write_flags(path)
        except (OSError, ValueError) as e:
            raise SessionWriteError(f"{path}: its writer stopped without closing it and its marks cannot be "
                                    f"cleared ({e}) — copy the file to a writable folder and use the copy") from e
        changed = True
    if has_closing:
        return changed
    if last.startswith(("recording stopped:", "import finished:")) and not marked:
        finalize(path, reason=last.split(":", 1)[1].strip(), lock=lock)  # closed; only the marks were missing
    else:
        finalize(path, reason="recording interrupted (recovered)", recovered=True, lock=lock)
    return True




def _dumps(obj) -> str:
    return json.dumps(jsonable(obj), sort_keys=True, allow_nan=False)


@dataclass
class SessionAnalysis:
    """The analysis of one session file, ready to be stored (:func:`store_analysis`)."""

    path: Path
    result: AnalysisResult   # its summary has a "session" block
    params: AnalysisParams   # the parameters used
    fs_hz: dict              # side -> rate used (absent: estimated from the time stamps)
    raw_sha256: str
    session_uuid: str
    notes: list = field(default_factory=list)
    live: bool = False       # the file is still being recorded: results are partial
    file_stat: tuple = ()    # (inode, size, mtime) when analysed
    inputs: dict[str, ImuData] = field(default_factory=dict, repr=False)  # what was analysed (not stored)

    @property
    def sides(self) -> list[str]:
        return list(self.result.summary.get("sides", {}))


def file_fingerprint(path: Path) -> tuple:
    """``(inode, size, mtime_ns)`` of ``path``: :func:`store_analysis` refuses to store an
    analysis of a file that has changed since (``SessionAnalysis.file_stat``)."""
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _write_table(g: h5py.Group, df: pd.DataFrame) -> None:
    g.attrs["columns"] = json.dumps(list(df.columns))
    g.attrs["description"] = "Stride table: one row per stride and side (see analysis docs)."
    for col in df.columns:
        v = df[col].to_numpy()
        if v.dtype == bool:
            ds = g.create_dataset(col, data=v.astype(np.int8))
            ds.attrs["units"] = "bool"
        elif v.dtype.kind in "iuf":
            ds = g.create_dataset(col, data=v)
            ds.attrs["units"] = S.units_for_column(col)
        else:
            ds = g.create_dataset(col, data=np.array([str(x) for x in v], dtype=object),
                                  dtype=h5py.string_dtype("utf-8"))
            ds.attrs["units"] = ""
        ds.attrs["description"] = f"stride column {col}"


def _scalar_str(g: h5py.Group, name: str, text: str, description: str) -> None:
    ds = g.create_dataset(name, data=text, dtype=h5py.string_dtype("utf-8"))
    ds.attrs["units"] = ""
    ds.attrs["description"] = description


def next_run_id(group: h5py.Group) -> str:
    """The next free ``run-NNNN`` name in a group of stored runs (analysis ``/derived``, the
    flexor test's group): one more than the highest, so a deleted run's name is never reused."""
    n = 1 + max((int(k.split("-")[1]) for k in group if k.startswith("run-") and k.split("-")[1].isdigit()),
                default=0)
    return f"run-{n:04d}"


def write_run(f: h5py.File, sa: SessionAnalysis, replace: bool) -> str:
    """Write ``sa`` as a new ``derived/run-NNNN`` group into the open file ``f`` (in place, not
    atomic by itself: :func:`store_analysis` calls it on an in-memory copy); returns the run id."""
    res, params = sa.result, sa.params
    d = f.require_group("derived")
    if "description" not in d.attrs:
        d.attrs["description"] = "Analysis results; attribute 'current' names the run in use."
    if replace:
        for run_id in list(d):
            del d[run_id]
    run_id = next_run_id(d)
    g = d.create_group(run_id)
    g.attrs["algorithm_version"] = str(ALGORITHM_VERSION)
    g.attrs["parameters_json"] = _dumps(params.to_dict())
    g.attrs["fs_hz_json"] = _dumps(sa.fs_hz)
    g.attrs["raw_sha256"] = sa.raw_sha256
    g.attrs["imugait_version"] = __version__
    g.attrs["created_utc"] = utc_now_iso()
    g.attrs["sides"] = json.dumps(sa.sides)
    strides = res.strides if res.strides is not None else pd.DataFrame()
    _write_table(g.create_group("strides"), strides)
    summary = res.summary or {}
    _scalar_str(g, "summary_json", _dumps(summary), "summary.json: per-side and per-bout summaries, asymmetry, "
                "and the session block (state, data used and lost)")
    _scalar_str(g, "asymmetry_json", _dumps(summary.get("asymmetry", {}) if isinstance(summary, dict) else {}),
                "Left/right asymmetry of stride metrics")
    _scalar_str(g, "calibration_json", _dumps(res.calibration),
                "Strap calibration per side (still period, flexion axis, confidence)")
    for side, arr in res.cycles.items():
        arr = np.asarray(arr, dtype=np.float32)
        if arr.ndim == 2 and arr.size:
            ds = g.create_dataset(f"cycles_{side}", data=arr, compression="gzip", shuffle=True)
            ds.attrs["units"] = "deg"
            ds.attrs["description"] = f"{side} thigh angle over the normalised gait cycle (0..100 %), one row per stride"
    g.attrs["results_sha256"] = results_digest(g)  # checked by the reader: damage is named, not shown
    d.attrs["current"] = run_id
    return run_id


def store_analysis(path, sa: SessionAnalysis, replace: bool = False, lock: SessionLock | None = None) -> str:
    """Store an analysis in its session file as a new run (atomically); returns the run id.
    Refuses (:class:`SessionBusyError`) a file being recorded and one whose raw data changed
    since it was analysed."""
    path = Path(path)
    if sa.live:
        raise SessionBusyError(f"{path}: is still being recorded — results can be stored when the recording stops")

    def edit(f):
        if sa.file_stat and file_fingerprint(path) != sa.file_stat:
            now = Session(path, f, owned=False).raw_sha256()
            if now != sa.raw_sha256:
                raise SessionBusyError(f"{path}: its raw data changed since it was analysed (replaced by another "
                                       "program?) — nothing was stored; run the analysis again")
        return write_run(f, sa, replace)

    return rewrite_session(path, edit, lock=lock, purpose="analysed", tag="results",
                           doing="store the analysis results in it")


