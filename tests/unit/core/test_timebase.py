"""imugait.timebase: coarse, rounded, jittery and batched clocks re-fitted from the sample
index; gaps kept; broken time refused. Expected values are computed by hand in comments."""

import numpy as np
import pytest

from imugait.timebase import TimebaseError, estimate_period_s, fit_timebase


def test_clean_clock_is_kept_exactly():
    t = 12.5 + np.arange(1000) * 0.005
    tb = fit_timebase(t)
    assert np.array_equal(tb.t_s, t)
    r = tb.report
    assert r.n_retimed == 0 and r.n_gaps == 0 and not r.retimed and r.warning("x") is None
    assert r.fs_hz == pytest.approx(200.0, rel=1e-9)


def test_10ms_clock_at_200hz_refitted_by_hand():
    # true times 5k ms; a clock that truncates to 10 ms stamps the pairs (0, 0), (10, 10), ...
    k = np.arange(400)
    stamps = np.floor(k * 5.0 / 10.0) * 0.010
    tb = fit_timebase(stamps)
    r = tb.report
    # least squares over (k, stamp): slope 5 ms, residual of a pair 0 and -5 ms -> intercept -2.5 ms
    assert np.allclose(tb.t_s, 0.005 * k - 0.0025, atol=1e-12)
    assert r.fs_hz == pytest.approx(200.0, rel=1e-9)
    assert r.n_repeated == 200 and r.n_retimed == 400 and r.max_shift_s == pytest.approx(0.0025)
    assert r.tick_s == pytest.approx(0.010)
    assert "ticks every ≈10 ms" in r.warning("left.csv") and "400 of 400" in r.warning("left.csv")


def test_10ms_clock_at_100hz_with_a_fast_crystal():
    # 100 Hz whose crystal runs 0.2 % fast (9.98 ms), stamped by a 10 ms clock: every ~500
    # samples the stamp repeats. The re-fit follows the device's own rate.
    k = np.arange(3000)
    true = k * 0.00998
    stamps = np.floor(true / 0.010 + 1e-9) * 0.010
    assert np.count_nonzero(np.diff(stamps) == 0) >= 5
    tb = fit_timebase(stamps)
    err = tb.t_s - true
    # the slope is fitted over block means (measured: 5e-5 relative over 3000 samples)
    assert tb.report.fs_hz == pytest.approx(1 / 0.00998, rel=1e-4)
    assert np.ptp(err) < 0.002  # one offset for all samples, within a fifth of a clock tick
    assert abs(err.mean() + 0.005) < 0.001  # truncation puts the stamps 5 ms (half a tick) early
    assert np.all(np.diff(tb.t_s) > 0)


def test_1ms_clock_without_jitter_is_kept_and_with_jitter_refitted():
    k = np.arange(2000)
    plain = np.floor(k * 10.0) / 1000.0  # 100 Hz, 1 ms clock: every interval exactly 10 ms
    assert fit_timebase(plain).report.n_retimed == 0
    rng = np.random.default_rng(3)
    true = k * 0.005  # 200 Hz stamped on arrival with 0.8 ms jitter, 1 ms resolution
    stamps = np.round(true + rng.normal(0, 0.0008, k.size), 3)
    tb = fit_timebase(stamps)
    assert tb.report.n_retimed == k.size and tb.report.n_close > 0
    err = tb.t_s - true
    assert np.max(np.abs(err - err.mean())) < 0.0002 and abs(err.mean()) < 0.0002
    assert "scatter" in tb.report.warning("phone.csv")


def test_ble_batches_by_hand():
    # 100 Hz in notifications of 10 samples; the logger stamps a notification when it arrives
    # (7 ms after its last sample) and its samples 1 us apart: stamp = (10j+9)*10 + 7 + i*0.001 ms
    k = np.arange(1000)
    j, i = k // 10, k % 10
    stamps = ((10 * j + 9) * 10.0 + 7.0 + i * 0.001) / 1000.0
    tb = fit_timebase(stamps)
    # residual to 10k ms: 97 - 9.999 i -> mean over i = 97 - 9.999 * 4.5 = 52.0045 ms: every
    # sample is placed 52 ms late (latency + half a notification), the intervals are right
    off = tb.t_s - k * 0.010
    assert off.mean() == pytest.approx(0.0520045, abs=5e-5)
    assert np.ptp(off) < 0.0005  # slope fitted over block means: within 0.05 % of 10 ms
    assert tb.report.fs_hz == pytest.approx(100.0, rel=5e-5)
    assert "batches" in tb.report.warning("ble.csv")


def test_a_real_gap_survives_a_coarse_clock():
    k = np.arange(2000)
    true = k * 0.005 + np.where(k >= 1000, 2.0, 0.0)  # 2 s pause after sample 999
    stamps = np.floor(true / 0.010 + 1e-9) * 0.010
    tb = fit_timebase(stamps)
    assert tb.report.n_gaps == 1 and tb.report.n_segments == 2
    assert tb.t_s[1000] - tb.t_s[999] == pytest.approx(2.005, abs=0.005)
    assert np.all(np.diff(tb.t_s[:1000]) == pytest.approx(0.005)) and np.all(np.diff(tb.t_s[1000:]) == pytest.approx(0.005))
    assert "1 gap(s) kept" in tb.report.warning("x")


