"""Stage 5 — gait events from one thigh: initial contact (IC) and toe-off (TO).

Pure functions of the signal buffer and the segmentation's peaks; sources and measured
numbers for every constant are in ``docs/analysis.md`` ("Events").

**Gait weight** ``w`` (0 walking … 1 running) — running has a flight phase, walking double
support. Two cues: the *cadence* part, a smoothstep of the stride time between
``walk_stride_s`` (0.92 s, 130 spm) and ``run_stride_s`` (0.80 s, 150 spm), and the *flight*
part, a smoothstep of the stride's lowest vertical specific force (the accelerometer along the
VQF vertical, smoothed over ``flight_smooth_s``: 1 g standing, 0 g in free fall) between
``flight_walk_g`` (−0.35 g → 0) and ``flight_run_g`` (−0.75 g → 1). In the cadence band where
people both walk and run (``flight_band_spm``: full share 125–140 spm, fading to none at 115 and
150 spm) the flight part decides, elsewhere the cadence part; the blend is continuous. Every
event offset is ``(1 − w)·walk + w·run``, so the rules change continuously; a stride whose label
flips between "walk" and "run" moves its events by at most the part of the difference its cues
imply, never by a step.

**IC** — the forward swing of the thigh ends, the thigh retracts ("swing-leg retraction")
and the foot lands. The fiducial is the *rise crossing* ``x_r``: the moment the thigh angle,
rising from peak extension E towards the next peak flexion F, crosses
``E + rise_level_frac·(F − E)`` (80 %). It lies on the steep part of the swing, so it does
not depend on the shape of the flexion peak (flat or double-humped on real thighs).
``IC = x_r + ((1 − w)·ic_after_rise_walk_frac + w·ic_after_rise_run_frac)·T``.
Running strides (``w ≥ 0.5``) move IC onto a clear accelerometer impact (jerk ≥
``ic_jerk_ratio`` × the stride's median and ≥ ``ic_min_jerk_gps``, norm ≥ ``run_impact_g``)
within ``ic_impact_window_frac``·T of that prediction — a refinement, never a requirement.

**TO** — close to peak thigh extension: in walking the thigh starts to flex in double
support, before the toes leave the ground (TO after E); in running the thigh keeps
extending for a few tens of ms after toe-off (TO before E). The fiducial is the *trough
centre* ``x_t``: the middle between the moments the angle falls below and rises above
``E + trough_level_frac·(F − E)`` (10 %) — in walking the trough is flat and its minimum
wanders by ±2 % of the stride.
``TO = x_t + ((1 − w)·to_after_trough_walk_frac + w·to_after_trough_run_frac)·T``.
"""

from __future__ import annotations

import math

import numpy as np

from imugait.analysis.params import EventSettings
from imugait.analysis.segment import Peak
from imugait.analysis.signals import SignalBuffer


def smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def gait_weight(stride_s: float, s: EventSettings, vert_min_g: float | None = None) -> float:
    """0 (walking) … 1 (running) from the stride time and, when known, the stride's lowest
    vertical specific force ``vert_min_g`` (see the module docstring)."""
    if not (stride_s > 0 and math.isfinite(stride_s)):
        return 0.0
    w_cad = smoothstep((s.walk_stride_s - stride_s) / (s.walk_stride_s - s.run_stride_s))
    if vert_min_g is None or not math.isfinite(vert_min_g):
        return w_cad
    w_flight = smoothstep((s.flight_walk_g - vert_min_g) / (s.flight_walk_g - s.flight_run_g))
    c0, c1, c2, c3 = s.flight_band_spm
    cad = 120.0 / stride_s
    share = smoothstep((cad - c0) / (c1 - c0)) * smoothstep((c3 - cad) / (c3 - c2))
    return share * w_flight + (1.0 - share) * w_cad


