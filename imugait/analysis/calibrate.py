"""Stage 2 — strap calibration: from an arbitrary strap orientation to the ISB thigh frame.

Steps (numbered as in ``docs/analysis.md``):

1. **Still period**: the first run of ≥ ``still_min_s`` of 0.5 s blocks with small gyro and
   accelerometer spread. Its mean gyro is the gyro bias; its mean accelerometer vector points
   up the thigh (knee → hip) and becomes the long axis ``y_T``
   (:func:`long_axis_from_standing`); that pose is the neutral angle. Without one, ``y_T``
   falls back to the mean accelerometer direction during movement and the absolute angles
   are flagged uncalibrated (``angle_calibrated=False``); the range stays valid.
2. **Flexion axis**: principal axis of the bias-corrected gyro during movement, after removing
   the component along ``y_T`` (PCA in the plane ⟂ long axis). Axis confidence = share of the
   in-plane variance on that axis.
3. **Sign of flexion** from physiology, never from an assumed mounting (a sensor turned 180°
   about the thigh axis looks exactly like walking backwards): flexion is the direction in
   which (a) the thigh sits on average during gait relative to standing (only with a still
   period), (b) the thigh is when the foot strikes — largest accelerometer transients come
   just after peak flexion, (d) the thigh dwells (negative skewness of the angle: a plateau
   around peak flexion, a quick turn at peak extension), (c) the forward swing is faster and
   shorter than the stance-phase return. The cues vote with weights (``SIGN_WEIGHTS``); votes
   and ``sign_confidence`` are reported.
4. ``z_T`` = signed flexion axis (to the subject's right on both legs — this is the mirror),
   ``x_T = y_T × z_T`` (anterior).

:class:`Calibrator` is the streaming stage: it holds the conditioned samples until a
calibration can be computed on a sample-determined prefix (first ``calib_min_motion_s`` s of
movement, doubled while the sign is unclear; at the end of the stream whatever was seen), so
the result does not depend on chunking; then the held samples flow on unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.signal import find_peaks

from imugait.analysis.condition import ConditionedChunk
from imugait.analysis.params import CalibrationSettings
from imugait.conventions import DEG_PER_RAD, GRAVITY_MPS2


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
    motion_s: float = 0.0  # seconds of movement the calibration was computed on

    def to_dict(self) -> dict:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = [float(x) if isinstance(x, (float, np.floating)) else x for x in v]
        return d


def find_still(gyr_dps: np.ndarray, acc_mps2: np.ndarray, fs_hz: float, s: CalibrationSettings):
    """First still run (start, stop) sample indices, or ``None``. Vectorised over blocks."""
    nb = max(1, int(round(s.still_block_s * fs_hz)))
    nblocks = gyr_dps.shape[0] // nb
    if nblocks == 0:
        return None
    g = gyr_dps[: nblocks * nb].reshape(nblocks, nb, 3)
    a = acc_mps2[: nblocks * nb].reshape(nblocks, nb, 3)
    still = (
        (g.std(axis=1).max(axis=1) < s.still_gyr_std_dps)
        & (np.linalg.norm(g.mean(axis=1), axis=1) < s.still_gyr_mean_dps)
        & (a.std(axis=1).max(axis=1) < s.still_acc_std_mps2)
        & (np.abs(np.linalg.norm(a.mean(axis=1), axis=1) - GRAVITY_MPS2) < 1.5)
    )
    need = int(np.ceil(s.still_min_s / s.still_block_s))
    run = 0
    for i, st in enumerate(still):
        run = run + 1 if st else 0
        if run >= need:
            # extend to the end of this still run (up to 5 s)
            j = i + 1
            while j < nblocks and still[j] and (j - (i - need + 1)) * nb < 5 * fs_hz:
                j += 1
            return (i - need + 1) * nb, j * nb
    return None


def long_axis_from_standing(acc_still_mps2: np.ndarray) -> np.ndarray:
    """The thigh's long axis ``y_T`` (knee → hip, unit vector in sensor coordinates) from the
    accelerometer during quiet standing: a still sensor measures the reaction to gravity,
    which points up, and the standing thigh is taken as vertical (the neutral pose, 0°).

    ``acc_still_mps2``: (n, 3) samples of one still period (e.g. the span returned by
    :func:`find_still`). Raises ``ValueError`` if the mean is not ≈ 1 g (not standing still).
    The hip-flexor test (``imugait.analysis.flexor``) and the calibration both use this."""
    a = np.asarray(acc_still_mps2, dtype=np.float64).reshape(-1, 3)
    if a.shape[0] == 0:
        raise ValueError("no samples: the long axis needs a period of standing still")
    m = a.mean(axis=0)
    n = float(np.linalg.norm(m))
    if not abs(n - GRAVITY_MPS2) < 1.5:
        raise ValueError(f"mean acceleration {n:.2f} m/s² is not ≈ 9.81: the sensor was not still (or the unit is not m/s²)")
    return m / n


def _unit(v):
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


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
    if hi - lo > fs_hz * 2:
        js = jerk_s[lo:hi]
        a_ = ang[lo:hi]
        pk, _ = find_peaks(js, distance=max(1, int(0.3 * fs_hz)))
        if len(pk) >= 4:
            pk = pk[js[pk] >= np.quantile(js[pk], 0.6)]
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
    mv_ = (np.abs(w) > 20)[lo:hi]
    if mv_.sum() > 1.5 * fs_hz:
        a_ = ang[lo:hi][mv_] if mv_.mean() > 0.5 else ang[lo:hi]
        sd = a_.std()
        if sd > 1e-6:
            sk = float(np.mean(((a_ - a_.mean()) / sd) ** 3))
            votes["dwell_at_flexion"] = float(np.clip(-sk * 5, -1, 1))
    # (c) forward swing shorter (and faster) than the stance-phase return
    mv = np.abs(w) > 20
    if mv.sum() > fs_hz:
        frac_pos = float((w[mv] > 0).mean())  # flexion phase shorter -> < 0.5
        votes["swing_shorter"] = float(np.clip((0.5 - frac_pos) * 5, -1, 1))
        hi_q, lo_q = np.quantile(w[mv], [0.98, 0.02])
        votes["swing_faster"] = float(np.clip((hi_q + lo_q) / max(hi_q - lo_q, 1e-6) * 3, -1, 1))
    return votes


SIGN_WEIGHTS = {"mean_flexion_vs_standing": 3.0, "impact_at_flexion": 1.5, "dwell_at_flexion": 1.0, "swing_shorter": 0.25,
                "swing_faster": 0.25}
"""Cue weights. (a) outweighs (b)+(d) together: on 4–8 s windows of real running with a
standing period it agreed with the true sign in 168/168 legs, (b) in 166/168 and (d) in only
140/168 (docs/analysis.md); with 2.0 one such window came out wrong."""


def in_plane_cov(g_moving_dps: np.ndarray, y: np.ndarray) -> np.ndarray:
    """3×3 scatter of bias-corrected gyro samples with their component along the long axis
    ``y`` removed (the PCA input of step 2). Additive: sums over chunks equal the whole."""
    gp = g_moving_dps - np.outer(g_moving_dps @ y, y)
    return gp.T @ gp


def flexion_axis_from_cov(cov: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Step 2: the principal in-plane axis of :func:`in_plane_cov` (sign arbitrary) and the
    axis confidence (share of the in-plane variance on it)."""
    evals, evecs = np.linalg.eigh(cov)
    z = _unit(evecs[:, -1] - (evecs[:, -1] @ y) * y)
    return z, float(evals[-1] / max(evals[-1] + evals[-2], 1e-12))


