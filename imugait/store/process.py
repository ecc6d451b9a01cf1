"""(Re)process a session: run the analysis on its raw data, store the results in the file.

``process_session(path, params=None, replace=False)``

* reads raw data through :func:`imugait.store.reader.open_session` (raw data is never
  written or modified here) — :func:`session_inputs` is the one place that turns a session
  into analysis inputs (``imugait analyze FILE.h5``, ``reprocess``, ``compare`` use it too);
* runs :func:`imugait.analysis.analyze` on every side;
* writes ``/derived/<run-id>/`` with the stride table, summary, asymmetry and calibration,
  stamped with ``algorithm_version``, ``parameters_json``, ``fs_hz_json``, ``raw_sha256``
  (hash of the raw data used), ``imugait_version`` and ``created_utc``; ``/derived``
  attribute ``current`` points to the new run;
* earlier runs are kept with their own provenance unless ``replace=True``.

The results are written atomically: on an in-memory copy of the file that replaces it in
one ``os.replace`` (:func:`imugait.store.writer.rewrite_session`), under the session lock —
a ``kill -9`` at any moment leaves the file as it was or with the new run, never locked or
half-written. The summary carries a ``session`` block: the file's state (closed, being
recorded — then the results are *partial* and say how much they cover — or interrupted),
and per side the samples used, the gap percentage and any damaged or cut-off packets
(:meth:`imugait.store.reader.Session.quality`), so a loss is visible in ``summary.json``.

A file left by a killed recording is finalised first (write marks cleared,
``closed_cleanly=False``, ``recovered_utc`` set) after checking that its writer is gone.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np
import pandas as pd

import imugait
from imugait.errors import ImugaitError, InputFileError
from imugait.inputcheck import ImuData, check_imu
from imugait.store import schema as S
from imugait.store.reader import Session, open_session, results_digest
from imugait.store.repair import clear_write_flags, read_consistency_flags
from imugait.store.writer import (RESULTS_WAIT_S, SessionBusyError, SessionLock, SessionWriteError, finalize,
                                  rewrite_session, utc_now_iso)

if TYPE_CHECKING:  # for annotations only: imugait.analysis is imported lazily in this module
    from imugait.analysis import AnalysisParams, AnalysisResult

__all__ = ["SessionAnalysis", "SessionBusyError", "analyse_session", "process_session", "recover_if_interrupted",
           "session_inputs", "store_analysis"]

RATE_AGREEMENT = 0.05
"""The configured sample rate is used when the time stamps agree with it to 5 %; otherwise
the analysis takes the rate from the time stamps and the summary says so."""


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


def _jsonable(obj):
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(obj).items()}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _dumps(obj) -> str:
    return json.dumps(_jsonable(obj), default=str, sort_keys=True)


# -- session -> analysis inputs (the one implementation) -------------------------------------

def session_inputs(s: Session, fs_hz: float | None = None) -> tuple[dict, dict, list[str]]:
    """Analysis inputs of an open session: ``({side: ImuData}, {side: fs_hz},
    notes)``. Sides with fewer than two samples are left out. The rate is ``fs_hz`` when
    given, else the configured one when the time stamps agree with it (5 %), else none (the
    analysis estimates it from the time stamps). ``notes``: sentences about what the inputs
    lack (partial file, damage, cut-off data, rate disagreement, empty sides)."""
    inputs, fs, notes = {}, {}, []
    if s.partial_note:
        notes.append(s.partial_note)
    for side in s.sides:
        st = s.stats(side)
        if st["damaged_packets"] or st["damaged_samples"]:
            notes.append(f"{s.path} {side}: {st['damaged_packets']} damaged packet(s) left out "
                         f"({st['damaged_samples']} samples unreadable) — the file is damaged; "
                         "the results cover the rest")
        if st["cut_samples"] and s.cut_is_damage(side):
            notes.append(f"{s.path} {side}: the last {st['cut_samples']} stored samples are unreadable (the file "
                         "ends early or its tables disagree) — the file is damaged; the results cover the rest")
        elif st["cut_samples"] and not s.being_recorded and st["n_samples"]:
            notes.append(f"{s.path} {side}: the last {st['cut_samples']} stored samples were cut off by an "
                         "interrupted write and are not used")
        t, acc, gyr = s.imu(side)
        if len(t) < 2:
            if len(s.sides) > 1:
                notes.append(f"{s.path} {side}: no samples — analysed without this side")
            continue
        inputs[side] = ImuData(t, acc, gyr, source=f"{s.path} ({side})", origin="session",
                               time_column="session time")
        if fs_hz:
            fs[side] = float(fs_hz)
            continue
        conf = float(s.sensor_info(side).sample_rate_hz)
        est = float(st["estimated_rate_hz"])
        if math.isfinite(est) and est > 0 and abs(conf / est - 1.0) > RATE_AGREEMENT:
            notes.append(f"{s.path} {side}: configured rate {conf:g} Hz disagrees with the {est:.2f} Hz of the "
                         "time stamps — analysed at the time stamps' rate")
            continue
        fs[side] = conf
    return inputs, fs, notes


def session_block(s: Session, notes: list[str], fs_used: dict) -> dict:
    """The ``session`` block of ``summary.json``: state, partial or not, and per side what
    was used and what was lost (gaps, damaged and cut-off data)."""
    sides = {}
    for side in s.sides:
        st = s.stats(side)
        sides[side] = {k: st[k] for k in ("n_samples", "duration_s", "gap_pct", "estimated_rate_hz",
                                          "configured_rate_hz", "damaged_packets", "damaged_samples",
                                          "cut_packets", "cut_samples", "counter_restarts")}
        sides[side]["fs_hz_used"] = fs_used.get(side)
    d = s.duration_s
    return _jsonable({
        "file": str(s.path), "session_uuid": str(s.meta.get("session_uuid", "") or ""),
        "state": s.writer_state.state, "state_text": s.state_text(),
        "partial": bool(s.being_recorded),
        "covers_s": float(d) if math.isfinite(d) else 0.0,
        "writer": s.writer_state.who if s.being_recorded else "",
        "data_quality": sides, "notes": list(notes),
    })


@dataclass
class SessionAnalysis:
    """The analysis of one session file, ready to be stored (:func:`store_analysis`)."""

    path: Path
    result: AnalysisResult   # summary has a "session" block
    params: AnalysisParams   # used
    fs_hz: dict              # side -> rate used (absent: estimated from the time stamps)
    raw_sha256: str
    session_uuid: str
    notes: list = field(default_factory=list)
    live: bool = False       # the file is still being recorded: results are partial
    file_stat: tuple = ()    # (inode, size, mtime) when analysed

    @property
    def sides(self) -> list[str]:
        return list(self.result.summary.get("sides", {}))


def file_fingerprint(path: Path) -> tuple:
    """``(inode, size, mtime_ns)`` of ``path``: :func:`store_analysis` refuses to store an
    analysis of a file that has changed since (``SessionAnalysis.file_stat``)."""
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def analyse_session(path, params=None, fs_hz: float | None = None, fs_typed: bool = False) -> SessionAnalysis:
    """Analyse a session file without changing it (a dead writer's file excepted: see
    :func:`open_session`); ``fs_typed``: ``fs_hz`` was typed by a person (``--fs``) and must
    agree with the time stamps. Works on a file that is still being recorded (``live``; the
    summary says the results are partial) and on a damaged one (what was left out is in
    ``notes`` and in the summary's ``session`` block)."""
    from imugait.analysis import AnalysisParams, analyze

    path = Path(path)
    params = params or AnalysisParams()
    with open_session(path) as s:
        inputs, fs, notes = session_inputs(s, fs_hz)
        raw_hash = s.raw_sha256()
        notes.extend(_changed_since_stored(s, raw_hash))
        block = session_block(s, notes, fs)
        live = s.being_recorded
        uuid = str(s.meta.get("session_uuid", "") or "")
        st = file_fingerprint(path)
    if not inputs:
        raise InputFileError(path, "/sensors", "holds no samples to analyse", "record or import data first")
    if fs_hz and fs_typed:  # a rate a person typed must agree with the time stamps (refused otherwise)
        inputs = {k: check_imu(v, fs_hz=fs_hz, fs_typed=True) for k, v in inputs.items()}
    res = analyze(left=inputs.get("left"), right=inputs.get("right"), params=params, fs_hz=fs or None)
    res.summary["session"] = block
    return SessionAnalysis(path=path, result=res, params=params, fs_hz=fs, raw_sha256=raw_hash, session_uuid=uuid,
                           notes=notes, live=live, file_stat=st)


def _changed_since_stored(s: Session, raw_hash: str) -> list[str]:
    """A note when the raw data differ from those the stored current results were computed
    from: nothing but damage or tampering changes a session's raw data after it was written."""
    try:
        a = s.run_attrs()
    except InputFileError as e:
        return [f"{e}"]
    if not a or not a.get("raw_sha256") or a.get("raw_sha256") == raw_hash:
        return []
    return [f"{s.path}: its raw data differ from those its stored results ({s.current_run}, "
            f"{a.get('created_utc', '')}) were computed from — the file was changed or damaged after it was "
            "analysed; check it against a backup copy"]


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


def write_run(f: h5py.File, sa: SessionAnalysis, replace: bool) -> str:
    """Write ``sa`` as a new ``derived/run-NNNN`` group into the open file ``f`` (in place, not
    atomic by itself: :func:`store_analysis` calls it on an in-memory copy); returns the run id."""
    from imugait.analysis import ALGORITHM_VERSION

    res, params = sa.result, sa.params
    d = f.require_group("derived")
    if "description" not in d.attrs:
        d.attrs["description"] = "Analysis results; attribute 'current' names the run in use."
    if replace:
        for run_id in list(d):
            del d[run_id]
    n = 1 + max((int(k.split("-")[1]) for k in d if k.startswith("run-") and k.split("-")[1].isdigit()),
                default=0)
    run_id = f"run-{n:04d}"
    g = d.create_group(run_id)
    g.attrs["algorithm_version"] = str(ALGORITHM_VERSION)
    pdict = params.to_dict() if hasattr(params, "to_dict") else _jsonable(params)
    g.attrs["parameters_json"] = _dumps(pdict)
    g.attrs["fs_hz_json"] = _dumps(sa.fs_hz)
    g.attrs["raw_sha256"] = sa.raw_sha256
    g.attrs["imugait_version"] = imugait.__version__
    g.attrs["created_utc"] = utc_now_iso()
    g.attrs["sides"] = json.dumps(sa.sides)
    strides = res.strides if res.strides is not None else pd.DataFrame()
    _write_table(g.create_group("strides"), strides)
    summary = getattr(res, "summary", None) or {}
    _scalar_str(g, "summary_json", _dumps(summary), "summary.json: per-side and per-bout summaries, asymmetry, "
                "and the session block (state, data used and lost)")
    _scalar_str(g, "asymmetry_json", _dumps(summary.get("asymmetry", {}) if isinstance(summary, dict) else {}),
                "Left/right asymmetry of stride metrics")
    _scalar_str(g, "calibration_json", _dumps(getattr(res, "calibration", {}) or {}),
                "Strap calibration per side (still period, flexion axis, confidence)")
    cycles = getattr(res, "cycles", None) or {}
    for side, arr in cycles.items():
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


def process_session(path, params=None, replace: bool = False, *, expect_uuid: str | None = None,
                    lock: SessionLock | None = None) -> str:
    """Analyse the session's raw data and store the results; returns the new run id.
    ``expect_uuid``: refuse when the file is no longer that session (replaced meanwhile);
    ``lock``: the session lock, when the caller holds it already (the recorder does)."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, None, "does not exist", "check the path")
    open_session(path).close()  # a clear sentence for files that are not sessions, before any lock
    with (lock or SessionLock(path, "analysed", wait_s=RESULTS_WAIT_S)) as lock:
        recover_if_interrupted(path, lock)
        sa = analyse_session(path, params)
        if expect_uuid and sa.session_uuid != expect_uuid:
            raise SessionBusyError(f"{path}: is no longer the session this program recorded (replaced by another "
                                   "program) — results not stored")
        return store_analysis(path, sa, replace=replace, lock=lock)


def try_store_analysis(path, sa: SessionAnalysis) -> tuple[str | None, str]:
    """Store if possible (``imugait analyze FILE.h5``): ``(run_id, "")`` or ``(None, why not)``."""
    if sa.live:
        return None, f"{path}: results not stored in the file — it is still being recorded"
    try:
        with SessionLock(path, "analysed", wait_s=RESULTS_WAIT_S) as lock:
            recover_if_interrupted(path, lock)
            return store_analysis(path, sa, lock=lock), ""
    except ImugaitError as e:
        return None, f"results not stored in the file: {e}"
