"""Independent foot-gyroscope gait-event reference for HuGaDB (validation only, never used by the
pipeline).

The thigh does not touch the ground; the foot does. HuGaDB (Chereshnev & Kertész-Farkas, AIST
2017) has an inertial sensor on each foot ("on the metatarsal bones") sharing the thighs' clock,
so the foot's own kinematics time the contacts without any thigh information.

Signal: the foot's sagittal angular velocity ``w`` — the principal axis of the foot gyro, signed
so that the long swing excursion is positive (the swing lobe dominates the 3 Hz low-pass).
Per stride (mid-swing MS to the next MS) it shows, in order: the end of the swing rotation (a
downward zero crossing ``zc_ic``), the foot-slap extremum after heel contact (``slap``, the
minimum of ``w`` in the first half of the MS–MS cycle), a quiet foot-flat, the push-off
extremum (``push``, the minimum in the second half) and the upward zero crossing that starts
the next swing (``zc_to``).

Published features (each a known fiducial of foot-worn IMUs):

- ``slap`` and ``push``: the minima of the pitch angular velocity in the first and second half
  of a mid-swing-to-mid-swing cycle — Falbriard, Meyer, Mariani, Millet & Aminian 2018,
  *Accurate estimation of running temporal parameters using foot-worn inertial sensors*, Front.
  Physiol. 9:610, doi:10.3389/fphys.2018.00610: against an instrumented treadmill's vertical
  force (41 runners) the most precise IC and terminal-contact features, inter-trial precision
  (median ± IQR) 2 ± 1 ms and 4 ± 2 ms; with them contact, flight, step and swing time had a
  bias below 12 ± 10 ms. Running, not walking.
- ``zc_to``: Rampp, Barth, Schülein, Gaßmann, Klucken & Eskofier 2015, *Inertial sensor-based
  stride parameter calculation from gait sequences in geriatric patients*, IEEE TBME 62:1089,
  doi:10.1109/TBME.2014.2368211 (toe-off = the change from plantar flexion to dorsal extension,
  a zero crossing of the medio-lateral gyro); their IC is the gyro minimum after the swing
  (``slap``) refined by the anterior-posterior accelerometer — not usable here: HuGaDB's ±2 g
  accelerometers clip during foot contact.
- Foot sagittal angular velocity detects IC and end of contact "as accurately as foot switches"
  in normal gait — Jasiewicz et al. 2006, Gait Posture 24:502, doi:10.1016/j.gaitpost.2005.12.017
  (abstract; no timing figure retrieved).

No walking force-plate bias of these features could be retrieved from the literature available
here, so it was **measured on real walking with force plates**: the published mean gait cycles of
the public walking data set of Fukuchi, Fukuchi & Duarte 2018 (PeerJ 6:e4640,
doi:10.7717/peerj.4640, CC-BY-4.0; files ``WBDSnnwalk…ang.txt``/``…knt.txt`` read from
``github:nozaripo/5LinkBiped_BayesianIOC_MCMC``), where 0 % is the force-plate IC, the foot's
sagittal angle ``FootAngleZ`` is given per 1 % of the cycle and toe-off is where the vertical
ground reaction force ends. The foot's angular velocity (the slope of that angle) gives, as a
fraction of the stride (both feet, rounded to 0.5 %):

| trial (WBDS) | zc_ic → IC | slap → IC | push → TO | zc_to → TO |
|---|---|---|---|---|
| 01 treadmill T05 | +1.5 / +1.2 % | −3.5 / −3.5 % | +2.5 % | −4.5 % |
| 01 treadmill T08 (fastest) | +1.0 / +1.0 % | – | +1.5 % | −6.0 % |
| 02 overground fast | – | −3.5 / −4.5 % | – | – |

So contact lies between the two features of each event: ``IC = zc_ic + 0.30·(slap − zc_ic)`` and
``TO = push + 0.27·(zc_to − push)`` (:data:`IC_FRAC`, :data:`TO_FRAC`; T05's 0.30, the mean of
T05's 0.36 and T08's 0.18). Interpolating between two features instead of offsetting one makes
the reference independent of the sample rate and of the stride time. Its own uncertainty: one or
two participants' mean cycles — the fractions moved by ±0.09 (TO) between two speeds, i.e.
≈ ±5 ms at HuGaDB's strides; the per-stride spread at 58.8 Hz is measured by
``tools/validate_walking.py`` (left−right consistency of the reference's stance time).

The HuGaDB sample period is 17 ms (58.8 Hz, no time stamps); zero crossings are interpolated
linearly and extrema parabolically, so the reference is not quantised to samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import butter, find_peaks, sosfiltfilt

from imugait.store import GYR_SCALE_DPS, HUGADB_FS_HZ, normalise_column

IC_FRAC = 0.30
"""IC = zc_ic + IC_FRAC·(slap − zc_ic) (WBDS force-plate mean cycles, see the module docstring)."""
TO_FRAC = 0.27
"""TO = push + TO_FRAC·(zc_to − push)."""
CORRUPT_GYR_DPS = 1500.0
"""A foot gyro whose 99th-percentile norm exceeds this is one of HuGaDB's corrupted sensors
(stored ×10 and clipped; the HuGaDB README lists them): no reference from it."""


def read_hugadb_segment(path, side: str, segment: str = "f") -> dict:
    """One HuGaDB sensor (``segment`` f/s/t = foot/shin/thigh) of one side: ``gyr_dps``,
    ``acc_counts`` (n, 3), ``fs_hz``, ``t_s`` (index / 58.8 Hz, as :func:`imugait.store.hugadb.read_hugadb`)."""
    df = pd.read_csv(path, sep="\t", skiprows=3)
    names = {normalise_column(c): c for c in df.columns}
    L = "r" if side == "right" else "l"
    cols = [names.get(f"{L}{segment}_gyro_{a}") for a in "xyz"]
    acols = [names.get(f"{L}{segment}_acc_{a}") for a in "xyz"]
    if any(c is None for c in cols + acols):
        raise ValueError(f"{path}: no {side} {segment} sensor columns")
    g = df[cols].to_numpy(float) * GYR_SCALE_DPS
    n = len(df)
    return {"gyr_dps": g, "acc_counts": df[acols].to_numpy(float), "fs_hz": HUGADB_FS_HZ,
            "t_s": np.arange(n) / HUGADB_FS_HZ, "corrupted": bool(np.quantile(np.linalg.norm(g, axis=1), 0.99) > CORRUPT_GYR_DPS)}


def sagittal_rate(gyr_dps: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """(w, lowpass 3 Hz of w): the foot's sagittal angular velocity, swing positive."""
    g = np.asarray(gyr_dps, float)
    g = g - np.median(g, axis=0)
    _, _, vt = np.linalg.svd(g - g.mean(axis=0), full_matrices=False)
    w = g @ vt[0]
    lp = sosfiltfilt(butter(2, 3.0 / (fs_hz / 2), output="sos"), w)
    if np.quantile(lp, 0.99) < -np.quantile(lp, 0.01):
        w, lp = -w, -lp
    return w, lp


