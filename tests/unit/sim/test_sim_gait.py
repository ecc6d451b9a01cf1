"""Gait simulator: typical published values, physics sanity, reproducibility, asymmetry."""

import json

import numpy as np
import pytest

from imugait.conventions import GRAVITY_MPS2
from imugait.sim.gait import SimConfig, simulate


@pytest.fixture(scope="module")
def walk():
    return simulate(SimConfig(gait="walk", duration_s=60, seed=11))


@pytest.fixture(scope="module")
def run():
    return simulate(SimConfig(gait="run", duration_s=60, seed=12))


def _steady(s):
    return s.strides[s.strides["steady"]]


# Typical values from /work/shared/notes/gait.md ("Typical values"):
# walking stance ~60 %, cadence ~100-120 steps/min, thigh range ~40-45 deg;
# running stance ~35-40 % (jogging), cadence ~150-190 steps/min, thigh range ~45-65 deg.
# Measured anchors of the templates (docs/simulator.md): walking thigh peaks +24.6 / -15.7 deg
# (Fukuchi 2018, WBDS01 T05); running duty factor 32-39 % at 2.5-3.5 m/s (Fukuchi 2017).
def test_walking_matches_typical_values(walk):
    for side, s in walk.sides.items():
        st = _steady(s)
        assert len(st) >= 35, side
        assert 100 <= st["cadence_spm"].median() <= 120
        assert 57 <= 100 - st["swing_pct"].median() <= 63
        assert 40 <= st["rom_deg"].median() <= 45
        assert 22 <= st["flex_peak_deg"].median() <= 30
        assert -20 <= st["ext_peak_deg"].median() <= -12
        cv = st["stride_s"].std() / st["stride_s"].mean() * 100
        assert 1.5 <= cv <= 3.5


def test_running_matches_typical_values(run):
    for side, s in run.sides.items():
        st = _steady(s)
        assert len(st) >= 55, side
        assert 150 <= st["cadence_spm"].median() <= 190
        assert 32 <= 100 - st["swing_pct"].median() <= 40
        assert 45 <= st["rom_deg"].median() <= 65
        assert 0.16 <= st["stance_s"].median() <= 0.30  # contact time 160-300 ms


def test_running_rom_rises_with_speed():
    roms = []
    for v in (2.5, 3.5, 4.5):
        rec = simulate(SimConfig(gait="run", duration_s=25, seed=3, speed_mps=v, sides=("right",)))
        roms.append(_steady(rec.sides["right"])["rom_deg"].median())
    assert roms[0] < roms[1] < roms[2]
    assert 45 <= roms[0] and roms[2] <= 80  # Fukuchi 2017: 46-51 deg at 2.5 m/s, 78 at 4.5 m/s


def test_event_timing_relative_to_peaks(walk, run):
    """The measured relations the templates carry (docs/simulator.md), each leg with its own
    timing offsets (SD 1.5 % of the stride): walking IC 11-13 % of the stride after peak thigh
    flexion and TO 8-10 % after peak extension (Fukuchi 2018); running IC 18-24 % after peak
    flexion and TO 18-49 ms *before* peak extension (Fukuchi 2017, force plate)."""
    for rec, lo, hi in ((walk, 0.10, 0.13), (run, 0.18, 0.24)):
        for s in rec.sides.values():
            st = _steady(s)
            ic_after_flex = ((st["next_ic_s"] - st["flex_peak_s"]) / st["stride_s"]).median()
            assert lo - 0.035 <= ic_after_flex <= hi + 0.035
    for rec, lo_ms, hi_ms in ((walk, 50, 150), (run, -80, -10)):
        for s in rec.sides.values():
            st = _steady(s)
            to_after_ext_ms = ((st["to_s"] - st["ext_peak_s"]) * 1000).median()
            assert lo_ms <= to_after_ext_ms <= hi_ms


def test_standing_still_reads_gravity_and_bias():
    rec = simulate(SimConfig(gait="walk", duration_s=12, seed=5, stand_before_s=5))
    for s in rec.sides.values():
        still = s.t_true_s < 4.0
        acc_norm = np.linalg.norm(s.acc_mps2[still], axis=1).mean()
        assert acc_norm == pytest.approx(GRAVITY_MPS2, rel=0.03)
        bias = s.sensor_params["gyr_bias_dps"]
        assert np.allclose(s.gyr_dps[still].mean(axis=0), bias, atol=0.1)
        # ideal specific force along the thigh's long axis (thigh frame y) is ~ +g
        f_T = s.acc_true_mps2[still] @ s.R_thigh_sensor.T
        assert f_T[:, 1].mean() == pytest.approx(GRAVITY_MPS2, rel=0.01)
        assert np.allclose(s.gyr_true_dps[still], 0.0, atol=1e-6)


