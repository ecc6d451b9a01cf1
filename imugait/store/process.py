"""(Re)process a session: run the analysis on its raw data, store the results in the file.

``process_session(path, params=None, replace=False)``

* reads raw data through :func:`imugait.store.reader.open_session` (raw data is never
  written or modified here);
* runs :func:`imugait.analysis.analyze` on every side;
* writes ``/derived/<run-id>/`` with the stride table, summary, asymmetry and calibration,
  stamped with ``algorithm_version``, ``parameters_json``, ``raw_sha256`` (hash of the
  raw data used), ``imugait_version`` and ``created_utc``; ``/derived`` attribute
  ``current`` points to the new run;
* earlier runs are kept with their own provenance unless ``replace=True``.

A file left by a killed recording still carries HDF5's "open for writing" marks; it is
finalised first (marks cleared, ``closed_cleanly=False``, ``recovered_utc`` set) after
checking that no recording is still writing it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

import imugait
from imugait.errors import ImugaitError, InputFileError
from imugait.store import schema as S
from imugait.store.reader import open_session
from imugait.store.repair import clear_write_flags, read_consistency_flags
from imugait.store.writer import finalize, utc_now_iso

ACTIVE_WRITE_WINDOW_S = 5.0
"""A file modified this recently with write marks set is assumed to be still recording."""


class SessionBusyError(ImugaitError):
    """The session file is still being recorded."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_if_interrupted(path) -> bool:
    """Finalise a file whose recording was killed. Returns True if it did something.

    Raises :class:`SessionBusyError` if a recording still seems to be writing the file.
    """
    path = Path(path)
    flags = read_consistency_flags(path)
    if not flags:
        return False
    with open_session(path) as s:
        pid = int(s.meta.get("writer_pid", -1) or -1)
        host = str(s.meta.get("writer_host", ""))
    if host == socket.gethostname() and pid > 0 and pid != os.getpid() and _pid_alive(pid):
        raise SessionBusyError(f"{path}: is still being recorded (process {pid}) — wait for the recording to stop")
    if time.time() - path.stat().st_mtime < ACTIVE_WRITE_WINDOW_S and host != socket.gethostname():
        raise SessionBusyError(f"{path}: was written in the last {ACTIVE_WRITE_WINDOW_S:.0f} s by {host} "
                               "— wait for the recording to stop")
    clear_write_flags(path)
    finalize(path, reason="recording interrupted (recovered)", recovered=True)
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
    return obj


def _dumps(obj) -> str:
    return json.dumps(_jsonable(obj), default=str, sort_keys=True)


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


def process_session(path, params=None, replace: bool = False) -> str:
    """Analyse the session's raw data and store the results; returns the new run id."""
    from imugait.analysis import ALGORITHM_VERSION, AnalysisParams, analyze

    path = Path(path)
    params = params or AnalysisParams()
    recover_if_interrupted(path)
    with open_session(path) as s:
        inputs = {side: s.imu(side) for side in s.sides}
        fs = {side: float(s.sensor_info(side).sample_rate_hz) for side in s.sides}
        raw_hash = s.raw_sha256()
    for side, (t, _a, _g) in inputs.items():
        if len(t) == 0:
            inputs[side] = None
    if not any(v is not None for v in inputs.values()):
        raise InputFileError(path, "/sensors", "holds no samples to analyse", "record or import data first")
    # the configured rate, as `imugait analyze FILE.h5` uses it (same numbers either way)
    fs = {k: v for k, v in fs.items() if inputs.get(k) is not None and v > 0}
    res = analyze(left=inputs.get("left"), right=inputs.get("right"), params=params, fs_hz=fs or None)

    try:
        f = h5py.File(path, "r+", libver="latest")
    except OSError as e:
        raise SessionBusyError(f"{path}: cannot be opened for writing results ({str(e).split('(')[0].strip()}) "
                               "— is it still being recorded or open in another program?") from e
    with f:
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
        g.attrs["raw_sha256"] = raw_hash
        g.attrs["imugait_version"] = imugait.__version__
        g.attrs["created_utc"] = utc_now_iso()
        g.attrs["sides"] = json.dumps([k for k, v in inputs.items() if v is not None])
        strides = res.strides if res.strides is not None else pd.DataFrame()
        _write_table(g.create_group("strides"), strides)
        summary = getattr(res, "summary", None) or {}
        _scalar_str(g, "summary_json", _dumps(summary), "summary.json: per-side and per-bout summaries, asymmetry")
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
        d.attrs["current"] = run_id
    return run_id