def _parabolic_min(w: np.ndarray, k: int) -> float:
    if 0 < k < len(w) - 1:
        a, b, c = w[k - 1], w[k], w[k + 1]
        d = a - 2 * b + c
        if d > 0:
            return k + 0.5 * (a - c) / d
    return float(k)


def foot_events(gyr_dps: np.ndarray, fs_hz: float, t_s: np.ndarray | None = None) -> pd.DataFrame:
    """One row per mid-swing: ``ms`` and the features and events around it (seconds):
    ``zc_ic``, ``slap``, ``ic`` after it; ``push``, ``zc_to``, ``to`` before it (NaN where a
    feature is not found)."""
    w, lp = sagittal_rate(gyr_dps, fs_hz)
    n = len(w)
    ms, _ = find_peaks(lp, height=0.4 * np.quantile(lp, 0.99), distance=max(1, int(0.5 * fs_hz)))
    rows = []
    for k, m in enumerate(ms):
        a0, a1 = max(0, m - int(0.1 * fs_hz)), min(n, m + int(0.1 * fs_hz) + 1)
        mr = a0 + int(np.argmax(w[a0:a1]))
        T = (ms[k + 1] - m) if k + 1 < len(ms) else (m - ms[k - 1] if k > 0 else int(fs_hz))
        T = int(min(T, 2 * fs_hz))
        r = {"ms": float(mr), "zc_ic": np.nan, "slap": np.nan, "push": np.nan, "zc_to": np.nan}
        # after mid-swing: end of the swing rotation, then the foot slap (first half of MS→MS)
        seg = w[mr:min(n, mr + T // 2)]
        z = np.flatnonzero((seg[:-1] > 0) & (seg[1:] <= 0))
        if z.size:
            i = int(z[0])
            r["zc_ic"] = mr + i + seg[i] / (seg[i] - seg[i + 1])
            j = mr + i + 1
            s2 = w[j:min(n, mr + T // 2 + 1)]
            if s2.size >= 3:
                r["slap"] = j + _parabolic_min(s2, int(np.argmin(s2)))
        # before mid-swing: push-off, then the start of the swing rotation (second half of the
        # previous MS→MS)
        b0 = max(0, mr - T // 2)
        seg = w[b0:mr + 1]
        z = np.flatnonzero((seg[:-1] < 0) & (seg[1:] >= 0))
        if z.size:
            i = int(z[-1])
            r["zc_to"] = b0 + i + (-seg[i]) / (seg[i + 1] - seg[i])
            s2 = w[b0:b0 + i + 1]
            if s2.size >= 3:
                r["push"] = b0 + _parabolic_min(s2, int(np.argmin(s2)))
        rows.append(r)
    df = pd.DataFrame(rows, columns=["ms", "zc_ic", "slap", "push", "zc_to"])
    df["ic"] = df.zc_ic + IC_FRAC * (df.slap - df.zc_ic)
    df["to"] = df.push + TO_FRAC * (df.zc_to - df.push)
    idx = np.arange(n)
    conv = (lambda x: x / fs_hz) if t_s is None else (lambda x: np.interp(x, idx, t_s))
    for c in df.columns:
        df[c] = conv(df[c].to_numpy(float))
    return df


def reference_strides(ev: pd.DataFrame, t_lo: float = -np.inf, t_hi: float = np.inf) -> pd.DataFrame:
    """Strides IC → next IC of the same foot with the TO between them (the TO timed before the
    next mid-swing), kept when their length is 0.6–1.5× the median and they lie in [t_lo, t_hi].
    Columns as the running truth: ``ic_s, to_s, next_ic_s, stride_s`` (+ ``rom_deg`` = NaN)."""
    ic = ev.ic.to_numpy()
    to = ev.to.to_numpy()
    rows = []
    for k in range(len(ev) - 1):
        a, b, t = ic[k], ic[k + 1], to[k + 1]
        if not (np.isfinite(a) and np.isfinite(b) and np.isfinite(t) and a < t < b):
            continue
        rows.append({"ic_s": a, "to_s": t, "next_ic_s": b, "stride_s": b - a, "rom_deg": np.nan})
    df = pd.DataFrame(rows, columns=["ic_s", "to_s", "next_ic_s", "stride_s", "rom_deg"])
    if len(df):
        med = float(df.stride_s.median())
        df = df[(df.stride_s > 0.6 * med) & (df.stride_s < 1.5 * med) & (df.ic_s >= t_lo) & (df.next_ic_s <= t_hi)]
    return df.reset_index(drop=True)


def hugadb_foot_reference(path, side: str) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(events, strides) of one foot of a HuGaDB file, or None when that foot's gyro is corrupted."""
    f = read_hugadb_segment(Path(path), side, "f")
    if f["corrupted"]:
        return None
    ev = foot_events(f["gyr_dps"], f["fs_hz"], f["t_s"])
    return ev, reference_strides(ev)