def test_integrated_sagittal_rate_matches_truth_angle(walk):
    s = walk.sides["right"]
    t = s.t_true_s
    ang = s.thigh_angle_deg[0] + np.concatenate(
        [[0.0], np.cumsum(0.5 * (s.thigh_rate_dps[1:] + s.thigh_rate_dps[:-1]) * np.diff(t))])
    assert np.abs(ang - s.thigh_angle_deg).max() < 0.05
    # the ideal gyro about the thigh's flexion axis (z_T) is that rate up to the small
    # ab/adduction and axial-rotation coupling
    w_T = s.gyr_true_dps @ s.R_thigh_sensor.T
    assert np.sqrt(np.mean((w_T[:, 2] - s.thigh_rate_dps) ** 2)) < 3.0
    ang_g = s.thigh_angle_deg[0] + np.concatenate([[0.0], np.cumsum(0.5 * (w_T[1:, 2] + w_T[:-1, 2]) * np.diff(t))])
    # ab/adduction x axial rotation coupling makes the 1-D integral drift slowly (physics:
    # the flexion axis moves); over any one stride it stays within 1 degree
    err = ang_g - s.thigh_angle_deg
    L = int(1.1 * s.info.sample_rate_hz)
    assert np.abs(err[L:] - err[:-L]).max() < 1.0


def test_clipping_at_range():
    rec = simulate(SimConfig(gait="run", duration_s=15, seed=2, acc_range_g=2, gyr_range_dps=125, sides=("left",)))
    s = rec.sides["left"]
    assert s.acc_counts.max() == 32767 or s.acc_counts.min() == -32768
    assert s.gyr_counts.max() == 32767 or s.gyr_counts.min() == -32768
    assert np.abs(s.acc_mps2).max() <= 2 * GRAVITY_MPS2 * (1 + 1e-9)
    assert np.abs(s.gyr_dps).max() <= 125 * (1 + 1e-9)
    assert np.abs(s.acc_true_mps2).max() > 2 * GRAVITY_MPS2


def test_same_seed_same_arrays_and_different_seeds_differ():
    a = simulate(SimConfig(gait="run", duration_s=15, seed=7, strap="random"))
    b = simulate(SimConfig(gait="run", duration_s=15, seed=7, strap="random"))
    c = simulate(SimConfig(gait="run", duration_s=15, seed=8, strap="random"))
    for side in ("left", "right"):
        for name in ("acc_counts", "gyr_counts", "t_dev_s", "thigh_angle_deg"):
            assert np.array_equal(getattr(a.sides[side], name), getattr(b.sides[side], name))
        assert not np.array_equal(a.sides[side].acc_counts[:1000], c.sides[side].acc_counts[:1000])
    assert json.dumps(a.truth_dict()) == json.dumps(b.truth_dict())


def test_asymmetry_parameters_move_left_vs_right():
    base = simulate(SimConfig(gait="run", duration_s=40, seed=4))
    asym = simulate(SimConfig(gait="run", duration_s=40, seed=4, asym_rom_deg=5.0, asym_swing_pct=4.0))

    def diff(rec, col):
        return _steady(rec.sides["left"])[col].median() - _steady(rec.sides["right"])[col].median()

    assert diff(asym, "rom_deg") - diff(base, "rom_deg") == pytest.approx(5.0, abs=0.6)
    assert diff(asym, "swing_pct") - diff(base, "swing_pct") == pytest.approx(4.0, abs=0.6)
    scaled = simulate(SimConfig(gait="run", duration_s=40, seed=4, rom_scale_left=0.9))
    ratio = (_steady(scaled.sides["left"])["rom_deg"].median() / _steady(base.sides["left"])["rom_deg"].median())
    assert ratio == pytest.approx(0.9, abs=0.01)
    assert _steady(scaled.sides["right"])["rom_deg"].median() == _steady(base.sides["right"])["rom_deg"].median()


def test_truth_dict_is_json_and_api_shapes(run):
    d = json.loads(json.dumps(run.truth_dict(), allow_nan=False))
    assert d["config"]["gait"] == "run"
    s = run.sides["left"]
    n = s.n
    assert s.acc_counts.dtype == np.int16 and s.acc_counts.shape == (n, 3)
    assert s.gyr_counts.dtype == np.int16 and s.gyr_counts.shape == (n, 3)
    assert s.sample_index.dtype == np.int64 and s.sample_index[0] == 0
    assert np.allclose(s.acc_mps2, s.acc_counts * s.info.acc_scale_mps2)
    assert s.info.kind == "simulated" and s.info.sample_rate_hz == 200.0
    assert np.all(np.diff(s.t_dev_s) > 0)
    for col in ("ic_s", "to_s", "next_ic_s", "flex_peak_deg", "ext_peak_deg", "rom_deg", "swing_pct", "stance_s",
                "swing_s", "stride_s", "bout_index", "gait", "flex_peak_s", "ext_peak_s"):
        assert col in s.strides.columns
    assert len(d["sides"]["left"]["strides"]) == len(s.strides)


