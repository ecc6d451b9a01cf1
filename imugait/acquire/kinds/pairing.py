"""Pair two separately streamed sensors (accelerometer, gyroscope) sample by sample, by device time.

Used by the kinds whose acceleration and angular rate arrive in separate frames: Polar
(ACC and GYRO PMD streams) and Movesense (``/Meas/Acc/<rate>`` and ``/Meas/Gyro/<rate>``).
Each accelerometer sample is paired with the gyroscope sample nearest in device time within
half a period. An accelerometer sample is final once the gyroscope stream has moved past it;
samples without a partner are dropped and become a gap in the (accelerometer-derived)
sample index, which the engine's tracker counts like any other gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairedRun:
    """Consecutive paired samples: accelerometer index, device time (s), counts."""

    first_index: int
    t_dev_s: np.ndarray
    acc_counts: np.ndarray
    gyr_counts: np.ndarray


def _empty():
    return np.empty(0), np.empty(0, np.int64), np.empty((0, 3), np.int16)


class TimePairer:
    """``add_acc`` / ``add_gyr`` samples (device time s, index, int16 counts) as they come;
    ``pop()`` returns the :class:`PairedRun` s that became final."""

    def __init__(self, rate_hz: float):
        self.rate_hz = float(rate_hz)
        self.unpaired_acc = 0
        self.unpaired_gyr = 0
        self.clear()

    def clear(self) -> None:
        self._acc = _empty()
        self._gyr = _empty()

    @staticmethod
    def _append(buf, t, idx, counts):
        t0, i0, v0 = buf
        return (np.concatenate([t0, np.asarray(t, np.float64)]), np.concatenate([i0, np.asarray(idx, np.int64)]),
                np.concatenate([v0, np.asarray(counts, np.int16).reshape(-1, 3)]))

    def add_acc(self, t_dev_s, index, counts) -> None:
        self._acc = self._append(self._acc, t_dev_s, index, counts)

    def add_gyr(self, t_dev_s, index, counts) -> None:
        self._gyr = self._append(self._gyr, t_dev_s, index, counts)

    def pop(self) -> list[PairedRun]:
        ta, ia, va = self._acc
        tg, ig, vg = self._gyr
        if len(ta) == 0 or len(tg) == 0:
            return []
        half = 0.5 / self.rate_hz
        j = np.searchsorted(tg, ta)
        jl = np.clip(j - 1, 0, len(tg) - 1)
        jr = np.clip(j, 0, len(tg) - 1)
        pick = np.where(np.abs(tg[jl] - ta) <= np.abs(tg[jr] - ta), jl, jr)
        matched = np.abs(tg[pick] - ta) <= half
        horizon = min(ta[-1], tg[-1])
        use = matched & (ta <= horizon + half)
        drop_a = (~matched) & (ta < tg[-1] - half)
        keep_a = ~(use | drop_a)
        used_g = np.zeros(len(tg), dtype=bool)
        used_g[pick[use]] = True
        last_done = ta[use | drop_a].max() if np.any(use | drop_a) else -np.inf
        drop_g = (~used_g) & (tg < last_done - half)
        keep_g = ~(used_g | drop_g)
        self.unpaired_acc += int(drop_a.sum())
        self.unpaired_gyr += int(drop_g.sum())
        runs: list[PairedRun] = []
        if np.any(use):
            ui = np.nonzero(use)[0]
            cuts = np.nonzero(np.diff(ia[ui]) != 1)[0] + 1
            for part in np.split(np.arange(len(ui)), cuts):
                sel = ui[part]
                runs.append(PairedRun(int(ia[sel[0]]), ta[sel], va[sel], vg[pick[sel]]))
        self._acc = (ta[keep_a], ia[keep_a], va[keep_a])
        self._gyr = (tg[keep_g], ig[keep_g], vg[keep_g])
        return runs
