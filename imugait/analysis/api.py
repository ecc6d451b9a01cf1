"""Batch analysis = the streaming pipeline fed one chunk, then flushed."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import imugait.outputs as outputs
from imugait.analysis.params import ALGORITHM_VERSION, AnalysisParams
from imugait.analysis.pipeline import GaitPipeline
from imugait.analysis.results import STRIDE_COLUMNS, StrideResult
from imugait.conventions import SIDES
from imugait.analysis.summary import asymmetry, side_summary
from imugait.inputcheck import InputWarning, as_imu_data, check_imu
from imugait.timebase import estimate_period_s

ONE_SENSOR_NOTE = "asymmetry needs two sensors (one per thigh): only per-leg metrics are reported"


def estimate_fs_hz(t_s: np.ndarray) -> float:
    """Sample rate from time stamps (:func:`imugait.timebase.estimate_period_s`: robust to
    gaps and to coarse, batched or jittery clocks)."""
    T = estimate_period_s(np.asarray(t_s, dtype=np.float64))
    if not (T > 0):
        raise ValueError("cannot estimate the sample rate: the time stamps do not advance")
    return float(1.0 / T)


@dataclass
class AnalysisResult:
    strides: pd.DataFrame
    summary: dict
    angles: dict = field(default_factory=dict)  # side -> (t_s, thigh_angle_deg)
    calibration: dict = field(default_factory=dict)  # side -> CalibrationState
    strap_axes: dict = field(default_factory=dict)  # side -> GaitPipeline.strap_axes() (whole-session axes) or None
    cycles: dict = field(default_factory=dict)  # side -> (n_valid_strides, 101)
    events: dict = field(default_factory=dict)  # side -> list of (kind, t_s)
    params: AnalysisParams = field(default_factory=AnalysisParams)

    def write(self, out_dir) -> dict:
        out = outputs.out_dir(out_dir)
        p1 = out / "strides.csv"
        df = self.strides.copy()
        for c in df.columns:  # times in an epoch clock (1.7e9 s) keep their microseconds
            if c.endswith("_s") and df[c].dtype.kind == "f" and len(df) and np.nanmax(np.abs(df[c].to_numpy())) >= 1e4:
                df[c] = [f"{x:.6f}" if np.isfinite(x) else "" for x in df[c].to_numpy()]
        with outputs.atomic_open(p1, newline="") as f:
            df.to_csv(f, index=False, float_format="%.6g")
        p2 = outputs.write_text(out / "summary.json", json.dumps(outputs.jsonable(self.summary), indent=2, allow_nan=False))
        return {"strides": str(p1), "summary": str(p2)}




def _cycles(t, ang, strides: pd.DataFrame) -> np.ndarray:
    v = strides[strides["valid"].astype(bool)]
    if v.empty or len(t) < 2:
        return np.empty((0, 101))
    grid = np.linspace(0, 1, 101)
    rows = [np.interp(a + grid * (b - a), t, ang) for a, b in v[["ic_s", "next_ic_s"]].to_numpy()]
    return np.array(rows)


def strides_frame(strides: list[StrideResult]) -> pd.DataFrame:
    cols = list(StrideResult.column_names())
    extras = [c for c in cols if c not in STRIDE_COLUMNS]
    if not strides:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("side", "reason", "gait") else float) for c in (*STRIDE_COLUMNS, *extras)})
    df = pd.DataFrame([s.as_row() for s in strides])
    return df[list(STRIDE_COLUMNS) + extras]


def analyze(left=None, right=None, params: AnalysisParams | None = None, fs_hz: dict | float | None = None) -> AnalysisResult:
    """Analyse one or two thighs. ``left``/``right``: ``(t_s, acc_mps2, gyr_dps)`` (or an
    :class:`imugait.inputcheck.ImuData`, e.g. a CSV file's ``ImuTable``) or ``None``.
    ``fs_hz``: nominal rate (per side dict or one value), checked against the time stamps;
    the time stamps' rate when omitted. Every input passes :func:`imugait.inputcheck.check_imu`
    (wrong units and broken time raise :class:`imugait.errors.InputFileError`; coarse or
    batched clocks are re-fitted, with a :class:`InputWarning` and the counts in
    ``summary["sides"][side]["input"]``)."""
    params = params or AnalysisParams()
    inputs = {s: v for s, v in zip(SIDES, (left, right)) if v is not None}
    if not inputs:
        raise ValueError("analyze() needs left and/or right data")
    frames, summaries, res = [], {}, AnalysisResult(strides=None, summary={}, params=params)
    for side, data in inputs.items():
        fs = fs_hz.get(side) if isinstance(fs_hz, dict) else fs_hz
        # inputs checked for physics and time base (imugait.inputcheck: the one check of every input path)
        checked = check_imu(as_imu_data(data, source=f"{side} input"), fs_hz=fs or None)
        t, acc, gyr, fs = checked.t_s, checked.acc_mps2, checked.gyr_dps, checked.fs_hz
        for w in checked.warnings:
            warnings.warn(w, InputWarning, stacklevel=2)
        pipe = GaitPipeline(fs, side, params)
        out = pipe.push(t, acc, gyr)
        out.extend(pipe.flush())
        df = strides_frame(out.strides)
        frames.append(df)
        res.angles[side] = (out.t_s, out.thigh_angle_deg)
        res.calibration[side] = pipe.calibration
        res.strap_axes[side] = pipe.strap_axes()
        res.events[side] = out.events
        res.cycles[side] = _cycles(out.t_s, out.thigh_angle_deg, df)
        s = side_summary(df) if len(df) else {"n_strides": 0, "n_valid": 0, "metrics": {}, "bouts": [], "rejected": {}}
        s["calibration"] = pipe.calibration.to_dict()
        s["strap_axes"] = res.strap_axes[side]
        s["fs_hz"] = fs
        s["input"] = {**pipe.stats(), **checked.input_info()}
        summaries[side] = s
    res.strides = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    summary = {"algorithm_version": ALGORITHM_VERSION, "params": params.to_dict(), "sides": summaries}
    if len(inputs) == 2:
        L = res.strides[res.strides["side"] == "left"].reset_index(drop=True)
        R = res.strides[res.strides["side"] == "right"].reset_index(drop=True)
        summary["asymmetry"] = asymmetry(L, R)
    else:
        summary["asymmetry"] = {"note": ONE_SENSOR_NOTE}
    res.summary = outputs.jsonable(summary)
    return res


def format_summary(res: AnalysisResult) -> str:
    """A few human lines for the CLI."""
    lines = []
    for side, s in res.summary["sides"].items():
        m = s.get("metrics", {})
        cal = s["calibration"]

        def g(k, fmt="{:.1f}", m=m):
            d = m.get(k) or {}
            return fmt.format(d["median"]) if d.get("median") is not None else "–"

        gait = ", ".join(f"{k} {n}" for k, n in s.get("gait", {}).items()) or "–"
        lines.append(f"{side:5s}: {s['n_valid']}/{s['n_strides']} valid strides ({gait}); cadence {g('cadence_spm')} spm, "
                     f"stride {g('stride_s', '{:.3f}')} s, swing {g('swing_pct')} %, thigh ROM {g('rom_deg')}°, "
                     f"flex/ext {g('flex_peak_deg')}/{g('ext_peak_deg')}°")
        if not cal.get("angle_calibrated"):
            lines.append(f"       note: {cal.get('message')}")
        if s.get("rejected"):
            lines.append("       rejected: " + ", ".join(f"{k} {n}" for k, n in s["rejected"].items()))
    a = res.summary.get("asymmetry", {})
    if "metrics" in a and a["metrics"]:
        parts = []
        for k in ("rom_deg", "swing_pct", "stance_s"):
            if k in a["metrics"]:
                d = a["metrics"][k]
                parts.append(f"{k} ln(L/R) {d['ln_ratio_pct']:+.1f} % (left share {d['balance_left_pct']:.1f} %)")
        lines.append(f"asymmetry ({a['n_pairs']} pairs): " + "; ".join(parts))
    elif a.get("note"):
        lines.append(f"asymmetry: {a['note']}")
    return "\n".join(lines)
