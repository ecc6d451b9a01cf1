"""The live window end to end: simulated virtual sensors -> acquisition -> recorder +
pipeline -> window (real Qt offscreen, real SimulatedSource/Acquisition, real HDF5).

Sources run faster than real time where the test allows it.
"""

import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from imugait.sim.source import SimulatedSource  # noqa: E402
from imugait.analysis import GaitPipeline  # noqa: E402
from imugait.live import metrics as M  # noqa: E402
from imugait.live.app import LiveWindow, make_backend  # noqa: E402
from imugait.sim.firmware import FirmwareFaults  # noqa: E402
from imugait.sim.gait import SimConfig, simulate  # noqa: E402
from imugait.store import open_session  # noqa: E402

pytestmark = pytest.mark.gui


def open_window(qtbot, source, tmp_path, fps=30, record=None):
    be = make_backend(source=source, out_dir=tmp_path)
    win = LiveWindow(be, fps=fps)
    qtbot.addWidget(win)
    win.resize(1600, 950)
    fut = be.start_recording(*record) if record else None
    be.start()
    win.show()
    return win, be, fut


@pytest.fixture(scope="module")
def run_rec():
    return simulate(SimConfig(gait="run", duration_s=40.0, fs_hz=200.0, seed=3, stand_before_s=4.0,
                              stand_after_s=0.0, asym_rom_deg=4.0))


def test_window_shows_simulated_sensors_and_exactly_the_pipeline_strides(qtbot, tmp_path, run_rec):
    src = SimulatedSource(run_rec, speed=None, seed=1)  # as fast as possible
    win, be, fut = open_window(qtbot, src, tmp_path, record=("T01", "before"))
    try:
        rec_path = fut.result(10)
        qtbot.waitUntil(lambda: win.last_snapshot is not None and win.last_snapshot.finished, timeout=60_000)
        win.refresh(full=True)
        snap = win.last_snapshot
        # plots received data
        for s in ("left", "right"):
            x, y = win.signal.angle_curves[s].getData()
            # the last 10 s at 200 Hz, every angle_decimate-th sample drawn (+ the newest)
            assert x is not None and x.size > 0.95 * 10 * 200 / win.signal.angle_decimate
            assert np.all(np.isfinite(y))
            # and they are the model's angles
            a = snap.sides[s].angle
            np.testing.assert_array_equal(y[-1], a[-1, 1])
            np.testing.assert_array_equal(y[:-1], a[:: win.signal.angle_decimate, 1][: y.size - 1])
            assert snap.sides[s].n_strides >= 20
        assert len(win.signal.ic_items["left"].data) > 5 and len(win.signal.to_items["right"].data) > 5
        # the recording holds every delivered sample; the pipeline run on it gives the same strides
        with open_session(rec_path) as ses:
            for s in ("left", "right"):
                # the window analysed the samples on the live clock mapping; the file's sample
                # times are the final mapping (a few ms apart at most), kept next to the live ones
                r = ses.raw(s)
                o = np.argsort(r["sample_index"], kind="stable")
                t = r["t_s_live"][o]
                acc, gyr = r["acc_counts"][o] * r["acc_scale_mps2"], r["gyr_counts"][o] * r["gyr_scale_dps"]
                assert t.size == be.n_samples[s] == be.rec_samples[s]
                p = GaitPipeline(fs_hz=200.0, side=s)
                out = p.push(t, acc, gyr)
                fl = p.flush()
                batch = [st for st in out.strides + fl.strides if st.valid]
                for metric, _title, _unit in M.BAR_METRICS:
                    shown = np.asarray(win.bars.bars[metric][s].opts["height"], dtype=float)
                    expected = M.metric_values(batch[-M.N_BARS:], metric)
                    # Live analysis takes packets in arrival order and skips a late one (counted
                    # as a duplicate); the file keeps every packet in index order. With the source
                    # running as fast as possible a packet occasionally arrives late, and the
                    # strap calibration then rests on one sample fewer: values differ by ~1e-4.
                    np.testing.assert_allclose(shown, expected, rtol=0, atol=0.01)
                    med = win.bars.displayed_medians[metric][s]
                    assert med == pytest.approx(float(np.median(expected)), rel=0, abs=0.01)
        # balance shown = balance of the two sides' shown medians; 4° more range on the left
        b = M.balance_pct(win.bars.displayed_medians["rom_deg"]["left"], win.bars.displayed_medians["rom_deg"]["right"])
        assert win.asym.values["rom_deg"].text() == M.balance_text(b)
        assert b > 50.5
        assert win.gait_label.text() in ("RUN", "—")  # "—" once the run has ended (stale)
    finally:
        win.close()
        be.stop()


def test_gui_stall_of_two_seconds_loses_no_packet(qtbot, tmp_path, run_rec):
    """Block the Qt thread for 2 s while recording: the worker keeps acquiring and writing,
    the session holds every sample contiguously, and the window catches up afterwards."""
    src = SimulatedSource(run_rec, speed=2.0, seed=2)  # 2 s stall = 4 s of data
    win, be, _ = open_window(qtbot, src, tmp_path)
    try:
        path = be.start_recording("T02", "stall").result(10)
        qtbot.waitUntil(lambda: be.rec_samples.get("left", 0) > 400 and be.rec_samples.get("right", 0) > 400,
                        timeout=20_000)
        before = dict(be.rec_samples)
        frames_before = len(win.lat.frames)
        t_end = time.monotonic() + 2.0
        x = 0
        while time.monotonic() < t_end:  # the GUI thread is busy (holds the GIL between switches)
            x += 1
        during = {s: be.rec_samples[s] - before[s] for s in before}
        assert len(win.lat.frames) == frames_before  # no frame was drawn during the stall
        # 2 s at 2× speed = 4 s of data = 800 samples per side (minus link batching)
        assert all(n > 600 for n in during.values()), during
        qtbot.wait(1000)  # GUI runs again
        assert len(win.lat.frames) > frames_before + 10
        be.stop_recording().result(10)
        with open_session(path) as ses:
            for s in ("left", "right"):
                raw = ses.raw(s)
                idx = raw["sample_index"]
                assert np.all(np.diff(idx) == 1), f"{s}: samples missing or repeated"
                assert idx.size == be.rec_samples[s]
                assert len(raw["gaps"]) == 0
    finally:
        win.close()
        be.stop()


