"""Strap calibration on hand-made sensor signals with a known strap rotation."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from imugait.analysis.calibrate import CalibratorState, calibrate, calibrator_step, find_still, long_axis_from_standing
from imugait.analysis.condition import ConditionedChunk
from imugait.analysis.params import AnalysisParams, CalibrationSettings
from imugait.conventions import GRAVITY_MPS2
from imugait.sim.gait import WALK_TEMPLATE

FS = 100.0
S = CalibrationSettings.from_params(AnalysisParams())


def thigh_signals(R_ts: np.ndarray, angle_deg: np.ndarray):
    """Accelerometer and gyroscope of a sensor strapped with rotation ``R_ts`` (columns =
    sensor axes in the thigh frame: x anterior, y up the thigh, z right) on a thigh that only
    flexes about z_T by ``angle_deg`` (no translation: the accelerometer sees gravity alone)."""
    th = np.radians(angle_deg)
    rate = np.gradient(th) * FS
    up_T = np.stack([np.sin(th), np.cos(th), np.zeros_like(th)], axis=1)  # world vertical in the thigh frame
    acc = GRAVITY_MPS2 * up_T @ R_ts  # sensor frame: R_ts^T · v
    gyr = np.degrees(np.stack([np.zeros_like(th), np.zeros_like(th), rate], axis=1)) @ R_ts
    return acc, gyr


def gait_angle(n: int, stride_s: float = 1.1) -> np.ndarray:
    """2 s standing at 0°, then the measured walking thigh angle of the simulator's template
    (Fukuchi 2018, flexed on average by ≈ 4.5°)."""
    t = np.arange(n) / FS
    u = (t / stride_s) % 1.0
    a = WALK_TEMPLATE.eval(u)
    a[t < 2.0] = 0.0
    ramp = np.clip((t - 2.0) / 0.5, 0, 1)
    return ramp * a


def test_long_axis_from_standing():
    R = Rotation.from_euler("xyz", [30, -50, 10], degrees=True).as_matrix()
    y_s = R.T @ np.array([0.0, 1.0, 0.0])  # the thigh's long axis in sensor coordinates
    acc = np.tile(GRAVITY_MPS2 * y_s, (200, 1)) + np.random.default_rng(0).normal(0, 0.02, (200, 3))
    assert np.allclose(long_axis_from_standing(acc), y_s, atol=0.005)
    with pytest.raises(ValueError, match="not still"):
        long_axis_from_standing(acc * 0.5)
    with pytest.raises(ValueError):
        long_axis_from_standing(np.empty((0, 3)))


def test_find_still_then_motion():
    R = np.eye(3)
    acc, gyr = thigh_signals(R, gait_angle(1200))
    span = find_still(gyr, acc, FS, S)
    assert span is not None and span[0] == 0 and span[1] >= 100 and span[1] <= 250  # 2 s standing (blocks of 0.5 s)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_axes_and_sign_for_any_strap(seed):
    R = Rotation.random(random_state=seed).as_matrix()  # sensor axes in the thigh frame
    acc, gyr = thigh_signals(R, gait_angle(1500))
    cal = calibrate(gyr, acc, FS, S)
    assert cal.calibrated and cal.still_found and cal.angle_calibrated and not cal.failed
    # y_T and z_T (signed: flexion +) in sensor coordinates are the thigh's y and z axes
    assert np.allclose(cal.long_axis, R.T @ [0, 1, 0], atol=1e-3)
    assert np.allclose(cal.flexion_axis, R.T @ [0, 0, 1], atol=1e-3)
    assert np.allclose(cal.anterior_axis, R.T @ [1, 0, 0], atol=1e-3)
    assert cal.axis_confidence > 0.99
    assert cal.sign_confidence > 0.3
    # the standing reference and the dwell cue agree with the sign chosen (votes are relative
    # to the candidate axis); the impact cue has nothing to go on without impacts
    v = cal.sign_votes
    assert np.sign(v["mean_flexion_vs_standing"]) == np.sign(v["dwell_at_flexion"])


def test_mirror_on_the_other_leg_is_handled_by_the_sign():
    """The same device turned 180° about the long axis (the mirrored mount of a left leg):
    the flexion axis found is still the thigh's +z."""
    R = np.diag([-1.0, 1.0, -1.0])  # rotation by 180° about y
    acc, gyr = thigh_signals(R, gait_angle(1500))
    cal = calibrate(gyr, acc, FS, S)
    assert np.allclose(cal.flexion_axis, R.T @ [0, 0, 1], atol=1e-3)


