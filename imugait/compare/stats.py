"""Statistics for before/after comparisons of stride series — plain numpy, no I/O.

Why not a t-test: consecutive strides of one runner are correlated (a slow drift in speed,
fatigue, terrain), so 300 strides carry far less information than 300 independent values.
We therefore resample *blocks of consecutive strides*.

Algorithm (per side and metric)
-------------------------------
1. Each session's stride series (valid strides, in time order) is one stationary-ish series.
2. Block length ``l`` per series: Politis & White (2004, Econometric Reviews 23:53) automatic
   selection for the circular block bootstrap, with the correction of Patton, Politis &
   White (2009, Econometric Reviews 28:372). It estimates the spectral density at frequency 0
   and its derivative from the autocorrelation with a flat-top lag window; i.i.d. data give
   ``l ≈ 1``, strongly autocorrelated series long blocks. Clipped to ``[1, n/3]``.
3. Circular block bootstrap (Politis & Romano 1992): each replicate draws ``ceil(n/l)``
   random block starts, takes ``l`` consecutive strides from each (wrapping at the end),
   truncates to ``n``. Several sessions of one condition are resampled separately (strata)
   and pooled, so a replicate never glues strides of two sessions into one block.
4. Bias correction: the block bootstrap is too narrow for positively autocorrelated
   series (variance bias ≈ −G/(l·n), Künsch 1989); each condition's replicates are widened
   by ``sqrt(g0/(g0 − G/l))`` (clipped to [1, 1.5]) using the same flat-top estimates of the
   long-run variance g0 and G that choose ``l`` (see :func:`block_inflation`). Without it a
   nominal 95 % interval covered 91 % for AR(1) φ = 0.5, n = 300 (tools/validate_compare.py).
5. Statistic per replicate: ``median(after*) - median(before*)``.
6. Measurement error: resampling strides only sees stride-to-stride variation. Each
   session's median also carries errors that are constant within the session — the
   analysis' own (calibration, bias-drift state, stride segmentation), the gyroscope's
   scale at that day's temperature, and, when a sensor was re-strapped or swapped, where
   the strap sits and the sensor's own calibration — and the measured change carries a
   small relative error κ. Their variance comes from the error budget
   (:mod:`imugait.compare.budget`, ``imugait/data/compare_error_budget.json``) and is
   convolved into the replicates: each gets one normal draw of
   ``N(0, v_budget + (κ·diff)²)`` — the usual uncertainty budget (sampling ⊕
   measurement, GUM/JCGM 100:2008 §5.1) carried through the bootstrap.
   The interval is the percentile interval at ``level`` of ``n_boot`` (default 2000)
   replicates; the comparison asks for its guard-banded level (97.5 % for a reported 95 %
   interval, ``comparison.CompareParams.guard_level``) and reports the plain one beside it.
   Seeded and fully vectorised: one ``(n_boot, n)`` index array per session.

Effect sizes
------------
* ``effect_size`` — difference of medians divided by the pooled robust SD
  (``1.4826 × MAD`` of each condition, pooled as ``sqrt((s_b² + s_a²)/2)``): a robust
  analogue of Cohen's d; 0.2/0.5/0.8 read as small/medium/large.
* ``cliffs_delta`` — P(after > before) − P(after < before) over all stride pairs, in
  [−1, 1]; |δ| < 0.147 negligible, < 0.33 small, < 0.474 medium, else large
  (Romano et al. 2006). Computed in O(n log n) with ``searchsorted``.

Minimal detectable change
-------------------------
``MDC95 = 1.96 · √2 · SEM`` (Weir 2005, J Strength Cond Res 19:231) with
``SEM = SD(medians of the baseline parts, ddof=1)`` — the parts are two or more baseline
sessions (test–retest), else two or more baseline bouts, else the two halves of the
baseline session. Halves and bouts only see within-session variation (no re-strapping), so
that MDC is a lower bound on the day-to-day change; the source is always reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MAD_TO_SD = 1.4826


def politis_white_block_length(x: np.ndarray, kind: str = "circular") -> float:
    """Optimal block length for the circular (``"circular"``) or stationary bootstrap.

    Returns a float ≥ 1 (un-rounded). Series shorter than 8 values return 1.0.
    """
    return _politis_white(x, kind)[0]


def _politis_white(x: np.ndarray, kind: str = "circular") -> tuple[float, float, float]:
    """``(block length, g0, G)``: g0 = flat-top estimate of the long-run variance
    (Σ λ(k/M) R(k)), G = Σ λ(k/M) |k| R(k) (its first-order bias term)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    if n < 8:
        return 1.0, float("nan"), 0.0
    xc = x - x.mean()
    var = float(np.dot(xc, xc) / n)
    if var <= 0:
        return 1.0, 0.0, 0.0
    kn = max(5, int(math.ceil(math.sqrt(math.log10(n)))))
    m_max = int(math.ceil(math.sqrt(n))) + kn
    m_max = min(m_max, n - 1)
    # autocovariances up to m_max (direct, small)
    acov = np.array([np.dot(xc[: n - k], xc[k:]) / n for k in range(m_max + 1)])
    rho = acov / acov[0]
    c = 2.0 * math.sqrt(math.log10(n) / n)
    # smallest m such that |rho(m+1..m+kn)| all below c
    insignificant = np.abs(rho[1:]) < c  # index j -> lag j+1
    m_hat = None
    for m in range(0, m_max - kn + 1):
        if insignificant[m : m + kn].all():
            m_hat = m
            break
    if m_hat is None:
        m_hat = m_max // 2
    big_m = min(2 * max(m_hat, 1), m_max)
    lags = np.arange(-big_m, big_m + 1)
    t = np.abs(lags) / big_m
    lam = np.where(t <= 0.5, 1.0, np.where(t <= 1.0, 2.0 * (1.0 - t), 0.0))
    r = acov[np.abs(lags)]
    g_hat = float(np.sum(lam * np.abs(lags) * r))
    g0 = float(np.sum(lam * r))
    if g0 <= 0:
        return 1.0, g0, g_hat
    d = (4.0 / 3.0) * g0**2 if kind == "circular" else 2.0 * g0**2
    b = (2.0 * g_hat**2 / d) ** (1.0 / 3.0) * n ** (1.0 / 3.0)
    if not np.isfinite(b):
        return 1.0, g0, g_hat
    return float(min(max(b, 1.0), max(1.0, n / 3.0))), g0, g_hat


