"""Event rules on hand-made signals whose answer can be computed by hand."""

import numpy as np
import pytest

from imugait.analysis import events as ev
from imugait.analysis.angle import SIGNALS, ThighSignals
from imugait.analysis.params import AnalysisParams, EventSettings
from imugait.analysis.segment import Peak
from imugait.analysis.signals import SignalBuffer

FS = 100.0
S = EventSettings.from_params(AnalysisParams())


def buffer(angle_deg, acc_norm_g=None, segment_start=None) -> SignalBuffer:
    n = len(angle_deg)
    cols = {k: np.zeros(n, dtype=dt) for k, dt in SIGNALS.items()}
    cols["t_s"] = np.arange(n) / FS
    cols["thigh_angle_deg"] = np.asarray(angle_deg, float)
    cols["acc_norm_g"] = np.ones(n) if acc_norm_g is None else np.asarray(acc_norm_g, float)
    cols["acc_jerk_gps"] = np.abs(np.diff(np.concatenate([[cols["acc_norm_g"][0]], cols["acc_norm_g"]]))) * FS
    if segment_start is not None:
        cols["segment_start"][segment_start] = True
    sig = SignalBuffer()
    sig.append(ThighSignals(cols))
    return sig


def ramp_stride():
    """Falling to the extension peak −20° at sample 100, linear rise to the flexion peak +30°
    at sample 150, flat after. The 80 % level is −20 + 0.8·50 = +20°, crossed at sample 140."""
    a = np.full(300, -20.0)
    a[:101] = np.linspace(10.0, -20.0, 101)
    a[100:151] = np.linspace(-20.0, 30.0, 51)
    a[150:] = 30.0
    return a


def test_gait_weight_is_a_smoothstep_of_stride_time():
    assert ev.gait_weight(0.70, S) == 1.0 and ev.gait_weight(0.80, S) == 1.0
    assert ev.gait_weight(0.92, S) == 0.0 and ev.gait_weight(1.20, S) == 0.0
    assert ev.gait_weight(0.86, S) == pytest.approx(0.5)
    w = [ev.gait_weight(T, S) for T in np.linspace(0.6, 1.2, 601)]
    assert np.all(np.diff(w) <= 0) and np.max(np.abs(np.diff(w))) < 0.02  # monotone, no step
    assert ev.gait_label(0.49) == "walk" and ev.gait_label(0.5) == "run"


def test_flight_cue_decides_in_the_cadence_band_where_people_walk_and_run():
    """The flight part (lowest vertical specific force of the stride): −0.35 g → walking,
    −0.75 g → running, smoothstep between (−0.55 g → 0.5). Its share: 1 at 125–140 spm, 0 at
    ≤ 115 and ≥ 150 spm."""
    T140 = 120.0 / 140.0  # cadence part alone: smoothstep(0.525) ≈ 0.54
    assert ev.gait_weight(T140, S) == pytest.approx(0.537, abs=0.01)
    assert ev.gait_weight(T140, S, vert_min_g=0.1) == 0.0  # double support: walking, whatever the cadence says
    assert ev.gait_weight(T140, S, vert_min_g=-1.2) == 1.0  # flight phase: running
    assert ev.gait_weight(T140, S, vert_min_g=-0.55) == pytest.approx(0.5)
    assert ev.gait_weight(120.0 / 110.0, S, vert_min_g=-1.2) == 0.0  # nobody runs at 110 spm: cadence decides
    assert ev.gait_weight(120.0 / 170.0, S, vert_min_g=0.1) == 1.0  # ≥ 150 spm: cadence decides
    assert ev.gait_weight(0.80, S, vert_min_g=0.1) == 1.0
    assert ev.gait_weight(T140, S, vert_min_g=float("nan")) == ev.gait_weight(T140, S)  # no accelerometer vertical
    # half share at 145 spm: half the flight part (0), half the cadence part (smoothstep(0.77))
    T145 = 120.0 / 145.0
    x = (0.92 - T145) / 0.12
    assert ev.gait_weight(T145, S, vert_min_g=0.1) == pytest.approx(0.5 * x * x * (3 - 2 * x))
    # continuous in both cues: no step anywhere. The steepest part is the share fading out over
    # 140→150 spm (0.057 s of stride): smoothstep slope ≤ 1.5 / 0.057 s ≈ 26 per s, i.e. ≤ 0.07
    # per 2.5 ms step of this grid
    grid_T = np.linspace(0.6, 1.2, 241)
    for vmin in (-1.5, -0.6, -0.45, 0.2):
        w = np.array([ev.gait_weight(T, S, vmin) for T in grid_T])
        assert np.max(np.abs(np.diff(w))) < 0.075
    w = np.array([ev.gait_weight(T140, S, v) for v in np.linspace(-1.5, 0.5, 401)])
    assert np.all(np.diff(w) <= 0) and np.max(np.abs(np.diff(w))) < 0.02


