"""Independent shin-gyroscope gait-event reference (validation only, not used by the pipeline).

The primary walking reference is the foot gyroscope (``tools/foot_reference.py``); this shin
reference is its sanity check (its IC comes 20–80 ms after the foot's on HuGaDB, as published
for shank gyros against an instrumented walkway: +34 ± 10 ms, Greene et al. 2012, J Appl
Biomech 28:349; TO 0–25 ms before).

Aminian et al. 2002 (J Biomech 35:689) / Salarian et al. 2004 (IEEE TBME 51:1434) style:
the sagittal shin angular velocity has one large peak per stride in mid-swing; initial
contact is the minimum right after it, toe-off the minimum right before it. The sagittal
axis is the principal axis of the shin gyro; its sign makes the mid-swing peaks positive
(they are the largest excursions of the signal).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, find_peaks, sosfiltfilt


def shin_events(gyr_dps: np.ndarray, fs_hz: float, t_s: np.ndarray | None = None) -> dict:
    """Return dict with ``ic_s``, ``to_s``, ``ms_s`` (mid-swing) arrays (times, or sample
    indices / fs when ``t_s`` is None)."""
    g = np.asarray(gyr_dps, dtype=np.float64)
    g = g - np.median(g, axis=0)
    _, _, vt = np.linalg.svd(g - g.mean(axis=0), full_matrices=False)
    w = g @ vt[0]
    # sign: the mid-swing peaks are the largest excursions
    if abs(np.quantile(w, 0.995)) < abs(np.quantile(w, 0.005)):
        w = -w
    fc = min(12.0, 0.4 * fs_hz)
    sos = butter(2, fc / (fs_hz / 2), output="sos")
    wf = sosfiltfilt(sos, w)
    thr = 0.4 * np.quantile(wf, 0.99)
    ms, _ = find_peaks(wf, height=thr, distance=max(1, int(0.5 * fs_hz)))
    ic, to, msk = [], [], []
    for k, m in enumerate(ms):
        T = (ms[k + 1] - m) if k + 1 < len(ms) else (m - ms[k - 1]) if k > 0 else int(fs_hz)
        T = min(T, int(2.0 * fs_hz))
        a1 = min(len(wf), m + int(0.35 * T) + 1)
        a0 = max(0, m - int(0.35 * T))
        if a1 - m < 3 or m - a0 < 3:
            continue
        ic.append(m + int(np.argmin(wf[m:a1])))
        to.append(a0 + int(np.argmin(wf[a0:m])))
        msk.append(m)
    ic, to, msk = np.array(ic, float), np.array(to, float), np.array(msk, float)
    if t_s is None:
        conv = lambda i: i / fs_hz  # noqa: E731
    else:
        conv = lambda i: np.interp(i, np.arange(len(t_s)), t_s)  # noqa: E731
    return {"ic_s": conv(ic), "to_s": conv(to), "ms_s": conv(msk), "w_dps": wf}


def match_events(est_s: np.ndarray, ref_s: np.ndarray, max_dt_s: float = 0.25) -> np.ndarray:
    """For each reference event the signed error (est − ref) of the nearest estimate within
    ``max_dt_s``; unmatched references are dropped. Returns errors in seconds."""
    est = np.sort(np.asarray(est_s, float))
    est = est[np.isfinite(est)]
    if est.size == 0:
        return np.empty(0)
    ref = np.asarray(ref_s, float)
    j = np.clip(np.searchsorted(est, ref), 1, len(est) - 1) if len(est) > 1 else np.zeros(len(ref), int)
    cand = np.stack([est[np.maximum(j - 1, 0)], est[j]], axis=1)
    k = np.argmin(np.abs(cand - ref[:, None]), axis=1)
    near = cand[np.arange(len(ref)), k]
    err = near - ref
    return err[np.abs(err) <= max_dt_s]