MAX_INFLATION = 1.5


def block_inflation(x: np.ndarray, block: int) -> float:
    """Spread correction of the block bootstrap for block length ``block``.

    The block bootstrap variance of a mean-like statistic is biased by ≈ −G/(l·n)
    relative to the true g0/n (Künsch 1989; Politis & White 2004 use the same G, g0 to
    pick ``l``): with positive autocorrelation it is too narrow. The factor
    ``sqrt(g0 / (g0 − G/l))`` (clipped to [1, 1.5]) widens the replicates around their
    centre to remove that first-order bias; 1 for uncorrelated series.
    """
    _b, g0, g = _politis_white(x)
    if not (np.isfinite(g0) and g0 > 0 and np.isfinite(g)):
        return 1.0
    denom = g0 - g / max(int(block), 1)
    if denom <= 0:
        return MAX_INFLATION
    return float(np.clip(math.sqrt(g0 / denom), 1.0, MAX_INFLATION))


def block_length(x: np.ndarray) -> int:
    """Rounded Politis–White circular-bootstrap block length (≥ 1)."""
    return max(1, int(round(politis_white_block_length(x))))


def circular_block_indices(n: int, block: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_boot, n)`` int index array of a circular block bootstrap of a length-``n`` series."""
    block = max(1, min(int(block), n))
    k = int(math.ceil(n / block))
    starts = rng.integers(0, n, size=(n_boot, k))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]) % n
    return idx.reshape(n_boot, k * block)[:, :n]


def _resample_pooled(series: Sequence[np.ndarray], blocks: Sequence[int], n_boot: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Block-resample each series separately, pool them: ``(n_boot, sum n)`` values."""
    parts = []
    for x, b in zip(series, blocks):
        idx = circular_block_indices(x.size, b, n_boot, rng)
        parts.append(x[idx])
    return np.concatenate(parts, axis=1)