def test_stride_vert_min_is_the_smoothed_minimum():
    sig = buffer(np.zeros(300))
    v = np.ones(300)
    v[150] = -2.0  # one sample: smoothed over 0.1 s (Hann, 10 samples) it is shallower
    sig.cols["acc_vert_g"] = v
    m = ev.stride_vert_min(sig, 100.0, 200.0, FS, S)
    k = np.hanning(12)[1:-1]
    assert m == pytest.approx(1.0 - 3.0 * k.max() / k.sum())
    assert ev.stride_vert_min(sig, 200.0, 290.0, FS, S) == pytest.approx(1.0)
    assert np.isnan(ev.stride_vert_min(sig, 400.0, 500.0, FS, S))  # not in the buffer


def test_rise_crossing_on_a_ramp():
    sig = buffer(ramp_stride())
    x = ev.rise_crossing(sig, Peak(150.0, 30.0), Peak(100.0, -20.0), 1.0, FS, 0.8)
    assert x == pytest.approx(140.0)
    # without a segmented extension peak: the minimum of the 0.7 s before the peak
    assert ev.rise_crossing(sig, Peak(150.0, 30.0), None, 1.0, FS, 0.8) == pytest.approx(140.0)


def test_initial_contact_walking_and_running_offsets():
    sig = buffer(ramp_stride())
    ic, info = ev.initial_contact(sig, Peak(150.0, 30.0), Peak(100.0, -20.0), 1.0, FS, S)  # walking (w = 0)
    assert info["gait_weight"] == 0.0 and ic == pytest.approx(140.0 + 0.24 * 100.0)
    ic, info = ev.initial_contact(sig, Peak(150.0, 30.0), Peak(100.0, -20.0), 0.7, FS, S)  # running (w = 1)
    assert info["gait_weight"] == 1.0 and ic == pytest.approx(140.0 + 0.315 * 70.0)
    assert info["method"] == "rise_crossing"


def test_a_stride_at_the_walk_run_boundary_does_not_jump():
    """Two strides 2 ms apart in stride time, on either side of the 140 spm middle of the
    band: their ICs differ by well under a millisecond (no step at the label)."""
    sig = buffer(ramp_stride())
    ics = [ev.initial_contact(sig, Peak(150.0, 30.0), Peak(100.0, -20.0), T, FS, S)[0] / FS for T in (0.859, 0.861)]
    assert ev.gait_label(ev.gait_weight(0.859, S)) != ev.gait_label(ev.gait_weight(0.861, S))
    assert abs(ics[0] - ics[1]) < 0.002


