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
def test_walking_matches_typical_values(walk):
    for side, s in walk.sides.items():
        st = _steady(s)
        assert len(st) >= 35, side
        assert 100 <= st["cadence_spm"].median() <= 120
        assert 57 <= 100 - st["swing_pct"].median() <= 63
        assert 40 <= st["rom_deg"].median() <= 45
        assert 25 <= st["flex_peak_deg"].median() <= 30
        assert -15 <= st["ext_peak_deg"].median() <= -10
        cv = st["stride_s"].std() / st["stride_s"].mean() * 100
        assert 1.5 <= cv <= 3.5


def test_running_matches_typical_values(run):
    for side, s in run.sides.items():
        st = _steady(s)
        assert len(st) >= 55, side
        assert 150 <= st["cadence_spm"].median() <= 190
        assert 35 <= 100 - st["swing_pct"].median() <= 40
        assert 45 <= st["rom_deg"].median() <= 65
        assert 0.16 <= st["stance_s"].median() <= 0.30  # contact time 160-300 ms


def test_running_rom_rises_with_speed():
    roms = []
    for v in (2.5, 3.5, 4.5):
        rec = simulate(SimConfig(gait="run", duration_s=25, seed=3, speed_mps=v, sides=("right",)))
        roms.append(_steady(rec.sides["right"])["rom_deg"].median())
    assert roms[0] < roms[1] < roms[2]
    assert 45 <= roms[0] and roms[2] <= 67


def test_event_timing_relative_to_peaks(walk, run):
    for rec, lo, hi in ((walk, 0.10, 0.13), (run, 0.15, 0.20)):
        for s in rec.sides.values():
            st = _steady(s)
            ic_after_flex = ((st["next_ic_s"] - st["flex_peak_s"]) / st["stride_s"]).median()
            assert lo - 0.01 <= ic_after_flex <= hi + 0.01
    for s in walk.sides.values():
        st = _steady(s)
        lead_ms = ((st["to_s"] - st["ext_peak_s"]) * 1000).median()
        assert 50 <= lead_ms <= 100


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
    assert np.abs(ang_g - s.thigh_angle_deg).max() < 2.0


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
