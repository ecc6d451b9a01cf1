"""The hip-flexor test on simulated recordings (imugait.sim.flexor): every hold found, values
near the truth, no hold in non-test postures, live == batch. A representative slice of
``tools/validate_flexor.py`` (which runs 200 tests + 100 non-test recordings).

The simulator is ours, so these tests check consistency, not independent accuracy (see
docs/flexor-test.md for what the validation can and cannot show).
"""

import numpy as np
import pytest

from imugait.analysis.flexor import FlexorAnalyzer, analyze_flexor
from imugait.sim.flexor import (
    NON_TEST_POSES,
    FlexorSimConfig,
    non_test_protocol,
    random_test,
    simulate_flexor,
    sit,
    stand,
    supine,
    thomas_hold,
    thomas_protocol,
)


def run(rec):
    L, R = rec.sides["left"], rec.sides["right"]
    return analyze_flexor((L.t_true_s, L.acc_mps2, L.gyr_dps), (R.t_true_s, R.acc_mps2, R.gyr_dps))


def match(rec, res):
    """Per true hold: the reported hold overlapping it (exactly one expected)."""
    out = []
    for h in rec.holds:
        m = [f for f in res.holds if f.side == h["side"] and f.start_s < h["end_s"] and f.end_s > h["start_s"]]
        out.append((h, m))
    return out


@pytest.mark.parametrize("seed,fs", [(11, 50.0), (12, 100.0), (13, 200.0), (14, 400.0), (15, None)])
def test_every_hold_found_once_and_near_the_truth(seed, fs):
    rec = random_test(seed, fs_hz=fs)
    res = run(rec)
    assert res.refused is None
    pairs = match(rec, res)
    assert all(len(m) == 1 for _h, m in pairs), [(h["side"], h["start_s"], len(m)) for h, m in pairs]
    assert len(res.holds) == len(rec.holds)
    err = [m[0].value - h["thigh_below_horizontal_standing_ref_deg"] for h, m in pairs]
    # the sensor model (1 % scale, 0.3° misalignment, 0.05 m/s² bias) alone gives ≈ 0.5° typical
    assert np.max(np.abs(err)) < 2.0, err
    for s in ("left", "right"):
        truth = rec.side_truth()[s]["thigh_below_horizontal_standing_ref_deg"]
        assert res.side_value(s) == pytest.approx(truth, abs=2.0)


def test_ideal_still_sensor_measures_the_truth_to_hundredths():
    rec = random_test(21, sensor_errors=False, movement_scale=0.0)
    res = run(rec)
    err = [m[0].value - h["thigh_below_horizontal_standing_ref_deg"] for h, m in match(rec, res)]
    assert len(err) == 6 and np.max(np.abs(err)) < 0.05


def test_holds_without_rests_between_them():
    rng = np.random.default_rng(5)
    poses = thomas_protocol(4.0, -12.0, rng=rng, rests=False, sit_s=0.0, lie_flat_s=0.0)
    rec = simulate_flexor(FlexorSimConfig(poses=poses, fs_hz=120.0, seed=5))
    res = run(rec)
    assert [len(m) for _h, m in match(rec, res)] == [1] * 6
    assert res.side_value("left") == pytest.approx(4.0, abs=2.0)
    assert res.side_value("right") == pytest.approx(-12.0, abs=2.0)


def test_heading_of_the_body_does_not_change_the_value():
    vals = []
    for head in (0.0, 90.0, -150.0):
        poses = (stand(5.0, head), sit(3.0, head), supine("hug_both", 2.0, 125, 125, head),
                 thomas_hold("left", 6.0, 125, 7.0, head), supine("hug_both", 2.0, 125, 125, head),
                 thomas_hold("right", -3.0, 125, 7.0, head))
        res = run(simulate_flexor(FlexorSimConfig(poses=poses, fs_hz=100.0, seed=9, stand_tilt_sd_deg=0.0)))
        vals.append((res.side_value("left"), res.side_value("right")))
    # the same sensors and straps (same seed): only the body heading changed
    np.testing.assert_allclose(np.array(vals), np.array([vals[0]] * len(vals)), atol=0.05)


@pytest.mark.parametrize("seed", [31, 32, 33])
def test_non_test_postures_are_never_holds(seed):
    rng = np.random.default_rng(seed)
    rec = simulate_flexor(FlexorSimConfig(poses=non_test_protocol(rng, tuple(rng.permutation(NON_TEST_POSES))),
                                          fs_hz=float(rng.uniform(50, 400)), seed=seed))
    res = run(rec)
    assert res.refused is None
    assert res.holds == [], [(h.start_s, h.value) for h in res.holds]


def test_sitting_on_the_table_edge_and_lying_flat_then_a_real_test():
    rng = np.random.default_rng(40)
    poses = (stand(5.0, 20.0), sit(8.0, 20.0, name="sit_table"), supine("lie_flat", 8.0, 1.0, -1.0, 20.0),
             *thomas_protocol(9.0, 2.0, rng=rng, heading_deg=20.0, repeats=2)[1:])
    rec = simulate_flexor(FlexorSimConfig(poses=poses, fs_hz=200.0, seed=40))
    res = run(rec)
    flat_end = rec.timeline[2]["t_end_s"]
    assert all(h.start_s > flat_end for h in res.holds)
    assert len(res.holds) == len(rec.holds) == 4


def test_live_chunks_give_the_batch_result():
    rec = random_test(7)
    batch = run(rec).to_dict()
    rng = np.random.default_rng(0)
    a = FlexorAnalyzer()
    pos = {"left": 0, "right": 0}
    while any(pos[s] < rec.sides[s].n for s in pos):
        s = "left" if rng.random() < 0.5 else "right"
        S = rec.sides[s]
        i, n = pos[s], int(rng.integers(1, 300))
        a.push(s, S.t_true_s[i:i + n], S.acc_mps2[i:i + n], S.gyr_dps[i:i + n])
        pos[s] = min(S.n, i + n)
        if rng.random() < 0.05:
            a.update()
    assert a.result().to_dict() == batch


def test_simulator_truth_and_reproducibility():
    a, b = random_test(3), random_test(3)
    np.testing.assert_array_equal(a.sides["left"].acc_counts, b.sides["left"].acc_counts)
    assert a.truth_dict()["holds"] == b.truth_dict()["holds"]
    assert len(a.holds) == 6 and {h["side"] for h in a.holds} == {"left", "right"}
    # anatomical and standing-referenced truths differ by (about) the standing tilt
    for h in a.holds:
        tilt = a.sides[h["side"]].stand_tilt_deg
        assert abs(h["thigh_below_horizontal_deg"] - h["thigh_below_horizontal_standing_ref_deg"]) == \
            pytest.approx(abs(tilt), abs=0.3)
