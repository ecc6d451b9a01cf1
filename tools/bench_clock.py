#!/usr/bin/env python3
"""Benchmark: left/right alignment error of device->host clock mapping on simulated BLE links.

Two sensors sample the same true time axis with their own crystals (offset, 20–50 ppm drift),
batch samples into packets, and send them over links with unequal connection intervals
(default 15 ms vs 45 ms), a limited number of packets per connection event, random stalls
of 20–200 ms (retransmissions) and host-stack jitter. Every sample is mapped to host time
*online* (the mapping available when its packet arrives, as in a live session) by

* ``raw``     arrival time of the packet, minus (n−1−k)/fs for sample k;
* ``lsq``     least-squares line (t_dev -> arrival) over the same sliding window;
* ``hull``    :class:`imugait.acquire.clock.ClockMapper` (lower convex hull) — the live mapping;
* ``final``   :class:`imugait.acquire.clock.SessionClock` from all points of the run — the
              final mapping of a closed session (not online).

Bursts (``--bursts LO HI``): notifications held back and let go together every U(LO, HI) s —
``--burst-where device``: by the sensor or its stack, before the link (a release drains at
<= 6 per connection event; releases at random moments); ``host``: by the host after the link
(handed to the application together, 20 µs apart). ``--burst-short P LO HI``: a share P of
the holds lasts U(LO, HI) instead (an adversary for release pairing, docs/acquisition.md).

The L/R alignment error is e_L(t) − e_R(t) where e = mapped host time − true time, compared
at common true times (samples interpolated). Reported: |error| p50 / p95 / max in ms,
after a warm-up of ``--warmup`` seconds (also reported with warm-up included).

    .venv/bin/python tools/bench_clock.py                       # 120 s, 10 seeds
    .venv/bin/python tools/bench_clock.py --duration 600 --seeds 3
    .venv/bin/python tools/bench_clock.py --bursts 0.5 2 --burst-where host
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from imugait.acquire import ClockMapper

try:
    from imugait.acquire.clock import release_times  # noqa: E402
except ImportError:  # pragma: no cover - an older checkout
    release_times = None

try:  # the final mapping (imugait >= 0.6); without it (an older checkout) the column is left out
    from imugait.acquire.clock import SessionClock  # noqa: E402
except ImportError:  # pragma: no cover
    SessionClock = None


@dataclass
class LinkSpec:
    conn_interval_s: float
    drift_ppm: float
    offset_s: float
    stall_rate_hz: float = 0.3  # stalls per second
    stall_s: tuple = (0.020, 0.200)
    max_per_event: int = 6
    host_jitter_mean_s: float = 0.0005
    fs_hz: float = 200.0
    n_per_packet: int = 4
    odr_error_pct: float = 0.0  # IMU output data rate vs nominal (its own oscillator); 0 = clocked by the crystal
    dither: bool = False  # firmware hands packets over at a random moment within one packet interval, reports tx_delay_us
    burst_hold_s: tuple | None = None  # (lo, hi): notifications held back, then released together every U(lo, hi) s
    burst_where: str = "device"  # "device": held before the link (released into the link queue, drained at
    #                              max_per_event per connection event); "host": held after the link (the host
    #                              stack hands them to the application at once, one stamp per host_per_notif_s)
    host_per_notif_s: float = 0.00002  # host time to hand one held notification to the application
    burst_short: tuple | None = None  # (p, lo, hi): with probability p a hold lasts U(lo, hi) instead


def simulate_link(spec: LinkSpec, duration_s: float, rng: np.random.Generator):
    """Return per-packet arrays: t_true of each sample (n_pkt, n), t_dev of each sample,
    arrival host time (n_pkt,). Host time == true time (host clock is the reference)."""
    n = spec.n_per_packet
    n_pkt = int(duration_s * spec.fs_hz) // n
    t0 = rng.uniform(0, 1 / spec.fs_hz)
    k = np.arange(n_pkt * n).reshape(n_pkt, n)
    # true sample times: the IMU's data rate, as seen on the device crystal, is fs (1 + odr_error)
    f_dev = spec.fs_hz * (1 + spec.odr_error_pct / 100)
    t_true = t0 + k / (f_dev * (1 + spec.drift_ppm * 1e-6))
    # the device stamps the first sample of each packet with its crystal; the host spaces the
    # others by the nominal 1/fs (as the real decoder does)
    t_dev_first = spec.offset_s + (t_true[:, :1] - t0) * (1 + spec.drift_ppm * 1e-6)
    t_dev = t_dev_first + np.arange(n)[None, :] / spec.fs_hz
    handoff = t_true[:, -1] + (rng.uniform(0, n / spec.fs_hz, n_pkt) if spec.dither else 0.0)
    ready = handoff + rng.uniform(0.0001, 0.0003, n_pkt)  # sensor read-out, stack latency
    releases = None
    if spec.burst_hold_s is not None:
        lo, hi = spec.burst_hold_s
        holds = rng.uniform(lo, hi, int(duration_s / lo) + 3)
        if spec.burst_short is not None:  # some holds much shorter (an adversary for release pairing)
            p, slo, shi = spec.burst_short
            short = rng.random(len(holds)) < p
            holds[short] = rng.uniform(slo, shi, int(short.sum()))
        releases = np.cumsum(holds)
        if spec.burst_where == "device":  # the sensor (or its stack) lets go of everything it holds at once
            ready = releases[np.searchsorted(releases, ready)]
    if spec.dither:  # the device reports the hand-off in device time (tx_delay_us, µs resolution)
        t_last = t_dev[:, -1]  # nominal, as the host computes it
        dev_handoff = t_dev_first[:, 0] + (handoff - t_true[:, 0]) * (1 + spec.drift_ppm * 1e-6)
        t_dev_point = t_last + np.maximum(0, np.round((dev_handoff - t_last) * 1e6)) * 1e-6
    else:  # the host pairs the arrival with the last sample's device time
        t_dev_point = None
    # stalls
    n_st = rng.poisson(spec.stall_rate_hz * duration_s)
    st_start = np.sort(rng.uniform(0, duration_s, n_st))
    st_end = st_start + rng.uniform(*spec.stall_s, n_st)
    phase = rng.uniform(0, spec.conn_interval_s)
    arrival = np.empty(n_pkt)
    ci = spec.conn_interval_s
    ev = phase
    i = 0
    s_i = 0
    while i < n_pkt:
        if ev < ready[i]:
            ev = phase + np.ceil((ready[i] - phase) / ci) * ci
        while s_i < n_st and st_end[s_i] < ev:
            s_i += 1
        if s_i < n_st and st_start[s_i] <= ev < st_end[s_i]:
            ev = phase + np.ceil((st_end[s_i] - phase) / ci) * ci
            continue
        k = 0
        while i < n_pkt and ready[i] <= ev and k < spec.max_per_event:
            arrival[i] = ev + 0.0002 + rng.exponential(spec.host_jitter_mean_s)
            i += 1
            k += 1
        ev += ci
    if releases is not None and spec.burst_where == "host":
        # the host stack holds received notifications and hands them over together: each is
        # stamped when the application gets it, one after the other
        rel = releases[np.searchsorted(releases, arrival)]
        pos = np.zeros(n_pkt)
        for j in range(1, n_pkt):
            pos[j] = pos[j - 1] + 1 if rel[j] == rel[j - 1] else 0
        arrival = np.maximum(arrival, rel + pos * spec.host_per_notif_s)
    # host receives in order of arrival (stack jitter may reorder stamps slightly: keep order)
    arrival = np.maximum.accumulate(arrival)
    if t_dev_point is None:
        t_dev_point = t_dev[:, -1]
    return t_true, t_dev, arrival, t_dev_point


def map_online(method: str, t_dev: np.ndarray, arrival: np.ndarray, fs_hz: float, window_s: float = 60.0,
               t_dev_point: np.ndarray | None = None):
    """Host time of every sample with the mapping available at its packet's arrival.
    ``t_dev_point``: device time paired with each arrival (default: last sample)."""
    if t_dev_point is None:
        t_dev_point = t_dev[:, -1]
    n_pkt, n = t_dev.shape
    out = np.empty_like(t_dev)
    if method == "raw":
        return arrival[:, None] - (n - 1 - np.arange(n))[None, :] / fs_hz
    if method == "final":  # the final mapping of a closed session, from all points
        sc = SessionClock(t_dev_point, arrival, np.zeros(n_pkt, int), np.zeros(n_pkt, int))
        return sc.to_host(t_dev.ravel(), 0).reshape(t_dev.shape)
    if method == "hull":
        cm = ClockMapper(window_s=window_s)
        for i in range(n_pkt):
            cm.add(t_dev_point[i], arrival[i])
            out[i] = cm.to_host(t_dev[i])
        return out
    if method == "lsq":
        x = t_dev_point
        lo = 0
        for i in range(n_pkt):
            while x[i] - x[lo] > window_s:
                lo += 1
            xs, ys = x[lo : i + 1], arrival[lo : i + 1]
            if len(xs) >= 3 and xs[-1] - xs[0] > 0.5:
                xm, ym = xs.mean(), ys.mean()
                b = np.dot(xs - xm, ys - ym) / np.dot(xs - xm, xs - xm)
                out[i] = ym + b * (t_dev[i] - xm)
            else:
                out[i] = np.mean(ys - xs) + t_dev[i]
        return out
    raise ValueError(method)


def alignment_errors(sides: dict, method: str, warmup_s: float, window_s: float = 60.0):
    """|e_L − e_R| (ms) at the left samples' true times (right error interpolated)."""
    errs = {}
    for name, (t_true, t_dev, arrival, fs, t_point) in sides.items():
        host = map_online(method, t_dev, arrival, fs, window_s, t_point)
        errs[name] = (t_true.ravel(), (host - t_true).ravel())
    (tl, el), (tr, er) = errs["left"], errs["right"]
    er_at = np.interp(tl, tr, er)
    d = np.abs(el - er_at) * 1e3
    ok = (tl >= max(tl[0], tr[0])) & (tl <= min(tl[-1], tr[-1]))
    return d[ok & (tl >= warmup_s)], d[ok]


