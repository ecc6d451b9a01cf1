"""Python API for notebooks and scripts: sessions in, DataFrames and reports out.

::

    from imugait.compare import api
    strides = api.load_strides(["runs/"], params={"rom_floor_deg": 15})   # every *.h5 below runs/
    cmp = api.compare_sessions(["pre.h5"], ["post.h5"])                   # -> Comparison
    cmp.table                                                             # DataFrame, one row per side/metric
    path = api.compare_report(["pre.h5"], ["post.h5"], "out/")            # -> out/report.html

Sessions are always re-analysed from their raw data with the given (or default) analysis
parameters, so both conditions of a comparison go through exactly the same algorithm
(stored derived results may come from another version or other parameters).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from imugait.analysis import ALGORITHM_VERSION, AnalysisParams, CalibrationState, analyze
from imugait.analysis.flexor import analyze_flexor
from imugait.analysis.params import load_params
from imugait.app import analyze_session
from imugait.compare.comparison import CompareParams, Comparison, compare
from imugait.compare.data import SessionData
from imugait.compare.runner_report import write_runner_report
from imugait.errors import InputFileError
from imugait.store.reader import open_session

META_COLUMNS = ("file", "session", "subject_id", "condition", "activity", "created_utc",
                "algorithm_version", "params_sha256")
"""Session metadata columns added to stride tables by :func:`load_strides` (first columns)."""


def analysis_params(params=None):
    """``None`` | ``AnalysisParams`` | dict | path of a JSON file -> ``AnalysisParams`` — the
    analysis' own loader (:func:`imugait.analysis.params.load_params`, the one place
    parameters are loaded)."""
    return load_params(params)


def params_dict(params: AnalysisParams | dict) -> dict:
    return params.to_dict() if isinstance(params, AnalysisParams) else dict(params)


def params_sha256(params) -> str:
    """SHA-256 of the canonical JSON of the parameters (+ algorithm version)."""
    blob = json.dumps({"algorithm_version": ALGORITHM_VERSION, "params": params_dict(params)},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def expand_paths(paths: Iterable, pattern: str = "*.h5") -> list[Path]:
    """Files as given, folders searched recursively for ``pattern``; sorted, unique."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(x for x in p.rglob(pattern) if x.is_file()))
        elif p.exists():
            out.append(p)
        else:
            raise InputFileError(p, None, "does not exist", "check the path")
    seen, uniq = set(), []
    for p in out:
        k = p.resolve()
        if k not in seen:
            seen.add(k)
            uniq.append(p)
    return uniq


def _calib_dict(c: CalibrationState | dict | None) -> dict:
    if c is None:
        return {}
    return c.to_dict() if isinstance(c, CalibrationState) else dict(c)


def session_from_result(name: str, res, meta: dict | None = None, path=None) -> SessionData:
    """Wrap an ``imugait.analysis.AnalysisResult`` as :class:`SessionData`."""
    cycles = {k: np.asarray(v, float) for k, v in res.cycles.items()}
    calib = {k: _calib_dict(v) for k, v in res.calibration.items()}
    for side, axes in res.strap_axes.items():
        if axes and side in calib:  # the whole-session strap axes (GaitPipeline.strap_axes), for the placement regime
            calib[side] = {**calib[side], "strap_flexion_axis": axes["flexion_axis"], "strap_motion_s": axes["motion_s"]}
    return SessionData(name=name, strides=res.strides.copy(), cycles=cycles, calibration=calib,
                       meta=dict(meta or {}), path=Path(path) if path else None)


def analyze_arrays(name: str, left=None, right=None, params=None, meta: dict | None = None) -> SessionData:
    """Analyse in-memory data (``(t_s, acc_mps2, gyr_dps)`` per side) -> :class:`SessionData`."""
    res = analyze(left=left, right=right, params=analysis_params(params))
    return session_from_result(name, res, meta)


def load_session(path, params=None) -> SessionData:
    """Open an HDF5 session, analyse its raw data with ``params`` -> :class:`SessionData`
    (strides DataFrame with metadata columns, cycles, calibration, meta). The analysis is
    :func:`imugait.app.analyze_session` (the one session -> analysis path: the same sides, the
    same rates and the same strides as ``imugait analyze`` and ``reprocess``); what the file
    lacks — still being recorded, damaged or cut-off data — is in ``meta["data_notes"]`` and
    becomes a comparison warning."""
    path = Path(path)
    p = analysis_params(params)
    sa = analyze_session(path, params=p)
    with open_session(path) as s:
        meta: dict[str, Any] = {k: v for k, v in s.meta.items() if isinstance(v, (str, int, float, bool)) or v is None}
        src = s.meta.get("source_info")
        src = src if isinstance(src, dict) else {}
        cfg = src.get("config")
        cfg = cfg if isinstance(cfg, dict) else {}
        speed = src.get("speed_mps") or cfg.get("speed_mps")
        if speed:
            meta["speed_mps"] = float(speed)
        meta["sensors"] = {side: s.sensor_info(side).device_id or "" for side in s.sides}
        meta["duration_s"] = float(s.duration_s)
        has_flexor = s.flexor_test is not None or "thomas" in str(s.meta.get("protocol", "")).lower()
    meta["raw_sha256"] = sa.raw_sha256  # provenance, and "the same recording twice" in compare
    meta["data_notes"] = list(sa.notes)
    meta["partial"] = bool(sa.live)
    meta["algorithm_version"] = ALGORITHM_VERSION
    meta["params_sha256"] = params_sha256(p)
    sd = session_from_result(path.stem, sa.result, meta, path)
    sd.strides = add_meta_columns(sd.strides, path, meta)
    if has_flexor:
        # like the gait metrics, the test is recomputed from the raw data (one algorithm for both conditions)
        sd.flexor = analyze_flexor(sa.inputs.get("left"), sa.inputs.get("right"), source=str(path)).to_dict()
        if sd.strides.empty:
            sd.calibration = {}  # no gait in a test session: its gait calibration says nothing
    return sd


