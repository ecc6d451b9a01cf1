"""Device time -> host time, per sensor, by a minimum-delay (lower convex hull) fit.

Why not least squares: the delay between taking a sample and the host stamping the
notification is one-sided and heavy-tailed (connection interval phase, retransmissions,
stalls of 20–200 ms, scheduling). Its *minimum* is nearly constant, so the points
``(t_dev, t_arrival)`` lie on or above a line ``t_host = t_dev·(1 + drift) + offset``
and the line is found from below (Moon, Skelly & Towsley 1999, "Estimation and removal of
clock skew from network delay measurements", IEEE INFOCOM: linear programming on the lower
bound, whose optimum is the lower-convex-hull edge over the centre of the data).

Algorithm (:func:`envelope_fit`, used live by :class:`ClockMapper` and for the final mapping
of a recording by :class:`SessionClock`):

1. Each usable notification gives one point (device time of its hand-off or *last* sample,
   arrival time) — also one whose samples wait to be paired with another stream's.
   Packets that waited in the device FIFO (BACKLOG flag) are not used.
2. Bursts (below): a point that arrived in a release of held-back notifications is paired
   with the release's first arrival stamp (:func:`release_times`).
3. Points are reduced to the minimum-delay point per ``bucket_s`` of device time (the hull
   can only touch those; 0.1 s buckets change the line by < 0.01 ms at 50 ppm).
4. Over the window, the lower convex hull of the bucket minima is computed (monotone chain).
   The slope is the hull's chord over the middle half of the window (the LP optimum is the
   hull edge at the centre; the chord averages the floor's noise over a longer baseline);
   it counts as measured only when the chords of the window's two halves agree with it
   within ``SLOPE_AGREE_PPM`` (a held stream touches the floor rarely, and a chord between
   two sparse low points was measured 150–540 ppm off on 60 s recordings). The line is the
   supporting line of the slope, below every point. Slopes beyond ±``max_drift_ppm`` are
   rejected.
5. Until the segment spans ``slope_span_s`` (or while the slope is not measured), the slope
   is the previous segment's (same crystal) or 1 and the line touches the envelope; before
   ``min_span_s`` the fit is not "established" (after a reconnect the previous segment's line
   stays in use meanwhile).
6. :meth:`ClockMapper.new_segment` starts over after a reconnect (keeping the old line
   as a fallback until the new one is established) or a reboot (device clock restarted:
   nothing kept).
7. Stale points after a reconnect. A packet handed over before the link came back waited
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

Bursts. When notifications are held back and let go together (a sensor or its stack that
sends in batches, a busy host, phone-style batching), the minimum-delay assumption fails in
two ways (measured, docs/acquisition.md "Clock under bursts"): (a) deliveries are FIFO, so
the youngest packet of a release — the only one that can be near the floor — is stamped
after every older packet of the release has been handed over: over the link at <= 6 per
connection event for a sensor-side hold (0.1–0.75 s for 0.5–2 s holds at 45 ms), one after
the other for a host-side hold; the envelope then settles on the *shortest drain*, never on
the floor (the Movesense of the review of #11: 90–100 ms late for the whole run); (b) each
release reveals one useful point, so the floor is approached slowly (an excess that is the
sum of the release's phase and the link's, over the number of releases). (a) is undone by
pairing a release's packets with its first stamp when the release can be told apart
(:func:`release_times`); (b) only by more releases: the live mapping has the past 60 s,
the final mapping (:class:`SessionClock`) has the whole recording on both sides of every
sample.

One session clock for both legs: each side maps to the same host clock (``time.monotonic``);
the engine subtracts one session start ``t0_host_s``. What the live mapping guarantees under
holds: its line is never earlier than the points it has (so a sample is never placed before
it could have been taken, as long as release pairing's assumption holds), and it becomes
exact only as releases accumulate; :attr:`ClockMapper.held` says when the stream is held.
A closed session's sample times come from :class:`SessionClock` over all stored points.
"""

