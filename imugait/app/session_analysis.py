"""A session file analysed — the one path from a session to strides and summaries.

``analyze_session(path, params)`` is what ``imugait analyze FILE.h5``, ``compare``,
``reprocess``, ``report``, ``group`` (through ``reprocess``) and the analysis a recording
gets when it closes all call; nothing else opens a session and runs the analysis. One rule
for which sides are analysed (a side with fewer than two samples is left out, with a note
when the other side has data) and one rule for the sample rate (:func:`session_inputs`).

* :func:`session_inputs` — an open session -> analysis inputs, the rate of each side, notes;
* :func:`analyze_session` — the analysis of a file (not changed; partial and damaged files
  say so in ``notes`` and in the summary's ``session`` block);
* :func:`process_session` — analyse and store as a new ``/derived`` run (atomically, under
  the session lock: :func:`imugait.store.results.store_analysis`);
* :func:`try_store_analysis` — store if possible (``imugait analyze FILE.h5``);
* :func:`analyze_flexor_session` — the hip-flexor test on a session's raw data.
"""

from __future__ import annotations

import math
from pathlib import Path

from imugait.analysis import AnalysisParams, analyze
from imugait.analysis.flexor import FlexorParams, FlexorResult, analyze_flexor
from imugait.errors import ImugaitError, InputFileError
from imugait.inputcheck import ImuData, check_imu
from imugait.outputs import jsonable
from imugait.store.reader import Session, open_session
from imugait.store.results import SessionAnalysis, file_fingerprint, recover_if_interrupted, store_analysis
from imugait.store.writer import RESULTS_WAIT_S, SessionBusyError, SessionLock

__all__ = ["RATE_AGREEMENT", "SessionAnalysis", "analyze_flexor_session", "analyze_session", "process_session",
           "session_block", "session_inputs", "try_store_analysis"]

RATE_AGREEMENT = 0.05
"""The configured sample rate is used when the time stamps agree with it to 5 %; otherwise
the analysis takes the rate from the time stamps and the summary says so."""


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
    return jsonable({
        "file": str(s.path), "session_uuid": str(s.meta.get("session_uuid", "") or ""),
        "state": s.writer_state.state, "state_text": s.state_text(),
        "partial": bool(s.being_recorded),
        "covers_s": float(d) if math.isfinite(d) else 0.0,
        "writer": s.writer_state.who if s.being_recorded else "",
        "data_quality": sides, "notes": list(notes),
    })


def analyze_session(path, params: AnalysisParams | None = None, fs_hz: float | None = None,
                    fs_typed: bool = False) -> SessionAnalysis:
    """Analyse a session file without changing it (a dead writer's file excepted: see
    :func:`open_session`); ``fs_typed``: ``fs_hz`` was typed by a person (``--fs``) and must
    agree with the time stamps. Works on a file that is still being recorded (``live``; the
    summary says the results are partial) and on a damaged one (what was left out is in
    ``notes`` and in the summary's ``session`` block)."""
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
                           notes=notes, live=live, file_stat=st, inputs=inputs)


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
        sa = analyze_session(path, params)
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


def analyze_flexor_session(path, params: FlexorParams | None = None) -> FlexorResult:
    """Run the hip-flexor test on a session's raw data (both thighs, session clock)."""
    path = Path(path)
    with open_session(path) as s:
        inputs = {side: s.imu(side) for side in s.sides}
    return analyze_flexor(inputs.get("left"), inputs.get("right"), params, source=str(path))