def stride_vert_min(sig: SignalBuffer, a: float, b: float, fs_hz: float, s: EventSettings) -> float:
    """Lowest vertical specific force (g) between global indices ``a`` and ``b`` (one stride),
    after a Hann smoothing over ``flight_smooth_s``; NaN when the samples are not available."""
    n = max(1, int(round(s.flight_smooth_s * fs_hz)))
    lo, hi = int(math.floor(a)), int(math.ceil(b)) + 1
    k0, v = sig.window("acc_vert_g", lo - n, hi + n)
    if v.size < n + 3 or not np.all(np.isfinite(v)):
        return float("nan")
    if n > 1:
        k = np.hanning(n + 2)[1:-1]
        v = np.convolve(v, k / k.sum(), mode="same")
    i0, i1 = max(lo - k0, 0), min(hi - k0, v.size)
    return float(v[i0:i1].min()) if i1 > i0 else float("nan")


def gait_label(weight: float) -> str:
    """The reported ``gait`` column: "run" when the gait weight is ≥ 0.5."""
    return "run" if weight >= 0.5 else "walk"


def blend(weight: float, walk: float, run: float) -> float:
    return (1.0 - weight) * walk + weight * run


def rise_crossing(sig: SignalBuffer, flex: Peak, base: Peak | None, stride_s: float, fs_hz: float,
                  level_frac: float, rom_hint_deg: float | None = None) -> float:
    """Fractional global index where the raw angle, rising towards ``flex``, last crosses
    ``base + level_frac·(flex − base)``. ``base`` is the peak extension before ``flex``; when
    there is none (start of a bout), the angle's minimum in the 0.7 stride before ``flex``.

    When the data (the recording or a segment after a gap) start during that forward swing,
    the first sample serves as the base if the angle rises from it and it lies in the lowest
    quarter of the range (``rom_hint_deg``, e.g. the flexion peak minus the next extension
    peak): the level moves by at most 0.25·(1 − level_frac) of the range, a few ms. A "peak"
    that rose by less than half of ``rom_hint_deg`` is a wiggle, not a forward swing (the
    first motion out of standing). In these cases, and when no crossing is found, NaN: that
    IC is unknown, not guessed."""
    fi = int(math.floor(flex.index))
    lo_lim = fi - int(0.8 * stride_s * fs_hz)
    if base is None or base.index < lo_lim or base.index >= flex.index:
        lo = fi - int(0.7 * stride_s * fs_hz)
        a0, brk = sig.window("segment_start", lo, fi + 1)
        starts = np.flatnonzero(brk)
        data_lo = max(a0, a0 + int(starts[-1]) if starts.size else a0)  # first sample of this data run
        a, w = sig.window("thigh_angle_deg", data_lo, fi + 1)
        if w.size < 3:
            return float("nan")
        k = int(np.argmin(w))
        if k == 0:  # no minimum inside the window: the swing began before it
            if data_lo == lo or rom_hint_deg is None or not (flex.angle_deg - w[0] >= 0.75 * rom_hint_deg):
                return float("nan")  # still falling at the window's start, or too little of the swing seen
        base = Peak(float(a + k), float(w[k]))
    if rom_hint_deg is not None and flex.angle_deg - base.angle_deg < 0.5 * rom_hint_deg:
        return float("nan")  # a small wiggle (e.g. out of standing), not a forward swing
    level = base.angle_deg + level_frac * (flex.angle_deg - base.angle_deg)
    a, w = sig.window("thigh_angle_deg", int(math.floor(base.index)), fi + 2)
    up = np.flatnonzero((w[:-1] < level) & (w[1:] >= level))
    if not up.size:
        return float("nan")
    i = int(up[-1])
    return float(a + i + (level - w[i]) / (w[i + 1] - w[i]))