from __future__ import annotations

import hashlib
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
    held: bool = False  # some points were paired with a release's first stamp (held-back stream)
    slope_measured: bool = False  # slope from this segment's hull (else assumed: previous segment's or 1)

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


# ----------------------------------------------------------------------------------- bursts
HOLD_RISE_S = 0.100
"""A point whose delay (arrival − device time) exceeds that of the point before it by this
much was held back. Inside a drain consecutive delays rise by up to one connection interval
(7.5–50 ms when streaming), so the threshold sits above it."""

DRAIN_RATIO = 0.5
"""A run of points that arrives in at most this fraction of the device time it covers is a
backlog draining, not a flowing stream."""

DELIVERY_GAP_S = 0.0075
"""Arrival stamps closer than this came in one delivery (one connection event, or one host
hand-over): BLE connection events are at least 7.5 ms apart (Core spec v5.3, Vol 6, Part B,
4.5.1); the host takes up to ~5 ms to hand over the notifications of one event (measured:
six 229-byte Polar frames through bleak and the emulated BlueZ, 2.6–5.2 ms gaps)."""

MIN_LINK_GAPS = 10
"""Gaps between deliveries a window needs before it is taken as a link draining backlogs."""

LINK_GAP_SPREAD = 0.2
"""Deliveries of a link draining a backlog follow each other at the connection interval (a
BLE link's events are periodic): their gaps in a window cluster within this fraction; gaps of
hand-overs by a busy host do not."""

COMPARE_RUNS = 3
"""A drain is checked against this many drains before it (one of them being a single release
is enough to see a second release hidden in it)."""

FIRST_DEPARTURE_S = 0.050
"""Longest wait from a release to its first delivery (one connection interval, <= 50 ms when
streaming)."""

HELD_SHARE = 0.5
"""Release pairing is used only when at least this share of the window's points arrived in
backlog runs between holds (a held stream), never for a flowing link with an occasional stall
(whose drain takes in packets made during it)."""


def dominated(t_dev_s, t_arrival_s) -> np.ndarray:
    """True for points (arrival order) that arrived after a point of the same or a later device
    time: their bound on the offset (``arrival − device time``) is weaker than that point's, so
    they never shape the envelope — e.g. the second of two streams sampled together (Movesense
    Acc and Gyro notifications carry equal device times and may arrive an event apart)."""
    x = np.asarray(t_dev_s, dtype=np.float64)
    if len(x) < 2:
        return np.zeros(len(x), bool)
    seen = np.maximum.accumulate(x)
    out = np.zeros(len(x), bool)
    out[1:] = x[1:] <= seen[:-1]
    return out