def session_data_warnings(sessions: list[SessionData]) -> list[dict]:
    """Comparison warnings for sessions that are partial (still being recorded) or whose
    files are damaged (from ``meta["data_notes"]``)."""
    out = []
    for sd in sessions:
        for note in sd.meta.get("data_notes", []) or []:
            out.append({"kind": "partial_session" if "still being recorded" in note else "session_data",
                        "session": sd.name, "message": note})
    return out


def add_meta_columns(df: pd.DataFrame, path, meta: dict) -> pd.DataFrame:
    cols = {
        "file": str(path), "session": Path(path).stem,
        "subject_id": str(meta.get("subject_id", "") or ""), "condition": str(meta.get("condition", "") or ""),
        "activity": str(meta.get("activity", "") or ""), "created_utc": str(meta.get("created_utc", "") or ""),
        "algorithm_version": str(meta.get("algorithm_version", "") or ""),
        "params_sha256": str(meta.get("params_sha256", "") or ""),
    }
    df = df.copy()
    for i, (k, v) in enumerate(cols.items()):
        if k in df.columns:
            df = df.drop(columns=k)
        df.insert(i, k, v)
    return df


def load_sessions(paths, params=None) -> list[SessionData]:
    return [load_session(p, params) for p in expand_paths(paths)]


def load_strides(paths, params=None, valid_only: bool = False) -> pd.DataFrame:
    """All strides of all sessions (files or folders, ``*.h5`` recursively) in one DataFrame
    with session metadata columns (:data:`META_COLUMNS`) first. For many sessions in
    parallel use :func:`imugait.compare.reprocess.reprocess`."""
    frames = []
    for sd in load_sessions(paths, params):
        df = sd.strides
        if valid_only and "valid" in df.columns:
            df = df[df["valid"].astype(bool)]
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=list(META_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def _as_sessions(x, params) -> list[SessionData]:
    if isinstance(x, SessionData):
        return [x]
    if isinstance(x, (str, Path)):
        return load_sessions([x], params)
    out = []
    for item in x:
        if isinstance(item, SessionData):
            out.append(item)
        elif isinstance(item, pd.DataFrame):
            out.append(SessionData(name=f"table{len(out) + 1}", strides=item))
        else:
            out.extend(load_sessions([item], params))
    return out


def compare_sessions(before, after, out_dir=None, params=None, compare_params: CompareParams | dict | None = None,
                     figures: bool = True) -> Comparison:
    """Compare sessions before vs after. ``before``/``after``: a path, a folder, or a list of
    paths / :class:`SessionData` / stride DataFrames. With ``out_dir`` also writes
    ``comparison.json``, ``comparison.csv``, PNG figures and ``report.html``
    (``Comparison.report_path``)."""
    cp = CompareParams(**compare_params) if isinstance(compare_params, dict) else compare_params
    b = _as_sessions(before, params)
    a = _as_sessions(after, params)
    if not b:
        raise InputFileError(str(before), None, "holds no session", "give at least one .h5 session before")
    if not a:
        raise InputFileError(str(after), None, "holds no session", "give at least one .h5 session after")
    cmp = compare(b, a, cp)
    cmp.warnings[0:0] = session_data_warnings(b + a)  # partial or damaged files first
    if out_dir is not None:
        cmp.write(out_dir, figures=figures)
    return cmp


def compare_report(before_paths, after_paths, out_dir, params=None, **kw) -> Path:
    """Run the comparison and write everything to ``out_dir``; returns the path of
    ``report.html`` (used by ``imugait demo``)."""
    cmp = compare_sessions(before_paths, after_paths, out_dir=out_dir, params=params, **kw)
    assert cmp.report_path is not None  # written whenever out_dir is given
    return cmp.report_path


def runner_report(path, out_dir=None, params=None) -> Path:
    """One-page runner report of one session; returns the path of its HTML file."""
    sd = load_session(path, params)
    out = Path(out_dir) if out_dir else Path(path).with_suffix("").parent / (Path(path).stem + "_report")
    return write_runner_report(sd, out)
