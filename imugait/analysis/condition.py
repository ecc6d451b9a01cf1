"""Stage 1 — input conditioning: one clean, regularly sampled stream per leg.

``condition(t_s, acc_mps2, gyr_dps, state, settings) -> (ConditionedChunk, state)`` in the
``scipy.signal.sosfilt(..., zi)`` shape: the state carries what the next chunk needs (the
last kept sample, the running maximum of the time stamps, counters), so any chunking gives
the same output.

1. Samples with a non-finite value are dropped.
2. Samples whose time stamp is not later than every earlier one by at least half a sample
   period are dropped (repeated or backward stamps; counted as ``samples_dropped_duplicate``).
   Coarse device clocks (1–10 ms resolution) that repeat stamps are re-timed *before* this
   stage by :mod:`imugait.timebase` (``analyze()`` and the CSV import call it), so what
   arrives here is either a regular stream or one with genuine holes.
3. Holes up to ``max_interp_gap_s`` (lost BLE packets) are filled by linear interpolation.
   A longer hole starts a new data segment: ``segment_start`` is True on its first sample
   (the bout ends there, and strides across it are rejected with ``gap_in_data``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imugait.analysis.params import ConditionSettings


@dataclass
class ConditionState:
    """What conditioning remembers between chunks."""

    period_s: float
    t_max_s: float = -np.inf
    last_t_s: float | None = None
    last_acc_mps2: np.ndarray | None = None
    last_gyr_dps: np.ndarray | None = None
    samples_in: int = 0
    samples_dropped_duplicate: int = 0
    samples_interpolated: int = 0
    gaps: int = 0

    def stats(self) -> dict:
        return {"samples_in": self.samples_in, "samples_dropped_duplicate": self.samples_dropped_duplicate,
                "samples_interpolated": self.samples_interpolated, "gaps": self.gaps}


@dataclass
class ConditionedChunk:
    t_s: np.ndarray = field(default_factory=lambda: np.empty(0))
    acc_mps2: np.ndarray = field(default_factory=lambda: np.empty((0, 3)))
    gyr_dps: np.ndarray = field(default_factory=lambda: np.empty((0, 3)))
    segment_start: np.ndarray = field(default_factory=lambda: np.empty(0, bool))

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    @staticmethod
    def concat(parts: list["ConditionedChunk"]) -> "ConditionedChunk":
        parts = [p for p in parts if len(p)]
        if not parts:
            return ConditionedChunk()
        if len(parts) == 1:
            return parts[0]
        return ConditionedChunk(np.concatenate([p.t_s for p in parts]), np.concatenate([p.acc_mps2 for p in parts]),
                                np.concatenate([p.gyr_dps for p in parts]), np.concatenate([p.segment_start for p in parts]))

    def slice(self, a: int, b: int) -> "ConditionedChunk":
        return ConditionedChunk(self.t_s[a:b], self.acc_mps2[a:b], self.gyr_dps[a:b], self.segment_start[a:b])


def condition(t_s: np.ndarray, acc_mps2: np.ndarray, gyr_dps: np.ndarray, state: ConditionState,
              settings: ConditionSettings) -> tuple[ConditionedChunk, ConditionState]:
    """Condition one chunk (see the module docstring); returns the output and the updated state."""
    T = state.period_s
    t, acc, gyr = t_s, acc_mps2, gyr_dps
    state.samples_in += int(t.shape[0])
    bad = ~(np.isfinite(t) & np.isfinite(acc).all(axis=1) & np.isfinite(gyr).all(axis=1))
    if bad.any():
        t, acc, gyr = t[~bad], acc[~bad], gyr[~bad]
        state.samples_dropped_duplicate += int(bad.sum())
    if t.shape[0] == 0:
        return ConditionedChunk(), state
    runmax = np.maximum.accumulate(np.concatenate([[state.t_max_s], t]))
    keep = t > runmax[:-1] + 0.5 * T
    state.samples_dropped_duplicate += int((~keep).sum())
    t, acc, gyr = t[keep], acc[keep], gyr[keep]
    state.t_max_s = float(runmax[-1])
    if t.shape[0] == 0:
        return ConditionedChunk(), state
    if state.last_t_s is None:
        pt = np.concatenate([[-np.inf], t[:-1]])
        pa = np.concatenate([acc[:1], acc[:-1]])
        pg = np.concatenate([gyr[:1], gyr[:-1]])
    else:
        assert state.last_acc_mps2 is not None and state.last_gyr_dps is not None  # set with last_t_s
        pt = np.concatenate([[state.last_t_s], t[:-1]])
        pa = np.concatenate([state.last_acc_mps2[None], acc[:-1]])
        pg = np.concatenate([state.last_gyr_dps[None], gyr[:-1]])
    state.last_t_s, state.last_acc_mps2, state.last_gyr_dps = float(t[-1]), acc[-1].copy(), gyr[-1].copy()
    dt = t - pt
    n_missing = np.maximum(np.where(np.isfinite(dt), np.rint(dt / T) - 1, 0), 0).astype(np.int64)
    interp = (n_missing > 0) & (dt <= settings.max_interp_gap_s)
    seg = np.isinf(dt) | (dt > settings.max_interp_gap_s)
    state.gaps += int(seg[np.isfinite(dt)].sum())
    n_ins = np.where(interp, n_missing, 0)
    if not n_ins.any():
        return ConditionedChunk(t, acc, gyr, seg), state
    state.samples_interpolated += int(n_ins.sum())
    counts = n_ins + 1
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
    s_o = seg[grp] & (j == 0)
    return ConditionedChunk(t_o, a_o, g_o, s_o), state
