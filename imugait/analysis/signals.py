"""The per-leg signal buffer the segmentation, event and stride stages read.

Samples are addressed by their *global* index since the start of the stream (fractional
indices for interpolated fiducials). Old samples are trimmed once no pending stride can need
them, so memory does not grow with the recording; ``base`` is the global index of the first
kept sample.
"""

from __future__ import annotations

import math

import numpy as np

from imugait.analysis.angle import SIGNALS, ThighSignals


class SignalBuffer:
    """Growable column store of :data:`imugait.analysis.angle.SIGNALS` with a global index."""

    def __init__(self):
        self.cols = {k: np.empty(0, dtype=dt) for k, dt in SIGNALS.items()}
        self.base = 0

    def __len__(self) -> int:
        return int(self.cols["t_s"].shape[0])

    @property
    def end(self) -> int:
        """One past the global index of the last sample."""
        return self.base + len(self)

    def append(self, chunk: ThighSignals) -> None:
        for k in self.cols:
            v = chunk[k]
            self.cols[k] = np.concatenate([self.cols[k], v]) if len(self.cols[k]) else np.asarray(v, dtype=self.cols[k].dtype).copy()

    def trim_before(self, idx: int) -> None:
        cut = idx - self.base
        if cut <= 0:
            return
        for k in self.cols:
            self.cols[k] = self.cols[k][cut:].copy()
        self.base = idx

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]

    def window(self, name: str, a: int, b: int) -> tuple[int, np.ndarray]:
        """Values of ``name`` for global indices [a, b) clipped to what is kept: (first index, values)."""
        a, b = max(int(a), self.base), min(int(b), self.end)
        if b <= a:
            return a, self.cols[name][:0]
        return a, self.cols[name][a - self.base:b - self.base]

    def value(self, name: str, idx: int) -> float:
        return float(self.cols[name][int(idx) - self.base])

    def time_at(self, fidx: float) -> float:
        """Time (s) at a fractional global index (linear interpolation between samples)."""
        i = int(math.floor(fidx))
        fr = fidx - i
        t = self.cols["t_s"]
        k = i - self.base
        if fr == 0 or k + 1 >= len(t):
            return float(t[min(max(k, 0), len(t) - 1)])
        return float(t[k] + fr * (t[k + 1] - t[k]))

    def any_segment_start(self, a: float, b: float) -> bool:
        """True if a data segment starts in global indices (a, b]."""
        lo, hi = int(a) + 1, int(b) + 1
        _, s = self.window("segment_start", lo, hi)
        return bool(s.any())
