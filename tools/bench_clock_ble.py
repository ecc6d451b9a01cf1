#!/usr/bin/env python3
"""Benchmark: left/right clock alignment of a real recording through bleak + the emulated BlueZ,
with notifications held back in bursts — the live mapping and the final mapping of the file.

Records with ``imugait record``'s own code (``run_record``: BleSource -> Acquisition ->
SessionWriter) from two emulated sensors, then reads the session back with
``imugait.open_session``: ``raw(side)["t_s"]`` is the final mapping
(:class:`imugait.clock.SessionClock` from the stored clock points),
``raw(side)["t_s_live"]`` the live one. Each sample's device time is turned into the host time
at which the sensor's clock showed it (ground truth of the emulator), so the error is the
clock mapping's alone.

Pairs (``--pair``):

* ``ours``     two sensors of imugait's own protocol (firmware simulator, hand-off dither),
               15 ms / 45 ms connection intervals;
* ``vendors``  the INDEPENDENT emulators of tests/independent_sensors.py (written by the
               reviewer of #11 from the vendors' sources): Polar Verity Sense left (30 ms,
               MTU 232), Movesense 2.2.1 at 208 Hz right (45 ms, MTU 161).

Holds (``--hold LO HI`` with ``--where``): ``device`` — the sensor (or its stack) holds its
data notifications and lets them go together every U(LO, HI) s, so a release drains over the
link at <= 6 notifications per connection event; ``host`` — the host holds notifications it
received and hands them to the application together (a busy computer, phone-style
batching); ``emulator`` — the independent emulators' own burst option at their defaults
(Polar 0.45–1.35 s, Movesense 0.2–0.6 s: the review of #11's setting; vendors only).

    .venv/bin/python tools/bench_clock_ble.py --pair vendors --where emulator      # ~75 s
    .venv/bin/python tools/bench_clock_ble.py --pair ours --hold 0.5 2 --where device
    .venv/bin/python tools/bench_clock_ble.py --pair ours                           # no holds

Runs in real time (the clock mapper bounds drift to +-500 ppm, so a time-scaled emulator
cannot be clock-mapped). Needs dbus-daemon (tools/ensure-dbus.sh); says so when it is absent.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _independent_sensors():
    """tests/independent_sensors.py (the independent emulators live with the tests), loaded by
    its path: no sys.path change, and it imports only imugait."""
    spec = importlib.util.spec_from_file_location("independent_sensors", ROOT / "tests" / "independent_sensors.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["independent_sensors"] = mod  # dataclasses need the module registered
    spec.loader.exec_module(mod)
    return mod

WORLD_OFFSET_S = 2.0  # our firmware simulator starts 2 s after the emulator (scan + connect first)


def _setup(pair: str, where: str, hold, duration_s: float, seed: int):
    from imugait.sim.bluez import LinkProfile
    from imugait.sim.gait import SimConfig, simulate

    sim = simulate(SimConfig(gait="run", duration_s=duration_s + 20, fs_hz=200, seed=seed, stand_before_s=3.0,
                             stand_after_s=0.0))
    link_hold = dict(hold_s=tuple(hold), hold_where=where) if hold and where in ("device", "host") else {}
    if link_hold and "hold_s" not in LinkProfile.__dataclass_fields__:
        raise SystemExit("bench_clock_ble: this imugait's emulated BlueZ cannot hold notifications (--where emulator can)")
    truth = {}
    if pair == "ours":
        from imugait.acquire import SensorSpec
        from imugait.sim.bluez_imugait import ImugaitPeripheral
        from imugait.sim.firmware import VirtualSensor

        addr = {"left": "C0:FF:EE:00:10:01", "right": "C0:FF:EE:00:10:02"}
        ci = {"left": 0.015, "right": 0.045}
        periphs, specs = [], []
        for i, side in enumerate(("left", "right")):
            vs = VirtualSensor(sim.sides[side], side=side, mtu=247, fifo_s=2.5, seed=i)
            src = sim.sides[side]
            tt, td = np.asarray(src.t_true_s), np.asarray(src.t_dev_s)
            base = float(np.interp(5.0, tt, td)) - vs.device_time_s(5.0)
            truth[side] = (lambda t_dev, tt=tt, td=td, base=base: WORLD_OFFSET_S + np.interp(t_dev + base, td, tt))
            periphs.append((ImugaitPeripheral(vs, addr[side], world_offset_s=WORLD_OFFSET_S),
                            LinkProfile(conn_interval_s=ci[side], seed=i + 1, **link_hold)))
            specs.append(SensorSpec(side, addr[side]))
        return sim, periphs, specs, truth
    ind = _independent_sensors()
    POLAR_DEFAULT_EPOCH_NS, arrays_motion = ind.POLAR_DEFAULT_EPOCH_NS, ind.arrays_motion
    IndependentMovesense, IndependentVerity = ind.IndependentMovesense, ind.IndependentVerity

    from imugait.acquire import SensorSpec

    L, R = sim.sides["left"], sim.sides["right"]
    emu = where == "emulator" and hold is not None
    pol_kw = {} if emu else {"burst_hold_s": 0.0}
    mov_kw = {} if emu else {"burst_hold_s": 0.0}
    pol = IndependentVerity("A0:9E:1A:B3:6E:4C", motion=arrays_motion(L.acc_true_mps2, L.gyr_true_dps, 200.0), **pol_kw)
    mov = IndependentMovesense("0C:8C:DC:31:22:07", motion=arrays_motion(R.acc_true_mps2, R.gyr_true_dps, 200.0),
                               **mov_kw)
    truth["left"] = lambda t_dev: (t_dev - POLAR_DEFAULT_EPOCH_NS / 1e9) / (1.0 + pol.drift)
    truth["right"] = lambda t_dev: (t_dev - mov.boot_ms / 1e3) / (1.0 + mov.drift)  # ms clock, before its 1 ms floor
    periphs = [(pol, LinkProfile(conn_interval_s=0.030, mtu=232, seed=1, **link_hold)),
               (mov, LinkProfile(conn_interval_s=0.045, mtu=161, seed=2, **link_hold))]
    specs = [SensorSpec("left", "Polar Sense B36E4C2A"), SensorSpec("right", "Movesense 220330000123")]
    return sim, periphs, specs, truth


def alignment(t_true_host: dict, t_mapped_host: dict, skip_s: float = 5.0) -> dict:
    """|e_L − e_R| in ms at the left samples' true times (right error interpolated), after the
    first ``skip_s`` of the time both legs recorded; also each leg's median error (ms)."""
    (tl, el), (tr, er) = [(t_true_host[s], t_mapped_host[s] - t_true_host[s]) for s in ("left", "right")]
    o = np.argsort(tr)
    d = np.abs(el - np.interp(tl, tr[o], er[o])) * 1e3
    t0 = max(tl.min(), tr.min())
    keep = (tl > t0 + skip_s) & (tl < min(tl.max(), tr.max()))
    a = d[keep]
    return dict(p50=float(np.percentile(a, 50)), p95=float(np.percentile(a, 95)), max=float(a.max()),
                left_ms=float(np.median(el) * 1e3), right_ms=float(np.median(er) * 1e3), n=int(a.size))


