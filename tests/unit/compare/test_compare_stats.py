"""Statistics of the before/after comparison: block bootstrap, effect sizes, MDC, asymmetry."""

import math

import numpy as np
import pytest

from imugait.analysis.summary import balance_left_pct, ln_ratio_pct
from imugait.compare import stats


def ar1(rng, n, phi, sd=1.0):
    z = rng.normal(0, sd, n)
    e = np.empty(n)
    e[0] = z[0] / math.sqrt(1 - phi**2)
    for i in range(1, n):
        e[i] = phi * e[i - 1] + z[i]
    return e


def test_block_length_grows_with_autocorrelation():
    rng = np.random.default_rng(1)
    iid = [stats.politis_white_block_length(rng.normal(size=400)) for _ in range(10)]
    corr = [stats.politis_white_block_length(ar1(rng, 400, 0.9)) for _ in range(10)]
    assert np.median(iid) < 3
    assert np.median(corr) > 8
    assert stats.politis_white_block_length(np.ones(50)) == 1.0
    assert stats.politis_white_block_length(np.arange(5.0)) == 1.0


def test_circular_block_indices_are_consecutive_blocks():
    rng = np.random.default_rng(0)
    idx = stats.circular_block_indices(10, 3, 7, rng)
    assert idx.shape == (7, 10)
    assert idx.min() >= 0 and idx.max() < 10
    # within each block of 3 the indices step by one (mod n)
    for row in idx:
        for b in range(0, 9, 3):
            blk = row[b:b + 3]
            assert np.all((np.diff(blk) % 10) == 1)


def test_bootstrap_detects_a_shift_and_is_reproducible():
    rng = np.random.default_rng(3)
    b = [ar1(rng, 200, 0.5)]
    a = [ar1(rng, 200, 0.5) + 2.0]
    r1 = stats.bootstrap_median_diff(b, a, n_boot=1000, seed=7)
    r2 = stats.bootstrap_median_diff(b, a, n_boot=1000, seed=7)
    assert r1 == r2
    assert r1["diff"] == pytest.approx(np.median(a[0]) - np.median(b[0]))
    assert r1["ci_low"] < r1["diff"] < r1["ci_high"]
    assert r1["ci_low"] > 0 and r1["ci_low"] < 2.0 < r1["ci_high"]
    assert r1["n_before"] == 200 and r1["block_before"] >= 1


def test_bootstrap_keeps_sessions_apart_and_handles_empty():
    b = [np.full(30, 1.0), np.full(30, 3.0)]
    a = [np.full(40, 2.0)]
    r = stats.bootstrap_median_diff(b, a, n_boot=200, seed=0)
    assert r["n_before"] == 60 and r["n_after"] == 40
    # every replicate keeps 30 values of each session: pooled median stays 2.0 -> diff 0
    assert r["ci_low"] == pytest.approx(0.0) and r["ci_high"] == pytest.approx(0.0)
    e = stats.bootstrap_median_diff([], a)
    assert math.isnan(e["diff"]) and math.isnan(e["ci_low"])


def test_unchanged_pairs_mostly_contain_zero():
    """A small coverage slice (the full sweep lives in tools/validate_compare.py)."""
    hits = 0
    n = 60
    for s in range(n):
        rng = np.random.default_rng(100 + s)
        r = stats.bootstrap_median_diff([ar1(rng, 150, 0.3)], [ar1(rng, 150, 0.3)], n_boot=400, seed=s)
        hits += r["ci_low"] <= 0 <= r["ci_high"]
    assert hits / n >= 0.85  # nominal 95 %; 85 % is > 3 binomial SDs below


def test_inflation_is_one_for_iid_and_above_one_for_correlated():
    rng = np.random.default_rng(5)
    assert stats.block_inflation(rng.normal(size=300), 1) == pytest.approx(1.0, abs=0.05)
    assert stats.block_inflation(ar1(rng, 300, 0.8), 3) > 1.1
    assert stats.block_inflation(ar1(rng, 300, 0.8), 3) <= stats.MAX_INFLATION


def test_cliffs_delta_matches_brute_force_with_ties():
    rng = np.random.default_rng(2)
    b = rng.integers(0, 5, 40).astype(float)
    a = rng.integers(1, 6, 33).astype(float)
    brute = np.mean(np.sign(a[:, None] - b[None, :]))
    assert stats.cliffs_delta(b, a) == pytest.approx(brute)
    assert stats.cliffs_delta([1, 2], [3, 4]) == 1.0
    assert stats.cliffs_magnitude(0.1) == "negligible" and stats.cliffs_magnitude(-0.6) == "large"


