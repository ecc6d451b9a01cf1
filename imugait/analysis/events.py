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


def initial_contact(sig, f_idx: int, T_ref_s: float, fs_hz: float, p: AnalysisParams):
    """Return (fractional global index of IC, info dict)."""
    T = min(max(T_ref_s, p.min_stride_s), p.max_stride_s)
    fi = int(round(f_idx))
    a, b = _window(sig, fi + int(round(p.ic_search_frac[0] * T * fs_hz)), fi + int(round(p.ic_search_frac[1] * T * fs_hz)) + 1)
    info = {"impact_g": 0.0, "method": "fraction"}
    if b - a < 3:
        return float(f_idx), info
    base = sig.base
    an = sig["an"][a - base: b - base]
    info["impact_g"] = float(an.max())
    d = np.diff(an) * fs_hz  # g/s
    k = int(np.argmax(d))
    rise = float(d[k])
    med = float(np.median(np.abs(d)))
    frac = p.ic_default_frac_run if classify_gait(T, float(an.max()), p) == "run" else p.ic_default_frac_walk
    info["impact_idx"] = a + k
    info["impact_rise_gps"] = rise / max(med, 1e-9)
    return float(f_idx + frac * T * fs_hz), info


def toe_off(sig, e_idx: int, f0: int, f1: int, ic0: float, ic1: float, stride_s: float, gait: str, fs_hz: float, p: AnalysisParams):
    frac = p.to_frac_run if gait == "run" else p.to_frac_walk
    return float(e_idx + frac * stride_s * fs_hz), {"method": "ext_peak_offset"}


def classify_gait(stride_s: float, impact_g: float, p: AnalysisParams) -> str:
    if not (stride_s > 0 and math.isfinite(stride_s)):
        return ""
    cad = 120.0 / stride_s
    if (cad >= p.run_cadence_spm and impact_g >= p.run_impact_g) or cad >= 175:
        return "run"
    return "walk"
