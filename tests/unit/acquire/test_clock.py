"""Clock mapping: lower hull fit, segments, and a small slice of tools/bench_clock.py."""

import importlib.util
import sys

import numpy as np
import pytest
from repo_paths import REPO

from imugait.clock import ClockMapper, hull_fit, lower_hull


def _bench():
    spec = importlib.util.spec_from_file_location("bench_clock", REPO / "tools" / "bench_clock.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_clock"] = mod  # dataclasses need the module registered
    spec.loader.exec_module(mod)
    return mod


def test_lower_hull_small_case():
    x = [0, 1, 2, 3, 4]
    y = [0, -1, 5, -1, 0]
    assert lower_hull(x, y) == [0, 1, 3, 4]


def test_hull_fit_recovers_line_under_one_sided_noise():
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(100, 130, 600))
    slope, off = 1 + 37e-6, 5.0
    y = off + slope * x + rng.exponential(0.01, x.size)
    y[::50] = off + slope * x[::50]  # some packets with (nearly) no delay
    x_ref, y_ref, s = hull_fit(x, y)
    assert abs(s - slope) < 1e-9
    assert abs(y_ref - (off + slope * x_ref)) < 1e-9


def test_mapper_tracks_drift_and_ignores_backlog():
    rng = np.random.default_rng(1)
    cm = ClockMapper()
    drift = -42e-6
    t_host = np.arange(0, 40, 0.02)
    t_dev = 500 + (t_host - 3) * (1 + drift)  # device clock
    delay = 0.001 + rng.exponential(0.008, t_host.size)
    for td, th, d in zip(t_dev, t_host, delay):
        cm.add(td, th + d)
        cm.add(td, th + 5.0, usable=False)  # backlog packet: must not matter
    # host/device slope = 1/(1 + drift): the mapper reports +42 ppm for a device clock 42 ppm slow
    assert cm.established and abs(cm.drift_ppm + drift * 1e6) < 2
    err = cm.to_host(t_dev) - (t_host + 0.001)
    assert np.max(np.abs(err[-500:])) < 0.0005
    assert abs(cm.offset_ms(t_dev[-1]) - (t_host[-1] + 0.001 - t_dev[-1]) * 1e3) < 0.5


def test_segments_reconnect_keeps_old_line_reboot_does_not():
    cm = ClockMapper(min_span_s=2.0)
    for k in range(500):
        cm.add(100 + k * 0.02, 10 + k * 0.02 + 0.002)
    f0 = cm.fit
    assert f0.established and cm.segment == 0
    cm.new_segment("reconnect")
    cm.add(115.0, 25.0 + 0.030)  # one late-ish point: the old line stays in use
    assert cm.segment == 1 and cm.fit is f0
    cm.new_segment("reboot", device_clock_continues=False)
    cm.add(0.5, 40.0 + 0.003)  # device clock restarted: offset from the new point
    assert not cm.established
    assert cm.to_host(0.5) == pytest.approx(40.003)
    assert cm.fit.slope == pytest.approx(f0.slope)  # drift prior kept (same crystal)
    with pytest.raises(RuntimeError):
        ClockMapper().to_host(1.0)


def test_bench_slice_alignment_target_met():
    """Small slice of tools/bench_clock.py: 15 ms vs 45 ms links, stalls, 20-50 ppm drift,
    firmware hand-off dither (spec §6). Hull p95 <= 2 ms; raw arrival and least squares fail."""
    b = _bench()
    rows = b.run(duration_s=40, seeds=2, warmup_s=5, verbose=False)
    assert rows["hull"]["p95"] <= 2.0
    assert rows["lsq"]["p95"] > 5.0 and rows["raw"]["p95"] > 5.0


def _reconnect_scenario(cm, *, t_host_s):
    """Segment 0: 20 s of points (device = host + 100 s, 2 ms min delay). Link lost at host 20 s
    with the packet handed over at 19.99 s lost in flight; back 11 s later. After the
    reconnect: that packet resent unflagged (arrives 11 s late), then the first fresh packets
    stuck 300 ms behind the backlog burst, then normal ones."""
    for k in range(1000):
        cm.add(100 + k * 0.02, k * 0.02 + 0.002)  # last device time seen: 119.98
    f0 = cm.fit
    cm.new_segment("reconnect", t_host_s=t_host_s)
    used = [cm.add(119.99, 31.0)]  # the resent copy: device time before the reconnect
    for k in range(3):  # congested first fresh packets (handed over after the reconnect)
        used.append(cm.add(131.0 + k * 0.02, 31.0 + k * 0.02 + 0.300))
    return f0, used


def test_reconnect_refuses_points_handed_over_before_the_reconnect():
    """Regression (docs/sensors.md, "one-packet clock outlier after a reconnect"): the resent
    packet used to stretch the young segment past min_span_s, so the congested first fresh
    packets 'established' a line 300 ms late."""
    cm = ClockMapper(min_span_s=2.0)
    f0, used = _reconnect_scenario(cm, t_host_s=31.0)
    assert used == [False, True, True, True] and cm.n_stale_total == 1
    assert cm.guard_dev_s == pytest.approx(131.0 - 0.002, abs=1e-6)  # reconnect moment on the old line (2 ms floor)
    assert not cm._fit.established and cm.fit is f0  # the old line stays in use meanwhile
    assert abs(cm.to_host(131.02) - (31.02 + 0.002)) < 1e-3
    for k in range(3, 200):  # 4 s of normal packets: the new segment establishes correctly
        cm.add(131.0 + k * 0.02, 31.0 + k * 0.02 + 0.002 + 0.001 * (k % 3))
    assert cm.established and cm.fit is not f0
    assert abs(cm.to_host(135.0) - (35.0 + 0.002)) < 1e-4


def test_reconnect_guard_without_host_time_uses_device_time_seen():
    cm = ClockMapper(min_span_s=2.0)
    cm.add(100.0, 0.002)
    cm.add(101.0, 1.002)
    cm.new_segment("reconnect")
    assert cm.guard_dev_s == 101.0
    assert not cm.add(100.98, 12.0)  # older than a device time already seen
    assert cm.add(112.0, 12.005)


def test_reconnect_guard_does_not_refuse_a_restarted_device_clock():
    """A device clock that jumped back by more than the outage + window is not a stale packet
    (unnoticed restart): its points are used rather than refused forever."""
    cm = ClockMapper(min_span_s=2.0, window_s=60.0)
    for k in range(100):
        cm.add(5000 + k * 0.02, k * 0.02 + 0.002)
    cm.new_segment("reconnect", t_host_s=5.0)
    assert cm.add(0.5, 5.1)
    cm.new_segment("reboot", device_clock_continues=False)
    assert cm.guard_dev_s == -np.inf and cm.add(0.1, 6.0)
