"""The streaming gait pipeline — ONE implementation for live and batch.

``GaitPipeline.push(t_s, acc_mps2, gyr_dps)`` takes chunks of any size (one sample to a
whole recording) and returns what became final; ``flush()`` ends the stream. Batch analysis
(:func:`imugait.analysis.analyze`) is one ``push`` plus ``flush``.

Stages (each keeps explicit state; numpy over each chunk, Python loops only over
per-stride/per-extremum items):

1. **Condition** — drop duplicate/backward time stamps; gaps ≤ ``max_interp_gap_s`` are filled
   by linear interpolation; longer gaps start a new segment (bout ends, strides across it are
   rejected with ``gap_in_data``).
2. **Calibrate** (:mod:`imugait.analysis.calibrate`) — samples are held until a still period
   and ``calib_motion_s`` seconds of movement were seen (or the stream ends); the calibration is
   computed on exactly that prefix, so it does not depend on chunking. Then the held samples
   flow on.
3. **Orient** — online VQF (Laidig & Seel 2023, ``vqf.VQF``, 6D) on bias-corrected gyro and
   accelerometer; the sagittal thigh angle is ``atan2(up·x_T, up·y_T)`` with ``up`` the
   vertical seen in the sensor frame. Causal: angles are available as soon as samples are
   calibrated. The same online filter is used in batch, so batch == live exactly.
4. **Segment** — the angle smoothed by a zero-phase Hann window (look-ahead ``smooth_s/2``),
   its local extrema, and a hysteresis state machine over the extrema (threshold
   ``max(hysteresis_min_deg, hysteresis_rom_frac × recent ROM)``) giving alternating peak
   flexion (F) and peak extension (E).
5. **Events** — IC after each F, TO near each E (see :mod:`imugait.analysis.events`).
6. **Strides** — IC→next IC, metrics, validity with reasons, bouts (≥ ``min_bout_strides``;
   strides of a bout are held until it reaches that size).

Latency (documented in ``docs/analysis.md``): a stride is emitted once the smoothed angle
has dropped by the hysteresis threshold below the peak flexion that precedes its closing IC
(the peak is confirmed at that crossing, not at the following local minimum) and the
closing IC's search window (``ic_search_frac[1]`` × stride after that peak) has been seen —
in steady gait ≈ 0.15 × stride time + smooth_s/2 after the closing IC; the first strides
of a bout wait until the bout has ``min_bout_strides`` strides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from vqf import VQF

from imugait.analysis import events as ev
from imugait.analysis.calibrate import CalibrationState, calibrate
from imugait.analysis.params import AnalysisParams
from imugait.analysis.results import StrideResult
from imugait.conventions import DEG_PER_RAD, GRAVITY_MPS2, RAD_PER_DEG, Side, parse_side


@dataclass
class PipelineOutput:
    strides: list = field(default_factory=list)  # list[StrideResult]
    t_s: np.ndarray = field(default_factory=lambda: np.empty(0))
    thigh_angle_deg: np.ndarray = field(default_factory=lambda: np.empty(0))
    events: list = field(default_factory=list)  # [("IC"|"TO", t_s)]

    def extend(self, other: "PipelineOutput") -> None:
        self.strides.extend(other.strides)
        self.events.extend(other.events)
        if other.t_s.size:
            self.t_s = np.concatenate([self.t_s, other.t_s])
            self.thigh_angle_deg = np.concatenate([self.thigh_angle_deg, other.thigh_angle_deg])


class _Buf:
    """Growable column store with a global sample index offset (``base``)."""

    def __init__(self, cols: dict):
        self.cols = {k: np.empty((0,) + shape, dtype=dt) for k, (shape, dt) in cols.items()}
        self.base = 0

    def __len__(self):
        return next(iter(self.cols.values())).shape[0]

    @property
    def end(self) -> int:
        return self.base + len(self)

    def append(self, **arrays):
        for k, v in arrays.items():
            self.cols[k] = np.concatenate([self.cols[k], v]) if len(self.cols[k]) else np.asarray(v, dtype=self.cols[k].dtype).copy()

    def trim_before(self, idx: int):
        cut = idx - self.base
        if cut <= 0:
            return
        for k in self.cols:
            self.cols[k] = self.cols[k][cut:].copy()
        self.base = idx

    def __getitem__(self, k):
        return self.cols[k]


class GaitPipeline:
    """Streaming thigh-IMU gait analysis for one leg. See the module docstring."""

    BLOCK_S = 60.0
    """Chunks longer than this are processed in blocks of this length (memory bound)."""

    def __init__(self, fs_hz: float, side: Side = "left", params: AnalysisParams | None = None):
        if not (10.0 <= float(fs_hz) <= 2000.0):
            raise ValueError(f"fs_hz must be a sample rate in Hz (10–2000), got {fs_hz!r}")
        self.fs_hz = float(fs_hz)
        self.side: Side = parse_side(side)
        self.params = params or AnalysisParams()
        self._T = 1.0 / self.fs_hz
        self._stride_counter = 0
        self._bout_counter = 0
        self._t_max = None  # running max of input time (duplicate / backward detection)
        self._last = None  # (t, acc, gyr) last kept input sample
        self._n_in = 0
        self._n_dropped = 0
        self._n_interp = 0
        self._n_gaps = 0
        self._reset_stream_state()

    # ----------------------------------------------------------------- public surface
    @property
    def calibration(self) -> CalibrationState:
        return self._calib

    def stats(self) -> dict:
        return {"samples_in": self._n_in, "samples_dropped_duplicate": self._n_dropped,
                "samples_interpolated": self._n_interp, "gaps": self._n_gaps}

    def push(self, t_s, acc_mps2, gyr_dps) -> PipelineOutput:
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        acc = np.asarray(acc_mps2, dtype=np.float64).reshape(-1, 3)
        gyr = np.asarray(gyr_dps, dtype=np.float64).reshape(-1, 3)
        if not (t.shape[0] == acc.shape[0] == gyr.shape[0]):
            raise ValueError(f"t_s, acc_mps2, gyr_dps lengths differ: {t.shape[0]}, {acc.shape[0]}, {gyr.shape[0]}")
        out = self._pending_out
        self._pending_out = PipelineOutput()
        if t.shape[0] == 0:
            return out
        self._n_in += t.shape[0]
        # large chunks are processed in blocks: bounded memory, identical results
        block = max(1, int(self.BLOCK_S * self.fs_hz))
        parts = [out]
        for i in range(0, t.shape[0], block):
            tc, ac, gc, brk = self._condition(t[i:i + block], acc[i:i + block], gyr[i:i + block])
            if tc.shape[0]:
                parts.append(self._after_condition(tc, ac, gc, brk, final=False))
        return _merge(parts)

    def flush(self) -> PipelineOutput:
        out = self._pending_out
        self._pending_out = PipelineOutput()
        out.extend(self._after_condition(np.empty(0), np.empty((0, 3)), np.empty((0, 3)), np.empty(0, bool), final=True))
        return out

    def recalibrate(self) -> None:
        """Start a new calibration from the next sample on (stand still, then walk).
        Strides pending so far are finalised and returned by the next ``push``/``flush``."""
        out = self._finish_detection()
        self._pending_out.extend(out)
        self._reset_stream_state()
        self._calib = CalibrationState(message="recalibrating: stand still for 2 s, then walk")

    # ----------------------------------------------------------------- state
    def _reset_stream_state(self):
        p = self.params
        self._calib = CalibrationState()
        self._hold = []  # conditioned samples waiting for calibration: list of (t, acc, gyr, brk)
        self._cal_level = 0  # calibration window = calib_motion_s * 2**level seconds of movement
        self._hold_moving = 0  # running count of moving samples pushed into the hold
        self._hold_n = 0
        self._vqf = None
        self._last_acc = None
        self._bias = np.zeros(3)
        self._axes = None
        self._sig = _Buf({"t": ((), np.float64), "ang": ((), np.float64), "w": ((), np.float64),
                          "an": ((), np.float64), "jk": ((), np.float64), "brk": ((), bool), "bad": ((), bool)})
        L = max(3, int(round(p.smooth_s * self.fs_hz)) | 1)
        k = np.hanning(L + 2)[1:-1]
        self._kern = k / k.sum()
        self._H = L // 2
        self._ext_next = self._H + 1  # next sample index to test for an extremum
        # hysteresis state
        self._mode = 1  # +1 seeking max (flexion peak), -1 seeking min
        self._cand = None  # (idx, val)
        self._roms = []
        self._F = []  # confirmed flexion peaks (idx, val)
        self._E = []  # confirmed extension peaks (idx, val)
        self._last_break_idx = -1
        self._breaks = []  # global indices where a new segment starts
        # strides
        self._pending = []  # stride candidates waiting for data: dicts
        self._ic_cache = {}  # F idx -> (ic_idx_float, info)
        self._bout = []  # current bout's strides (dicts), held until min_bout_strides
        self._bout_emitted = False
        self._bout_idx = -1
        self._last_F_for_bout = None
        self._pending_out = getattr(self, "_pending_out", PipelineOutput())

    # ----------------------------------------------------------------- 1. condition
    def _condition(self, t, acc, gyr):
        p = self.params
        T = self._T
        bad = ~(np.isfinite(t) & np.isfinite(acc).all(axis=1) & np.isfinite(gyr).all(axis=1))
        if bad.any():
            t, acc, gyr = t[~bad], acc[~bad], gyr[~bad]
            self._n_dropped += int(bad.sum())
        if t.shape[0] == 0:
            return t, acc, gyr, np.empty(0, bool)
        prev_max = -np.inf if self._t_max is None else self._t_max
        runmax = np.maximum.accumulate(np.concatenate([[prev_max], t]))
        keep = t > runmax[:-1] + 0.5 * T
        self._n_dropped += int((~keep).sum())
        t, acc, gyr = t[keep], acc[keep], gyr[keep]
        self._t_max = float(runmax[-1])
        if t.shape[0] == 0:
            return t, acc, gyr, np.empty(0, bool)
        if self._last is None:
            pt = np.concatenate([[-np.inf], t[:-1]])
            pa = np.concatenate([acc[:1], acc[:-1]])
            pg = np.concatenate([gyr[:1], gyr[:-1]])
        else:
            lt, la, lg = self._last
            pt = np.concatenate([[lt], t[:-1]])
            pa = np.concatenate([la[None], acc[:-1]])
            pg = np.concatenate([lg[None], gyr[:-1]])
        self._last = (float(t[-1]), acc[-1].copy(), gyr[-1].copy())
        dt = t - pt
        nm = np.where(np.isfinite(dt), np.rint(dt / T) - 1, 0).astype(np.int64)
        nm = np.maximum(nm, 0)
        interp = (nm > 0) & (dt <= p.max_interp_gap_s)
        brk = np.isinf(dt) | (dt > p.max_interp_gap_s)
        self._n_gaps += int(brk[np.isfinite(dt)].sum())
        nins = np.where(interp, nm, 0)
        if not nins.any():
            return t, acc, gyr, brk
        self._n_interp += int(nins.sum())
        counts = nins + 1
        grp = np.repeat(np.arange(t.shape[0]), counts)
        starts = np.cumsum(counts) - counts
        j = np.arange(grp.shape[0]) - starts[grp]
        f = (j + 1) / counts[grp]
        last = j == counts[grp] - 1
        fc = f[:, None]
        ptf = np.where(np.isfinite(pt), pt, t)
        t_o = np.where(last, t[grp], ptf[grp] + f * (t[grp] - ptf[grp]))
        a_o = np.where(last[:, None], acc[grp], pa[grp] + fc * (acc[grp] - pa[grp]))
        g_o = np.where(last[:, None], gyr[grp], pg[grp] + fc * (gyr[grp] - pg[grp]))
        b_o = brk[grp] & (j == 0)
        return t_o, a_o, g_o, b_o

    # ----------------------------------------------------------------- 2. calibrate
    def _after_condition(self, t, acc, gyr, brk, final: bool) -> PipelineOutput:
        out = PipelineOutput()
        p = self.params
        if not self._calib.calibrated:
            if t.shape[0]:
                moving = np.linalg.norm(gyr, axis=1) > p.motion_gyr_dps
                cm_chunk = np.cumsum(moving) + self._hold_moving
                self._hold_moving = int(cm_chunk[-1])
                self._hold.append((t, acc, gyr, brk, cm_chunk))
                self._hold_n += t.shape[0]
                # live safety valve: never hold more than hold_max_s (documented; only an idle
                # sensor that never walks reaches it)
                while self._hold_n > p.hold_max_s * self.fs_hz and len(self._hold) > 1:
                    self._hold_n -= self._hold[0][0].shape[0]
                    self._hold.pop(0)
            if self._hold_n == 0:
                if final:
                    out.extend(self._finish_detection())
                return out
            held_moving = self._hold_moving - (int(self._hold[0][4][0]) - int(np.linalg.norm(self._hold[0][2][0]) > p.motion_gyr_dps))
            # calibrate on the first calib_motion_s of movement; if the flexion sign is not
            # clear, on twice as much, ... up to calib_max_motion_s (sample-determined windows,
            # so the result does not depend on chunking)
            T_ = A_ = G_ = B_ = cm = None
            while True:
                motion_s = p.calib_motion_s * 2 ** self._cal_level
                last_level = motion_s >= p.calib_max_motion_s
                need = int(motion_s * self.fs_hz)
                if held_moving < need and not final:
                    self._calib = CalibrationState(
                        progress=float(min(held_moving / need, 0.99)),
                        message=f"collecting movement for calibration ({held_moving / self.fs_hz:.1f} of {motion_s:.0f} s)")
                    return out
                if T_ is None:
                    T_, A_, G_, B_, cm = (np.concatenate(x) for x in zip(*self._hold)) if len(self._hold) > 1 else self._hold[0]
                    cm = cm - (cm[0] - int(np.linalg.norm(G_[0]) > p.motion_gyr_dps))
                    self._hold = [(T_, A_, G_, B_, cm)]
                k = int(np.searchsorted(cm, need)) if cm[-1] >= need else None
                kk = (k + 1) if k is not None else T_.shape[0]
                cal = calibrate(G_[:kk], A_[:kk], self.fs_hz, p, t0_s=float(T_[0]))
                if k is None or last_level or cal.failed or not cal.calibrated or cal.sign_confidence >= p.min_sign_confidence:
                    break
                self._cal_level += 1
            if not cal.calibrated:
                self._calib = cal
                return out  # final and nothing usable: no strides
            self._calib = cal
            self._set_axes(cal)
            self._hold = []
            self._hold_n = 0
            t, acc, gyr, brk = T_, A_, G_, B_
        if t.shape[0]:
            out.extend(self._orient_and_detect(t, acc, gyr, brk))
        if final:
            out.extend(self._finish_detection())
        return out

    def _set_axes(self, cal: CalibrationState):
        self._bias = np.asarray(cal.gyro_bias_dps, dtype=np.float64)
        self._axes = (np.asarray(cal.anterior_axis), np.asarray(cal.long_axis), np.asarray(cal.flexion_axis))
        self._vqf = self._new_vqf()

    def _new_vqf(self):
        v = VQF(self._T, tauAcc=self.params.vqf_tau_acc_s)
        return v

    # ----------------------------------------------------------------- 3. orient
    def _orient_and_detect(self, t, acc, gyr, brk) -> PipelineOutput:
        p = self.params
        x, y, z = self._axes
        g = gyr - self._bias
        # restart VQF after long gaps (keep its bias estimate)
        idx_reset = np.flatnonzero(brk)
        pieces = []
        s = 0
        for i in idx_reset:
            if i == 0 and self._sig.end == 0:
                continue
            dt_gap = t[i] - (t[i - 1] if i > 0 else self._sig["t"][-1] if len(self._sig) else t[i])
            if dt_gap > p.vqf_reset_gap_s:
                if i > s:
                    pieces.append((s, i, False))
                s = i
                pieces.append((i, i, True))
        pieces.append((s, t.shape[0], False))
        quats = []
        for a, b, reset in pieces:
            if reset:
                bias = self._vqf.getBiasEstimate()[0].copy()
                self._vqf = self._new_vqf()
                self._vqf.setBiasEstimate(bias, -1.0)
                continue
            if b > a:
                r = self._vqf.updateBatch(np.ascontiguousarray(g[a:b] * RAD_PER_DEG), np.ascontiguousarray(acc[a:b]))
                quats.append(r["quat6D"])
        q = np.concatenate(quats)
        qw, qx, qy, qz = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
        up = np.stack([2 * (qx * qz - qw * qy), 2 * (qy * qz + qw * qx), 1 - 2 * (qx * qx + qy * qy)], axis=1)
        ang = np.arctan2(up @ x, up @ y) * DEG_PER_RAD
        w = g @ z
        an = np.linalg.norm(acc, axis=1) / GRAVITY_MPS2
        prev = self._last_acc if self._last_acc is not None else acc[:1]
        jk = np.linalg.norm(np.diff(np.concatenate([prev, acc]), axis=0), axis=1) * (self.fs_hz / GRAVITY_MPS2)
        self._last_acc = acc[-1:].copy()
        bad = np.abs(gyr).max(axis=1) >= p.implausible_gyr_dps
        start = self._sig.end
        self._sig.append(t=t, ang=ang, w=w, an=an, jk=jk, brk=brk, bad=bad)
        for i in np.flatnonzero(brk):
            self._breaks.append(start + int(i))
        out = PipelineOutput(t_s=t.copy(), thigh_angle_deg=ang.copy())
        out.extend(self._detect(final=False))
        return out

    # ----------------------------------------------------------------- 4. segment
    def _detect(self, final: bool) -> PipelineOutput:
        sig = self._sig
        n_end = sig.end
        H = self._H
        last_test = n_end - H - 2 if not final else n_end - 2  # last index whose neighbourhood is final
        if last_test >= self._ext_next:
            lo = self._ext_next - 1
            hi = last_test + 1  # need smoothed values on [lo, hi]
            a0 = lo - H
            a1 = hi + H + 1
            ang = sig["ang"]
            b = sig.base
            seg = ang[max(a0 - b, 0): min(a1 - b, len(sig))]
            pad_l = max(0, b - a0)
            pad_r = max(0, a1 - n_end)
            if pad_l or pad_r:
                seg = np.concatenate([np.full(pad_l, seg[0]), seg, np.full(pad_r, seg[-1])])
            sm = np.convolve(seg, self._kern, mode="valid")  # smoothed values for lo..hi
            c = sm[1:-1]
            is_max = (c > sm[:-2]) & (c >= sm[2:])
            is_min = (c < sm[:-2]) & (c <= sm[2:])
            ii = np.flatnonzero(is_max | is_min)
            pos = 0
            for i in ii:
                self._confirm_flexion_by_crossing(c, lo + 1, pos, int(i))
                self._on_extremum(lo + 1 + int(i), float(c[i]), bool(is_max[i]))
                pos = int(i) + 1
            self._confirm_flexion_by_crossing(c, lo + 1, pos, c.shape[0])
            self._ext_next = last_test + 1
        out = self._resolve_strides(final)
        self._trim()
        return out

    def _apply_breaks(self, idx: int) -> None:
        """A new data segment (long gap) up to ``idx`` restarts the hysteresis."""
        if self._breaks and self._breaks[0] <= idx:
            br = [b for b in self._breaks if self._last_break_idx < b <= idx]
            if br:
                self._last_break_idx = br[-1]
                self._mode, self._cand = 1, None
            self._breaks = [b for b in self._breaks if b > idx]

    def _hysteresis(self) -> float:
        p = self.params
        h = p.hysteresis_min_deg
        if self._roms:
            r = sorted(self._roms[-3:])
            h = max(h, p.hysteresis_rom_frac * (r[len(r) // 2] if len(r) % 2 else 0.5 * (r[0] + r[-1])))
        return h

    def _confirm_flexion_by_crossing(self, c: np.ndarray, off: int, a: int, b: int) -> None:
        """Confirm the flexion-peak candidate as soon as the smoothed angle ``c`` (global
        index ``off + k``) falls the hysteresis below it within ``c[a:b]`` — between two
        extrema, so the candidate cannot change meanwhile. The same peak the next local
        minimum would confirm, found up to half a stride earlier (stride latency)."""
        if self._mode != 1 or self._cand is None or b <= a:
            return
        thr = self._cand[1] - self._hysteresis()
        k = np.flatnonzero(c[a:b] < thr)
        if not k.size:
            return
        idx = off + a + int(k[0])
        self._apply_breaks(idx)
        if self._mode != 1 or self._cand is None:  # a data gap restarted the hysteresis
            return
        self._F.append(self._refine_peak(self._cand))
        self._on_flexion_peak()
        self._mode, self._cand = -1, (idx, float(c[a + int(k[0])]))

    def _on_extremum(self, idx: int, val: float, is_max: bool):
        self._apply_breaks(idx)
        h = self._hysteresis()
        if self._mode == 1:
            if is_max:
                if self._cand is None or val > self._cand[1]:
                    self._cand = (idx, val)
            elif self._cand is not None and val < self._cand[1] - h:
                self._F.append(self._refine_peak(self._cand))
                self._on_flexion_peak()
                self._mode, self._cand = -1, (idx, val)
        else:
            if not is_max:
                if val < self._cand[1]:
                    self._cand = (idx, val)
            elif val > self._cand[1] + h:
                self._E.append(self._refine_peak(self._cand, -1.0))
                if len(self._F):
                    self._roms.append(self._F[-1][1] - self._cand[1])
                    self._roms = self._roms[-5:]
                self._mode, self._cand = 1, (idx, val)

    def _refine_peak(self, cand, sign: float = 1.0):
        """Peak flexion on the raw angle within ±H of the smoothed extremum, with parabolic
        sub-sample interpolation -> (fractional index, value)."""
        idx, _ = cand
        b = self._sig.base
        ang = self._sig["ang"]
        lo, hi = max(idx - self._H, b + 1), min(idx + self._H + 1, self._sig.end - 1)
        k = lo + int(np.argmax(sign * ang[lo - b:hi - b]))
        y0, y1, y2 = sign * ang[k - 1 - b], sign * ang[k - b], sign * ang[k + 1 - b]
        den = y0 - 2 * y1 + y2
        off = 0.5 * (y0 - y2) / den if den < 0 else 0.0
        return (k + float(np.clip(off, -0.5, 0.5)), float(sign * y1))

    def _on_flexion_peak(self):
        """A new F confirmed: form the stride candidate F[-2] -> F[-1]."""
        if len(self._F) < 2:
            return
        f0, f1 = self._F[-2], self._F[-1]
        e = []
        for x in reversed(self._E):
            if x[0] <= f0[0]:
                break
            if x[0] < f1[0]:
                e = [x]
                break
        gap = any(f0[0] < bidx <= f1[0] for bidx in self._all_breaks_between(f0[0], f1[0]))
        self._pending.append({"f0": f0[0], "f1": f1[0], "e": e[-1][0] if e else None, "gap": gap,
                              "f_prev": self._F[-3][0] if len(self._F) >= 3 else None})

    def _all_breaks_between(self, a, b):
        brk = self._sig["brk"]
        base = self._sig.base
        lo, hi = max(int(a) + 1 - base, 0), max(int(b) + 1 - base, 0)
        return (base + np.flatnonzero(brk[lo:hi]) + lo).tolist()

    # ----------------------------------------------------------------- 5./6. events, strides
    def _resolve_strides(self, final: bool) -> PipelineOutput:
        out = PipelineOutput()
        p = self.params
        sig = self._sig
        while self._pending:
            c = self._pending[0]
            T_f = (c["f1"] - c["f0"]) * self._T
            # the last sample the stride reads: the closing IC's search window (events.
            # initial_contact clips T the same way), + the peak refinement's ±H and rounding
            T_ic = min(max(T_f, p.min_stride_s), p.max_stride_s)
            need_end = int(c["f1"]) + int(math.ceil(max(p.ic_search_frac[1], p.ic_zc_end_frac) * T_ic * self.fs_hz)) + self._H + 3
            if need_end > sig.end and not final:
                break
            self._pending.pop(0)
            out.extend(self._make_stride(c, T_f))
        # bout end: no flexion peak can chain to the last stride any more (decided from the
        # segmentation state, not from chunk timing, so live == batch)
        if self._bout and (final or not self._bout_can_grow()):
            out.extend(self._close_bout())
        return out

    def _bout_can_grow(self) -> bool:
        if self._pending:
            return True
        lim = self._bout[-1]["_f1"] + self.params.max_stride_s * self.fs_hz + self._H + 1
        if self._ext_next <= lim:
            return True
        return self._mode == 1 and self._cand is not None and self._cand[0] <= lim

    def _ic_for(self, f_idx: int, T_ref_s: float) -> tuple:
        key = f_idx
        if key not in self._ic_cache:
            self._ic_cache[key] = ev.initial_contact(self._sig, f_idx, T_ref_s, self.fs_hz, self.params)
        return self._ic_cache[key]

    def _make_stride(self, c: dict, T_f: float) -> PipelineOutput:
        p = self.params
        sig = self._sig
        out = PipelineOutput()
        chained = bool(self._bout) and self._bout[-1]["_f1"] == c["f0"]
        if T_f > p.max_stride_s:
            # a pause (or a long hole in the data): no stride here, the bout ends
            out.extend(self._close_bout())
            return out
        if c["gap"]:
            out.extend(self._close_bout())  # a data gap ends the bout; the stride across it is rejected
        T_prev = (c["f0"] - c["f_prev"]) * self._T if c["f_prev"] is not None else None
        T_ref0 = T_prev if (T_prev is not None and p.min_stride_s <= T_prev <= p.max_stride_s) else T_f
        ic0, info0 = self._ic_for(c["f0"], T_ref0)
        ic1, info1 = self._ic_for(c["f1"], T_f)
        if not chained:
            out.extend(self._close_bout())
        tt = lambda fi: _interp_time(sig, fi)  # noqa: E731
        ic_s, next_ic_s = tt(ic0), tt(ic1)
        stride_s = next_ic_s - ic_s
        i0, i1 = int(math.floor(ic0)), int(math.ceil(ic1))
        a, b = i0 - sig.base, i1 - sig.base + 1
        ang = sig["ang"][a:b]
        tseg = sig["t"][a:b]
        kmax, kmin = int(np.argmax(ang)), int(np.argmin(ang))
        flex, ext = float(ang[kmax]), float(ang[kmin])
        impact_g = max(info0.get("impact_g", 0.0), info1.get("impact_g", 0.0))
        # walk/run from the medians of the last strides of this bout (stable within a bout,
        # still follows walk<->run transitions within a few strides)
        ctx = [d for d in self._bout[-4:] if d["valid"]] if chained else []
        gait = ev.classify_gait(float(np.median([d["stride_s"] for d in ctx] + [stride_s])),
                                float(np.median([d["_impact_g"] for d in ctx] + [impact_g])), p)
        to_f, info_to = ev.toe_off(sig, c["e"], c["f0"], c["f1"], ic0, ic1, stride_s, gait, self.fs_hz, p) if c["e"] is not None else (float("nan"), {})
        to_s = tt(to_f) if np.isfinite(to_f) else float("nan")
        stance = to_s - ic_s
        swing = next_ic_s - to_s
        reason = ""
        bad = bool(sig["bad"][a:b].any())
        if c["gap"]:
            reason = "gap_in_data"
        elif self._calib.failed:
            reason = "calibration_failed"
        elif bad:
            reason = "gyro_implausible"
        elif not (p.min_stride_s <= stride_s <= p.max_stride_s):
            reason = "stride_time_out_of_range"
        elif flex - ext < p.rom_floor_deg:
            reason = "rom_below_floor"
        elif not (np.isfinite(to_s) and 0.15 < stance / stride_s < 0.85):
            reason = "events_implausible"
        elif chained:
            ref = [d["stride_s"] for d in self._bout[-3:] if d["valid"]]
            if len(ref) >= 2 and abs(stride_s / float(np.median(ref)) - 1) > p.max_stride_change_frac:
                reason = "stride_time_jump"
        self._stride_counter += 1
        d = {
            "side": self.side, "stride_index": self._stride_counter - 1, "ic_s": ic_s, "to_s": to_s,
            "next_ic_s": next_ic_s, "stride_s": stride_s, "cadence_spm": 120.0 / stride_s if stride_s > 0 else float("nan"),
            "stance_s": stance, "swing_s": swing, "swing_pct": 100.0 * swing / stride_s if stride_s > 0 else float("nan"),
            "flex_peak_deg": flex, "ext_peak_deg": ext, "rom_deg": flex - ext, "valid": reason == "",
            "reason": reason, "gait": gait, "flex_peak_s": float(tseg[kmax]), "ext_peak_s": float(tseg[kmin]),
            "angle_calibrated": bool(self._calib.angle_calibrated), "_f1": c["f1"], "_impact_g": impact_g,
        }
        if c["gap"]:
            out.extend(self._emit(d, -1))
            return out
        self._bout.append(d)
        out.extend(self._emit_bout_progress())
        return out

    def _emit_bout_progress(self) -> PipelineOutput:
        out = PipelineOutput()
        p = self.params
        if not self._bout_emitted and len(self._bout) >= p.min_bout_strides:
            # the first strides of a bout are checked against the bout's median in hindsight
            med = float(np.median([d["stride_s"] for d in self._bout]))
            duty = [d["stance_s"] / d["stride_s"] for d in self._bout if d["valid"]]
            med_duty = float(np.median(duty)) if duty else float("nan")
            for d in self._bout:
                if d["valid"] and abs(d["stride_s"] / med - 1) > p.max_stride_change_frac:
                    d["valid"], d["reason"] = False, "stride_time_jump"
                elif d["valid"] and abs(d["stance_s"] / d["stride_s"] - med_duty) > p.max_stance_frac_dev:
                    # the first stride out of standing (gait initiation) often has a stance
                    # unlike the rest of the bout: its events do not describe steady gait
                    d["valid"], d["reason"] = False, "events_implausible"
            ok = [d for d in self._bout if d["valid"]] or self._bout
            g = ev.classify_gait(float(np.median([d["stride_s"] for d in ok])), float(np.median([d["_impact_g"] for d in ok])), p)
            for d in self._bout:
                d["gait"] = g
            self._bout_counter += 1
            self._bout_idx = self._bout_counter - 1
            self._bout_emitted = True
            for d in self._bout:
                out.extend(self._emit(d, self._bout_idx))
        elif self._bout_emitted:
            out.extend(self._emit(self._bout[-1], self._bout_idx))
        return out

    def _close_bout(self) -> PipelineOutput:
        out = PipelineOutput()
        if self._bout and not self._bout_emitted:
            for d in self._bout:
                if d["valid"]:
                    d["valid"], d["reason"] = False, "bout_too_short"
                out.extend(self._emit(d, -1))
        self._bout = []
        self._bout_emitted = False
        self._bout_idx = -1
        return out

    def _emit(self, d: dict, bout_idx: int) -> PipelineOutput:
        row = {k: v for k, v in d.items() if not k.startswith("_")}
        row["bout_index"] = bout_idx
        s = StrideResult(**row)
        evs = [("IC", s.ic_s)]
        if np.isfinite(s.to_s):
            evs.append(("TO", s.to_s))
        return PipelineOutput(strides=[s], events=evs)

    def _finish_detection(self) -> PipelineOutput:
        out = PipelineOutput()
        if self._axes is None:
            return out
        out.extend(self._detect(final=True))
        out.extend(self._close_bout())
        return out

    def _trim(self):
        """Bound memory: keep the samples still needed by pending strides/extrema (+5 s)."""
        sig = self._sig
        keep_from = sig.end - int(10 * self.fs_hz)
        cands = [keep_from, self._ext_next - self._H - 2]
        if self._pending:
            cands.append(int(self._pending[0]["f0"]) - int(3 * self.fs_hz))
        if self._bout:
            cands.append(int(math.floor(min(d["_f1"] for d in self._bout[-1:]))) - int(3 * self.fs_hz))
        if self._F:
            cands.append(int(self._F[-1][0]) - int(3 * self.fs_hz))
        keep = min(cands)
        if keep - sig.base > int(20 * self.fs_hz):
            sig.trim_before(keep)
            self._ic_cache = {k: v for k, v in self._ic_cache.items() if k >= keep}
            self._F = self._F[-4:]
            self._E = self._E[-4:]


def _merge(parts: list) -> PipelineOutput:
    parts = [p for p in parts if p.strides or p.events or p.t_s.size]
    if len(parts) <= 1:
        return parts[0] if parts else PipelineOutput()
    out = PipelineOutput(strides=[s for p in parts for s in p.strides], events=[e for p in parts for e in p.events])
    ts = [p.t_s for p in parts if p.t_s.size]
    if ts:
        out.t_s = np.concatenate(ts)
        out.thigh_angle_deg = np.concatenate([p.thigh_angle_deg for p in parts if p.t_s.size])
    return out


def _interp_time(sig: _Buf, fi: float) -> float:
    i = int(math.floor(fi))
    fr = fi - i
    t = sig["t"]
    k = i - sig.base
    if fr == 0 or k + 1 >= len(t):
        return float(t[min(max(k, 0), len(t) - 1)])
    return float(t[k] + fr * (t[k + 1] - t[k]))