def test_lost_samples_of_a_good_clock_stay_gaps():
    rng = np.random.default_rng(1)
    t = np.arange(10000) / 200.0
    keep = rng.random(t.size) > 0.03
    keep[3000:3020] = False
    tb = fit_timebase(t[keep])
    assert tb.report.n_retimed == 0 and np.array_equal(tb.t_s, t[keep])


def test_many_lost_packets_of_a_good_clock_stay_gaps():
    # 200 Hz, exact clock, 40 lost packets of 8 samples (3 % of the file): nearly every
    # 256-sample window holds a loss, so the windowed first estimate reads the period long
    # (5.17 ms); the single intervals still say 5 ms and the stamps are kept as they are
    k = np.arange(10_000)
    t = k * 0.005
    keep = np.ones(k.size, bool)
    for p in np.random.default_rng(0).choice(np.arange(10, 1240), size=40, replace=False):
        keep[p * 8:(p + 1) * 8] = False
    tb = fit_timebase(t[keep])
    assert np.array_equal(tb.t_s, t[keep])
    assert tb.report.n_retimed == 0 and tb.report.fs_hz == pytest.approx(200.0, rel=1e-9)


def test_short_file_with_a_pause_on_a_coarse_jittery_clock():
    # 11 s at 58.8 Hz on a 60 Hz (16.67 ms) clock with 3 ms jitter and a 2 s pause in the
    # middle: with only two 256-sample blocks, the one holding the pause made the period 23 %
    # long and the clock band seconds wide (the pause then hid inside it; 1.26 s off)
    rng = np.random.default_rng(2)
    n, T = 643, 1 / 58.8
    true = 100.0 + np.arange(n) * T
    true[n // 2:] += 2.0
    stamps = np.maximum.accumulate(np.floor((true + rng.normal(0, 0.003, n)) / 0.01667) * 0.01667)
    tb = fit_timebase(stamps)
    assert tb.report.n_gaps == 1 and tb.report.fs_hz == pytest.approx(58.8, rel=0.002)
    err = tb.t_s - true
    assert np.ptp(err[: n // 2]) < 0.02 and np.ptp(err[n // 2:]) < 0.02


def test_unseen_losses_on_a_coarse_clock_stay_near_the_stamps():
    # 50 Hz in BLE-style batches of 8 stamped at their last sample by a 10 ms clock, 5 % of
    # the samples lost unseen (the clock cannot show them): one line over the file drifted
    # away from the stamps; the re-fit follows them within the clock's own error
    rng = np.random.default_rng(3)
    n, T = 3000, 0.02
    k = np.arange(n)
    true = k * T
    stamps = np.floor(true[np.minimum((k // 8) * 8 + 7, n - 1)] / 0.01) * 0.01
    keep = rng.random(n) > 0.05
    tb = fit_timebase(stamps[keep])
    r = tb.report
    assert r.clock_error_s < 0.3  # the batch span (0.16 s) and the tick
    assert np.max(np.abs(tb.t_s - stamps[keep])) <= r.clock_error_s + 2 * r.period_s
    assert np.all(np.diff(tb.t_s) > 0)


def test_backwards_by_less_than_a_period_is_repaired():
    t = np.arange(1000) * 0.010
    bad = t.copy()
    bad[500] = t[499] - 0.004  # 4 ms before the sample before it (< 10 ms period)
    tb = fit_timebase(bad)
    assert tb.report.n_retimed == 1 and tb.report.n_backward == 1
    assert tb.t_s[500] == pytest.approx(t[500])  # interpolated between its neighbours over the index
    assert np.array_equal(np.delete(tb.t_s, 500), np.delete(t, 500))
    assert "going back by less than a period" in tb.report.warning("x")


def test_backwards_by_more_than_a_period_is_refused_with_the_sample():
    t = np.arange(1000) * 0.010
    t[500] = t[499] - 0.015
    with pytest.raises(TimebaseError) as ei:
        fit_timebase(t)
    assert ei.value.index == 500 and "goes back" in str(ei.value) and "sort the file" in str(ei.value)
    assert "drop repeats" not in str(ei.value)


def test_no_usable_time_is_refused():
    with pytest.raises(TimebaseError, match="does not advance"):
        fit_timebase(np.zeros(100))
    t = np.arange(100) * 0.01
    t[7] = np.nan
    with pytest.raises(TimebaseError) as ei:
        fit_timebase(t)
    assert ei.value.index == 7


def test_period_estimate_ignores_batching_and_gaps():
    k = np.arange(5000)
    t = (k // 25) * 0.125 + (k % 25) * 1e-6  # 200 Hz in batches of 25
    t[2500:] += 3.0
    assert estimate_period_s(t) == pytest.approx(0.005, rel=1e-3)