def test_robust_effect_size():
    b = np.array([0.0, 1, 2, 3, 4])
    a = b + 2
    sd = 1.4826 * 1.0
    assert stats.robust_effect_size(b, a) == pytest.approx(2 / sd)
    assert math.isnan(stats.robust_effect_size(np.ones(5), np.ones(5)))


def test_mdc95_from_two_parts():
    mdc, sem = stats.mdc95([10.0, 12.0])
    assert sem == pytest.approx(math.sqrt(2))
    assert mdc == pytest.approx(1.96 * math.sqrt(2) * math.sqrt(2))
    assert all(math.isnan(v) for v in stats.mdc95([10.0]))


def test_ln_ratio_index_and_balance():
    # the comparison uses the analysis' own indices (imugait.analysis.summary)
    v = ln_ratio_pct(np.array([1.0, math.e, 2.0, -1.0]), np.array([1.0, 1.0, 0.0, 1.0]))
    assert v[0] == 0.0 and v[1] == pytest.approx(100.0)
    assert np.isnan(v[2]) and np.isnan(v[3])
    assert float(balance_left_pct(51.0, 49.0)) == pytest.approx(51.0)
    assert math.isnan(float(balance_left_pct(float("nan"), 1.0)))


def test_mdc_never_below_the_sampling_noise_of_one_measurement():
    # two halves of a run that happen to share their median: the SD of the two medians is 0,
    # but each half's median still has sampling error; the MDC must not claim 0
    rng = np.random.default_rng(3)
    a = 50 + rng.normal(0, 2.0, 80)
    b = a - np.median(a) + 50 + rng.normal(0, 2.0, 80) * 0  # same median as a by construction
    b = b + (np.median(a) - np.median(b))
    assert np.median(a) == pytest.approx(np.median(b))
    mdc_raw, _ = stats.mdc95([np.median(a), np.median(b)])
    assert mdc_raw == pytest.approx(0.0, abs=1e-9)
    se = [stats.median_se(a), stats.median_se(b)]
    assert all(0.1 < v < 1.0 for v in se)  # ~1.25*2/sqrt(80) = 0.28
    mdc, sem = stats.mdc95([np.median(a), np.median(b)], se)
    assert sem == pytest.approx(np.sqrt(np.mean(np.square(se))))
    assert mdc > 0.5


def test_session_measurement_error_restores_coverage():
    """A per-session error (constant within a session) is invisible to the stride bootstrap;
    with its SD given, the interval covers again (docs/compare.md, statistics step 6)."""
    rng = np.random.default_rng(7)
    sigma_s, n, reps = 0.15, 200, 200
    hits = {0.0: 0, sigma_s: 0}
    for i in range(reps):
        b = rng.normal(0, 1, n) + rng.normal(0, sigma_s)
        a = rng.normal(0, 1, n) + rng.normal(0, sigma_s)
        for s in hits:
            r = stats.bootstrap_median_diff([b], [a], n_boot=400, seed=i, session_error_sd=s)
            hits[s] += r["ci_low"] <= 0 <= r["ci_high"]
    # stride SE of the diff ≈ 0.125, session part 0.21: without it ≈ 69 %, with it ≈ 95 %
    assert hits[0.0] / reps < 0.80
    assert 0.90 < hits[sigma_s] / reps <= 1.0


def test_measurement_sd_combines_sessions_and_relative_error():
    rng = np.random.default_rng(3)
    b = [rng.normal(0, 1, 100), rng.normal(0, 1, 100)]
    a = [rng.normal(5, 1, 100)]
    r = stats.bootstrap_median_diff(b, a, n_boot=300, seed=1, session_error_sd=0.2, relative_error_sd=0.02)
    want = math.sqrt(0.2**2 / 2 + 0.2**2 / 1 + (0.02 * r["diff"]) ** 2)
    assert r["measurement_sd"] == pytest.approx(want)
    assert r["boot_sd"] == pytest.approx(math.hypot(r["sampling_sd"], want), rel=0.15)
    r0 = stats.bootstrap_median_diff(b, a, n_boot=300, seed=1)
    assert r0["measurement_sd"] == 0.0 and r0["boot_sd"] == pytest.approx(r0["sampling_sd"])