def test_no_movement_is_a_failure_with_a_message():
    acc = np.tile([0.0, GRAVITY_MPS2, 0.0], (600, 1))
    cal = calibrate(np.zeros((600, 3)), acc, FS, S)
    assert cal.failed and not cal.calibrated and "not enough movement" in cal.message


def test_calibrator_waits_for_movement_then_releases_everything_unchanged():
    R = Rotation.random(random_state=7).as_matrix()
    acc, gyr = thigh_signals(R, gait_angle(1500))
    t = np.arange(1500) / FS
    st = CalibratorState(FS)
    released = []
    for a in range(0, 1500, 137):  # any chunking
        ch = ConditionedChunk(t[a:a + 137], acc[a:a + 137], gyr[a:a + 137], np.zeros(len(t[a:a + 137]), bool))
        out, st = calibrator_step(ch, st, S)
        released.append(out)
        if not st.result.calibrated:
            assert len(out) == 0 and 0.0 <= st.result.progress < 1.0
    assert st.result.calibrated
    rel = ConditionedChunk.concat(released)
    assert np.array_equal(rel.t_s, t)  # nothing lost, nothing reordered
    # the window is the first calib_min_motion_s of movement (4 s): the same result in one chunk
    one, st1 = calibrator_step(ConditionedChunk(t, acc, gyr, np.zeros(1500, bool)), CalibratorState(FS), S)
    assert st1.result.flexion_axis == st.result.flexion_axis and st1.result.motion_s == st.result.motion_s


def test_short_recording_without_standing_calibrates_at_the_end():
    """4 s of gait and no standing: not enough for the 4 s window before the end (the ramp-in),
    so the calibration happens at flush on what there is."""
    R = Rotation.random(random_state=3).as_matrix()
    ang = gait_angle(400 + 200)[200:]  # starts at 2 s: no standing
    acc, gyr = thigh_signals(R, ang)
    t = np.arange(len(ang)) / FS
    st = CalibratorState(FS)
    out, st = calibrator_step(ConditionedChunk(t, acc, gyr, np.zeros(len(t), bool)), st, S)
    assert not st.result.calibrated and len(out) == 0
    out, st = calibrator_step(ConditionedChunk(), st, S, final=True)
    assert st.result.calibrated and not st.result.still_found and len(out) == len(t)
    assert np.allclose(st.result.flexion_axis, R.T @ [0, 0, 1], atol=1e-2)


def test_absurd_gyro_values_fail_the_calibration_with_a_sentence_instead_of_crashing():
    """A few finite but absurd gyro values (a corrupted file: 1e300 deg/s) overflowed the
    flexion-axis scatter matrix (LinAlgError). They are left out of the axis; the leg is
    flagged and gives no valid stride."""
    import warnings

    from imugait.analysis import GaitPipeline
    from imugait.sim.gait import SimConfig, simulate

    rec = simulate(SimConfig(gait="run", duration_s=20.0, fs_hz=200.0, seed=3))
    s = rec.sides["left"]
    g = s.gyr_dps.copy()
    g[100:110] = 1e300
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = GaitPipeline(200.0, "left")
        out = p.push(s.t_dev_s, s.acc_mps2, g)
        out.extend(p.flush())
    assert not any(st.valid for st in out.strides)
    assert p.calibration.quality_flags and not p.calibration.angle_calibrated
