"""Gait events from one thigh: initial contact (IC) and toe-off (TO).

Both work on the calibrated signals the pipeline keeps: thigh angle ``ang`` (deg), flexion
angular velocity ``w`` (dps, flexion +) and accelerometer norm ``an`` (g), indexed by the
global sample index. They only look at a bounded window after the fiducial they start from,
which bounds the pipeline's latency.

IC: the foot strikes shortly after peak thigh flexion F (walking ≈ 10–13 % of the stride
later, running 15–20 %) and sends an impact transient up the leg. We take the steepest rise of
the accelerometer norm in ``[F, F + 0.30·T]`` when a transient clearly stands out of that
window's baseline; otherwise F + a gait-dependent fraction of the stride.

TO: near peak thigh extension E; in walking TO follows E by ≈ 50–100 ms (the thigh starts to
flex while the toes are still on the ground), in running TO is close to E.
"""

from __future__ import annotations

import math

import numpy as np

from imugait.analysis.params import AnalysisParams


def _window(sig, a: int, b: int):
    base = sig.base
    a = max(a, base)
    b = min(b, sig.end)
    return a, b


def initial_contact(sig, f_idx: float, T_ref_s: float, fs_hz: float, p: AnalysisParams):
    """Return (fractional global index of IC, info dict).

    1. Window ``[F + a·T, F + b·T]`` after peak flexion F (``ic_search_frac``).
    2. Impact: the largest accelerometer jerk ``|Δacc|·fs`` (g/s) in the window. If it stands
       out (≥ ``ic_jerk_ratio`` × the median jerk over the stride before F), IC is there.
    3. Otherwise (no clear transient: soft shoes, low rate, clipped accelerometer) IC =
       F + a gait-dependent fraction of the stride (walk ``ic_default_frac_walk``, run
       ``ic_default_frac_run``).
    """
    T = min(max(T_ref_s, p.min_stride_s), p.max_stride_s)
    fi = int(round(f_idx))
    a, b = _window(sig, fi + int(round(p.ic_search_frac[0] * T * fs_hz)), fi + int(round(p.ic_search_frac[1] * T * fs_hz)) + 1)
    info = {"impact_g": 0.0, "method": "fraction"}
    if b - a < 3:
        return float(f_idx), info
    base = sig.base
    an = sig["an"][a - base: b - base]
    info["impact_g"] = float(an.max())
    gait = classify_gait(T, info["impact_g"], p)
    frac = p.ic_default_frac_run if gait == "run" else p.ic_default_frac_walk
    jk = sig["jk"][a - base: b - base]
    k = int(np.argmax(jk))
    a2, b2 = _window(sig, fi - int(round(T * fs_hz)), fi)  # the stride before F: already final
    ref = float(np.median(sig["jk"][a2 - base: b2 - base])) if b2 - a2 > 3 else 0.0
    info["jerk_ratio"] = float(jk[k] / ref) if ref > 0 else float("inf")
    pred = float(f_idx + frac * T * fs_hz)
    if p.ic_use_impact and info["jerk_ratio"] >= p.ic_jerk_ratio and jk[k] >= p.ic_min_jerk_gps:
        # the jerk sample k spans samples k-1..k: the transient starts within it
        ic = float(a + k) - 0.5
        if abs(ic - pred) <= p.ic_max_dev_frac * T * fs_hz:
            info["method"] = "impact"
            return ic, info
        info["method"] = "fraction_impact_too_far"
    return pred, info


def toe_off(sig, e_idx: int, f0: int, f1: int, ic0: float, ic1: float, stride_s: float, gait: str, fs_hz: float, p: AnalysisParams):
    frac = p.to_frac_run if gait == "run" else p.to_frac_walk
    return float(e_idx + frac * stride_s * fs_hz), {"method": "ext_peak_offset"}


def classify_gait(stride_s: float, impact_g: float, p: AnalysisParams) -> str:
    if not (stride_s > 0 and math.isfinite(stride_s)):
        return ""
    cad = 120.0 / stride_s
    if (cad >= p.run_cadence_spm and impact_g >= p.run_impact_g) or cad >= 170:
        return "run"
    return "walk"