def calibrate(gyr_dps: np.ndarray, acc_mps2: np.ndarray, fs_hz: float, s: CalibrationSettings,
              t0_s: float = 0.0) -> CalibrationState:
    """One-shot calibration on a window of samples (see module docstring)."""
    flags = []
    still = find_still(gyr_dps, acc_mps2, fs_hz, s)
    if still is not None:
        s0, s1 = still
        bias = gyr_dps[s0:s1].mean(axis=0)
        y = long_axis_from_standing(acc_mps2[s0:s1])
    else:
        bias = np.zeros(3)
        y = None
    g = gyr_dps - bias
    gn = np.linalg.norm(g, axis=1)
    moving = gn > s.motion_gyr_dps
    if moving.sum() < max(2 * fs_hz, 10):
        return CalibrationState(still_found=still is not None, message="not enough movement to find the flexion axis",
                                failed=True, quality_flags=("no_movement",))
    if y is None:
        y = _unit(acc_mps2[moving].mean(axis=0))
        flags.append("no_still_period")
    if np.quantile(gn[moving], 0.99) > s.implausible_gyr_dps:
        flags.append("gyro_implausible")  # e.g. stored ×10 and clipped
    # the axis from plausible samples only: a few absurd values (a corrupted file, 1e300)
    # would otherwise overflow the scatter matrix; the flag above already names them
    pca = moving & (gn <= s.implausible_gyr_dps)
    if pca.sum() < 10:
        return CalibrationState(still_found=still is not None, failed=True, quality_flags=("gyro_implausible",),
                                message="gyroscope values are implausible (above "
                                        f"{s.implausible_gyr_dps:g} deg/s while moving): check the gyro unit and range")
    z, axis_conf = flexion_axis_from_cov(in_plane_cov(g[pca], y), y)
    if axis_conf < s.min_axis_confidence:
        flags.append("axis_ambiguous")
    w = g @ z
    tilt = None
    if still is not None:
        # mean tilt during gait vs standing, about z (positive = rotation about +z)
        amean = _unit(acc_mps2[moving].mean(axis=0))
        tilt = float(np.arctan2(amean @ np.cross(y, z), amean @ y) * DEG_PER_RAD)
    votes = flexion_sign_votes(w, acc_mps2, fs_hz, tilt)
    score = sum(SIGN_WEIGHTS[k] * v for k, v in votes.items())
    wsum = sum(SIGN_WEIGHTS[k] for k in votes) or 1.0
    if score < 0:
        z = -z
    sign_conf = float(abs(score) / wsum)
    x = np.cross(y, z)
    ratio = _gyro_acc_ratio(g, acc_mps2, y, z, fs_hz)
    if ratio is not None and not (s.gyro_acc_ratio_range[0] <= ratio <= s.gyro_acc_ratio_range[1]):
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
        motion_s=float(moving.sum() / fs_hz),
    )