def release_times(t_dev_s, t_arrival_s, *, hold_rise_s: float = HOLD_RISE_S, drain_ratio: float = DRAIN_RATIO,
                  held_share: float = HELD_SHARE, first_departure_s: float = FIRST_DEPARTURE_S,
                  delivery_gap_s: float = DELIVERY_GAP_S) -> np.ndarray:
    """The host time to pair with each point's device time: the first arrival stamp of the
    release that let it go, where that can be told, else its own stamp (never later).

    Points in ARRIVAL order. Why: deliveries are FIFO, so a packet stamped late in a burst
    waited for every older packet of the burst to be handed over first (a sensor-side hold
    drains over several connection events at the link's rate; a host-side hold hands the
    notifications over one after the other). Its own stamp is then late by the burst's drain
    time even when it was the last packet before the release: no point of a held stream comes
    near the delay floor, and the envelope stays late by the shortest drain (module docstring,
    "Bursts").

    Among the points that are not :func:`dominated`, a run is paired with its first stamp when
    all of these hold:

    * it lies between two holds (delay rising by ``hold_rise_s`` before it and after it) and
      arrives in at most ``drain_ratio`` of the device time it covers (a backlog draining);
    * from the youngest packet of each of the ``COMPARE_RUNS`` runs before to its own youngest,
      device time does not exceed host time between their first stamps by more than the
      device time from that youngest packet to the next one plus ``first_departure_s`` (two
      releases run together show as the second hold on top);
    * such runs carry ``held_share`` of the window's points (a held stream).

    Every packet of such a run was queued when its first packet was stamped. What cannot be
    told: a second release while the first still drains, or so soon after that its hold does
    not show (a hold shorter than about ``hold_rise_s`` plus the drain before it) — its
    packets are paired with the first release's stamp, early by up to that hold
    (docs/acquisition.md, "Clock under bursts", gives the measured effect).
    """
    x_all = np.asarray(t_dev_s, dtype=np.float64)
    y_all = np.asarray(t_arrival_s, dtype=np.float64)
    out = y_all.copy()
    keep = np.flatnonzero(~dominated(x_all, y_all))
    x, y = x_all[keep], y_all[keep]
    n = len(y)
    if n < 4:
        return out
    cuts = np.flatnonzero(np.diff(y - x) >= hold_rise_s) + 1
    if len(cuts) < 3:
        return out
    starts, ends = cuts[:-1], cuts[1:]
    a_span = y[ends - 1] - y[starts]
    d_span = x[ends - 1] - x[starts]
    runs = (ends - starts >= 2) & (a_span <= drain_ratio * d_span)
    if np.sum((ends - starts)[runs]) < held_share * n:
        return out
    # A run is one delivery (a host hands over what it held: all its packets were there when it
    # began) or several; several are a link draining a sensor-side backlog only when the gaps
    # between them are the link's connection interval: in the window they cluster tightly
    # (median ci, interquartile range <= LINK_GAP_SPREAD of it) and the run has no longer gap
    # (an idle link: a second hand-over or release may begin there)
    gaps_in = []
    for f, e in zip(starts, ends):
        g = np.diff(y_all[keep[f]:keep[e - 1] + 1])
        gaps_in.append(g[g >= delivery_gap_s])
    multi = np.array([len(g) > 0 for g in gaps_in])
    g_all = np.concatenate([g for g, r in zip(gaps_in, runs) if r and len(g)] or [np.zeros(0)])
    link_ci = math.nan
    if len(g_all) >= MIN_LINK_GAPS:
        q1, med, q3 = np.percentile(g_all, [25, 50, 75])
        if q3 - q1 <= LINK_GAP_SPREAD * med:
            link_ci = float(med)
    prev: list[int] = []  # the runs before (multi-delivery), newest last
    for j in np.flatnonzero(runs):
        f, e = starts[j], ends[j]
        first = float(np.min(y[f:e]))  # its first stamp (arrival order: y[f])
        if not multi[j]:
            out[keep[f:e]] = first  # one delivery: every packet of it was there when it began
            continue
        if not (math.isfinite(link_ci) and np.max(gaps_in[j]) <= (1.0 + LINK_GAP_SPREAD) * link_ci + delivery_gap_s):
            continue
        # one release: consistent with each of the last COMPARE_RUNS runs — from a run's youngest
        # packet to this one's, device time may not exceed the host time between their first
        # stamps by more than the time to the packet after that youngest one (that packet was
        # not let go with it) plus one first departure. A run that is two releases shows the
        # second hold on top against every single one; against a run that was itself two
        # releases a single one only comes out earlier, never later.
        ok = bool(prev) and all(
            (x[e - 1] - x[ends[p] - 1]) - (y[f] - y[starts[p]]) < (x[ends[p]] - x[ends[p] - 1]) + first_departure_s
            for p in prev[-COMPARE_RUNS:])
        if ok:
            out[keep[f:e]] = first
        prev.append(int(j))
    return out


