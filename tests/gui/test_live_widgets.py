"""The dashboard's widgets show exactly what the model holds — and "—" when it holds nothing.

Real Qt (offscreen) and the real :class:`LiveModel`; the data are hand-made strides, so
the expected numbers are known exactly. End-to-end runs with simulated sensors are in
``test_live_app.py``.
"""


import numpy as np
import pytest

pytest.importorskip("pytestqt")

from imugait.analysis.results import StrideResult  # noqa: E402
from imugait.live import metrics as M  # noqa: E402
from imugait.live.app import LiveWindow  # noqa: E402
from imugait.live.backend import LiveBackend  # noqa: E402
from imugait.live.model import LiveModel  # noqa: E402

pytestmark = pytest.mark.gui


def stride(side, i, ic, T=0.72, rom=50.0, swing=62.0, valid=True):
    stance = T * (100 - swing) / 100
    return StrideResult(side=side, stride_index=i, ic_s=ic, to_s=ic + stance, next_ic_s=ic + T, stride_s=T,
                        cadence_spm=120.0 / T, stance_s=stance, swing_s=T - stance, swing_pct=swing,
                        flex_peak_deg=0.6 * rom, ext_peak_deg=-0.4 * rom, rom_deg=rom, valid=valid,
                        reason="" if valid else "stride_time_jump", gait="run")


def never_started_backend(model):
    def no_source():
        raise AssertionError("not started in this test")

    return LiveBackend(no_source, model, label="hand-made data")


@pytest.fixture
def window(qtbot):
    model = LiveModel()
    win = LiveWindow(never_started_backend(model), fps=30)
    win.timer.stop()  # the test calls refresh() itself
    qtbot.addWidget(win)
    win.resize(1600, 950)
    win.show()
    return win


def feed(model, sides=("left", "right"), n=25, rom=(55.0, 50.0), t_end=None):
    t = np.arange(0, 20, 0.005)
    for k, s in enumerate(sides):
        model.set_source("hand-made", [s])
        model.push_raw(s, t, np.zeros((t.size, 3)), np.zeros((t.size, 3)), 1000.0)
        model.push_angle(s, t, 20 * np.sin(2 * np.pi * t / 0.72))
        model.push_events(s, [("IC", 19.0), ("TO", 19.3)])
        strides = [stride(s, i, ic=2.0 + i * 0.72 + 0.36 * k, rom=rom[k] + (i % 3), swing=60.0 + k) for i in range(n)]
        strides.insert(5, stride(s, 99, ic=5.0, rom=3.0, valid=False))
        model.push_strides(s, strides)
        model.set_calibration(s, {"calibrated": True, "still_found": True, "angle_calibrated": True,
                                  "axis_confidence": 0.97, "progress": 1.0, "message": "calibrated"})
        model.set_health(s, {"state": "connected", "battery_pct": 80.0, "loss_pct": 0.25,
                             "effective_rate_hz": 199.9, "clock_offset_ms": 4.2})
        model.set_link(s, "connected")


def test_two_sensors_show_the_model_strides_medians_balance_and_cadence(window):
    feed(window.model)
    window.refresh(full=True)
    snap = window.last_snapshot
    for metric, _title, _unit in M.BAR_METRICS:
        for s in ("left", "right"):
            expected = M.metric_values(M.valid_strides(snap.sides[s].strides), metric)
            shown = np.asarray(window.bars.bars[metric][s].opts["height"], dtype=float)
            assert shown.size == M.N_BARS
            np.testing.assert_array_equal(shown, expected)  # invalid stride not drawn
            assert window.bars.displayed_medians[metric][s] == pytest.approx(np.median(expected))
    b = M.balances(snap.sides["left"].strides, snap.sides["right"].strides)
    assert window.asym.values["rom_deg"].text() == M.balance_text(b["rom_deg"])
    assert window.asym.chips["rom_deg"].text() == M.balance_band(b["rom_deg"])
    assert window.cadence_label.text() == f"{120 / 0.72:.0f} spm"
    assert window.gait_label.text() == "RUN"
    assert window.health.shown[("loss_pct", "left")] == "0.2 %"  # 0.25 rounds to even
    assert window.health.shown[("effective_rate_hz", "right")] == "199.9 Hz"
    assert window.health.shown[("battery_pct", "left")] == "80 %"
    assert "calibrated" in window.calib.text["left"].text()
    # angle curves carry the model's window, IC/TO markers drawn
    x, y = window.signal.angle_curves["left"].getData()
    a = snap.sides["left"].angle
    k = window.signal.angle_decimate
    np.testing.assert_array_equal(y[: a[::k].shape[0]], a[::k, 1])  # the model's samples, decimated
    assert x[-1] == pytest.approx(0.0) and y[-1] == a[-1, 1]        # up to the newest one
    assert len(window.signal.ic_items["left"].data) == 1 and len(window.signal.to_items["left"].data) == 1


def test_one_sensor_says_what_it_cannot_show(window):
    feed(window.model, sides=("left",), rom=(55.0,))
    window.refresh(full=True)
    for metric, _t, _u in M.BAR_METRICS:
        assert window.asym.values[metric].text() == "—"
        assert window.asym.chips[metric].text() == "needs two sensors"
    assert window.health.shown[("state", "right")] == "no sensor"
    assert window.health.shown[("battery_pct", "right")] == "—"
    assert window.bars.displayed["rom_deg"]["right"].size == 0
    assert window.cadence_label.text().endswith("spm")  # one leg is enough for cadence