def robust_sd(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return float("nan")
    return float(MAD_TO_SD * np.median(np.abs(x - np.median(x))))


def cliffs_delta(before: np.ndarray, after: np.ndarray) -> float:
    """P(a > b) − P(a < b) over all pairs (a from after, b from before)."""
    b = np.sort(np.asarray(before, dtype=float))
    a = np.asarray(after, dtype=float)
    if a.size == 0 or b.size == 0:
        return float("nan")
    less = np.searchsorted(b, a, side="left")  # number of b < a
    leq = np.searchsorted(b, a, side="right")  # number of b <= a
    greater = b.size - leq  # number of b > a
    return float((less.sum() - greater.sum()) / (a.size * b.size))


def cliffs_magnitude(delta: float) -> str:
    d = abs(delta)
    if not np.isfinite(d):
        return ""
    if d < 0.147:
        return "negligible"
    if d < 0.33:
        return "small"
    if d < 0.474:
        return "medium"
    return "large"


def bootstrap_median_diff(before: Sequence[np.ndarray], after: Sequence[np.ndarray], *,
                          n_boot: int = 2000, seed: int = 0, level: float = 0.95,
                          blocks_before: Sequence[int] | None = None,
                          blocks_after: Sequence[int] | None = None,
                          inflate: bool = True, session_error_sd: float = 0.0,
                          relative_error_sd: float = 0.0, extra_error_var: float = 0.0,
                          exact_level: float | None = None) -> dict:
    """Block-bootstrap CI of ``median(after) − median(before)``.

    ``before``/``after`` are lists of per-session stride series (time order, finite values).
    Returns ``diff, ci_low, ci_high, n_before, n_after, block_before, block_after`` (the
    block lengths used, max over sessions), ``boot_sd`` (SD of the bootstrap replicates),
    ``inflation_before/after`` (spread correction, see :func:`block_inflation`).

    Measurement error of the analysis (step 6 of the module docstring): each session's
    median carries an error of SD ``session_error_sd`` that is constant within the session
    (so no resampling of its strides can see it) and independent between sessions, and the
    measured change carries a relative error of SD ``relative_error_sd``. Each replicate
    difference gets one draw of ``N(0, σ_s²/k_b + σ_s²/k_a + (κ·diff)²)`` (``k`` = sessions
    per condition) — a Monte Carlo convolution of the sampling distribution with the
    measurement-error distribution. ``extra_error_var`` is any further variance of the
    difference known from outside the strides (the comparison passes the error budget's
    variance here, :func:`imugait.compare.budget.measurement_variance`); it is added to the
    same draw. ``sampling_sd`` is the replicate SD before, ``measurement_sd`` the SD added,
    ``boot_sd`` the SD after. ``exact_level`` also returns the percentile interval at that
    level from the same replicates as ``ci_low_exact``/``ci_high_exact`` (the comparison
    reports its guard-banded interval at ``level`` and the plain one beside it).
    """
    bs = [np.asarray(x, float)[np.isfinite(np.asarray(x, float))] for x in before]
    as_ = [np.asarray(x, float)[np.isfinite(np.asarray(x, float))] for x in after]
    bs = [x for x in bs if x.size > 0]
    as_ = [x for x in as_ if x.size > 0]
    nb = sum(x.size for x in bs)
    na = sum(x.size for x in as_)
    out = {"n_before": nb, "n_after": na, "diff": float("nan"), "ci_low": float("nan"),
           "ci_high": float("nan"), "block_before": 0, "block_after": 0, "boot_sd": float("nan"),
           "before_median": float("nan"), "after_median": float("nan")}
    if nb == 0 or na == 0:
        return out
    allb = np.concatenate(bs)
    alla = np.concatenate(as_)
    out["before_median"] = float(np.median(allb))
    out["after_median"] = float(np.median(alla))
    out["diff"] = out["after_median"] - out["before_median"]
    lb = list(blocks_before) if blocks_before is not None else [block_length(x) for x in bs]
    la = list(blocks_after) if blocks_after is not None else [block_length(x) for x in as_]
    out["block_before"] = int(max(lb))
    out["block_after"] = int(max(la))
    if nb < 2 or na < 2:
        return out
    rng = np.random.default_rng(seed)
    rb = np.median(_resample_pooled(bs, lb, n_boot, rng), axis=1)
    ra = np.median(_resample_pooled(as_, la, n_boot, rng), axis=1)
    kb = ka = 1.0
    if inflate:
        kb = math.sqrt(sum(x.size * block_inflation(x, b) ** 2 for x, b in zip(bs, lb)) / nb)
        ka = math.sqrt(sum(x.size * block_inflation(x, b) ** 2 for x, b in zip(as_, la)) / na)
        rb = rb.mean() + (rb - rb.mean()) * kb
        ra = ra.mean() + (ra - ra.mean()) * ka
    out["inflation_before"] = kb
    out["inflation_after"] = ka
    d = ra - rb
    out["sampling_sd"] = float(np.std(d, ddof=1))
    meas_var = ((session_error_sd ** 2) * (1.0 / len(bs) + 1.0 / len(as_)) + (relative_error_sd * out["diff"]) ** 2
                + max(float(extra_error_var), 0.0))
    out["measurement_sd"] = float(math.sqrt(meas_var)) if math.isfinite(meas_var) else 0.0
    if out["measurement_sd"] > 0:
        d = d + rng.normal(0.0, out["measurement_sd"], size=d.shape)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(d, [alpha, 1.0 - alpha])
    out["ci_low"] = float(lo)
    out["ci_high"] = float(hi)
    if exact_level is not None:
        a2 = (1.0 - exact_level) / 2.0
        lo2, hi2 = np.quantile(d, [a2, 1.0 - a2])
        out["ci_low_exact"], out["ci_high_exact"] = float(lo2), float(hi2)
    out["boot_sd"] = float(np.std(d, ddof=1))
    return out


def robust_effect_size(before: np.ndarray, after: np.ndarray) -> float:
    """(median(after) − median(before)) / pooled robust SD; NaN if the spread is zero."""
    b = np.asarray(before, float)
    a = np.asarray(after, float)
    if a.size == 0 or b.size == 0:
        return float("nan")
    s = math.sqrt((robust_sd(b) ** 2 + robust_sd(a) ** 2) / 2.0)
    if not np.isfinite(s) or s == 0:
        return float("nan")
    return float((np.median(a) - np.median(b)) / s)


def median_se(x: np.ndarray, n_boot: int = 400, seed: int = 0) -> float:
    """Standard error of the median of a series of consecutive strides, by a circular
    block bootstrap (Politis–White block length, inflation-corrected as in
    :func:`bootstrap_median_diff`). NaN for fewer than 4 values."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if x.size < 4:
        return float("nan")
    b = block_length(x)
    rng = np.random.default_rng(seed)
    meds = np.median(x[circular_block_indices(x.size, b, n_boot, rng)], axis=1)
    return float(np.std(meds, ddof=1) * block_inflation(x, b))


def mdc95(part_medians: Sequence[float], part_median_se: Sequence[float] | None = None) -> tuple[float, float]:
    """``(MDC95, SEM)`` from the medians of ≥ 2 baseline parts; NaNs if fewer.

    ``SEM`` is the SD of the part medians (test–retest). With few parts that SD rests on
    one or two degrees of freedom and can come out near zero by chance (two halves of a
    run with the same median), which would make any change look "real". When the
    parts' own sampling errors are given (``part_median_se``, e.g. from
    :func:`median_se`), SEM is never taken below their root-mean-square: the day-to-day
    change cannot be smaller than the noise of a single measurement."""
    m = np.asarray([v for v in part_medians if np.isfinite(v)], float)
    if m.size < 2:
        return float("nan"), float("nan")
    sem = float(np.std(m, ddof=1))
    if part_median_se is not None:
        se = np.asarray([v for v in part_median_se if np.isfinite(v)], float)
        if se.size:
            sem = max(sem, float(np.sqrt(np.mean(se ** 2))))
    return float(1.96 * math.sqrt(2.0) * sem), sem

