"""Stage 4 — segmentation: alternating peaks of thigh flexion (F) and extension (E), and
stride candidates F → F.

1. The angle is smoothed by a zero-phase Hann window of ``smooth_s`` (look-ahead
   ``smooth_s/2``); its local extrema feed a hysteresis state machine whose threshold is
   ``max(hysteresis_min_deg, hysteresis_rom_frac × median of the last ROMs)``.
2. A flexion peak is confirmed as soon as the smoothed angle has fallen the threshold below
   it (not at the following minimum: up to half a stride earlier, which bounds the latency);
   an extension peak when the angle has risen the threshold above it.
3. Each confirmed peak is refined on the raw angle within ±``smooth_s/2`` with parabolic
   sub-sample interpolation.
4. A data gap (``segment_start``) restarts the hysteresis.
5. Every new flexion peak closes a :class:`StrideCandidate` from the previous one.

``segment_step(signals, state, settings, final) -> (candidates, state)``; ``signals`` is the
pipeline's :class:`~imugait.analysis.signals.SignalBuffer` (read only here).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imugait.analysis.params import SegmentationSettings
from imugait.analysis.signals import SignalBuffer


@dataclass(frozen=True)
class Peak:
    """A refined extremum of the thigh angle."""

    index: float  # fractional global sample index
    angle_deg: float


@dataclass(frozen=True)
class StrideCandidate:
    """Two consecutive flexion peaks and what lies between: the stride runs from the IC that
    follows ``flex_start`` to the IC that follows ``flex_end``."""

    flex_start: Peak
    flex_end: Peak
    extension: Peak | None  # peak extension between the two (stance → toe-off)
    flex_before: Peak | None  # the flexion peak before flex_start (previous stride time)
    ext_before: Peak | None  # the extension peak between flex_before and flex_start
    spans_gap: bool  # a data segment starts inside (the stride is rejected, the bout ends)

    @property
    def duration_samples(self) -> float:
        return self.flex_end.index - self.flex_start.index


@dataclass
class SegmentState:
    fs_hz: float
    half_window: int  # H: samples of look-ahead of the smoothing window
    kernel: np.ndarray
    next_test: int  # next global sample index to test for an extremum
    seeking_flexion: bool = True
    candidate: tuple | None = None  # (global index, smoothed value) of the current extremum candidate
    roms_deg: list = field(default_factory=list)
    flexion_peaks: list = field(default_factory=list)  # [Peak]
    extension_peaks: list = field(default_factory=list)  # [Peak]
    scanned_to: int = -1  # segment starts were looked for up to this global index


def new_segment_state(fs_hz: float, s: SegmentationSettings) -> SegmentState:
    L = max(3, int(round(s.smooth_s * fs_hz)) | 1)
    k = np.hanning(L + 2)[1:-1]
    H = L // 2
    return SegmentState(fs_hz=fs_hz, half_window=H, kernel=k / k.sum(), next_test=H + 1)


def segment_step(sig: SignalBuffer, st: SegmentState, s: SegmentationSettings,
                 final: bool = False) -> tuple[list[StrideCandidate], SegmentState]:
    out: list[StrideCandidate] = []
    n_end = sig.end
    H = st.half_window
    last_test = n_end - 2 if final else n_end - H - 2  # last index whose neighbourhood is final
    if last_test < st.next_test:
        return out, st
    lo = st.next_test - 1
    hi = last_test + 1  # smoothed values needed on [lo, hi]
    a0, a1 = lo - H, hi + H + 1
    b = sig.base
    seg = sig["thigh_angle_deg"][max(a0 - b, 0): min(a1 - b, len(sig))]
    pad_l, pad_r = max(0, b - a0), max(0, a1 - n_end)
    if pad_l or pad_r:
        seg = np.concatenate([np.full(pad_l, seg[0]), seg, np.full(pad_r, seg[-1])])
    sm = np.convolve(seg, st.kernel, mode="valid")  # smoothed values for lo..hi
    c = sm[1:-1]
    is_max = (c > sm[:-2]) & (c >= sm[2:])
    is_min = (c < sm[:-2]) & (c <= sm[2:])
    pos = 0
    for i in np.flatnonzero(is_max | is_min):
        _confirm_flexion_by_crossing(sig, st, s, c, lo + 1, pos, int(i), out)
        _on_extremum(sig, st, s, lo + 1 + int(i), float(c[i]), bool(is_max[i]), out)
        pos = int(i) + 1
    _confirm_flexion_by_crossing(sig, st, s, c, lo + 1, pos, c.shape[0], out)
    st.next_test = last_test + 1
    return out, st


def _reset_at_gaps(sig: SignalBuffer, st: SegmentState, idx: int) -> None:
    """A new data segment up to ``idx`` restarts the hysteresis."""
    if idx <= st.scanned_to:
        return
    lo = max(st.scanned_to + 1, sig.base)
    _, brk = sig.window("segment_start", lo, idx + 1)
    st.scanned_to = idx
    if brk.any():
        st.seeking_flexion, st.candidate = True, None


def _hysteresis(st: SegmentState, s: SegmentationSettings) -> float:
    h = s.hysteresis_min_deg
    if st.roms_deg:
        r = sorted(st.roms_deg[-3:])
        h = max(h, s.hysteresis_rom_frac * (r[len(r) // 2] if len(r) % 2 else 0.5 * (r[0] + r[-1])))
    return h


def _confirm_flexion_by_crossing(sig, st, s, c, off, a, b, out) -> None:
    """Confirm the flexion-peak candidate as soon as the smoothed angle ``c`` (global index
    ``off + k``) falls the hysteresis below it within ``c[a:b]`` — between two extrema, so
    the candidate cannot change meanwhile."""
    if not st.seeking_flexion or st.candidate is None or b <= a:
        return
    k = np.flatnonzero(c[a:b] < st.candidate[1] - _hysteresis(st, s))
    if not k.size:
        return
    idx = off + a + int(k[0])
    _reset_at_gaps(sig, st, idx)
    if not st.seeking_flexion or st.candidate is None:  # a data gap restarted the hysteresis
        return
    _add_flexion_peak(sig, st, _refine_peak(sig, st, st.candidate, 1.0), out)
    st.seeking_flexion, st.candidate = False, (idx, float(c[a + int(k[0])]))


def _on_extremum(sig, st, s, idx: int, val: float, is_max: bool, out) -> None:
    _reset_at_gaps(sig, st, idx)
    h = _hysteresis(st, s)
    if st.seeking_flexion:
        if is_max:
            if st.candidate is None or val > st.candidate[1]:
                st.candidate = (idx, val)
        elif st.candidate is not None and val < st.candidate[1] - h:
            _add_flexion_peak(sig, st, _refine_peak(sig, st, st.candidate, 1.0), out)
            st.seeking_flexion, st.candidate = False, (idx, val)
    else:
        if not is_max:
            if val < st.candidate[1]:
                st.candidate = (idx, val)
        elif val > st.candidate[1] + h:
            e = _refine_peak(sig, st, st.candidate, -1.0)
            st.extension_peaks.append(e)
            if st.flexion_peaks:
                st.roms_deg = (st.roms_deg + [st.flexion_peaks[-1].angle_deg - e.angle_deg])[-5:]
            st.seeking_flexion, st.candidate = True, (idx, val)


def _refine_peak(sig: SignalBuffer, st: SegmentState, cand, sign: float) -> Peak:
    """The extremum on the raw angle within ±H of the smoothed one, with parabolic sub-sample
    interpolation."""
    idx, _ = cand
    b = sig.base
    ang = sig["thigh_angle_deg"]
    lo, hi = max(idx - st.half_window, b + 1), min(idx + st.half_window + 1, sig.end - 1)
    k = lo + int(np.argmax(sign * ang[lo - b:hi - b]))
    y0, y1, y2 = sign * ang[k - 1 - b], sign * ang[k - b], sign * ang[k + 1 - b]
    den = y0 - 2 * y1 + y2
    off = 0.5 * (y0 - y2) / den if den < 0 else 0.0
    return Peak(k + float(np.clip(off, -0.5, 0.5)), float(sign * y1))


def _add_flexion_peak(sig: SignalBuffer, st: SegmentState, f: Peak, out: list) -> None:
    st.flexion_peaks.append(f)
    if len(st.flexion_peaks) < 2:
        return
    f0, f1 = st.flexion_peaks[-2], f
    fb = st.flexion_peaks[-3] if len(st.flexion_peaks) >= 3 else None
    e = _last_between(st.extension_peaks, f0.index, f1.index)
    eb = _last_between(st.extension_peaks, fb.index if fb else -np.inf, f0.index)
    out.append(StrideCandidate(flex_start=f0, flex_end=f1, extension=e, flex_before=fb, ext_before=eb,
                               spans_gap=sig.any_segment_start(f0.index, f1.index)))


def _last_between(peaks: list, a: float, b: float) -> Peak | None:
    for p in reversed(peaks):
        if p.index <= a:
            return None
        if p.index < b:
            return p
    return None


def trim_segment_state(st: SegmentState, keep_from: int) -> None:
    """Forget peaks older than needed (called when the signal buffer is trimmed)."""
    st.flexion_peaks = st.flexion_peaks[-4:]
    st.extension_peaks = st.extension_peaks[-4:]