def _gyro_acc_ratio(g, acc, y, z, fs_hz):
    """Ratio of the spread of the gyro-integrated flexion angle to the spread of the
    accelerometer inclination angle (both band-limited 0.3–2 Hz). ≈1 for sane data."""
    n = g.shape[0]
    if n < 6 * fs_hz:
        return None
    x = np.cross(y, z)
    a_lp = np.stack([_lowpass_ma(acc[:, i], int(0.25 * fs_hz) | 1) for i in range(3)], axis=1)
    incl = np.unwrap(np.arctan2(a_lp @ x, a_lp @ y)) * DEG_PER_RAD
    gyr_ang = _lowpass_ma(np.cumsum(g @ z) / fs_hz, int(0.25 * fs_hz) | 1)
    nb = int(2.0 * fs_hz) | 1
    hp = lambda v: (v - np.convolve(v, np.ones(nb) / nb, mode="same"))[nb:-nb]  # noqa: E731
    a, b = hp(incl), hp(gyr_ang)
    sa = np.std(a)
    if sa < 1e-6:
        return None
    return float(np.std(b) / sa)


# --------------------------------------------------------------------------------------
# Streaming stage
# --------------------------------------------------------------------------------------
@dataclass
class CalibratorState:
    """Samples held until the calibration can be computed, and the result."""

    fs_hz: float
    result: CalibrationState = field(default_factory=CalibrationState)
    held: list = field(default_factory=list)  # [(ConditionedChunk, n_moving)]
    held_samples: int = 0
    held_moving: int = 0
    level: int = 0  # window = calib_min_motion_s * 2**level seconds of movement


def calibrator_step(chunk: ConditionedChunk, state: CalibratorState, s: CalibrationSettings,
                    final: bool = False) -> tuple[ConditionedChunk, CalibratorState]:
    """Hold samples until calibrated, then release them (and pass later chunks through).
    Returns the samples that may flow on to the angle stage and the updated state."""
    if state.result.calibrated:
        return chunk, state
    fs = state.fs_hz
    if len(chunk):
        n_mov = int((np.linalg.norm(chunk.gyr_dps, axis=1) > s.motion_gyr_dps).sum())
        state.held.append((chunk, n_mov))
        state.held_samples += len(chunk)
        state.held_moving += n_mov
        # live safety valve: never hold more than hold_max_s (only an idle sensor that never
        # walks reaches it; the one place where live can differ from batch)
        while state.held_samples > s.hold_max_s * fs and len(state.held) > 1:
            old, m = state.held.pop(0)
            state.held_samples -= len(old)
            state.held_moving -= m
    if not state.held:
        return ConditionedChunk(), state
    merged = None
    while True:
        motion_s = s.calib_min_motion_s * 2 ** state.level
        last_level = motion_s >= s.calib_max_motion_s
        need = int(motion_s * fs)
        if state.held_moving < need and not final:
            state.result = CalibrationState(
                progress=float(min(state.held_moving / need, 0.99)),
                message=f"collecting movement for calibration ({state.held_moving / fs:.1f} of {motion_s:.0f} s)")
            return ConditionedChunk(), state
        if merged is None:
            merged = ConditionedChunk.concat([c for c, _ in state.held])
            state.held = [(merged, state.held_moving)]
            moving_cum = np.cumsum(np.linalg.norm(merged.gyr_dps, axis=1) > s.motion_gyr_dps)
        k = int(np.searchsorted(moving_cum, need)) if moving_cum[-1] >= need else None
        stop = (k + 1) if k is not None else len(merged)
        cal = calibrate(merged.gyr_dps[:stop], merged.acc_mps2[:stop], fs, s, t0_s=float(merged.t_s[0]))
        if k is None or last_level or cal.failed or not cal.calibrated or cal.sign_confidence >= s.min_sign_confidence:
            break
        state.level += 1
    state.result = cal
    if not cal.calibrated:
        return ConditionedChunk(), state  # final and nothing usable: no strides
    state.held, state.held_samples, state.held_moving = [], 0, 0
    return merged, state