def run(pair="ours", where="device", hold=None, duration_s=60.0, seed=5, drops=False, out=None, verbose=True):
    import imugait
    from imugait.acquire import BleSource
    from imugait.sim.bluez import EmulatedBluez, bluez_available
    from imugait.app.record import RecordOptions, run_record

    ok, why = bluez_available()
    if not ok:
        raise SystemExit(f"bench_clock_ble: the emulated BlueZ cannot run here: {why}")
    sim, periphs, specs, truth = _setup(pair, where, hold, duration_s, seed)
    tag = f"{where}_{hold[0]:g}-{hold[1]:g}" if hold else "noholds"
    out = Path(out or tempfile.mkdtemp(prefix="bench_clock_ble_")) / f"{pair}_{tag}{'_drops' if drops else ''}.h5"
    out.unlink(missing_ok=True)
    opts = RecordOptions(out=out, duration_s=duration_s, quiet=True, analyze_after=False)
    t_wall = time.monotonic()
    with EmulatedBluez(periphs) as bz:
        if drops:  # one 8 s link loss per leg: a reconnect starts a new clock segment
            bz.schedule(25.0, lambda: bz.drop_link(periphs[0][0].address, 8.0))
            bz.schedule(40.0, lambda: bz.drop_link(periphs[1][0].address, 8.0))
        code = run_record(opts, source=BleSource(specs, backoff_max_s=1.0),
                          source_meta={"source": "ble", "source_json": {"bench": "clock_ble"}})
        host_of = bz.host_time_of
    if code != 0:
        raise SystemExit(f"bench_clock_ble: the recording failed (exit {code})")
    with imugait.open_session(out) as s:  # ground truth: host time at which the sensor's clock showed t_dev
        tdev = {side: s.raw(side)["t_dev_s"] for side in ("left", "right")}
    np.savez(out.with_suffix(".truth.npz"), **{f"{side}_t_dev_s": tdev[side] for side in tdev},
             **{f"{side}_t_true_host_s": np.asarray([host_of(w) for w in truth[side](tdev[side])]) for side in tdev})
    desc = (f"{pair}, holds {tuple(hold) if hold else 'none'} ({where if hold else '-'}), {duration_s:.0f} s"
            f"{', link drops' if drops else ''}, wall {time.monotonic() - t_wall:.0f} s")
    return evaluate(out, desc, verbose)


