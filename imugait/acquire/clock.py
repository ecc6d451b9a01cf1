"""Device time -> host time, per sensor, by a minimum-delay (lower convex hull) fit.

Why not least squares: the delay between taking a sample and the host stamping the
notification is one-sided and heavy-tailed (connection interval phase, retransmissions,
stalls of 20–200 ms, scheduling). Its *minimum* is nearly constant, so the points
``(t_dev, t_arrival)`` lie on or above a line ``t_host = t_dev·(1 + drift) + offset``
and the line is found from below (Moon, Skelly & Towsley 1999, "Estimation and removal of
clock skew from network delay measurements", IEEE INFOCOM: linear programming on the lower
bound, whose optimum is the lower-convex-hull edge over the centre of the data).

Algorithm (:class:`ClockMapper`):

1. Each usable packet gives one point (device time of its *last* sample, arrival time).
   Packets that waited in the device FIFO (BACKLOG flag) are not used.
2. Points are reduced to the minimum-delay point per ``bucket_s`` of device time (the hull
   can only touch those; 0.1 s buckets change the line by < 0.01 ms at 50 ppm).
3. Over the last ``window_s`` of device time, the lower convex hull of the bucket minima is
   computed (monotone chain). The slope is the hull's chord over the middle half of the
   window (the LP optimum is the hull edge at the centre; the chord averages the floor's
   noise over a longer baseline); the line is the supporting line of that slope, below every
   point. Slopes beyond ±``max_drift_ppm`` are rejected.
4. Until the segment spans ``slope_span_s``, the slope is the previous segment's (same
   crystal) or 1 and the line touches the envelope; before ``min_span_s`` the fit is not
   "established" (after a reconnect the previous segment's line stays in use meanwhile).
5. :meth:`ClockMapper.new_segment` starts over after a reconnect (keeping the old line
   as a fallback until the new one is established) or a reboot (device clock restarted:
   nothing kept).
6. Stale points after a reconnect. A packet handed over before the link came back waited
   in the device whatever its flags say — e.g. the packet lost in flight at the disconnect
   and resent after the reconnect, which firmware may send without BACKLOG. Its point lies
   seconds above the envelope, so it is never the minimum, but it stretches the young
   segment's device-time span past ``min_span_s`` at once, and the line would then be
   "established" from the first, congested packets behind the backlog burst (measured:
   one packet 285–306 ms off). So in a reconnect segment a point is not used when its device
   time precedes the *guard*: the newest device time seen before the reconnect, or — when
   the host gives the reconnect moment — that moment mapped to device time by the previous
   line, whichever is later. Only points up to the outage length plus ``window_s`` before
   the guard are refused (a device clock that jumped back by more is not a stale packet).

One session clock for both legs: each side maps to the same host clock (``time.monotonic``);
the engine subtracts one session start ``t0_host_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClockFit:
    """``t_host = t_ref_host_s + slope · (t_dev − t_ref_dev_s)``."""

    t_ref_dev_s: float
    t_ref_host_s: float
    slope: float
    n_points: int = 0
    span_s: float = 0.0
    established: bool = False  # fitted from a hull edge over >= min_span_s

    @property
    def drift_ppm(self) -> float:
        return (self.slope - 1.0) * 1e6

    def to_host(self, t_dev_s):
        return self.t_ref_host_s + self.slope * (np.asarray(t_dev_s, dtype=np.float64) - self.t_ref_dev_s)

    def to_dev(self, t_host_s: float) -> float:
        """Inverse of :meth:`to_host` (device time of host time ``t_host_s``)."""
        return self.t_ref_dev_s + (float(t_host_s) - self.t_ref_host_s) / self.slope

    def offset_s(self, t_dev_s: float) -> float:
        """host − device time at ``t_dev_s``."""
        return float(self.to_host(t_dev_s)) - float(t_dev_s)


def lower_hull(x: np.ndarray, y: np.ndarray) -> list[int]:
    """Indices of the lower convex hull of points sorted by x (Andrew's monotone chain)."""
    h: list[int] = []
    for i in range(len(x)):
        xi, yi = x[i], y[i]
        while len(h) >= 2:
            o, a = h[-2], h[-1]
            # cross((a - o), (i - o)) <= 0  ->  a is not below the segment o-i: drop it
            if (x[a] - x[o]) * (yi - y[o]) - (y[a] - y[o]) * (xi - x[o]) <= 0:
                h.pop()
            else:
                break
        h.append(i)
    return h


def hull_fit(x: np.ndarray, y: np.ndarray, *, max_drift_ppm: float = 500.0, at: float | None = None,
             chord_frac: float = 0.8) -> tuple[float, float, float] | None:
    """Lower-envelope line of the points ``(x, y)``. Returns ``(x_ref, y_ref, slope)`` or
    ``None`` if no admissible line exists.

    Slope: the chord of the lower convex hull over the middle ``chord_frac`` of the data's x
    range, centred on ``at`` (default: mean x). With ``chord_frac → 0`` this is the hull edge
    over the centre — the LP optimum of Moon et al. (1999); a longer chord averages the
    floor's noise over a longer baseline (a 0.1 ms error over a 2 s edge is 50 ppm).
    Offset: the supporting line of that slope (touches the hull, below every point).
    """
    order = np.argsort(x, kind="stable")
    x, y = np.asarray(x, float)[order], np.asarray(y, float)[order]
    if len(x) < 2 or x[-1] - x[0] <= 0:
        return None
    x0, y0 = x[0], y[0]
    xr, yr = x - x0, (y - y0) - (x - x0)  # relative, nominal slope 1 removed
    h = lower_hull(xr.tolist(), yr.tolist())
    if len(h) < 2:
        return None
    hx, hy = xr[h], yr[h]
    span = float(xr[-1])
    c = float(np.mean(xr)) if at is None else float(at) - x0
    half = max(0.5 * chord_frac * span, 1e-9)
    x1, x2 = max(0.0, c - half), min(span, c + half)
    if x2 - x1 < 0.25 * chord_frac * span:  # centre near an end: use the available range
        x1, x2 = max(0.0, min(x1, span - 2 * half)), min(span, max(x2, 2 * half))
    if x2 <= x1:
        return None
    dslope = (np.interp(x2, hx, hy) - np.interp(x1, hx, hy)) / (x2 - x1)
    if abs(dslope) * 1e6 > max_drift_ppm:
        return None
    i = int(np.argmin(yr - dslope * xr))  # supporting line touches here
    return float(x[i]), float(y[i]), 1.0 + float(dslope)


class ClockMapper:
    """Online device->host clock model for one sensor (see module docstring).

    >>> cm = ClockMapper()
    >>> cm.add(t_dev_last_s, t_arrival_host_s)      # per packet, in arrival order
    >>> t_host = cm.to_host(block.t_dev_s)           # per sample
    """

    def __init__(self, *, window_s: float = 60.0, bucket_s: float = 0.1, min_span_s: float = 2.0,
                 slope_span_s: float = 20.0, max_drift_ppm: float = 500.0, refit_s: float = 0.25):
        self.window_s = float(window_s)
        self.bucket_s = float(bucket_s)
        self.min_span_s = float(min_span_s)
        self.slope_span_s = float(slope_span_s)
        self.max_drift_ppm = float(max_drift_ppm)
        self.refit_s = float(refit_s)
        self.segment = -1
        self._fallback: ClockFit | None = None
        self._prior_slope = 1.0
        self._prior_measured = False  # True once a segment has measured the drift
        self.n_points_total = 0
        self.n_stale_total = 0  # points refused as stale after a reconnect (module docstring, step 6)
        self._seen_dev_max = -math.inf  # newest device time added (any point), this device clock
        self._last_arrival = -math.inf
        self.new_segment(reason="start")

    # ------------------------------------------------------------------ segments
    def new_segment(self, reason: str = "reconnect", *, device_clock_continues: bool = True,
                    t_host_s: float | None = None) -> None:
        """Start a new fit. After a reconnect (``device_clock_continues=True``) the old
        line stays in use until the new segment is established, and packets handed over
        before the reconnect (host time ``t_host_s``, if given) are not used (module
        docstring, step 6); after a reboot nothing is kept but the drift estimate (same
        crystal)."""
        self.guard_dev_s = -math.inf
        self._stale_max_s = self.window_s
        if self.segment >= 0:
            old = self.fit
            if old is not None:
                if old.established and old.span_s >= self.slope_span_s:
                    self._prior_slope = old.slope
                    self._prior_measured = True
                self._fallback = old if device_clock_continues else None
            if device_clock_continues:
                guard = self._seen_dev_max
                if t_host_s is not None and math.isfinite(t_host_s):
                    if old is not None:
                        guard = max(guard, old.to_dev(t_host_s))
                    if math.isfinite(self._last_arrival):
                        self._stale_max_s += max(0.0, float(t_host_s) - self._last_arrival)
                self.guard_dev_s = guard
            else:
                self._seen_dev_max = -math.inf
        self.segment += 1
        self.segment_reason = reason
        self._bx: list[float] = []  # bucket minima (t_dev, t_arr), bucket keys
        self._by: list[float] = []
        self._bk: list[int] = []
        self._fit: ClockFit | None = None
        self._last_refit_dev = -math.inf
        self._dirty = False
        self._n = 0

    # ------------------------------------------------------------------ data
    def add(self, t_dev_s: float, t_arrival_host_s: float, *, usable: bool = True) -> bool:
        """One packet: device time of its hand-off (or last sample) and its host arrival
        time. Returns whether the point was used (not: ``usable=False``, not finite, or
        stale after a reconnect)."""
        if not (math.isfinite(t_dev_s) and math.isfinite(t_arrival_host_s)):
            return False
        self._seen_dev_max = max(self._seen_dev_max, t_dev_s)
        self._last_arrival = max(self._last_arrival, t_arrival_host_s)
        if not usable:
            return False
        if 0.0 < self.guard_dev_s - t_dev_s <= self._stale_max_s:  # handed over before the reconnect
            self.n_stale_total += 1
            return False
        self._n += 1
        self.n_points_total += 1
        k = int(math.floor(t_dev_s / self.bucket_s))
        d = t_arrival_host_s - t_dev_s
        if self._bk and k == self._bk[-1]:
            if d < self._by[-1] - self._bx[-1]:
                self._bx[-1], self._by[-1] = t_dev_s, t_arrival_host_s
                self._dirty = True
                if self._fit is None or not self._fit.established:
                    self._refit()
        elif not self._bk or k > self._bk[-1]:
            self._bk.append(k)
            self._bx.append(t_dev_s)
            self._by.append(t_arrival_host_s)
            self._dirty = True
            # slide the window
            lo = self._bx[-1] - self.window_s
            cut = 0
            while cut < len(self._bx) - 2 and self._bx[cut] < lo:
                cut += 1
            if cut:
                del self._bx[:cut], self._by[:cut], self._bk[:cut]
            if t_dev_s - self._last_refit_dev >= self.refit_s or self._fit is None or not self._fit.established:
                self._refit()
        else:  # out of order in device time (late packet): insert into its bucket
            i = int(np.searchsorted(self._bk, k))
            if i < len(self._bk) and self._bk[i] == k:
                if d < self._by[i] - self._bx[i]:
                    self._bx[i], self._by[i] = t_dev_s, t_arrival_host_s
                    self._dirty = True
            elif i > 0:  # inside the window: new bucket
                self._bk.insert(i, k)
                self._bx.insert(i, t_dev_s)
                self._by.insert(i, t_arrival_host_s)
                self._dirty = True
        return True

    def _refit(self) -> None:
        self._dirty = False
        if not self._bx:
            return
        x = np.asarray(self._bx)
        y = np.asarray(self._by)
        self._last_refit_dev = float(x[-1])
        span = float(x[-1] - x[0])
        if span >= self.slope_span_s and len(x) >= 3:
            r = hull_fit(x, y, max_drift_ppm=self.max_drift_ppm)
            if r is not None:
                self._fit = ClockFit(r[0], r[1], r[2], self._n, span, True)
                return
        if span >= self.min_span_s:  # offset from the envelope, drift from the previous segment (or 0)
            slope = self._prior_slope
            i = int(np.argmin(y - slope * x))
            self._fit = ClockFit(float(x[i]), float(y[i]), slope, self._n, span, True)
            return
        # not yet established: prior slope through the minimum-delay point
        slope = self._prior_slope
        dd = y - slope * x
        i = int(np.argmin(dd))
        self._fit = ClockFit(float(x[i]), float(y[i]), slope, self._n, span, False)

    # ------------------------------------------------------------------ results
    @property
    def fit(self) -> ClockFit | None:
        """The line in use (the previous segment's while a reconnect segment is young)."""
        if self._dirty and self._fit is not None and not self._fit.established:
            self._refit()
        if self._fit is not None and self._fit.established:
            return self._fit
        if self._fallback is not None:
            return self._fallback
        return self._fit

    @property
    def ready(self) -> bool:
        return self.fit is not None

    @property
    def established(self) -> bool:
        f = self.fit
        return bool(f is not None and f.established)

    def to_host(self, t_dev_s) -> np.ndarray:
        """Host time (``time.monotonic`` base) of device times ``t_dev_s``. Raises
        ``RuntimeError`` before the first :meth:`add`."""
        f = self.fit
        if f is None:
            raise RuntimeError("clock mapper has no data yet: call add() first")
        return f.to_host(t_dev_s)

    @property
    def drift_ppm(self) -> float:
        """Measured drift (ppm); NaN until a segment has spanned ``slope_span_s`` (before
        that the line uses an assumed slope, which is not a measurement)."""
        f = self.fit
        if f is None or not (f.span_s >= self.slope_span_s or self._prior_measured):
            return float("nan")
        return f.drift_ppm

    def offset_ms(self, t_dev_s: float | None = None) -> float:
        """host − device time (ms) at ``t_dev_s`` (default: the newest point)."""
        f = self.fit
        if f is None:
            return float("nan")
        t = self._bx[-1] if (t_dev_s is None and self._bx) else (t_dev_s if t_dev_s is not None else f.t_ref_dev_s)
        return f.offset_s(t) * 1e3


__all__ = ["ClockFit", "ClockMapper", "hull_fit", "lower_hull"]
