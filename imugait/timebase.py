"""Real-world time stamps → a usable time base (pure numpy; the ONE implementation).

Loggers write time stamps that are coarser or noisier than the samples they label:

* **coarse / rounded clocks** — a device or phone clock that ticks every 1–10 ms, coarser
  than (or close to) the sample period: at 200 Hz with a 10 ms clock half the stamps
  repeat the previous one (``0, 0, 10, 10, 20 …`` ms);
* **batched stamps** — a BLE logger stamps a whole notification at once: many samples a few
  µs apart, then a jump of a whole packet (``0, 1, 2, … µs, 80 ms, 80.001 …``);
* **jitter** — a logger that stamps samples when it *receives* them: intervals scatter
  around the sample period and now and then run backwards by a little.

The sensor samples on its own crystal, so the sample *index* is a better clock than such
stamps. :func:`fit_timebase` re-fits the time from the index wherever the stamps cannot
order the samples on their own, and keeps the stamps where they can:

1. **Period.** A first ``T`` = median over all windows of ``W`` consecutive samples of
   ``(t[i+W] − t[i]) / W`` (``W`` = 256, fewer for short files): rounding, batching and
   jitter average out inside a window, gaps spoil only the windows that contain them. When
   at least 90 % of the intervals lie within half a period of it (a clock that resolves
   every sample), their mean replaces it and intervals of whole periods count as lost
   samples. After step 4 the period is refined by least squares of time on sample index
   (lost samples counted) over block means of 32 samples within the gap-free pieces.
2. **Broken time is refused** (:class:`TimebaseError`): a non-finite stamp, time that does
   not advance, or a stamp earlier than one already seen by **more than one sample period**
   (``t[i] < max(t[:i]) − T``: the rows are out of order, not a coarse clock).
3. **Clock error.** ``u = t − T·index`` is constant for a perfect clock, jumps by the gap
   length at a gap, and scatters within a band for a coarse, batched or jittery clock. The
   band's width ``E`` is the median over blocks of ``W`` samples of ``max(u) − min(u)``
   (for a clock that resolves every sample, after taking out the whole-period steps of
   lost samples).
4. **Gaps** are intervals longer than ``max(2·(T + E), 3·T)``: longer than any interval the
   clock's own error can make. They split the recording into segments and always survive (a 2 s
   pause stays 2 s; its length is known to within the clock's error).
5. **Per segment**: when every interval is a whole number of periods (within 0.3 T,
   at least half a period) the stamps are kept as they are — lost samples stay visible to
   the analysis as gaps. A fine clock (``E ≤ T/4``) with a few odd stamps (a repeat, a stamp
   a little early or late) gets only those samples re-timed, by linear interpolation over the
   sample index between their good neighbours. Otherwise the whole segment is re-fitted
   from the index: ``t = a + b·k`` by least squares (``b`` = the segment's own slope when
   it is long and within −20/+25 % of ``T``, so the device's true rate is followed; ``T``
   otherwise) — and where that line leaves the stamps by more than the clock error plus a
   period (samples lost unseen by a coarse clock, a wandering rate: seconds at the end of a
   long file), the stamps smoothed over the index instead (:func:`_local_fit`), which follow
   the stamps within the clock's own error. Whether a logger stamps the first or
   the last sample of a batch cannot be known from the file, so absolute times carry up to
   half the clock error (reported as ``max_shift_s``); intervals, and so strides, do not.

The report (:class:`TimebaseReport`) counts what was done; :meth:`TimebaseReport.warning`
gives the one-line warning callers print and store (``summary.json`` ``sides.<side>.input``,
the session's import provenance).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

WINDOW = 256
"""Samples per window for the period and clock-error estimates."""
CLEAN_TOL = 0.3
"""An interval is 'whole periods' when within this fraction of a period of k·T (k ≥ 1)."""
MIN_LINE_SAMPLES = 4 * WINDOW
"""A re-fitted piece this long gets its own slope (the device's true rate, e.g. crystal drift)."""
FINE_FRACTION = 0.9
"""A clock 'resolves every sample' when at least this fraction of intervals lie within half
a period of one period."""
FINE_CLOCK = 0.25
"""A clock whose error band is at most this fraction of a period orders every sample."""


class TimebaseError(ValueError):
    """The time stamps cannot give a time base. ``index``: the first offending sample (0-based)."""

    def __init__(self, problem: str, fix: str, index: int | None = None):
        self.problem, self.fix, self.index = problem, fix, index
        super().__init__(f"{problem} — {fix}")


@dataclass(frozen=True)
class TimebaseReport:
    """What :func:`fit_timebase` found and did. Times in seconds."""

    n_samples: int
    fs_hz: float                 # sample rate of the fitted time base (1 / period)
    period_s: float
    clock_error_s: float         # width of the stamps' scatter around a steady clock (E)
    tick_s: float                # typical step between distinct stamps (coarse/batched clocks)
    n_repeated: int              # stamps equal to the previous one
    n_backward: int              # stamps earlier than the previous one (by less than a period)
    n_close: int                 # intervals shorter than half a period (incl. repeats, backward)
    n_retimed: int               # samples whose time was re-fitted from the sample index
    n_segments: int              # pieces between gaps
    n_refitted_segments: int
    n_gaps: int                  # gaps kept (longer than the clock's own error)
    max_shift_s: float           # largest |re-fitted − original| time

    @property
    def retimed(self) -> bool:
        return self.n_retimed > 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["retimed"] = self.retimed
        return d

    def describe_clock(self) -> str:
        """Why the stamps could not be used as they are, in words."""
        T = self.period_s
        if self.n_close == 0:
            return f"intervals scatter by up to {1e3 * self.clock_error_s:.3g} ms around the {1e3 * T:.3g} ms sample period"
        if self.tick_s >= 1.5 * T:
            if self.n_repeated >= 0.5 * self.n_close:
                return (f"the clock ticks every ≈{1e3 * self.tick_s:.3g} ms, coarser than the "
                        f"{1e3 * T:.3g} ms sample period")
            return (f"the stamps come in batches (samples stamped a few µs apart, then a jump of "
                    f"≈{1e3 * self.tick_s:.3g} ms)")
        counts = []
        if self.n_repeated:
            counts.append(f"{self.n_repeated} repeated")
        if self.n_backward:
            counts.append(f"{self.n_backward} going back by less than a period")
        other = self.n_close - self.n_repeated - self.n_backward
        if other > 0:
            counts.append(f"{other} less than half a period apart")
        if self.clock_error_s > FINE_CLOCK * T:
            return (f"the stamps scatter over ≈{1e3 * self.clock_error_s:.3g} ms around the {1e3 * T:.3g} ms "
                    "sample period" + (f" ({', '.join(counts)})" if counts else ""))
        return "time stamps out of step with the others" + (f" ({', '.join(counts)})" if counts else "")

    def warning(self, label: str) -> str | None:
        """One line for the user, or ``None`` when the stamps were used as they are."""
        if not self.retimed:
            return None
        return (f"{label}: {self.describe_clock()}: {self.n_retimed} of {self.n_samples} sample times re-fitted from "
                f"the sample index at {self.fs_hz:.6g} Hz (largest shift {1e3 * self.max_shift_s:.3g} ms"
                + (f"; {self.n_gaps} gap(s) kept" if self.n_gaps else "") + ")")


@dataclass(frozen=True)
class Timebase:
    t_s: np.ndarray  # (n,) float64, strictly increasing
    report: TimebaseReport


def _window(n: int) -> int:
    return int(max(1, min(WINDOW, (n - 1) // 2)))


def _pauses(d: np.ndarray) -> np.ndarray:
    """Intervals that are pauses, not clock steps: longer than 20× the clock's typical step
    (the length-weighted 25th percentile of the positive intervals — the tick of a coarse
    clock, the jump between batches, the period of a fine clock)."""
    pos = np.sort(d[d > 0])
    if pos.size == 0:
        return np.zeros(d.shape[0], dtype=bool)
    cum = np.cumsum(pos)
    step = float(pos[min(pos.size - 1, int(np.searchsorted(cum, 0.25 * cum[-1])))])
    return d > 20.0 * step


def _calm_windows(pause: np.ndarray, w: int) -> tuple[int, np.ndarray]:
    """Window length (``w``, halved down to 8 while every window holds a pause) and a mask of
    the windows ``[i, i + w]`` without a pause."""
    big = np.concatenate([[0], np.cumsum(pause)])
    while True:
        calm = (big[w:] - big[:-w]) == 0
        if calm.any() or w <= 8:
            return w, calm
        w = max(8, w // 2)


def _rough_period(t: np.ndarray) -> float:
    """Step 1a: median over windows of ``W`` samples of the mean interval — robust to
    rounding, batching and jitter, but only as fine as one clock tick per window. Windows
    that hold a pause (:func:`_pauses`) are left out, with smaller windows when every window
    holds one: in a short file with a pause every window of 256 samples held it and the
    period came out too long."""
    w, calm = _calm_windows(_pauses(np.diff(t)), _window(t.shape[0]))
    est = (t[w:] - t[:-w]) / w
    return float(np.median(est[calm] if calm.any() else est))


BLOCK = 32
"""Samples averaged per block before a slope is fitted (rounding and batching average out)."""


def _block_ls(k: np.ndarray, ts: np.ndarray) -> tuple[float, float]:
    """Least squares of ``ts`` on ``k`` over block means of :data:`BLOCK` samples, as
    (numerator, denominator) so that pieces can be pooled. Averaging within blocks removes
    the fast periodic error of batched stamps, least squares over blocks the slow ramp of a
    clock that ticks at nearly the sample rate (measured on such clocks: ≤ 1.5 ms error at
    the ends of 3000 samples where an end-to-end slope gave 5 ms)."""
    m = ts.shape[0]
    w = BLOCK if m >= 4 * BLOCK else max(1, m // 4)
    m2 = (m // w) * w
    tb = ts[:m2].reshape(-1, w).mean(axis=1)
    kb = k[:m2].reshape(-1, w).mean(axis=1)
    kc = kb - kb.mean()
    return float(np.dot(kc, tb - tb.mean())), float(np.dot(kc, kc))


def _analyse(t: np.ndarray):
    """Period, clock error, gaps (steps 1–4 of the module doc)."""
    n = t.shape[0]
    d = np.diff(t)
    T = _rough_period(t)
    if not (T > 0) or not np.isfinite(T):
        return T, d, False, 0.0, np.empty(0, dtype=np.int64)
    # a clock that resolves every sample: most intervals are single periods; lost samples
    # are then steps of whole periods, which are taken out of the index before fitting
    single = d[(d > 0.5 * T) & (d < 1.5 * T)]
    fine = single.size >= FINE_FRACTION * d.size
    if fine:
        # the mean, not the median: a clock a little coarser than the period gives two
        # interval values (100 Hz on a 4 ms clock: 8 and 12 ms) whose median is either one
        # (the period was then 20 % off and the file 3 s long off at its end)
        # (the first estimate is no check: windows that hold lost samples read it long)
        T = float(np.mean(single))
    k = np.arange(n, dtype=np.float64)
    if fine:
        whole = _whole_periods(d, T)
        # a loss is a whole-period interval between whole-period intervals (not half of a glitch)
        calm = whole & np.concatenate([[True], whole[:-1]]) & np.concatenate([whole[1:], [True]])
        steps = np.where(calm, np.rint(d / T) - 1.0, 0.0)
        k = k + np.concatenate([[0.0], np.cumsum(steps)])
    u = t - T * k
    # the band of u over blocks without a pause (a pause in one of two blocks of a short
    # file made the band seconds wide, and the pause then hid inside it)
    pause = _pauses(d)
    w, _calm = _calm_windows(pause, _window(n))
    nb = max(1, n // w)
    blk = u[: nb * w].reshape(nb, w)
    pb = np.concatenate([pause, [False]])[: nb * w].reshape(nb, w)[:, :-1].any(axis=1) if w > 1 else np.zeros(nb, bool)
    spans = blk.max(axis=1) - blk.min(axis=1)
    E = float(np.median(spans[~pb] if (~pb).any() else spans))
    gap_at = np.nonzero(d > max(2.0 * (T + E), 3.0 * T))[0]  # gap between sample i and i+1
    # 1b: the period by least squares over the gap-free pieces (pooled)
    starts = np.concatenate([[0], gap_at + 1])
    ends = np.concatenate([gap_at + 1, [n]])
    num = den = 0.0
    for a, b in zip(starts.tolist(), ends.tolist()):
        if b - a >= 8:
            nu, de = _block_ls(k[a:b], t[a:b])
            num, den = num + nu, den + de
    if den > 0 and 0.8 * T < num / den < 1.25 * T:
        T = num / den
    return T, d, fine, E, gap_at


def estimate_period_s(t_s: np.ndarray) -> float:
    """The sample period of time stamps (steps 1 and 1b of the module doc): robust to
    rounding, batching, jitter, lost samples and gaps. ``nan`` when fewer than two samples."""
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    if t.shape[0] < 2:
        return float("nan")
    return float(_analyse(t)[0])


def _whole_periods(d: np.ndarray, T: float) -> np.ndarray:
    r = d / T
    return (d > 0.5 * T) & (np.abs(r - np.rint(r)) <= CLEAN_TOL)


def _line_fit(ts: np.ndarray, T: float) -> np.ndarray:
    """A line over the sample index: slope ``T`` (or the piece's own, :func:`_block_ls`, when
    it is long enough to follow the device's drift), intercept by least squares. Used for
    pieces too short for :func:`_local_fit`."""
    k = np.arange(ts.shape[0], dtype=np.float64)
    slope = T
    if ts.shape[0] >= MIN_LINE_SAMPLES:
        nu, de = _block_ls(k, ts)
        if de > 0 and 0.8 * T < nu / de < 1.25 * T:
            slope = nu / de
    return float(np.mean(ts - slope * k)) + slope * k


def _local_fit(ts: np.ndarray, T: float, span_s: float) -> np.ndarray:
    """Stamps smoothed over the sample index by two centred moving averages of ``M`` and
    ``M + 2`` samples, ``M`` ≈ 8 × the clock's error span (tick, batch or scatter) in periods:
    inside a window rounding, batching and jitter average out (the second average takes out
    most of the ripple a periodic rounding pattern leaves in the first), and across windows
    the fit follows the stamps, so it never strays from them by more than the clock's own
    error. Used where one line over the piece does not fit (samples lost unseen by a coarse
    clock, a wandering rate: a line was seconds off at the end of a file, found by a fuzz
    over rates, clocks, batches and losses). The ends are extended by a least-squares line
    over the first/last samples; the result increases by at least half a period."""
    m = ts.shape[0]
    M = max(9, int(np.ceil(8.0 * max(span_s, T) / T)) | 1)
    h = M // 2 + (M + 2) // 2
    if m < 2 * (M + 2):
        return _line_fit(ts, T)
    k = np.arange(m, dtype=np.float64)

    def end_line(sl: slice, at: np.ndarray) -> np.ndarray:
        nu, de = _block_ls(k[sl], ts[sl])
        slope = nu / de if de > 0 and 0.5 * T < nu / de < 2.0 * T else T
        return float(np.mean(ts[sl] - slope * k[sl])) + slope * at

    x = np.concatenate([end_line(slice(0, M + 2), np.arange(-h, 0, dtype=np.float64)), ts,
                        end_line(slice(m - M - 2, m), np.arange(m, m + h, dtype=np.float64))])
    x0 = x[0]
    for L in (M, M + 2):
        c = np.concatenate([[0.0], np.cumsum(x - x0)])
        x = (c[L:] - c[:-L]) / L + x0
    g = np.maximum.accumulate(x - 0.5 * T * k)
    return g + 0.5 * T * k


def _repair_glitches(ts: np.ndarray, ok: np.ndarray, T: float) -> np.ndarray | None:
    """Fine clock, a few odd stamps: re-time the samples around each interval that is not a
    whole number of periods by interpolation over the index between good neighbours,
    widening the re-timed stretch until every interval is whole (at most 8 rounds, at most
    half the samples). ``None`` when that does not work (then fit a line)."""
    m = ts.shape[0]
    k = np.arange(m, dtype=np.float64)
    bad = np.zeros(m, dtype=bool)
    fails = np.nonzero(~ok)[0]
    for _round in range(8):
        if _round == 0:
            # a sample between two odd intervals is the odd one; of a lone odd interval, the later
            both = np.intersect1d(fails, fails + 1)
            bad[both] = True
            lone = fails[~np.isin(fails, both) & ~np.isin(fails + 1, both)]
            bad[lone + 1] = True
        else:  # widen: both samples of every interval still odd
            bad[fails] = True
            bad[fails + 1] = True
        good = np.nonzero(~bad)[0]
        if good.shape[0] < max(2, m // 2):
            return None
        fit = ts.copy()
        fit[bad] = np.interp(k[bad], k[good], ts[good])
        # outside the first/last good sample np.interp holds the end value: extend by the period
        lo, hi = good[0], good[-1]
        fit[:lo] = ts[lo] - T * (lo - k[:lo])
        fit[hi + 1:] = ts[hi] + T * (k[hi + 1:] - hi)
        okf = _whole_periods(np.diff(fit), T)
        if okf.all():
            return fit
        fails = np.nonzero(~okf)[0]
    return None


def fit_timebase(t_s) -> Timebase:
    """Re-fit coarse, batched or jittery time stamps from the sample index (module doc).

    Raises :class:`TimebaseError` for time that cannot be used (non-finite, not advancing,
    backwards by more than one sample period)."""
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    n = int(t.shape[0])
    if n < 2:
        raise TimebaseError("fewer than two samples", "a recording needs many samples", None)
    bad = ~np.isfinite(t)
    if bad.any():
        i = int(np.argmax(bad))
        raise TimebaseError(f"time stamp {t[i]!r} is not a finite number", "every sample needs a time", i)
    T, d, fine, E, gap_at = _analyse(t)
    if not (T > 0) or not np.isfinite(T):
        i = int(np.argmax(t != t[0])) if np.any(t != t[0]) else 0
        raise TimebaseError("time does not advance (most stamps repeat or go backwards)",
                            "is this the time column? it must count up through the recording", i)
    runmax = np.maximum.accumulate(t)
    behind = runmax[:-1] - t[1:]  # how far a stamp falls below the latest one before it
    far = np.nonzero(behind > T * (1.0 + 1e-9))[0]
    if far.size:
        i = int(far[0]) + 1
        raise TimebaseError(
            f"time {t[i]:.9g} s goes back {behind[i - 1]:.6g} s behind {runmax[i - 1]:.9g} s (an earlier sample), more "
            f"than one sample period ({T:.6g} s)", "rows must be in time order (sort the file by time)", i)

    starts = np.concatenate([[0], gap_at + 1])
    ends = np.concatenate([gap_at + 1, [n]])
    far_steps = d[d >= 0.5 * T]  # steps between distinct stamps (T: the stamps' period)
    tick = float(np.median(far_steps)) if far_steps.size else T
    out = t.copy()
    n_ref, n_ret, max_shift = 0, 0, 0.0
    longest, period_fit = 0, T
    for a, b in zip(starts.tolist(), ends.tolist()):
        ds = d[a:b - 1]
        if ds.size == 0:
            continue
        ok = _whole_periods(ds, T)
        if ok.all():
            continue  # step 5: stamps good enough to keep
        ts = t[a:b]
        fit = _repair_glitches(ts, ok, T) if E <= FINE_CLOCK * T else None
        if fit is None:
            fit = _line_fit(ts, T)
            if np.max(np.abs(fit - ts)) > E + T:  # the line leaves the clock's error band
                fit = _local_fit(ts, T, max(tick, E))
            if b - a > longest:
                longest, period_fit = b - a, float((fit[-1] - fit[0]) / (b - a - 1))
        if a > 0 and fit[0] <= out[a - 1] + 0.5 * T:  # keep order across a gap (safety net)
            fit = fit + (out[a - 1] + T - fit[0])
        shift = np.abs(fit - ts)
        max_shift = max(max_shift, float(shift.max()))
        n_ret += int(np.count_nonzero(shift > 0.0))
        out[a:b] = fit
        n_ref += 1
    close = d < 0.5 * T
    T = period_fit  # the rate the re-fitted time base runs at (the stamps' own otherwise)
    fs = 1.0 / T
    rep = TimebaseReport(
        n_samples=n, fs_hz=float(fs), period_s=float(T), clock_error_s=E, tick_s=tick,
        n_repeated=int(np.count_nonzero(d == 0)), n_backward=int(np.count_nonzero(d < 0)),
        n_close=int(np.count_nonzero(close)), n_retimed=n_ret, n_segments=int(starts.shape[0]),
        n_refitted_segments=n_ref, n_gaps=int(gap_at.shape[0]), max_shift_s=max_shift)
    return Timebase(t_s=out, report=rep)