def evaluate(path, desc: str = "", verbose: bool = True) -> dict:
    """Alignment of the live and the final mapping of a session written by :func:`run`
    (needs its ``.truth.npz``); re-runnable after a change of the final mapping."""
    import imugait

    path = Path(path)
    tr = np.load(path.with_suffix(".truth.npz"))
    true_h, final_h, live_h, npts = {}, {}, {}, {}
    with imugait.open_session(path) as s:
        t0 = float(s.meta["t0_host_s"])
        for side in ("left", "right"):
            r = s.raw(side)
            if not np.array_equal(r["t_dev_s"], tr[f"{side}_t_dev_s"]):
                raise SystemExit(f"{path}: its samples differ from {path.with_suffix('.truth.npz')}")
            true_h[side] = tr[f"{side}_t_true_host_s"]
            final_h[side] = r["t_s"] + t0
            live_h[side] = r.get("t_s_live", r["t_s"]) + t0  # an older imugait has only the live mapping
            cp = s.clock_points(side) if hasattr(s, "clock_points") else None
            npts[side] = 0 if cp is None else int(len(cp["t_dev_s"]))
    rows = {"live": alignment(true_h, live_h)}
    if npts["left"] or npts["right"]:
        rows["final"] = alignment(true_h, final_h)
    if verbose:
        print(f"{desc or path.name}: clock points L {npts['left']} R {npts['right']}, file {path}")
        print(f"{'mapping':8s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}   median error of each leg (ms)")
        for k, r in rows.items():
            print(f"{k:8s} {r['p50']:8.2f} {r['p95']:8.2f} {r['max']:8.2f}   L {r['left_ms']:+.2f}  R {r['right_ms']:+.2f}")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pair", choices=("ours", "vendors"), default="ours")
    ap.add_argument("--hold", nargs=2, type=float, metavar=("LO_S", "HI_S"), help="hold notifications U(LO, HI) s")
    ap.add_argument("--where", choices=("device", "host", "emulator"), default="device")
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--drops", action="store_true", help="one 8 s link loss per leg (reconnect segments)")
    ap.add_argument("--out", help="folder for the session file (default: a temporary folder)")
    ap.add_argument("--evaluate", metavar="FILE", help="only evaluate a session this tool wrote before")
    a = ap.parse_args(argv)
    if a.evaluate:
        evaluate(a.evaluate)
        return
    hold = a.hold if a.hold else ((0.45, 1.35) if a.where == "emulator" else None)
    run(a.pair, a.where, hold, a.duration, a.seed, a.drops, a.out)


if __name__ == "__main__":
    main()
