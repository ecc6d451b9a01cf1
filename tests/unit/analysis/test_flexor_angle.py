"""The hip-flexor test's angle, by hand: exact still postures built from rotation matrices
(no simulator), so every expected number is computed here in a line or two.

Frames as in ``imugait.sim.flexor``: world y up; thigh x anterior, y knee→hip, z right;
``R_WT = Ry(heading) Rz(alpha)``, alpha = 0 standing, 90 − β hanging β below the horizontal,
90 + θ lifted θ from the table.
"""

import math

import numpy as np
import pytest

from imugait.analysis.flexor import (
    FlexorAnalyzer,
    FlexorParams,
    ProtocolRunner,
    analyze_flexor,
    protocol_steps,
    thigh_elevation_deg,
)
from imugait.conventions import GRAVITY_MPS2

G = GRAVITY_MPS2


def rx(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def ry(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rz(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def acc_at_rest(R_WT, R_TS):
    """Specific force (reads +g up) in the sensor frame for thigh orientation R_WT."""
    return (R_WT @ R_TS).T @ np.array([0.0, G, 0.0])


# -------------------------------------------------------------------------- the measure
def test_elevation_is_the_long_axis_angle_to_the_horizontal_knee_below_positive():
    y = np.array([0.0, 0.0, 1.0])  # the sensor's z pointed up the thigh while standing
    # hanging 30° below: gravity-up has sin 30° = 0.5 along the long axis
    assert thigh_elevation_deg(y, [0.0, G * math.cos(math.radians(30)), G * 0.5])[0] == pytest.approx(30.0, abs=1e-9)
    # 20° above the horizontal (tight hip flexors): up has -sin 20° along the long axis
    assert thigh_elevation_deg(y, [G * math.cos(math.radians(20)), 0.0, -G * math.sin(math.radians(20))])[0] \
        == pytest.approx(-20.0, abs=1e-9)
    # standing: the thigh points straight down from the hip, 90° "below"
    assert thigh_elevation_deg(y, [0, 0, G])[0] == pytest.approx(90.0)
    # the magnitude of the accelerometer does not matter (a scale error common to all axes)
    assert thigh_elevation_deg(y, [0.0, 3 * math.cos(0.5), 3 * math.sin(0.5)])[0] == pytest.approx(math.degrees(0.5))


@pytest.mark.parametrize("seed", range(5))
def test_elevation_does_not_depend_on_the_strap_or_the_heading(seed):
    rng = np.random.default_rng(seed)
    beta = float(rng.uniform(-30, 20))
    alpha = math.radians(90 - beta)
    values = []
    for _k in range(4):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        w, x, yq, z = q
        R_TS = np.array([[1 - 2 * (yq * yq + z * z), 2 * (x * yq - w * z), 2 * (x * z + w * yq)],
                         [2 * (x * yq + w * z), 1 - 2 * (x * x + z * z), 2 * (yq * z - w * x)],
                         [2 * (x * z - w * yq), 2 * (yq * z + w * x), 1 - 2 * (x * x + yq * yq)]])
        heading = float(rng.uniform(-math.pi, math.pi))
        long_axis = acc_at_rest(ry(heading), R_TS) / G  # standing: the long axis is up
        # the thigh also turned about its own long axis (hip rotation) in the hold
        hold = acc_at_rest(ry(heading + 1.0) @ rz(alpha) @ ry(float(rng.uniform(-0.4, 0.4))), R_TS)
        values.append(thigh_elevation_deg(long_axis, hold)[0])
    np.testing.assert_allclose(values, beta, atol=1e-9)


# -------------------------------------------------------------------------- hand-made recordings
def pose_samples(R_WT_by_side: dict, R_TS: dict, t0: float, dur: float, fs: float):
    t = t0 + np.arange(int(round(dur * fs))) / fs
    out = {}
    for s, R in R_WT_by_side.items():
        a = np.tile(acc_at_rest(R, R_TS[s]), (t.size, 1))
        out[s] = (t, a, np.zeros((t.size, 3)))
    return out


def recording(poses, fs=100.0, seed=0, noise=True):
    """``poses``: list of (duration_s, alpha_left_deg, alpha_right_deg) held still, switched
    without transitions (the data jump: no gaps between postures)."""
    rng = np.random.default_rng(seed)
    R_TS = {}
    for s in ("left", "right"):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        w, x, y, z = q
        R_TS[s] = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])
    parts = {"left": [], "right": []}
    t = 0.0
    for dur, al, ar in poses:
        seg = pose_samples({"left": rz(math.radians(al)), "right": rz(math.radians(ar))}, R_TS, t, dur, fs)
        for s in parts:
            parts[s].append(seg[s])
        t += dur
    data = {}
    for s in parts:
        tt = np.concatenate([p[0] for p in parts[s]])
        aa = np.concatenate([p[1] for p in parts[s]])
        gg = np.concatenate([p[2] for p in parts[s]])
        if noise:  # a little white noise so the standing detection sees a real sensor
            aa = aa + rng.normal(0, 0.01, aa.shape)
            gg = gg + rng.normal(0, 0.05, gg.shape)
        data[s] = (tt, aa, gg)
    return data


STAND, SIT, FLAT = 0.0, 90.0, 90.0


def hanging(beta):  # alpha of a thigh hanging beta below the horizontal
    return 90.0 - beta


def lifted(theta):  # alpha of a thigh lifted theta from the table (130: knee hugged)
    return 90.0 + theta


def test_hand_made_test_gives_the_exact_angles_and_hug():
    poses = [(5, STAND, STAND), (4, SIT, SIT), (8, hanging(12.0), lifted(130)), (3, lifted(125), lifted(125)),
             (8, lifted(128), hanging(-7.5)), (3, lifted(125), lifted(125)), (8, hanging(11.0), lifted(120))]
    d = recording(poses, noise=False)
    res = analyze_flexor(d["left"], d["right"])
    assert res.refused is None
    assert [h.side for h in res.holds] == ["left", "right", "left"]
    vals = [h.value for h in res.holds]
    np.testing.assert_allclose(vals, [12.0, -7.5, 11.0], atol=1e-6)
    np.testing.assert_allclose([h.hugged_thigh_flexion_deg for h in res.holds], [130, 128, 120], atol=1e-6)
    assert res.side_value("left") == pytest.approx(11.5, abs=1e-6)  # median of 12 and 11
    assert res.side_value("right") == pytest.approx(-7.5, abs=1e-6)
    assert all(h.steadiness < 1e-6 for h in res.holds)
    # the hold is the still part: from the jump into the pose (+ the tilt window) to the next jump
    assert res.holds[0].start_s == pytest.approx(9.0, abs=0.65) and res.holds[0].end_s == pytest.approx(17.0, abs=0.15)
    d = res.to_dict()
    assert d["sides"]["right"]["thigh_below_horizontal_deg"] == pytest.approx(-7.5, abs=0.01)
    assert set(d["sides"]["left"]["holds"][0]) >= {"start_s", "end_s", "value", "steadiness",
                                                   "hugged_thigh_flexion_deg", "flags"}
    assert "right hip flexors tight" in res.verdict()


def test_shallow_hug_is_flagged_and_a_bent_knee_is_no_hold():
    poses = [(5, STAND, STAND), (4, SIT, SIT),
             (6, hanging(5.0), lifted(92)),     # knee just past vertical: a hold, flagged
             (3, FLAT, FLAT),
             (6, hanging(0.0), lifted(45)),     # lying with one knee bent, foot on the table
             (3, FLAT, FLAT),
             (6, lifted(60), hanging(2.0))]     # a leg raise toward the feet
    res = analyze_flexor(*(lambda d: (d["left"], d["right"]))(recording(poses, seed=2)))
    assert len(res.holds) == 1
    assert res.holds[0].side == "left" and "hug_shallow" in res.holds[0].flags
    assert res.holds[0].hugged_thigh_flexion_deg == pytest.approx(92, abs=0.5)
    reasons = " ".join(r.reason for r in res.rejected)
    assert "toward the feet" in reasons


def test_no_standing_period_is_refused_with_a_sentence():
    # the recording starts lying in a hold: nothing tells which sensor axis is the thigh
    poses = [(8, hanging(10.0), lifted(130)), (3, lifted(125), lifted(125)), (8, lifted(130), hanging(5.0))]
    d = recording(poses, noise=True)
    # the first still period is the hold itself: "standing" there makes no hold possible,
    # and without any still period at all the refusal names the standing period
    res = analyze_flexor(d["left"], d["right"])
    assert not res.holds
    moving = {s: (t, a, g + np.random.default_rng(1).normal(0, 30, g.shape)) for s, (t, a, g) in d.items()}
    res = analyze_flexor(moving["left"], moving["right"])
    assert res.refused and "standing" in res.refused and "stand still" in res.refused
    assert res.to_dict()["sides"]["left"]["thigh_below_horizontal_deg"] is None


def test_one_thigh_or_two_clocks_are_refused():
    d = recording([(5, STAND, STAND), (8, hanging(10.0), lifted(130))])
    res = analyze_flexor(d["left"], None)
    assert res.refused and "both thighs" in res.refused
    t, a, g = d["right"]
    res = analyze_flexor(d["left"], (t + 1000.0, a, g))
    assert res.refused and "do not overlap" in res.refused


def test_both_knees_hugged_sitting_and_lying_flat_are_no_holds():
    poses = [(5, STAND, STAND), (5, SIT, SIT), (5, FLAT, FLAT), (5, lifted(120), lifted(124)),
             (5, lifted(40), lifted(45)), (5, lifted(145), lifted(149)), (5, SIT, SIT), (5, STAND, STAND)]
    res = analyze_flexor(*(lambda d: (d["left"], d["right"]))(recording(poses, seed=3)))
    assert res.holds == []


def test_live_state_and_protocol_runner():
    poses = [(5, STAND, STAND), (4, SIT, SIT), (8, hanging(12.0), lifted(130))]
    d = recording(poses)
    a = FlexorAnalyzer()
    st = a.update()
    assert st.phase == "waiting_for_standing"
    n = d["left"][0].size
    for i in range(0, n, 37):  # 0.37 s chunks, sides interleaved
        for s in ("left", "right"):
            t, acc, gyr = d[s]
            a.push(s, t[i:i + 37], acc[i:i + 37], gyr[i:i + 37])
    st = a.update()
    assert st.phase == "hold" and st.hold_side == "left"
    assert st.hold_value_deg == pytest.approx(12.0, abs=0.05)
    assert st.elev_deg["left"] == pytest.approx(12.0, abs=0.05)
    # the prompts: time-driven; the standing step waits for the calibration
    steps = protocol_steps(repeats=1, hold_s=6.0)
    pr = ProtocolRunner(steps)
    assert [s.kind for _i, s, _t in pr.advance(0.0, calibrated=False)] == ["stand"]
    assert pr.advance(10.0, calibrated=False) == []          # still calibrating
    started = pr.advance(10.5, calibrated=True)
    assert [s.kind for _i, s, _t in started] == ["sit"] and started[0][2] == 10.5
    pr.next_step()
    assert pr.advance(10.6, calibrated=True)[0][1].kind == "lie"
    follow = ProtocolRunner(steps, wait_for_calibration=False)
    follow.advance(0.0, False)
    assert follow.advance(6.0, False)[0][1].kind == "sit"    # a simulated runner does not wait


def test_params_round_trip():
    p = FlexorParams(min_hold_s=2.0)
    assert FlexorParams.from_dict(p.to_dict()) == p
