"""Live view without Qt: ring buffers, the thread-safe model and the numbers it shows."""

import math
import threading

import numpy as np
import pytest

from imugait.analysis.results import StrideResult
from imugait.live import metrics as M
from imugait.live.model import EVENT_IC, EVENT_TO, LiveModel, Ring


def stride(side="left", i=0, ic=0.0, T=0.7, rom=50.0, swing=62.0, valid=True, gait="run"):
    stance = T * (100 - swing) / 100
    return StrideResult(side=side, stride_index=i, ic_s=ic, to_s=ic + stance, next_ic_s=ic + T, stride_s=T,
                        cadence_spm=120.0 / T, stance_s=stance, swing_s=T - stance, swing_pct=swing,
                        flex_peak_deg=rom * 0.6, ext_peak_deg=-rom * 0.4, rom_deg=rom, valid=valid,
                        reason="" if valid else "rom_below_floor", gait=gait)


# ---- Ring ------------------------------------------------------------------------------
def test_ring_keeps_newest_rows_in_order_across_wraps():
    r = Ring(5, 2)
    for k in range(4):
        r.append(np.array([[k, 10 * k]], float))
    assert r.latest()[:, 0].tolist() == [0, 1, 2, 3]
    r.append(np.array([[4, 40], [5, 50], [6, 60]], float))  # wraps
    assert r.latest()[:, 0].tolist() == [2, 3, 4, 5, 6]
    assert r.latest(2)[:, 1].tolist() == [50, 60]
    assert r.total == 7 and len(r) == 5
    r.append(np.arange(24, dtype=float).reshape(12, 2))  # longer than capacity
    assert r.latest()[:, 0].tolist() == [14, 16, 18, 20, 22]
    assert r.total == 19


def test_ring_since_and_copy_semantics():
    r = Ring(100, 1)
    r.append(np.arange(50, dtype=float).reshape(-1, 1))
    got = r.since(45.0)
    assert got[:, 0].tolist() == [45, 46, 47, 48, 49]
    got[:] = -1  # a copy: the ring is untouched
    assert r.latest(1)[0, 0] == 49


@pytest.mark.parametrize("cap", [1, 7, 64])
def test_ring_since_equals_filtering_all_rows_at_every_wrap_position(cap):
    rng = np.random.default_rng(cap)
    r = Ring(cap, 2)
    t = 0.0
    for _ in range(40):
        k = int(rng.integers(1, 2 * cap + 2))
        rows = np.column_stack([t + np.arange(k), rng.normal(size=k)])
        t += k
        r.append(rows)
        allrows = r.latest()
        for t_min in (-np.inf, allrows[0, 0], allrows[-1, 0], allrows[-1, 0] + 0.5, np.inf,
                      float(rng.uniform(allrows[0, 0] - 1, allrows[-1, 0] + 1))):
            got = r.since(t_min)
            np.testing.assert_array_equal(got, allrows[allrows[:, 0] >= t_min])
            assert got.shape[1] == 2 and not np.shares_memory(got, r._buf)


def test_snapshot_without_raw_and_the_new_strides_callback():
    m = LiveModel(window_s=2.0)
    t = np.arange(0, 3, 0.005)
    m.push_raw("left", t, np.zeros((t.size, 3)), np.ones((t.size, 3)), 50.0)
    m.push_angle("left", t, np.sin(t))
    assert m.snapshot(raw=False).sides["left"].raw.shape == (0, 7)
    assert m.snapshot(raw=False).sides["left"].angle.shape[0] > 300
    calls = []
    m.on_strides = lambda: calls.append(m.has_new_strides)
    m.push_strides("left", [stride(ic=1.0)])
    assert calls == [True]  # called after the stride is in the model
    m.snapshot()
    assert not m.has_new_strides

    def broken():
        raise RuntimeError("window gone")

    m.on_strides = broken
    m.push_strides("left", [stride(ic=1.7, i=1)])  # does not raise into the worker
    assert m.on_strides is None and m.snapshot().sides["left"].n_strides == 2


def test_ring_memory_is_fixed():
    r = Ring(1000, 7)
    buf = r._buf
    for _ in range(100):
        r.append(np.random.default_rng(0).normal(size=(37, 7)))
    assert r._buf is buf and r._buf.shape == (1000, 7)


# ---- model -----------------------------------------------------------------------------
def test_snapshot_window_events_strides_and_latency_queues():
    m = LiveModel(window_s=2.0)
    t = np.arange(0, 5, 0.005)
    acc = np.zeros((t.size, 3))
    gyr = np.ones((t.size, 3))
    for k in range(0, t.size, 10):
        m.push_raw("left", t[k:k + 10], acc[k:k + 10], gyr[k:k + 10], t_arrival_host_s=100.0 + t[k + 9])
    m.push_angle("left", t, np.sin(t))
    m.push_events("left", [("IC", 3.5), ("TO", 3.8), ("IC", 1.0)])
    m.push_strides("left", [stride(ic=2.0), stride(ic=2.7, i=1)])
    snap = m.snapshot()
    sl = snap.sides["left"]
    assert snap.t_now_s == pytest.approx(t[-1])
    assert sl.raw[0, 0] >= t[-1] - 2.0 and sl.raw[-1, 0] == pytest.approx(t[-1])
    assert sl.angle.shape[0] == sl.raw.shape[0]
    assert sl.events[:, 1].tolist() == [EVENT_IC, EVENT_TO]  # the IC at 1.0 s is outside the window
    assert len(sl.strides) == 2 and sl.n_strides == 2
    assert snap.new_arrivals_host_s.size == t.size // 10
    # closing contact host time from the arrival lower envelope (arrival - sample time = 100 s)
    assert [h for _s, h, _e in snap.new_strides] == pytest.approx([102.7, 103.4])
    again = m.snapshot()
    assert again.new_arrivals_host_s.size == 0 and again.new_strides == ()
    assert snap.sides["right"].raw.shape == (0, 7) and not snap.sides["right"].present