def _rotmat(q):
    w, x, y, z = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], -2)


def test_specific_force_equals_independent_second_derivative_of_position():
    """Integrate the ground-track velocity, add the hip and lever-arm positions, take a
    numerical second derivative (np.gradient) and compare with the simulator's
    specific force (computed with a different stencil)."""
    from imugait.sim import gait as G

    cfg = SimConfig(gait="run", duration_s=20, seed=9, turns=((10, 90, 2),), impacts=False, sensor_errors=False)
    body = G._Body(cfg, np.random.default_rng(cfg.seed))
    leg = G._Leg("right", body, np.random.default_rng([cfg.seed, 2]))
    h = 1e-3
    t = np.arange(0.0, 20.0, h)
    r_T = np.array([0.0, -0.22, 0.07])
    k = G._kin(leg, t, r_T)
    P = np.concatenate([[np.zeros(3)], np.cumsum(0.5 * (k["V"][1:] + k["V"][:-1]), axis=0) * h])
    a_w = np.gradient(np.gradient(P + k["q"], h, axis=0), h, axis=0)
    f_T_ref = np.einsum("nji,nj->ni", k["R"], a_w + [0.0, GRAVITY_MPS2, 0.0])
    f_S, w_S, _k0, _ = G._ideal_imu(leg, t, r_T, np.eye(3))
    err = np.abs(f_T_ref - f_S)[50:-50]
    assert np.sqrt(np.mean(err ** 2)) < 0.01 and np.percentile(err, 99.9) < 0.1
    # angular velocity from the orientation: w = vee(R^T dR/dt)
    W = np.einsum("nji,njk->nik", k["R"], np.gradient(k["R"], h, axis=0))
    w_ref = np.stack([W[:, 2, 1], W[:, 0, 2], W[:, 1, 0]], -1)
    assert np.degrees(np.abs(w_ref - w_S)[50:-50]).max() < 0.1


def _integrate_gyro(R0, w_dps, t):
    """Strapdown: R_{k+1} = R_k exp([w dt]x) with the mean rate of each interval."""
    from scipy.spatial.transform import Rotation

    w = np.radians(0.5 * (w_dps[1:] + w_dps[:-1])) * np.diff(t)[:, None]
    steps = Rotation.from_rotvec(w)
    R = Rotation.from_matrix(R0)
    for k in range(len(w)):
        R = R * steps[k]
    return R.as_matrix()


def test_turns_gyro_and_orientation_truth_agree():
    rec = simulate(SimConfig(gait="walk", duration_s=30, seed=6, turns=((12, 90, 3), (20, -45, 2)),
                             sensor_errors=False))
    s = rec.sides["left"]
    R_WS = _rotmat(s.q_world_sensor)
    # compare at initial contacts (same gait phase), so the thigh's own motion cancels
    ic = s.strides["ic_s"].to_numpy()
    t11, t17, t26 = (ic[np.argmin(np.abs(ic - x))] for x in (11.0, 16.0, 26.0))
    i11, i17, i26 = np.searchsorted(s.t_true_s, [t11, t17, t26])

    def heading(i):  # thigh's anterior axis projected on the ground, + = left
        x_T = R_WS[i] @ s.R_thigh_sensor.T @ np.array([1.0, 0.0, 0.0])
        return np.degrees(np.arctan2(-x_T[2], x_T[0]))

    assert heading(i17) - heading(i11) == pytest.approx(90.0, abs=1.0)
    assert heading(i26) - heading(i11) == pytest.approx(45.0, abs=1.0)
    assert s.heading_deg[-1] == pytest.approx(45.0)
    assert s.strides["turning"].any()
    # strapdown integration of the ideal gyro reproduces the orientation truth through the turn
    R_end = _integrate_gyro(R_WS[i11], s.gyr_true_dps[i11:i17 + 1], s.t_true_s[i11:i17 + 1])
    dR = R_end.T @ R_WS[i17]
    assert np.degrees(np.arccos(np.clip((np.trace(dR) - 1) / 2, -1, 1))) < 0.5
    # the orientation truth agrees with the accelerometer at rest: f_S = R_WS^T [0, g, 0]
    still = s.t_true_s < 4
    g_S = np.einsum("nji,j->ni", R_WS[still], np.array([0.0, GRAVITY_MPS2, 0.0]))
    assert np.allclose(g_S, s.acc_true_mps2[still], atol=1e-3)