def test_dropped_sensor_shows_reconnecting_and_recovers(qtbot, tmp_path):
    rec = simulate(SimConfig(gait="run", duration_s=30.0, seed=4, stand_before_s=4.0, stand_after_s=0.0))
    faults = {"left": None, "right": FirmwareFaults(disconnects=((8.0, 10.0),))}
    src = SimulatedSource(rec, speed=4.0, faults=faults, seed=3)
    win, be, _ = open_window(qtbot, src, tmp_path)
    states = []

    def state():
        win.refresh(full=True)
        st = win.health.shown.get(("state", "right"))
        if not states or states[-1] != st:
            states.append(st)
        return st

    try:
        qtbot.waitUntil(lambda: state() == "connected", timeout=20_000)
        qtbot.waitUntil(lambda: state() == "reconnecting", timeout=20_000)
        assert win.health.shown[("state", "left")] == "connected"
        qtbot.waitUntil(lambda: state() == "connected", timeout=20_000)
        assert "reconnecting" in states
        # data flows again on the right after the reconnect
        n = be.n_samples["right"]
        qtbot.waitUntil(lambda: be.n_samples["right"] > n + 200, timeout=10_000)
    finally:
        win.close()
        be.stop()


def test_marker_is_stored_in_the_session(qtbot, tmp_path, run_rec):
    src = SimulatedSource(run_rec, speed=4.0, seed=5)
    win, be, _ = open_window(qtbot, src, tmp_path)
    try:
        win.subject.setText("R07")
        win.condition.setText("after")
        win.rec_button.click()
        qtbot.waitUntil(lambda: win.last_snapshot is not None and win.last_snapshot.recording.get("active"),
                        timeout=10_000)
        qtbot.waitUntil(lambda: be.rec_samples.get("left", 0) > 400, timeout=20_000)
        win.refresh(full=True)
        assert win.marker_button.isEnabled()
        win.marker_text.setText("stretching starts")
        win.marker_button.click()
        qtbot.waitUntil(lambda: len(be.model.snapshot(consume=False).markers) == 1, timeout=5_000)
        t_marker = be.model.snapshot(consume=False).markers[0][0]
        win.rec_button.click()
        qtbot.waitUntil(lambda: be.model.snapshot(consume=False).recording.get("last_path") is not None,
                        timeout=10_000)
        path = be.model.snapshot(consume=False).recording["last_path"]
        assert "R07_after" in path
        with open_session(path) as ses:
            m = ses.markers
            assert list(m["text"]) == ["stretching starts"]
            assert float(m["t_s"].iloc[0]) == pytest.approx(t_marker)
            assert ses.meta.get("subject_id") == "R07" and ses.meta.get("condition") == "after"
            t, _a, _g = ses.imu("left")
            assert t[0] <= t_marker <= t[-1] + 0.1
    finally:
        win.close()
        be.stop()


def test_replay_of_a_recorded_session_shows_its_strides(qtbot, tmp_path, run_rec):
    """`imugait live --replay FILE.h5`: a session file played back as fast as possible shows
    the strides the pipeline finds in the file."""
    from imugait.acquire.replay import ReplaySource
    from imugait.store.writer import SessionWriter
    from imugait.types import SampleBlock

    path = tmp_path / "run.h5"
    with SessionWriter(path, {"subject_id": "T03", "source": "simulated"}) as w:
        for s in run_rec.sides.values():
            w.add_sensor(s.info)
        for side, s in run_rec.sides.items():
            for i in range(0, s.n, 10):
                sl = slice(i, min(i + 10, s.n))
                w.append_block(SampleBlock(side=side, first_index=i, t_dev_s=s.t_dev_s[sl], acc_counts=s.acc_counts[sl],
                                           gyr_counts=s.gyr_counts[sl], acc_scale_mps2=s.info.acc_scale_mps2,
                                           gyr_scale_dps=s.info.gyr_scale_dps, seq=i // 10), s.t_true_s[sl])

    win, be, _ = open_window(qtbot, ReplaySource(path, speed=None), tmp_path / "replayed")
    try:
        qtbot.waitUntil(lambda: win.last_snapshot is not None and win.last_snapshot.finished, timeout=60_000)
        win.refresh(full=True)
        with open_session(path) as ses:
            for s in ("left", "right"):
                t, acc, gyr = ses.imu(s)
                p = GaitPipeline(fs_hz=200.0, side=s)
                strides = [st for st in p.push(t, acc, gyr).strides + p.flush().strides if st.valid]
                shown = np.asarray(win.bars.bars["rom_deg"][s].opts["height"], dtype=float)
                np.testing.assert_allclose(shown, [st.rom_deg for st in strides[-M.N_BARS:]], rtol=1e-6, atol=1e-6)
        assert win.health.shown[("state", "left")] == "stopped"
    finally:
        win.close()
        be.stop()
