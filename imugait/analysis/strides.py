"""Stage 6 — strides: events, metrics, validity with a reason, bouts.

``stride_step(signals, segmentation, candidates, state, ..., final) -> (strides, state)``:

1. Candidates (F → F from :mod:`imugait.analysis.segment`) wait until the signals their
   closing IC may read have arrived (:func:`imugait.analysis.events.ic_lookahead_frac`).
2. IC after each flexion peak, TO from the peak extension between (:mod:`imugait.analysis.events`);
   stride time, cadence, stance, swing, swing %, peak flexion/extension, ROM.
3. Validity: ``gap_in_data``, ``calibration_failed``, ``gyro_implausible``,
   ``stride_time_out_of_range``, ``rom_below_floor``, ``events_implausible``,
   ``stride_time_jump``, ``bout_too_short`` (docs/analysis.md, "strides.csv").
4. Bouts: chains of consecutive strides. A bout's strides are held until it has
   ``min_bout_strides`` strides; its first strides are then judged against the bout median in
   hindsight; later strides are emitted as soon as they close.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from imugait.analysis import events as ev
from imugait.analysis.calibrate import CalibrationState
from imugait.analysis.params import EventSettings, StrideSettings
from imugait.analysis.results import StrideResult
from imugait.analysis.segment import SegmentState, StrideCandidate
from imugait.analysis.signals import SignalBuffer
from imugait.conventions import Side


@dataclass
class BoutStride:
    """A stride of the current bout, with what the bout logic needs besides the result."""

    result: StrideResult
    flex_end_index: float  # global index of the flexion peak before the closing IC
    gait_weight: float
    vert_min_g: float = float("nan")  # lowest vertical specific force of the F→F stride (flight cue)


@dataclass
class StrideState:
    fs_hz: float
    side: Side
    pending: list = field(default_factory=list)  # [StrideCandidate] waiting for data
    ic_cache: dict = field(default_factory=dict)  # flexion-peak index -> (IC index, info)
    bout: list = field(default_factory=list)  # [BoutStride]
    recent_stride_s: list = field(default_factory=list)  # F→F intervals of the chain so far (gait weight)
    recent_vert_g: list = field(default_factory=list)  # their lowest vertical specific force (flight cue)
    bout_emitted: bool = False
    bout_index: int = -1
    strides_made: int = 0
    bouts_made: int = 0


def stride_step(sig: SignalBuffer, seg: SegmentState, candidates: list[StrideCandidate], st: StrideState,
                s: StrideSettings, es: EventSettings, calib: CalibrationState,
                final: bool = False) -> tuple[list[StrideResult], StrideState]:
    out: list[StrideResult] = []
    st.pending.extend(candidates)
    while st.pending:
        c = st.pending[0]
        T_f = c.duration_samples / st.fs_hz
        T_ic = min(max(T_f, s.min_stride_s), s.max_stride_s)
        # the flight cue reads the F→F stride (+ its smoothing): wait for it, so that live and
        # batch see the same samples
        if int(math.ceil(c.flex_end.index)) + int(round(es.flight_smooth_s * st.fs_hz)) + 2 > sig.end and not final:
            break
        vmin = ev.stride_vert_min(sig, c.flex_start.index, c.flex_end.index, st.fs_hz, es)
        # the closing IC lies before flex_end + offset·T (its rise crossing is before the peak);
        # a running stride may also read the impact window after it
        # (the weight of the chain, or of the stride alone if the bout ends before it)
        look = max(ev.ic_lookahead_frac(es, _chain_weight(st, c, T_f, vmin, s, es)),
                   ev.ic_lookahead_frac(es, ev.gait_weight(T_f, es, vmin)))
        need_end = int(c.flex_end.index) + int(math.ceil(look * T_ic * st.fs_hz)) + seg.half_window + 3
        if need_end > sig.end and not final:
            break
        st.pending.pop(0)
        out += _make_stride(sig, c, T_f, vmin, st, s, es, calib)
    # bout end: no flexion peak can chain to the last stride any more (decided from the
    # segmentation state, not from chunk timing, so live == batch)
    if st.bout and (final or not _bout_can_grow(seg, st, s)):
        out += close_bout(st)
    return out, st


def _chain_weight(st: StrideState, c: StrideCandidate, T_f: float, vmin: float, s: StrideSettings,
                  es: EventSettings) -> float:
    """Gait weight from the median F→F interval and the median flight cue of this chain's last
    strides (≤ 4) and this one: one odd stride does not move the event offsets."""
    chained = bool(st.bout) and st.bout[-1].flex_end_index == c.flex_start.index
    pairs = list(zip(st.recent_stride_s[-4:], st.recent_vert_g[-4:])) if chained else []
    pairs = [p for p in pairs if s.min_stride_s <= p[0] <= s.max_stride_s] + [(T_f, vmin)]
    return ev.gait_weight(float(np.median([p[0] for p in pairs])), es, _nanmedian([p[1] for p in pairs]))


def _nanmedian(x: list) -> float:
    v = [a for a in x if math.isfinite(a)]
    return float(np.median(v)) if v else float("nan")


def _bout_can_grow(seg: SegmentState, st: StrideState, s: StrideSettings) -> bool:
    if st.pending:
        return True
    lim = st.bout[-1].flex_end_index + s.max_stride_s * st.fs_hz + seg.half_window + 1
    if seg.next_test <= lim:
        return True
    return seg.seeking_flexion and seg.candidate is not None and seg.candidate[0] <= lim


def _ic_for(sig, st: StrideState, flex, base, T_s: float, es: EventSettings, rom_hint_deg: float | None, weight: float):
    key = flex.index
    if key not in st.ic_cache:
        st.ic_cache[key] = ev.initial_contact(sig, flex, base, T_s, st.fs_hz, es, rom_hint_deg, weight)
    return st.ic_cache[key]


def _make_stride(sig: SignalBuffer, c: StrideCandidate, T_f: float, vmin: float, st: StrideState, s: StrideSettings,
                 es: EventSettings, calib: CalibrationState) -> list[StrideResult]:
    out: list[StrideResult] = []
    chained = bool(st.bout) and st.bout[-1].flex_end_index == c.flex_start.index
    if T_f > s.max_stride_s:
        return close_bout(st)  # a pause (or a long hole in the data): no stride here, the bout ends
    if c.spans_gap:
        out += close_bout(st)  # a data gap ends the bout; the stride across it is rejected
    fb = c.flex_before
    if fb is not None and (fb.index < sig.base or c.spans_gap or sig.any_segment_start(fb.index, c.flex_start.index)):
        fb = None  # not a credible peak: before the kept data or across a gap
    T_prev = (c.flex_start.index - fb.index) / st.fs_hz if fb is not None else None
    # the IC after flex_start closes the previous stride: its time scale is that stride's,
    # unless the previous peak is not a credible one (a bout start, a gap)
    T_ref0 = T_prev if (T_prev is not None and s.min_stride_s <= T_prev <= s.max_stride_s
                        and abs(T_prev / T_f - 1) <= 0.25) else T_f
    w = _chain_weight(st, c, T_f, vmin, s, es)
    st.recent_stride_s = (st.recent_stride_s[-4:] if chained else []) + [T_f]
    st.recent_vert_g = (st.recent_vert_g[-4:] if chained else []) + [vmin]
    rom_hint = (c.flex_start.angle_deg - c.extension.angle_deg) if c.extension is not None else None
    ic0, _ = _ic_for(sig, st, c.flex_start, c.ext_before, T_ref0, es, rom_hint, w)
    ic1, _ = _ic_for(sig, st, c.flex_end, c.extension, T_f, es, None, w)
    if not chained:
        out += close_bout(st)
    if not (math.isfinite(ic0) and math.isfinite(ic1) and ic1 > ic0 + 1):
        # an IC whose forward swing is not in the data: no stride (the bout restarts); the
        # closing IC was timed on this unusable stride: time it again with the next one.
        # (ICs out of order: garbage angles, e.g. a corrupted gyro — no stride either)
        st.ic_cache.pop(c.flex_end.index, None)
        return out
    ic_s, next_ic_s = sig.time_at(ic0), sig.time_at(ic1)
    stride_s = next_ic_s - ic_s
    i0, i1 = int(math.floor(ic0)), int(math.ceil(ic1))
    _, ang = sig.window("thigh_angle_deg", i0, i1 + 1)
    _, tseg = sig.window("t_s", i0, i1 + 1)
    _, bad = sig.window("gyro_implausible", i0, i1 + 1)
    kmax, kmin = int(np.argmax(ang)), int(np.argmin(ang))
    flex, ext = float(ang[kmax]), float(ang[kmin])
    if c.extension is not None:
        to_s = sig.time_at(ev.toe_off(sig, c.extension, c.flex_start, c.flex_end, stride_s, st.fs_hz, es, w))
    else:
        to_s = float("nan")
    stance = to_s - ic_s
    swing = next_ic_s - to_s
    reason = ""
    if c.spans_gap:
        reason = "gap_in_data"
    elif calib.failed:
        reason = "calibration_failed"
    elif bad.any():
        reason = "gyro_implausible"
    elif not (s.min_stride_s <= stride_s <= s.max_stride_s):
        reason = "stride_time_out_of_range"
    elif flex - ext < s.rom_floor_deg:
        reason = "rom_below_floor"
    elif not (np.isfinite(to_s) and 0.15 < stance / stride_s < 0.85):
        reason = "events_implausible"
    elif chained:
        ref = [b.result.stride_s for b in st.bout[-3:] if b.result.valid]
        if len(ref) >= 2 and abs(stride_s / float(np.median(ref)) - 1) > s.max_stride_change_frac:
            reason = "stride_time_jump"
    st.strides_made += 1
    res = StrideResult(
        side=st.side, stride_index=st.strides_made - 1, ic_s=ic_s, to_s=to_s, next_ic_s=next_ic_s, stride_s=stride_s,
        cadence_spm=120.0 / stride_s if stride_s > 0 else float("nan"), stance_s=stance, swing_s=swing,
        swing_pct=100.0 * swing / stride_s if stride_s > 0 else float("nan"), flex_peak_deg=flex, ext_peak_deg=ext,
        rom_deg=flex - ext, valid=reason == "", reason=reason, bout_index=-1, gait=ev.gait_label(w),
        flex_peak_s=float(tseg[kmax]), ext_peak_s=float(tseg[kmin]), angle_calibrated=bool(calib.angle_calibrated),
    )
    if c.spans_gap:
        return out + [res]
    st.bout.append(BoutStride(res, c.flex_end.index, w, vmin))
    return out + _bout_progress(st, s, es)


def _bout_progress(st: StrideState, s: StrideSettings, es: EventSettings) -> list[StrideResult]:
    if st.bout_emitted:
        return [replace(st.bout[-1].result, bout_index=st.bout_index, gait=_bout_label(st, es))]
    if len(st.bout) < s.min_bout_strides:
        return []
    # the first strides of a bout are checked against the bout's median in hindsight
    med = float(np.median([b.result.stride_s for b in st.bout]))
    duty = [b.result.stance_s / b.result.stride_s for b in st.bout if b.result.valid]
    med_duty = float(np.median(duty)) if duty else float("nan")
    for b in st.bout:
        r = b.result
        if r.valid and abs(r.stride_s / med - 1) > s.max_stride_change_frac:
            b.result = replace(r, valid=False, reason="stride_time_jump")
        elif r.valid and abs(r.stance_s / r.stride_s - med_duty) > s.max_stance_frac_dev:
            # the first stride out of standing (gait initiation) can have a stance unlike the
            # rest of the bout: its events do not describe steady gait
            b.result = replace(r, valid=False, reason="events_implausible")
    st.bouts_made += 1
    st.bout_index = st.bouts_made - 1
    st.bout_emitted = True
    label = _bout_label(st, es)
    return [replace(b.result, bout_index=st.bout_index, gait=label) for b in st.bout]


def _bout_label(st: StrideState, es: EventSettings) -> str:
    """walk/run of the bout so far: the gait weight of the median stride time and flight cue of
    its last (up to 5) valid strides — stable within a bout, follows walk↔run changes within a
    few strides."""
    ok = [b for b in st.bout[-5:] if b.result.valid] or st.bout[-5:]
    return ev.gait_label(ev.gait_weight(float(np.median([b.result.stride_s for b in ok])), es,
                                        _nanmedian([b.vert_min_g for b in ok])))


def close_bout(st: StrideState) -> list[StrideResult]:
    out = []
    if st.bout and not st.bout_emitted:
        for b in st.bout:
            r = b.result
            if r.valid:
                r = replace(r, valid=False, reason="bout_too_short")
            out.append(r)
    st.bout, st.bout_emitted, st.bout_index = [], False, -1
    return out


def trim_stride_state(st: StrideState, keep_from: int) -> None:
    st.ic_cache = {k: v for k, v in st.ic_cache.items() if k >= keep_from}


def oldest_needed_index(st: StrideState, fs_hz: float) -> int | None:
    """Global index before which no pending or bout stride reads samples (3 s margin)."""
    cands = []
    if st.pending:
        c = st.pending[0]
        first = c.flex_before.index if c.flex_before is not None else c.flex_start.index
        cands.append(int(first) - int(3 * fs_hz))
    if st.bout:
        cands.append(int(math.floor(st.bout[-1].flex_end_index)) - int(3 * fs_hz))
    return min(cands) if cands else None
