"""Strap calibration: from an arbitrary strap orientation to the ISB thigh frame.

Steps (numbered as in ``docs/analysis.md``):

1. **Still period**: the first run of ≥ ``still_min_s`` of 0.5 s blocks with small gyro and
   accelerometer spread. Its mean gyro is the gyro bias; its mean accelerometer vector points
   up the thigh (knee → hip) and becomes the long axis ``y_T``; that pose is the neutral angle.
   Without one, ``y_T`` falls back to the mean accelerometer direction during movement and the
   absolute angles are flagged uncalibrated (``angle_calibrated=False``); the range stays valid.
2. **Flexion axis**: principal axis of the bias-corrected gyro during movement, after removing
   the component along ``y_T`` (PCA in the plane ⟂ long axis). Axis confidence = share of the
   in-plane variance on that axis.
3. **Sign of flexion** from physiology, never from an assumed mounting (a sensor turned 180°
   about the thigh axis looks exactly like walking backwards): flexion is the direction in
   which (a) the thigh sits on average during gait relative to standing (only with a still
   period), (b) the thigh is when the foot strikes — largest accelerometer transients come
   just after peak flexion, (d) the thigh dwells (negative skewness of the angle: a plateau
   around peak flexion, a quick turn at peak extension), (c) the forward swing is faster and
   shorter than the stance-phase return (true in walking, NOT reliable in running — small
   weight). The cues vote with weights (``SIGN_WEIGHTS``); votes and ``sign_confidence`` are
   reported.
4. ``z_T`` = signed flexion axis (to the subject's right on both legs — this is the mirror),
   ``x_T = y_T × z_T`` (anterior).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imugait.analysis.params import AnalysisParams
from imugait.conventions import DEG_PER_RAD


@dataclass(frozen=True)
class CalibrationState:
    """What the pipeline knows about the strap. ``calibrated``: axes are fixed and angles flow.
    ``angle_calibrated``: absolute angles are referenced to a standing pose (else only ranges
    and timing are trustworthy). ``progress`` 0..1 while collecting."""

    still_found: bool = False
    calibrated: bool = False
    angle_calibrated: bool = False
    axis_confidence: float = 0.0
    sign_confidence: float = 0.0
    progress: float = 0.0
    message: str = "waiting for data: stand still for 2 s, then walk"
    failed: bool = False
    gyro_bias_dps: tuple = (0.0, 0.0, 0.0)
    long_axis: tuple = (0.0, 0.0, 0.0)  # y_T in sensor coordinates
    flexion_axis: tuple = (0.0, 0.0, 0.0)  # z_T in sensor coordinates
    anterior_axis: tuple = (0.0, 0.0, 0.0)  # x_T
    still_t_s: tuple = (float("nan"), float("nan"))
    sign_votes: dict = field(default_factory=dict)
    quality_flags: tuple = ()

    def to_dict(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = [float(x) if isinstance(x, (float, np.floating)) else x for x in v]
        return d


def find_still(gyr_dps: np.ndarray, acc_mps2: np.ndarray, fs_hz: float, p: AnalysisParams):
    """First still run (start, stop) sample indices, or ``None``. Vectorised over blocks."""
    nb = max(1, int(round(p.still_block_s * fs_hz)))
    nblocks = gyr_dps.shape[0] // nb
    if nblocks == 0:
        return None
    g = gyr_dps[: nblocks * nb].reshape(nblocks, nb, 3)
    a = acc_mps2[: nblocks * nb].reshape(nblocks, nb, 3)
    still = (
        (g.std(axis=1).max(axis=1) < p.still_gyr_std_dps)
        & (np.linalg.norm(g.mean(axis=1), axis=1) < p.still_gyr_mean_dps)
        & (a.std(axis=1).max(axis=1) < p.still_acc_std_mps2)
        & (np.abs(np.linalg.norm(a.mean(axis=1), axis=1) - 9.81) < 1.5)
    )
    need = int(np.ceil(p.still_min_s / p.still_block_s))
    run = 0
    for i, s in enumerate(still):
        run = run + 1 if s else 0
        if run >= need:
            # extend to the end of this still run (up to 5 s)
            j = i + 1
            while j < nblocks and still[j] and (j - (i - need + 1)) * nb < 5 * fs_hz:
                j += 1
            start = (i - need + 1) * nb
            return start, j * nb
    return None


def _unit(v):
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


@dataclass(frozen=True)
class StandingCalibration:
    """What standing still tells about the strap (step 1 of the module docstring).

    ``start``/``stop``: sample indices of the still period (``find_still``). ``long_axis``:
    unit ``y_T`` in sensor coordinates — the mean accelerometer direction while standing,
    which points up the thigh, from the knee to the hip. ``gyro_bias_dps``: mean gyro."""

    start: int
    stop: int
    long_axis: tuple
    gyro_bias_dps: tuple


def standing_calibration(gyr_dps: np.ndarray, acc_mps2: np.ndarray, fs_hz: float,
                         p: AnalysisParams | None = None) -> StandingCalibration | None:
    """The standing calibration alone: the first still period, its long axis and gyro bias,
    or ``None`` without a still period. :func:`calibrate` uses it; so does the hip-flexor
    test (:mod:`imugait.analysis.flexor`), which needs nothing but the long axis."""
    still = find_still(gyr_dps, acc_mps2, fs_hz, p or AnalysisParams())
    if still is None:
        return None
    s0, s1 = still
    return StandingCalibration(start=int(s0), stop=int(s1),
                               long_axis=tuple(float(v) for v in _unit(acc_mps2[s0:s1].mean(axis=0))),
                               gyro_bias_dps=tuple(float(v) for v in gyr_dps[s0:s1].mean(axis=0)))


def _lowpass_ma(x: np.ndarray, n: int) -> np.ndarray:
    if n <= 1:
        return x
    k = np.hanning(n + 2)[1:-1]
    k /= k.sum()
    return np.convolve(x, k, mode="same")


def flexion_sign_votes(w: np.ndarray, acc_mps2: np.ndarray, fs_hz: float, tilt_vs_still_deg: float | None) -> dict:
    """Cues for the sign of rotation ``w`` (dps about a candidate axis) being flexion.
    Each vote in [-1, 1]: positive means ``w`` is already flexion-positive."""
    votes = {}
    n = w.shape[0]
    dt = 1.0 / fs_hz
    # angle proxy: integrate and remove drift with a 2 s moving average
    ang = np.cumsum(w) * dt
    nb = int(2.0 * fs_hz) | 1
    if n > 3 * nb:
        ang = ang - np.convolve(ang, np.ones(nb) / nb, mode="same")
        lo, hi = nb, n - nb
    else:
        ang = ang - ang.mean()
        lo, hi = 0, n
    # (a) mean tilt during gait relative to standing: gait is flexed on average (+5…+15°)
    if tilt_vs_still_deg is not None:
        votes["mean_flexion_vs_standing"] = float(np.clip(tilt_vs_still_deg / 5.0, -1, 1))
    # (b) foot strike happens with the thigh flexed: position of the angle at the largest
    # accelerometer transients (jerk peaks) within the local range
    jerk = np.linalg.norm(np.diff(acc_mps2, axis=0), axis=1) * fs_hz
    jerk = np.concatenate([[0.0], jerk])
    jerk_s = _lowpass_ma(jerk, max(1, int(0.03 * fs_hz)))
    seg = slice(lo, hi)
    if hi - lo > fs_hz * 3:
        js = jerk_s[seg]
        a_ = ang[seg]
        half = int(0.3 * fs_hz)
        # local maxima of jerk, at least 0.3 s apart, strongest 30 %
        from scipy.signal import find_peaks

        pk, _ = find_peaks(js, distance=max(1, half))
        if len(pk) >= 4:
            thr = np.quantile(js[pk], 0.6)
            pk = pk[js[pk] >= thr]
            win = int(0.6 * fs_hz)
            pos = []
            for k in pk:
                a0, a1 = max(0, k - win), min(len(a_), k + win)
                rng = a_[a0:a1].max() - a_[a0:a1].min()
                if rng > 1e-6:
                    pos.append((a_[k] - a_[a0:a1].min()) / rng)
            if pos:
                votes["impact_at_flexion"] = float(np.clip((np.median(pos) - 0.5) * 4, -1, 1))
    # (d) dwell: the thigh lingers near peak flexion (terminal swing + loading) and turns
    # quickly at peak extension, so the angle distribution is skewed towards flexion
    # (negative skewness; sim walk/run and all HuGaDB thighs: -0.07 ... -0.4)
    mv_ = (np.abs(w) > 20)[lo:hi]
    if mv_.sum() > 2 * fs_hz:
        a_ = ang[lo:hi][mv_] if mv_.mean() > 0.5 else ang[lo:hi]
        sd = a_.std()
        if sd > 1e-6:
            sk = float(np.mean(((a_ - a_.mean()) / sd) ** 3))
            votes["dwell_at_flexion"] = float(np.clip(-sk * 5, -1, 1))
    # (c) forward swing faster than the stance-phase return: share of time with w > 0 while
    # moving, and peak velocity asymmetry
    mv = np.abs(w) > 20
    if mv.sum() > fs_hz:
        frac_pos = float((w[mv] > 0).mean())  # flexion phase shorter -> < 0.5
        votes["swing_shorter"] = float(np.clip((0.5 - frac_pos) * 5, -1, 1))
        hi_q, lo_q = np.quantile(w[mv], [0.98, 0.02])
        votes["swing_faster"] = float(np.clip((hi_q + lo_q) / max(hi_q - lo_q, 1e-6) * 3, -1, 1))
    return votes


SIGN_WEIGHTS = {"mean_flexion_vs_standing": 2.0, "impact_at_flexion": 1.5, "dwell_at_flexion": 1.0, "swing_shorter": 0.25,
                "swing_faster": 0.25}


def calibrate(gyr_dps: np.ndarray, acc_mps2: np.ndarray, fs_hz: float, p: AnalysisParams,
              t0_s: float = 0.0) -> CalibrationState:
    """One-shot calibration on a window of samples (see module docstring)."""
    flags = []
    standing = standing_calibration(gyr_dps, acc_mps2, fs_hz, p)
    still = None if standing is None else (standing.start, standing.stop)
    if standing is not None:
        bias = np.asarray(standing.gyro_bias_dps)
        y = np.asarray(standing.long_axis)
    else:
        bias = np.zeros(3)
        y = None
    g = gyr_dps - bias
    gn = np.linalg.norm(g, axis=1)
    moving = gn > p.motion_gyr_dps
    if moving.sum() < max(2 * fs_hz, 10):
        return CalibrationState(still_found=still is not None, message="not enough movement to find the flexion axis",
                                failed=True, quality_flags=("no_movement",))
    if y is None:
        y = _unit(acc_mps2[moving].mean(axis=0))
        flags.append("no_still_period")
    # implausible data (gyro stored ×10, clipped)
    if np.quantile(gn[moving], 0.99) > p.implausible_gyr_dps:
        flags.append("gyro_implausible")
    gp = g[moving] - np.outer(g[moving] @ y, y)
    C = gp.T @ gp
    evals, evecs = np.linalg.eigh(C)
    z = _unit(evecs[:, -1] - (evecs[:, -1] @ y) * y)
    # in-plane eigenvalues: project C on the plane (two largest of the projected matrix)
    axis_conf = float(evals[-1] / max(evals[-1] + evals[-2], 1e-12))
    if axis_conf < p.min_axis_confidence:
        flags.append("axis_ambiguous")
    w = g @ z
    tilt = None
    if still is not None:
        # mean tilt during gait vs standing, about z (positive = rotation about +z)
        amean = _unit(acc_mps2[moving].mean(axis=0))
        x = np.cross(y, z)
        # gravity 'up' seen in thigh frame rotated by -theta about z: theta = atan2(up·x, up·y)
        tilt = float(np.arctan2(amean @ x, amean @ y) * DEG_PER_RAD)
    votes = flexion_sign_votes(w, acc_mps2, fs_hz, tilt)
    score = sum(SIGN_WEIGHTS[k] * v for k, v in votes.items())
    wsum = sum(SIGN_WEIGHTS[k] for k in votes) or 1.0
    if score < 0:
        z = -z
    sign_conf = float(abs(score) / wsum)
    x = np.cross(y, z)
    # gyro/acc scale consistency: gyro-integrated range vs accelerometer inclination range
    ratio = _gyro_acc_ratio(g, acc_mps2, y, z, fs_hz, moving)
    if ratio is not None and not (p.gyro_acc_ratio_range[0] <= ratio <= p.gyro_acc_ratio_range[1]):
        flags.append("gyro_acc_inconsistent")
    failed = any(f in flags for f in ("gyro_implausible", "gyro_acc_inconsistent"))
    msg = "calibrated"
    if still is None:
        msg = "calibrated without a still period: absolute angles uncalibrated, range valid"
    if failed:
        msg = "calibration failed: gyroscope data implausible (" + ", ".join(flags) + ")"
    elif "axis_ambiguous" in flags:
        msg += f"; flexion axis ambiguous (confidence {axis_conf:.2f})"
    return CalibrationState(
        still_found=still is not None, calibrated=True, angle_calibrated=still is not None and not failed,
        axis_confidence=axis_conf, sign_confidence=sign_conf, progress=1.0, message=msg, failed=failed,
        gyro_bias_dps=tuple(float(v) for v in bias), long_axis=tuple(float(v) for v in y),
        flexion_axis=tuple(float(v) for v in z), anterior_axis=tuple(float(v) for v in x),
        still_t_s=((t0_s + still[0] / fs_hz, t0_s + still[1] / fs_hz) if still else (float("nan"), float("nan"))),
        sign_votes={**votes, "gyro_acc_ratio": ratio}, quality_flags=tuple(flags),
    )


def _gyro_acc_ratio(g, acc, y, z, fs_hz, moving):
    """Ratio of the spread of the gyro-integrated flexion angle to the spread of the
    accelerometer inclination angle (both band-limited 0.3–2 Hz). ≈1 for sane data."""
    n = g.shape[0]
    if n < 6 * fs_hz:
        return None
    x = np.cross(y, z)
    a_lp = np.stack([_lowpass_ma(acc[:, i], int(0.25 * fs_hz) | 1) for i in range(3)], axis=1)
    incl = np.unwrap(np.arctan2(a_lp @ x, a_lp @ y)) * DEG_PER_RAD
    gyr_ang = np.cumsum(g @ z) / fs_hz
    gyr_ang = _lowpass_ma(gyr_ang, int(0.25 * fs_hz) | 1)
    nb = int(2.0 * fs_hz) | 1
    hp = lambda s: (s - np.convolve(s, np.ones(nb) / nb, mode="same"))[nb:-nb]  # noqa: E731
    a, b = hp(incl), hp(gyr_ang)
    sa = np.std(a)
    if sa < 1e-6:
        return None
    return float(np.std(b) / sa)
