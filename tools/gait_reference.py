"""Independent shin-gyroscope gait-event reference (validation only, not used by the pipeline).

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


def foot_swing_end(gyr_dps: np.ndarray, fs_hz: float, mid_swing_s: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    """Second, independent consistency reference from a *foot* gyroscope (validation only).

    The sagittal foot angular velocity (principal axis of the foot gyro) has one long
    excursion per swing; the foot's swing rotation stops — the signal comes back through
    zero — at or just before heel contact. Returns, for each mid-swing time (from the shin
    reference, used only as an anchor), the first upward zero crossing after the foot's swing
    extremum within 0.45 s (linear interpolation; sign chosen so the foot is negative at
    mid-swing). On HuGaDB it precedes the shin IC by 30–60 ms (the foot stops before the shin
    minimum), so use it for event-to-event consistency (SD), not as the contact instant.
    """
    g = np.asarray(gyr_dps, dtype=np.float64)
    g = g - np.median(g, axis=0)
    _, _, vt = np.linalg.svd(g - g.mean(axis=0), full_matrices=False)
    fw = g @ vt[0]
    idx = np.arange(len(t_s))
    ms = np.round(np.interp(np.asarray(mid_swing_s, float), t_s, idx)).astype(int)
    ms = ms[(ms >= 0) & (ms < len(fw))]
    if ms.size == 0:
        return np.empty(0)
    if np.median(fw[ms]) > 0:
        fw = -fw
    out = []
    for m in ms:
        seg = fw[m:m + int(0.45 * fs_hz)]
        if seg.size < 5:
            continue
        k = int(np.argmin(seg))
        s2 = seg[k:]
        z = np.flatnonzero((s2[:-1] < 0) & (s2[1:] >= 0))
        if z.size:
            i = int(z[0])
            out.append(m + k + i + (-s2[i]) / (s2[i + 1] - s2[i]))
    return np.interp(np.array(out, float), idx, t_s)