def test_stride_history_is_bounded():
    m = LiveModel(stride_history=10)
    m.push_strides("right", [stride("right", i) for i in range(25)])
    snap = m.snapshot()
    assert len(snap.sides["right"].strides) == 10 and snap.sides["right"].n_strides == 25
    assert snap.sides["right"].strides[-1].stride_index == 24


def test_concurrent_writer_and_reader_see_consistent_data():
    m = LiveModel(window_s=1.0, raw_capacity=512)
    stop = threading.Event()

    def writer():
        k = 0
        while not stop.is_set() and k < 20000:
            t = (k + np.arange(10)) / 200.0
            m.push_raw("left", t, np.zeros((10, 3)), np.zeros((10, 3)), 0.0)
            k += 10

    th = threading.Thread(target=writer)
    th.start()
    try:
        for _ in range(200):
            r = m.snapshot().sides["left"].raw
            if r.shape[0] > 1:
                assert np.all(np.diff(r[:, 0]) > 0)  # never a torn, unordered copy
    finally:
        stop.set()
        th.join()


def test_health_and_calibration_are_plain_dicts():
    m = LiveModel()

    class H:
        state = "reconnecting"
        battery_pct = None
        loss_pct = 1.5
        effective_rate_hz = 198.0
        clock_offset_ms = 2.0

    m.set_health("left", H())
    m.set_calibration("left", {"calibrated": False, "progress": 0.4, "message": "collecting"})
    s = m.snapshot().sides["left"]
    assert s.health["state"] == "reconnecting" and s.health["battery_pct"] is None
    assert s.calibration["progress"] == 0.4 and s.calibration["still_found"] is None


# ---- metrics ---------------------------------------------------------------------------
def test_balance_and_bands():
    assert M.balance_pct(50.0, 50.0) == 50.0
    assert M.balance_pct(52.0, 48.0) == pytest.approx(52.0)
    assert M.balance_pct(None, 1.0) is None and M.balance_pct(0.0, 1.0) is None
    assert M.balance_pct(float("nan"), 1.0) is None
    assert M.balance_band(51.9) == "symmetric"
    assert M.balance_band(47.5) == "notable"
    assert M.balance_band(55.0) == "large" and M.balance_band(44.0) == "large"
    assert M.balance_band(None) is None
    assert M.balance_text(52.04) == "52.0 % L"
    assert M.balance_text(47.0) == "53.0 % R"
    assert M.balance_text(None) == "—"


def test_running_median_uses_only_recent_valid_strides():
    st = [stride(rom=100.0, i=0)] + [stride(rom=40.0 + k, i=k + 1) for k in range(20)]
    st.append(stride(rom=5.0, valid=False, i=99))
    # the first (100°) falls out of the newest 20 valid, the invalid one never counts
    assert M.running_median(st, "rom_deg") == pytest.approx(np.median(40.0 + np.arange(20)))
    assert M.running_median(st[:2], "rom_deg") is None  # fewer than MIN_STRIDES_FOR_MEDIAN


def test_balances_from_medians_of_both_sides():
    L = [stride("left", k, ic=k * 0.7, rom=55.0, swing=62.0) for k in range(6)]
    R = [stride("right", k, ic=k * 0.7 + 0.35, rom=45.0, swing=62.0) for k in range(6)]
    b = M.balances(L, R)
    assert b["rom_deg"] == pytest.approx(55.0)
    assert b["swing_pct"] == pytest.approx(50.0)
    assert b["stance_s"] == pytest.approx(50.0)
    assert M.balances(L, [])["rom_deg"] is None


def test_cadence_and_gait_type_go_blank_when_stopped():
    L = [stride("left", k, ic=k * 0.7, T=0.7, gait="run") for k in range(8)]
    R = [stride("right", k, ic=k * 0.7 + 0.35, T=0.7, gait="run") for k in range(8)]
    last = max(s.next_ic_s for s in L + R)
    assert M.cadence_spm(L, R, last + 0.5) == pytest.approx(120 / 0.7)
    assert M.gait_type(L, R, last + 0.5) == "run"
    assert M.cadence_spm(L, R, last + M.CADENCE_STALE_S + 0.1) is None
    assert M.gait_type(L, R, float("nan")) is None
    assert M.cadence_spm([], [], 10.0) is None
    assert not math.isnan(M.cadence_spm(L, [], last) or float("nan"))
