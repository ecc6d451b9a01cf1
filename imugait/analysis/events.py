"""Gait events from one thigh: initial contact (IC) and toe-off (TO).

Both work on the calibrated signals the pipeline keeps: thigh angle ``ang`` (deg), flexion
angular velocity ``w`` (dps, flexion +) and accelerometer norm ``an`` (g), indexed by the
global sample index. They only look at a bounded window after the fiducial they start from,
which bounds the pipeline's latency.

IC: the foot strikes shortly after peak thigh flexion (walking ≈ 8–13 % of the stride later,
running 15–20 %). The fiducial is the *first* zero crossing of the raw flexion angular velocity
(flexion → extension) around the detected flexion peak — on real thighs the angle often has a
flat or double-humped top (terminal-swing stop, then a post-contact rebound), so the global
maximum of the angle jumps between the humps while the first velocity zero crossing does not.
Walking: IC = that crossing + ``ic_default_frac_walk`` of the stride. Running (large impacts):
the steepest rise of the accelerometer norm in ``[F + a·T, F + b·T]`` when a transient clearly
stands out and lies near the prediction; otherwise the crossing + ``ic_default_frac_run``.

TO: near peak thigh extension E; in walking TO follows E by ≈ 50–100 ms (the thigh starts to
flex while the toes are still on the ground): TO = E + ``to_ef_frac`` (18 %) of the way from E
to the next flexion-velocity zero crossing, so it follows a longer or shorter swing. In running
TO is close to E: TO = E + ``to_frac_run`` of the stride.
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


def flexion_zero_crossing(sig, f_idx: float, T_s: float, fs_hz: float, p: AnalysisParams) -> float:
    """First downward zero crossing of the flexion angular velocity ``w`` (flexion → extension)
    in ``[F − ic_zc_start_frac·T, F + ic_zc_end_frac·T]`` whose angle is within
    ``ic_zc_level_frac`` × (range over the stride before F) of the peak flexion value;
    fractional index (linear interpolation). Falls back to ``f_idx`` when there is none."""
    base = sig.base
    fi = int(round(f_idx))
    s0, s1 = _window(sig, fi - int(round(p.ic_zc_start_frac * T_s * fs_hz)), fi + int(round(p.ic_zc_end_frac * T_s * fs_hz)) + 1)
    r0, r1 = _window(sig, fi - int(round(T_s * fs_hz)), fi + 1)
    if s1 - s0 < 2 or r1 - r0 < 3 or not (base <= fi < sig.end):
        return float(f_idx)
    ang = sig["ang"]
    win = ang[r0 - base: r1 - base]
    lev = float(ang[fi - base]) - p.ic_zc_level_frac * float(win.max() - win.min())
    w = sig["w"][s0 - base: s1 - base]
    a = ang[s0 - base: s1 - base]
    idx = np.flatnonzero((w[:-1] >= 0) & (w[1:] < 0))
    for i in idx:
        if max(a[i], a[i + 1]) >= lev:
            return float(s0 + i + w[i] / (w[i] - w[i + 1]))
    return float(f_idx)


def initial_contact(sig, f_idx: float, T_ref_s: float, fs_hz: float, p: AnalysisParams):
    """Return (fractional global index of IC, info dict).

    1. Fiducial x0: the first flexion-velocity zero crossing at peak flexion
       (:func:`flexion_zero_crossing`; ``f_idx`` if none).
    2. Walking: IC = x0 + ``ic_default_frac_walk`` · T (method ``flexion_zero_crossing``; the
       thigh accelerometer's impact is not used — on real 59 Hz thighs its timing scatters
       2–3× more than the kinematic fiducial, see docs/analysis.md).
    3. Running (cadence and an impact ≥ ``run_impact_g``): the largest accelerometer jerk ``|Δacc|·fs`` (g/s) in ``[F + a·T, F + b·T]``
       (``ic_search_frac``) if it stands out (≥ ``ic_jerk_ratio`` × the median jerk over the
       stride before F, ≥ ``ic_min_jerk_gps``) and lies within ``ic_max_dev_frac`` · T of the
       prediction x0 + ``ic_default_frac_run`` · T; otherwise that prediction.
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
    x0 = flexion_zero_crossing(sig, f_idx, T, fs_hz, p)
    frac = p.ic_default_frac_run if gait == "run" else p.ic_default_frac_walk
    pred = float(x0 + frac * T * fs_hz)
    if gait != "run" or info["impact_g"] < p.run_impact_g:
        # walking, or a running cadence without a running impact (e.g. gait initiation,
        # a ±2 g accelerometer): the kinematic fiducial
        info["method"] = "flexion_zero_crossing"
        return pred, info
    jk = sig["jk"][a - base: b - base]
    k = int(np.argmax(jk))
    a2, b2 = _window(sig, fi - int(round(T * fs_hz)), fi)  # the stride before F: already final
    ref = float(np.median(sig["jk"][a2 - base: b2 - base])) if b2 - a2 > 3 else 0.0
    info["jerk_ratio"] = float(jk[k] / ref) if ref > 0 else float("inf")
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
    if p.to_ef_frac is not None and gait != "run":
        x1 = flexion_zero_crossing(sig, f1, stride_s, fs_hz, p)
        k = p.to_ef_frac
        return float(e_idx + k * (x1 - e_idx)), {"method": "ext_to_flex_fraction"}
    return float(e_idx + frac * stride_s * fs_hz), {"method": "ext_peak_offset"}


def classify_gait(stride_s: float, impact_g: float, p: AnalysisParams) -> str:
    if not (stride_s > 0 and math.isfinite(stride_s)):
        return ""
    cad = 120.0 / stride_s
    if (cad >= p.run_cadence_spm and impact_g >= p.run_impact_g) or cad >= 170:
        return "run"
    return "walk"