# ------------------------------------------------------------------------------ line fit
SLOPE_AGREE_PPM = 50.0
SLOPE_AGREE_S = 0.001
"""A hull slope counts as measured when the chords of the window's two halves agree with it
within ``SLOPE_AGREE_PPM`` or ``SLOPE_AGREE_S`` over a half's chord (a quarter of the span),
whichever is larger — 1 ms of floor noise, 67 ppm over 60 s, 200 ppm over 20 s. Crystal drift
is 20–50 ppm; a held stream's sparse floor gave 150–540 ppm disagreements on 60 s
recordings (emulated links, docs/acquisition.md)."""
def envelope_fit(t_dev_s, t_arrival_s, *, bucket_s: float = 0.1, min_span_s: float = 2.0,
                 slope_span_s: float = 20.0, prior_slope: float = 1.0, max_drift_ppm: float = 500.0,
                 chord_frac: float = 0.5, n_points: int | None = None) -> ClockFit | None:
    """The device->host line of one clock segment from its points (arrival order): the ONE
    estimator, used by :class:`ClockMapper` on its sliding window (live) and by
    :class:`SessionClock` on centred windows of a whole recording (final mapping).

    Release pairing (:func:`release_times`), then the minimum per ``bucket_s`` of device time,
    then the lower convex hull: slope = chord over the middle ``chord_frac`` of the span once
    it reaches ``slope_span_s`` (else ``prior_slope``); the line is the supporting line of
    that slope (below every point). ``established`` once the span reaches ``min_span_s``."""
    x = np.asarray(t_dev_s, dtype=np.float64)
    y0 = np.asarray(t_arrival_s, dtype=np.float64)
    if len(x) == 0:
        return None
    y = release_times(x, y0)
    held = bool(np.any(y < y0))
    n = len(x) if n_points is None else int(n_points)
    # minimum delay per bucket (the hull can only touch those)
    k = np.floor(x / bucket_s)
    d = y - x
    o = np.lexsort((d, k))
    keep = np.concatenate([[True], k[o][1:] != k[o][:-1]])
    bx, by = x[o][keep], y[o][keep]
    span = float(bx[-1] - bx[0]) if len(bx) else 0.0
    if span >= slope_span_s and len(bx) >= 3:
        r = hull_fit(bx, by, max_drift_ppm=max_drift_ppm, chord_frac=chord_frac)
        if r is not None:  # measured only if both halves of the window agree
            half = bx <= bx[0] + 0.5 * span
            ra = hull_fit(bx[half], by[half], max_drift_ppm=1e6, chord_frac=chord_frac) if half.sum() >= 3 else None
            rb = hull_fit(bx[~half], by[~half], max_drift_ppm=1e6, chord_frac=chord_frac) if (~half).sum() >= 3 else None
            agree = max(SLOPE_AGREE_PPM * 1e-6, SLOPE_AGREE_S / (0.25 * span))
            if ra is None or rb is None or max(abs(ra[2] - r[2]), abs(rb[2] - r[2])) > agree:
                r = None
        if r is not None:
            return ClockFit(r[0], r[1], r[2], n, span, True, held, True)
    i = int(np.argmin(by - prior_slope * bx))  # offset from the envelope, drift assumed
    return ClockFit(float(bx[i]), float(by[i]), float(prior_slope), n, span, span >= min_span_s, held)


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
        self.n_stale_total = 0  # points refused as stale after a reconnect (module docstring, step 7)
        self._seen_dev_max = -math.inf  # newest device time added (any point), this device clock
        self._last_arrival = -math.inf
        self.new_segment(reason="start")

    # ------------------------------------------------------------------ segments
    def new_segment(self, reason: str = "reconnect", *, device_clock_continues: bool = True,
                    t_host_s: float | None = None) -> None:
        """Start a new fit. After a reconnect (``device_clock_continues=True``) the old
        line stays in use until the new segment is established, and packets handed over
        before the reconnect (host time ``t_host_s``, if given) are not used (module
        docstring, step 7); after a reboot nothing is kept but the drift estimate (same
        crystal)."""
        self.guard_dev_s = -math.inf
        self._stale_max_s = self.window_s
        if self.segment >= 0:
            old = self.fit
            if old is not None:
                if old.established and old.slope_measured:
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
        self._x: list[float] = []  # the window's points, arrival order
        self._y: list[float] = []
        self._fit: ClockFit | None = None
        self._last_refit_dev = -math.inf
        self._dirty = False
        self._n = 0

    # ------------------------------------------------------------------ data
    def add(self, t_dev_s: float, t_arrival_host_s: float, *, usable: bool = True) -> bool:
        """One packet: device time of its hand-off (or last sample) and its host arrival
        time, in arrival order. Returns whether the point was used (not: ``usable=False``,
        not finite, or stale after a reconnect)."""
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
        self._x.append(float(t_dev_s))
        self._y.append(float(t_arrival_host_s))
        self._dirty = True
        lo = self._seen_dev_max - self.window_s  # slide the window (device time; arrival order kept)
        cut = 0
        while cut < len(self._x) - 2 and self._x[cut] < lo:
            cut += 1
        if cut:
            del self._x[:cut], self._y[:cut]
        if t_dev_s - self._last_refit_dev >= self.refit_s or self._fit is None or not self._fit.established:
            self._refit()
        return True

    def _refit(self) -> None:
        self._dirty = False
        if not self._x:
            return
        self._last_refit_dev = max(self._last_refit_dev, self._x[-1])
        fit = envelope_fit(self._x, self._y, bucket_s=self.bucket_s, min_span_s=self.min_span_s,
                           slope_span_s=self.slope_span_s, prior_slope=self._prior_slope,
                           max_drift_ppm=self.max_drift_ppm, n_points=self._n)
        if fit is not None:
            self._fit = fit

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
    def held(self) -> bool:
        """The stream arrives held back in bursts (release pairing in use in the window): the
        live line may still be late by tens of ms until releases have accumulated; the final
        mapping of the recording (:class:`SessionClock`) uses all of them."""
        return bool(self._fit is not None and self._fit.held)

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
        """Measured drift (ppm); NaN until a segment's hull has given a slope (before that the
        line uses an assumed slope, which is not a measurement)."""
        f = self.fit
        if f is None or not (f.slope_measured or self._prior_measured):
            return float("nan")
        return f.drift_ppm

    def offset_ms(self, t_dev_s: float | None = None) -> float:
        """host − device time (ms) at ``t_dev_s`` (default: the newest point)."""
        f = self.fit
        if f is None:
            return float("nan")
        t = self._x[-1] if (t_dev_s is None and self._x) else (t_dev_s if t_dev_s is not None else f.t_ref_dev_s)
        return f.offset_s(t) * 1e3