def test_nothing_yet_shows_dashes_and_the_calibration_prompt(window):
    m = window.model
    m.set_source("hand-made", ["left", "right"])
    window.refresh(full=True)
    assert window.cadence_label.text() == "—" and window.gait_label.text() == "—"
    assert window.asym.chips["rom_deg"].text().startswith("needs")
    assert "waiting" in window.signal.overlay.textItem.toPlainText()
    t = np.arange(0, 3, 0.005)
    for s in ("left", "right"):
        m.push_raw(s, t, np.zeros((t.size, 3)), np.zeros((t.size, 3)), 5.0)
        m.set_calibration(s, {"calibrated": False, "progress": 0.25,
                              "message": "collecting movement for calibration (2.0 of 8 s)"})
        m.set_health(s, {"state": "connected", "battery_pct": None, "loss_pct": None,
                         "effective_rate_hz": None, "clock_offset_ms": None})
    window.refresh(full=True)
    assert "Calibrating" in window.signal.overlay.textItem.toPlainText()
    assert window.calib.bar["left"].value() == 25
    assert "collecting movement" in window.calib.text["left"].text()
    assert window.health.shown[("battery_pct", "left")] == "—"  # not reported: not invented
    assert window.health.shown[("clock_offset_ms", "right")] == "—"


def test_stopped_subject_blanks_cadence_but_keeps_history(window):
    feed(window.model)
    last = max(s.next_ic_s for s in window.model.snapshot(consume=False).sides["left"].strides)
    t = np.arange(20, last + M.CADENCE_STALE_S + 2, 0.005)
    window.model.push_raw("left", t, np.zeros((t.size, 3)), np.zeros((t.size, 3)), 1000.0)
    window.refresh(full=True)
    assert window.cadence_label.text() == "—"
    assert window.bars.displayed["rom_deg"]["left"].size == M.N_BARS


def test_screenshot_is_written(window, tmp_path):
    feed(window.model)
    p = window.save_screenshot(tmp_path / "shot.png")
    assert p.stat().st_size > 20_000


def test_raw_views_show_the_model_samples(window):
    m = window.model
    feed(m)
    t = np.arange(20, 21, 0.005)
    gyr = np.column_stack([np.sin(t), 2 * np.cos(t), t])
    acc = np.column_stack([t, -t, 9.81 + 0 * t])
    m.push_raw("right", t, acc, gyr, 2000.0)
    for mode, col, ref in (("gyro", 4, gyr), ("acc", 1, acc)):
        window.signal.set_mode(mode)
        window.refresh(full=True)
        r = window.last_snapshot.sides["right"].raw
        for k in range(3):
            x, y = window.signal.raw_curves["right"][k].getData()
            np.testing.assert_array_equal(y, r[:, col + k])
            np.testing.assert_array_equal(y[-t.size:], ref[:, k])
        lo, hi = window.signal.raw_plots["right"].viewRange()[1]
        assert lo <= r[:, col:col + 3].min() and hi >= r[:, col:col + 3].max()
    window.signal.set_mode("angle")


def test_a_data_gap_is_drawn_as_a_gap(window):
    m = window.model
    m.set_source("hand-made", ["left"])
    t = np.concatenate([np.arange(10, 14, 0.005), np.arange(16, 19, 0.005)])  # 2 s without data
    m.push_raw("left", t, np.zeros((t.size, 3)), np.zeros((t.size, 3)), 100.0)
    m.push_angle("left", t, np.sin(t))
    window.refresh(full=True)
    x, y = window.signal.angle_curves["left"].getData()
    nan = np.flatnonzero(np.isnan(y))
    assert nan.size == 1 and x[nan[0] - 1] < 14 - 19 + 0.01 and x[nan[0] + 1] >= 16 - 19 - 0.01
    window.signal.set_mode("gyro")
    window.refresh(full=True)
    x, y = window.signal.raw_curves["left"][0].getData()
    assert np.isnan(y).sum() == 1
    window.signal.set_mode("angle")


def test_a_new_stride_is_drawn_at_once_not_on_the_next_timer_frame(window, qtbot):
    import threading

    feed(window.model)
    window.refresh(full=True)
    shown0 = window.bars._key
    window.timer.start(60_000)  # the timer alone would not draw for a minute
    new = [stride("left", 200, ic=21.0)]
    th = threading.Thread(target=window.model.push_strides, args=("left", new))  # like the worker
    th.start()
    th.join()
    qtbot.waitUntil(lambda: window.bars._key != shown0, timeout=2000)
    assert window.last_snapshot.sides["left"].strides[-1] is new[0]
    np.testing.assert_array_equal(np.asarray(window.bars.bars["rom_deg"]["left"].opts["height"])[-1:],
                                  [new[0].rom_deg])
    assert window.timer.isActive() and window.timer.remainingTime() > 30_000  # restarted, not fired
    window.timer.stop()


def test_stride_triggered_frames_are_rate_limited(window, qtbot):
    import threading
    import time

    feed(window.model)
    window.refresh(full=True)
    window.timer.start(60_000)
    n0 = len(window.lat.frames)
    t0 = time.monotonic()

    def fast_replay():  # 60 strides within ~0.3 s, one call each (like a 100x replay)
        for i in range(60):
            window.model.push_strides("right", [stride("right", 300 + i, ic=22.0 + 0.72 * i)])
            time.sleep(0.005)

    th = threading.Thread(target=fast_replay)
    th.start()
    while th.is_alive():
        qtbot.wait(10)
    qtbot.wait(50)
    elapsed = time.monotonic() - t0
    frames = len(window.lat.frames) - n0
    assert 1 <= frames <= elapsed / 0.1 + 2  # at most 10 stride-triggered frames a second
    window.timer.stop()