def test_stops_and_mixed_gait():
    rec = simulate(SimConfig(gait="mixed", duration_s=75, seed=10, stops=((60, 5),)))
    for s in rec.sides.values():
        st = s.strides
        assert not ((st["ic_s"] > 59.5) & (st["ic_s"] < 65.5)).any()  # nobody walks during the stop
        in_stop = (s.t_true_s > 61.5) & (s.t_true_s < 63.5)
        assert np.ptp(s.thigh_angle_deg[in_stop]) < 1e-6
        steady = st[st["steady"]]
        walk, run = steady[steady["gait"] == "walk"], steady[steady["gait"] == "run"]
        assert len(walk) >= 15 and len(run) >= 15
        assert 100 <= walk["cadence_spm"].median() <= 120 and 150 <= run["cadence_spm"].median() <= 190
        assert run["rom_deg"].median() > walk["rom_deg"].median()
        assert set(st["bout_index"]) == {0, 1}
    assert rec.bouts == [(5.0, 60.0), (65.0, 72.0)]


def test_speed_change_raises_cadence_and_range():
    rec = simulate(SimConfig(gait="run", duration_s=60, seed=13, speed_mps=2.5,
                             speed_changes=((30, 4.0),), sides=("right",)))
    st = rec.sides["right"].strides
    st = st[st["steady"]]
    slow, fast = st[st["ic_s"] < 28], st[st["ic_s"] > 33]
    assert fast["cadence_spm"].median() > slow["cadence_spm"].median() + 8
    assert fast["rom_deg"].median() > slow["rom_deg"].median() + 8


def test_strap_orientation_random_and_explicit():
    a = simulate(SimConfig(gait="walk", duration_s=10, seed=1, strap="random", sensor_errors=False))
    R = a.sides["left"].R_thigh_sensor
    assert np.allclose(R @ R.T, np.eye(3)) and np.linalg.det(R) == pytest.approx(1.0)
    assert not np.allclose(R, a.sides["right"].R_thigh_sensor)
    b = simulate(SimConfig(gait="walk", duration_s=10, seed=1, strap_R_left=np.eye(3).tolist(), sensor_errors=False))
    s = b.sides["left"]
    assert np.allclose(s.R_thigh_sensor, np.eye(3))
    # identity mount: sensor axes are thigh axes; at rest gravity along +y
    assert s.acc_true_mps2[:100, 1].mean() == pytest.approx(GRAVITY_MPS2, rel=0.01)
    # both legs' flexion reads positive about thigh z_T whatever the mount
    for side, ss in a.sides.items():
        w_T = ss.gyr_true_dps @ ss.R_thigh_sensor.T
        assert np.corrcoef(w_T[:, 2], ss.thigh_rate_dps)[0, 1] > 0.99, side


def test_sensor_seed_keeps_the_same_physical_sensor_errors():
    a = simulate(SimConfig(gait="run", duration_s=10, seed=1, sensor_seed=42))
    b = simulate(SimConfig(gait="run", duration_s=10, seed=2, sensor_seed=42, rom_scale=0.9))
    c = simulate(SimConfig(gait="run", duration_s=10, seed=1))
    for side in ("left", "right"):
        pa, pb, pc = (r.sides[side].sensor_params for r in (a, b, c))
        for k in ("acc_bias_mps2", "gyr_bias_dps", "acc_scale_factor", "gyr_misalignment"):
            assert np.array_equal(pa[k], pb[k])
            assert not np.array_equal(pa[k], pc[k])
        assert not np.array_equal(a.sides[side].acc_counts[:500], b.sides[side].acc_counts[:500])


def test_sensor_error_model_is_as_documented():
    """y = diag(scale)·M·x + b + drift + noise (docs/simulator.md), then int16 counts."""
    rec = simulate(SimConfig(gait="walk", duration_s=10, seed=3, acc_noise_density_mps2_rthz=0.0,
                             gyr_noise_density_dps_rthz=0.0, acc_bias_rw_mps2_rts=0.0, gyr_bias_rw_dps_rts=0.0))
    for s in rec.sides.values():
        p = s.sensor_params
        for meas, true, sc, M, b, lsb in (
                (s.acc_mps2, s.acc_true_mps2, p["acc_scale_factor"], p["acc_misalignment"], p["acc_bias_mps2"],
                 s.info.acc_scale_mps2),
                (s.gyr_dps, s.gyr_true_dps, p["gyr_scale_factor"], p["gyr_misalignment"], p["gyr_bias_dps"],
                 s.info.gyr_scale_dps)):
            pred = true @ (np.diag(sc) @ M).T + b
            assert np.abs(meas - pred).max() <= 0.5 * lsb + 1e-9
        assert np.all(np.abs(p["acc_scale_factor"] - 1) < 0.05)