def initial_contact(sig: SignalBuffer, flex: Peak, base: Peak | None, stride_s: float, fs_hz: float,
                    s: EventSettings, rom_hint_deg: float | None = None, weight: float | None = None) -> tuple[float, dict]:
    """(fractional global index of the IC that follows the flexion peak ``flex``, info);
    NaN when the forward swing before ``flex`` is not in the data. ``stride_s``: the stride
    this IC closes (F → F). ``weight``: the gait weight to use (default: from ``stride_s``;
    the pipeline passes the weight of the bout's recent median stride)."""
    T = min(max(stride_s, s.min_stride_s), s.max_stride_s)
    w = gait_weight(T, s) if weight is None else weight
    x = rise_crossing(sig, flex, base, T, fs_hz, s.rise_level_frac, rom_hint_deg)
    if not math.isfinite(x):
        return float("nan"), {"method": "unknown", "gait_weight": w, "impact_g": 0.0}
    ic = x + blend(w, s.ic_after_rise_walk_frac, s.ic_after_rise_run_frac) * T * fs_hz
    info: dict = {"method": "rise_crossing", "gait_weight": w, "impact_g": 0.0}
    half = s.ic_impact_window_frac * T * fs_hz
    a0, an = sig.window("acc_norm_g", int(math.floor(ic - half)), int(math.ceil(ic + half)) + 1)
    if an.size:
        info["impact_g"] = float(an.max())
    if not (s.ic_impact_refine and w >= 0.5 and an.size >= 3 and info["impact_g"] >= s.run_impact_g):
        return float(ic), info
    _, jk = sig.window("acc_jerk_gps", a0, a0 + an.size)
    k = int(np.argmax(jk))
    fi = int(math.floor(flex.index))
    _, ref_w = sig.window("acc_jerk_gps", fi - int(T * fs_hz), fi)  # the stride before F: already final
    ref = float(np.median(ref_w)) if ref_w.size > 3 else 0.0
    info["jerk_ratio"] = float(jk[k] / ref) if ref > 0 else float("inf")
    if info["jerk_ratio"] >= s.ic_jerk_ratio and jk[k] >= s.ic_min_jerk_gps:
        info["method"] = "impact"
        return float(a0 + k) - 0.5, info  # the jerk sample k spans samples k-1..k: the transient starts within it
    return float(ic), info


def trough_centre(sig: SignalBuffer, ext: Peak, flex_before: Peak, flex_after: Peak, level_frac: float) -> float:
    """Fractional global index midway between the last downward crossing of
    ``ext + level_frac·(flex_before − ext)`` before ``ext`` and the first upward crossing after
    it (linear interpolation). Falls back to ``ext.index`` when a crossing is missing."""
    level = ext.angle_deg + level_frac * (flex_before.angle_deg - ext.angle_deg)
    ei = int(math.floor(ext.index))
    a, w = sig.window("thigh_angle_deg", int(math.floor(flex_before.index)), ei + 2)
    dn = np.flatnonzero((w[:-1] > level) & (w[1:] <= level))
    b, v = sig.window("thigh_angle_deg", ei, int(math.ceil(flex_after.index)) + 1)
    up = np.flatnonzero((v[:-1] < level) & (v[1:] >= level))
    if not (dn.size and up.size):
        return float(ext.index)
    i, j = int(dn[-1]), int(up[0])
    fall = a + i + (w[i] - level) / (w[i] - w[i + 1])
    rise = b + j + (level - v[j]) / (v[j + 1] - v[j])
    return 0.5 * (fall + rise)


def toe_off(sig: SignalBuffer, ext: Peak, flex_before: Peak, flex_after: Peak, stride_s: float, fs_hz: float,
            s: EventSettings, weight: float | None = None) -> float:
    """Fractional global index of toe-off from the extension trough between ``flex_before``
    and ``flex_after``."""
    T = min(max(stride_s, s.min_stride_s), s.max_stride_s)
    w = gait_weight(T, s) if weight is None else weight
    x = trough_centre(sig, ext, flex_before, flex_after, s.trough_level_frac)
    return float(x + blend(w, s.to_after_trough_walk_frac, s.to_after_trough_run_frac) * T * fs_hz)


def ic_lookahead_frac(s: EventSettings, weight: float | None = None) -> float:
    """How far after a flexion peak (fraction of the stride) the IC that follows it may lie,
    and the impact window be read: for a stride of gait weight ``weight``, else for any."""
    if weight is None:
        return max(s.ic_after_rise_walk_frac, s.ic_after_rise_run_frac) + s.ic_impact_window_frac
    refine = s.ic_impact_window_frac if (s.ic_impact_refine and weight >= 0.5) else 0.0
    return blend(weight, s.ic_after_rise_walk_frac, s.ic_after_rise_run_frac) + refine