def run(duration_s=120.0, seeds=10, ci=(0.015, 0.045), warmup_s=5.0, verbose=True, odr_error_pct=0.0, window_s=60.0,
        dither=True, burst_hold_s=None, burst_where="device", burst_legs=("left", "right"), burst_short=None):
    results = {m: ([], []) for m in ("raw", "lsq", "hull", "final") if m != "final" or SessionClock is not None}
    pairing = [0, 0, 0]  # points, paired, paired earlier than the packet existed
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        sides = {}
        for name, c in zip(("left", "right"), ci):
            spec = LinkSpec(conn_interval_s=c, drift_ppm=rng.uniform(20, 50) * rng.choice([-1, 1]),
                            offset_s=rng.uniform(1, 1000), odr_error_pct=rng.uniform(-1, 1) * odr_error_pct,
                            dither=dither, burst_hold_s=burst_hold_s if name in burst_legs else None,
                            burst_where=burst_where, burst_short=burst_short)
            t_true, t_dev, arr, t_point = simulate_link(spec, duration_s, rng)
            sides[name] = (t_true, t_dev, arr, spec.fs_hz, t_point)
            if release_times is not None:  # release pairing against the truth, on 60 s windows
                ready = np.interp(t_point, t_dev.ravel(), t_true.ravel())  # true time of each point
                for lo in np.arange(0.0, duration_s, 60.0):
                    m = (ready >= lo) & (ready < lo + 60.0)
                    paired = release_times(t_point[m], arr[m])
                    pairing[0] += int(m.sum())
                    pairing[1] += int(np.sum(paired < arr[m]))
                    pairing[2] += int(np.sum(paired < ready[m] - 0.0005))
        for m in results:
            a, b = alignment_errors(sides, m, warmup_s, window_s)
            results[m][0].append(a)
            results[m][1].append(b)
    rows = {}
    for m, (after, all_) in results.items():
        a = np.concatenate(after)
        b = np.concatenate(all_)
        rows[m] = dict(p50=np.percentile(a, 50), p95=np.percentile(a, 95), max=a.max(),
                       p95_all=np.percentile(b, 95), max_all=b.max())
    if verbose:
        print(f"L/R alignment error, {seeds} seeds x {duration_s:.0f} s, connection intervals "
              f"{ci[0]*1e3:.0f} ms / {ci[1]*1e3:.0f} ms, stalls 20-200 ms, drift 20-50 ppm, online mapping, "
              f"hand-off dither {'on' if dither else 'off'}, IMU rate error +-{odr_error_pct:g} %, window {window_s:g} s"
              + (f", holds U{tuple(burst_hold_s)} s ({burst_where}, {'+'.join(burst_legs)})" if burst_hold_s else "")
              + (f", short holds {burst_short}" if burst_short else ""))
        print(f"{'method':8s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}   (incl. first {warmup_s:.0f} s: p95, max)")
        for m, r in rows.items():
            print(f"{m:8s} {r['p50']:8.3f} {r['p95']:8.3f} {r['max']:8.3f}   ({r['p95_all']:.3f}, {r['max_all']:.3f})")
        if release_times is not None:
            print(f"release pairing: {pairing[1]} of {pairing[0]} points paired with a release's first stamp, "
                  f"{pairing[2]} of them earlier than their packet existed (ground truth, > 0.5 ms)")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=120.0)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--ci-left-ms", type=float, default=15.0)
    ap.add_argument("--ci-right-ms", type=float, default=45.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--odr-error-pct", type=float, default=0.0,
                    help="IMU data rate off nominal by up to this (uniform +-), as with an IMU on its own oscillator")
    ap.add_argument("--window", type=float, default=60.0, help="clock-fit window (s)")
    ap.add_argument("--no-dither", action="store_true",
                    help="firmware hands packets over at sample instants (no tx_delay_us): commensurate worst case")
    ap.add_argument("--bursts", nargs=2, type=float, metavar=("LO_S", "HI_S"),
                    help="notifications held back and released together every U(LO, HI) s")
    ap.add_argument("--burst-where", choices=("device", "host"), default="device",
                    help="device: held before the link (drained at the link's rate); host: held by the host stack")
    ap.add_argument("--burst-legs", choices=("both", "left", "right"), default="both")
    ap.add_argument("--burst-short", nargs=3, type=float, metavar=("P", "LO_S", "HI_S"),
                    help="a share P of the holds lasts U(LO, HI) s instead (adversary)")
    a = ap.parse_args(argv)
    t = time.perf_counter()
    legs = ("left", "right") if a.burst_legs == "both" else (a.burst_legs,)
    rows = run(a.duration, a.seeds, (a.ci_left_ms / 1e3, a.ci_right_ms / 1e3), a.warmup, odr_error_pct=a.odr_error_pct,
               window_s=a.window, dither=not a.no_dither, burst_hold_s=tuple(a.bursts) if a.bursts else None,
               burst_where=a.burst_where, burst_legs=legs, burst_short=tuple(a.burst_short) if a.burst_short else None)
    best = "final" if "final" in rows else "hull"
    print(f"target p95 <= 2 ms: live {'MET' if rows['hull']['p95'] <= 2.0 else 'NOT MET'}"
          + (f", final {'MET' if rows['final']['p95'] <= 2.0 else 'NOT MET'}" if best == "final" else "")
          + f"  ({time.perf_counter() - t:.1f} s)")


if __name__ == "__main__":
    main()