def test_unknown_when_the_swing_is_not_in_the_data():
    a = ramp_stride()
    # the data start at sample 130, mid-swing (above the lowest quarter of the range): unknown
    sig = buffer(a[130:])
    assert np.isnan(ev.rise_crossing(sig, Peak(20.0, 30.0), None, 1.0, FS, 0.8, rom_hint_deg=50.0))
    # the data start at sample 105, in the lowest quarter: that sample serves as the base
    sig = buffer(a[105:])
    x = ev.rise_crossing(sig, Peak(45.0, 30.0), None, 1.0, FS, 0.8, rom_hint_deg=50.0)
    base = a[105]
    level = base + 0.8 * (30.0 - base)
    assert x == pytest.approx((level + 20.0) / 1.0 + 100.0 - 105.0)
    # a data gap inside the window: the part after the gap is the data
    sig = buffer(a, segment_start=[130])
    assert np.isnan(ev.rise_crossing(sig, Peak(150.0, 30.0), None, 1.0, FS, 0.8, rom_hint_deg=50.0))


def test_trough_centre_and_toe_off():
    """A V-shaped trough from +30° (sample 0) to −20° (sample 50) and back to +30° (sample
    100): the 10 % level −15° is crossed at 45 and 55, the centre is 50."""
    a = np.concatenate([np.linspace(30, -20, 51), np.linspace(-20, 30, 51)[1:]])
    sig = buffer(a)
    F0, E, F1 = Peak(0.0, 30.0), Peak(50.0, -20.0), Peak(100.0, 30.0)
    assert ev.trough_centre(sig, E, F0, F1, 0.1) == pytest.approx(50.0)
    to_walk = ev.toe_off(sig, E, F0, F1, 1.0, FS, S)
    to_run = ev.toe_off(sig, E, F0, F1, 0.7, FS, S)
    assert to_walk == pytest.approx(50.0 + 0.106 * 100.0)
    assert to_run == pytest.approx(50.0 - 0.046 * 70.0)
    # a flat bottom: wherever the minimum sits, the centre does not move
    b = a.copy()
    b[40:61] = -20.0
    b[43] = -20.3  # the minimum jumps to the start of the flat part
    c = ev.trough_centre(buffer(b), Peak(43.0, -20.3), F0, F1, 0.1)
    assert abs(c - 50.0) < 1.0


def test_impact_refines_running_ic_only_when_clear_and_near():
    a = np.full(400, 0.0)
    a[100:151] = np.linspace(-20.0, 30.0, 51)
    a[150:] = 30.0
    a[:100] = -20.0
    pred = 140.0 + 0.315 * 70.0  # running prediction: sample 162.05
    acc = np.ones(400) + 0.05 * np.sin(np.arange(400))  # some background jerk
    acc[160:163] = [2.0, 4.5, 3.0]  # a 4.5 g transient, steepest rise between samples 160 and 161
    ic, info = ev.initial_contact(buffer(a, acc), Peak(150.0, 30.0), Peak(100.0, -20.0), 0.7, FS, S)
    assert info["method"] == "impact" and ic == pytest.approx(160.5)
    # the same transient in walking: not used
    ic_w, info_w = ev.initial_contact(buffer(a, acc), Peak(150.0, 30.0), Peak(100.0, -20.0), 1.0, FS, S)
    assert info_w["method"] == "rise_crossing"
    # too far from the prediction (outside ±6 % of the stride): not used
    acc2 = np.ones(400) + 0.05 * np.sin(np.arange(400))
    acc2[175:178] = [2.0, 4.5, 3.0]
    ic2, info2 = ev.initial_contact(buffer(a, acc2), Peak(150.0, 30.0), Peak(100.0, -20.0), 0.7, FS, S)
    assert info2["method"] == "rise_crossing" and ic2 == pytest.approx(pred)
    # below the running impact level (virtual IMUs, walking sensors): not used
    acc3 = np.ones(400) + 0.05 * np.sin(np.arange(400))
    acc3[160:163] = [1.5, 2.5, 2.0]
    assert ev.initial_contact(buffer(a, acc3), Peak(150.0, 30.0), Peak(100.0, -20.0), 0.7, FS, S)[1]["method"] == "rise_crossing"