# ------------------------------------------------------------------------ final mapping
@dataclass(frozen=True)
class _SegmentMap:
    epoch: int
    segment: int
    t_dev_start_s: float  # first used point of the segment (device time)
    knots_dev_s: np.ndarray  # device times where a centred-window fit was made
    fits: tuple  # ClockFit per knot


class SessionClock:
    """The final device->host mapping of a recording, from ALL its clock points: what a
    session's sample times are once it is closed (``imugait record``) and whenever it is read
    (:func:`imugait.store.reader.open_session`) — one implementation for both.

    Per clock segment (``segment``; a reconnect or reboot starts one, as live), the same
    :func:`envelope_fit` as the live :class:`ClockMapper`, but on windows of ``window_s``
    *centred* on knots every ``knot_s`` of device time — the live mapping only has the past;
    here every sample has points on both sides, including the first packets of a segment
    (mapped live before any fit existed) and the bursts after it. A sample's host time is
    blended linearly between the two neighbouring knots' lines. Segments without a measured
    slope take that of the longest segment of the same device clock (epoch), else of the
    longest of all (same crystal).

    ``to_host(t_dev_s, epoch)`` returns NaN where no segment of that epoch has points.
    """

    def __init__(self, t_dev_s, t_arrival_host_s, segment, epoch, used=None, *, window_s: float = 120.0,
                 knot_s: float = 10.0, bucket_s: float = 0.1, slope_span_s: float = 20.0,
                 max_drift_ppm: float = 500.0):
        x = np.asarray(t_dev_s, dtype=np.float64)
        y = np.asarray(t_arrival_host_s, dtype=np.float64)
        seg = np.asarray(segment, dtype=np.int64)
        ep = np.asarray(epoch, dtype=np.int64)
        ok = np.isfinite(x) & np.isfinite(y)
        if used is not None:
            ok &= np.asarray(used, dtype=bool)
        x, y, seg, ep = x[ok], y[ok], seg[ok], ep[ok]
        self.window_s, self.knot_s, self.bucket_s = float(window_s), float(knot_s), float(bucket_s)
        self.slope_span_s, self.max_drift_ppm = float(slope_span_s), float(max_drift_ppm)
        self.n_points = int(len(x))
        groups = []  # (epoch, segment, indices in arrival order)
        for e, s in sorted(set(zip(ep.tolist(), seg.tolist()))):
            idx = np.flatnonzero((ep == e) & (seg == s))
            if len(idx):
                groups.append((e, s, idx))
        # drift for short segments: the longest measured segment of the same epoch, else of
        # any (same crystal: the live mapper keeps it over a reboot too)
        prior: dict[int, float] = {}
        for e, _s, idx in sorted(groups, key=lambda g: -float(np.ptp(x[g[2]]))):
            if e in prior:
                continue
            f = envelope_fit(x[idx], y[idx], bucket_s=bucket_s, slope_span_s=slope_span_s,
                             max_drift_ppm=max_drift_ppm)
            if f is not None and f.slope_measured:
                prior[e] = f.slope
        any_prior = next(iter(prior.values()), 1.0)  # from the longest segment
        self.segments: list[_SegmentMap] = []
        for e, s, idx in groups:
            xs, ys = x[idx], y[idx]
            lo, hi = float(np.min(xs)), float(np.max(xs))
            if hi - lo <= self.window_s:
                knots = np.array([0.5 * (lo + hi)])
            else:
                knots = np.arange(lo + 0.5 * self.window_s, hi - 0.5 * self.window_s + self.knot_s, self.knot_s)
                knots = np.unique(np.minimum(knots, hi - 0.5 * self.window_s))
            fits = []
            for kt in knots:
                w = np.abs(xs - kt) <= 0.5 * self.window_s if len(knots) > 1 else np.ones(len(xs), bool)
                fits.append(envelope_fit(xs[w], ys[w], bucket_s=bucket_s, slope_span_s=slope_span_s,
                                         prior_slope=prior.get(e, any_prior), max_drift_ppm=max_drift_ppm))
            self.segments.append(_SegmentMap(e, s, lo, knots, tuple(fits)))

    # -------------------------------------------------------------- stored form
    MAP_VERSION = "1"
    """Changes whenever the fit (or its constants) changes: a stored map of another version is
    not used (the reader refits from the points)."""
    MAP_COLUMNS = ("epoch", "segment", "t_dev_start_s", "knot_dev_s", "t_ref_dev_s", "t_ref_host_s", "slope")

    @staticmethod
    def fingerprint(t_dev_s, t_arrival_host_s, segment, epoch, used) -> str:
        """SHA-256 of the clock points (as stored) and :data:`MAP_VERSION`: a stored map
        (:meth:`to_table`) is valid for exactly these points and this version of the fit, made
        with the default constants."""
        h = hashlib.sha256(f"imugait-clock-map-{SessionClock.MAP_VERSION}".encode())
        for a, dt in ((t_dev_s, np.float64), (t_arrival_host_s, np.float64), (segment, np.int32), (epoch, np.int32),
                      (used, np.int8)):
            h.update(np.ascontiguousarray(np.asarray(a).astype(dt, copy=False)).tobytes())
        return h.hexdigest()

    def to_table(self) -> dict[str, np.ndarray]:
        """The fitted map as columns (one row per knot and segment) — what a closed session stores
        (``clock_map``) so that reading it does not refit (≈ 1 s per sensor-hour)."""
        rows = [(m.epoch, m.segment, m.t_dev_start_s, float(k), f.t_ref_dev_s, f.t_ref_host_s, f.slope)
                for m in self.segments for k, f in zip(m.knots_dev_s, m.fits)]
        cols = list(zip(*rows)) if rows else [()] * len(self.MAP_COLUMNS)
        types = (np.int32, np.int32, np.float64, np.float64, np.float64, np.float64, np.float64)
        return {c: np.asarray(v, dtype=t) for c, v, t in zip(self.MAP_COLUMNS, cols, types)}

    @classmethod
    def from_table(cls, table: dict, n_points: int = 0) -> "SessionClock":
        """A map stored by :meth:`to_table` (same :meth:`to_host`, no refit)."""
        self = cls.__new__(cls)
        self.window_s, self.knot_s, self.bucket_s = 120.0, 10.0, 0.1
        self.slope_span_s, self.max_drift_ppm = 20.0, 500.0
        self.n_points = int(n_points)
        self.segments = []
        ep, sg = np.asarray(table["epoch"]), np.asarray(table["segment"])
        for e, s in dict.fromkeys(zip(ep.tolist(), sg.tolist())):
            i = np.flatnonzero((ep == e) & (sg == s))
            fits = tuple(ClockFit(float(table["t_ref_dev_s"][j]), float(table["t_ref_host_s"][j]), float(table["slope"][j]))
                         for j in i)
            self.segments.append(_SegmentMap(int(e), int(s), float(table["t_dev_start_s"][i[0]]),
                                             np.asarray(table["knot_dev_s"], np.float64)[i], fits))
        return self

    def to_host(self, t_dev_s, epoch) -> np.ndarray:
        """Host time (``time.monotonic`` base) of device times ``t_dev_s`` of counter epoch(s)
        ``epoch`` (scalar or per sample). A sample belongs to the last segment of its epoch
        that started (first point) at or before its device time, else to the epoch's first."""
        t = np.atleast_1d(np.asarray(t_dev_s, dtype=np.float64))
        ep = np.broadcast_to(np.asarray(epoch, dtype=np.int64), t.shape)
        out = np.full(t.shape, np.nan)
        for e in np.unique(ep):
            segs = [m for m in self.segments if m.epoch == e]
            if not segs:
                continue
            sel = np.flatnonzero(ep == e)
            starts = np.array([m.t_dev_start_s for m in segs])
            which = np.clip(np.searchsorted(starts, t[sel], side="right") - 1, 0, len(segs) - 1)
            for j, m in enumerate(segs):
                ii = sel[which == j]
                if len(ii):
                    out[ii] = self._map(m, t[ii])
        return out

    @staticmethod
    def _map(m: _SegmentMap, t: np.ndarray) -> np.ndarray:
        ref_dev = np.array([f.t_ref_dev_s for f in m.fits])
        ref_host = np.array([f.t_ref_host_s for f in m.fits])
        slope = np.array([f.slope for f in m.fits])
        if len(m.fits) == 1:
            return ref_host[0] + slope[0] * (t - ref_dev[0])
        k = np.clip(np.searchsorted(m.knots_dev_s, t) - 1, 0, len(m.knots_dev_s) - 2)
        k0, k1 = m.knots_dev_s[k], m.knots_dev_s[k + 1]
        w = np.clip((t - k0) / (k1 - k0), 0.0, 1.0)
        h0 = ref_host[k] + slope[k] * (t - ref_dev[k])
        h1 = ref_host[k + 1] + slope[k + 1] * (t - ref_dev[k + 1])
        return (1.0 - w) * h0 + w * h1


__all__ = ["ClockFit", "ClockMapper", "SessionClock", "envelope_fit", "hull_fit", "lower_hull", "release_times"]