def test_one_side_equals_that_side_of_both():
    both = simulate(SimConfig(gait="walk", duration_s=10, seed=21))
    one = simulate(SimConfig(gait="walk", duration_s=10, seed=21, sides=("right",)))
    assert list(one.sides) == ["right"]
    assert np.array_equal(one.sides["right"].acc_counts, both.sides["right"].acc_counts)
    assert one.sides["right"].strides.equals(both.sides["right"].strides)


def test_config_round_trips_through_truth_json():
    cfg = SimConfig(gait="mixed", duration_s=30, seed=4, stops=((12, 3),), turns=((8, 45, 2),),
                    strap_R_right=np.eye(3).tolist(), sides="right")
    rec = simulate(cfg)
    d = json.loads(json.dumps(rec.truth_dict()))
    assert SimConfig.from_dict(d["config"]) == cfg
    with pytest.raises(ValueError):
        SimConfig(gait="crawl")
    with pytest.raises(ValueError):
        SimConfig(strap_R_left=[[1, 0, 0], [0, 1, 0], [0, 0, -1]])  # a reflection, not a rotation


@pytest.mark.parametrize("kw", [dict(gait="walk", cadence_spm=100, rom_deg=38, stance_pct=62),
                                dict(gait="run", cadence_spm=180, rom_deg=60, stance_pct=34)])
def test_explicit_cadence_range_and_stance_are_honoured(kw):
    rec = simulate(SimConfig(duration_s=40, seed=1, **kw))
    st = rec.strides[rec.strides["steady"]]
    assert st["cadence_spm"].median() == pytest.approx(kw["cadence_spm"], rel=0.02)
    assert st["rom_deg"].median() == pytest.approx(kw["rom_deg"], abs=1.0)
    assert 100 - st["swing_pct"].median() == pytest.approx(kw["stance_pct"], abs=0.7)


def test_chunked_evaluation_equals_one_piece():
    from imugait.sim import gait as G

    cfg = SimConfig(gait="run", duration_s=8, seed=2)
    body = G._Body(cfg, np.random.default_rng(cfg.seed))
    leg = G._Leg("left", body, np.random.default_rng([cfg.seed, 1]))
    t = np.arange(0.0, 8.0, 0.005)
    a = G._ideal_imu_chunked(leg, t, np.array([0.0, -0.2, -0.07]), np.eye(3), chunk=333)
    b = G._ideal_imu_chunked(leg, t, np.array([0.0, -0.2, -0.07]), np.eye(3), chunk=10**9)
    for k in a:
        assert np.allclose(a[k], b[k], rtol=0, atol=1e-9), k


def test_soft_tissue_artefact_is_physically_consistent():
    rigid = simulate(SimConfig(gait="walk", duration_s=20, seed=14, sensor_errors=False, impacts=False))
    soft = simulate(SimConfig(gait="walk", duration_s=20, seed=14, sensor_errors=False, impacts=False,
                              soft_tissue_deg=1.0))
    r, s = rigid.sides["right"], soft.sides["right"]
    assert np.array_equal(r.thigh_angle_deg, s.thigh_angle_deg)  # the bone moves the same
    still = s.t_true_s < 4
    assert np.allclose(r.gyr_true_dps[still], s.gyr_true_dps[still], atol=1e-6)  # no wobble at rest
    moving = s.activity > 0.99
    extra = s.gyr_true_dps[moving] - r.gyr_true_dps[moving]
    assert 20 < np.sqrt(np.mean(np.sum(extra ** 2, axis=1))) < 200  # tens of deg/s at 4-15 Hz
    # orientation truth includes the wobble: strapdown integration of the gyro follows it
    R_WS = _rotmat(s.q_world_sensor)
    i0, i1 = np.searchsorted(s.t_true_s, [8.0, 12.0])
    R_end = _integrate_gyro(R_WS[i0], s.gyr_true_dps[i0:i1 + 1], s.t_true_s[i0:i1 + 1])
    dR = R_end.T @ R_WS[i1]
    assert np.degrees(np.arccos(np.clip((np.trace(dR) - 1) / 2, -1, 1))) < 1.0
