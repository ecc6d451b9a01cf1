"""Benchmark: two imugait sensors at 400 Hz through the emulated BlueZ and unmodified bleak.

    .venv/bin/python tools/bench_ble.py --duration 60

Measures, for the real acquisition path (BleSource -> Acquisition engine):

* loss: samples the tracker counts as missing, and notifications the emulator dropped
  (target: zero on a clean link);
* arrival -> decoded latency: from the notification's arrival stamp (taken first thing in
  the bleak callback) to the moment the engine hands the decoded block to ``on_block``
  (p50 / p99 / max);
* CPU: the host side (bleak + BleSource + engine: process CPU minus the emulator thread),
  the emulator thread (stands in for bluetoothd + the radio), and the private
  dbus-daemon, each as a share of one core over the streaming time;
* left/right clock alignment error (p50 / p95), for information.

Not a test: nothing here asserts a time. Prints one JSON object (and a readable summary).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

import numpy as np


def _proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(parts[11]) + int(parts[12])) / ticks  # utime + stime


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of streaming (default 60)")
    ap.add_argument("--rate", type=float, default=400.0, help="sample rate, Hz (default 400)")
    ap.add_argument("--json", action="store_true", help="print JSON only")
    args = ap.parse_args(argv)

    from imugait.acquire import Acquisition, BleSource, PacketEvent, SensorSpec
    from imugait.sim.bluez import EmulatedBluez, LinkProfile, bluez_available
    from imugait.sim.bluez_imugait import ImugaitPeripheral
    from imugait.sim.firmware import VirtualSensor
    from imugait.sim.gait import SimConfig, simulate

    ok, why = bluez_available()
    if not ok:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    offset = 2.5
    rec = simulate(SimConfig(gait="run", duration_s=args.duration + offset + 2, fs_hz=args.rate, seed=7))
    addr = {"left": "C0:FF:EE:BE:00:01", "right": "C0:FF:EE:BE:00:02"}
    vs = {s: VirtualSensor(rec.sides[s], side=s, mtu=247, seed=i) for i, s in enumerate(addr)}
    links = {"left": LinkProfile(conn_interval_s=0.015, max_packets_per_event=6, seed=1),
             "right": LinkProfile(conn_interval_s=0.030, max_packets_per_event=6, seed=2)}
    periphs = [(ImugaitPeripheral(vs[s], addr[s], world_offset_s=offset), links[s]) for s in addr]

    lat = []
    blocks = {"left": [], "right": []}
    n_packets = {"left": 0, "right": 0}

    def on_block(block, t_s):
        lat.append(time.monotonic() - block.t_arrival_host_s)
        blocks[block.side].append((block, np.asarray(t_s)))

    with EmulatedBluez(periphs) as bz:
        dbus_pid = bz.dbus_pid

        async def run():
            src = BleSource([SensorSpec(s, addr[s]) for s in addr])
            acq = Acquisition(src, on_block=on_block)
            handle = acq.handle

            def tee(ev):
                if isinstance(ev, PacketEvent) and ev.channel == "data":
                    n_packets[ev.side] += 1
                handle(ev)

            acq.handle = tee
            task = asyncio.create_task(acq.run())
            while not all(acq.link_state(s) == "connected" for s in addr) \
                    or bz.now_s() < offset + 0.5:  # recording playing on both sides
                await asyncio.sleep(0.05)
            n0 = {s: acq.health(s).samples_received for s in addr}
            t0w, c0p, c0d = time.monotonic(), time.process_time(), _proc_cpu_s(dbus_pid)
            c0e = bz.thread_cpu_s()
            lat.clear()
            await asyncio.sleep(args.duration)
            t1w, c1p, c1d = time.monotonic(), time.process_time(), _proc_cpu_s(dbus_pid)
            c1e = bz.thread_cpu_s()
            await acq.stop()
            await task
            n1 = {s: acq.health(s).samples_received for s in addr}
            return acq, t1w - t0w, c1p - c0p, c1e - c0e, c1d - c0d, {s: n1[s] - n0[s] for s in addr}

        acq, wall, cpu_proc, cpu_emu, cpu_dbus, n_window = asyncio.run(run())
        dropped = {s: sum(1 for d in bz.device_log(addr[s]).dropped if d[3] != "not_connected") for s in addr}
        host_time_of = bz.host_time_of

    # L/R alignment (as in tests/integration/test_ble_integration.py)
    d = {}
    for s in addr:
        src_ = rec.sides[s]
        tt, td = np.asarray(src_.t_true_s), np.asarray(src_.t_dev_s)
        base = float(np.interp(5.0, tt, td)) - vs[s].device_time_s(5.0)
        t_dev = np.concatenate([b.t_dev_s for b, _t in blocks[s]])
        t_s = np.concatenate([t for _b, t in blocks[s]]) + acq.t0_host_s
        t_true = np.interp(t_dev + base, td, tt)
        d[s] = (t_true, t_s - host_time_of(offset + t_true))
    (tl, el), (tr, er) = d["left"], d["right"]
    o = np.argsort(tr)
    keep = (tl > tr.min()) & (tl < tr.max())
    align = np.abs(el - np.interp(tl, tr[o], er[o]))[keep] * 1e3
    lat_ms = np.asarray(lat) * 1e3
    out = {
        "command": "tools/bench_ble.py --duration %g --rate %g" % (args.duration, args.rate),
        "rate_hz": args.rate,
        "streaming_s": round(wall, 2),
        "samples_per_packet": vs["left"].samples_per_packet,
        "packets_received": n_packets,
        "samples_received": {s: acq.health(s).samples_received for s in addr},
        "effective_rate_hz_in_window": {s: round(n_window[s] / wall, 1) for s in addr},
        "samples_lost": {s: acq.health(s).samples_lost for s in addr},
        "emulator_dropped_notifications": dropped,
        "latency_arrival_to_block_ms": {"p50": round(float(np.percentile(lat_ms, 50)), 3),
                                         "p99": round(float(np.percentile(lat_ms, 99)), 3),
                                         "max": round(float(lat_ms.max()), 3)},
        "cpu_pct_of_one_core": {"host_bleak_source_engine": round(100 * (cpu_proc - cpu_emu) / wall, 1),
                                "emulator_thread": round(100 * cpu_emu / wall, 1),
                                "dbus_daemon": round(100 * cpu_dbus / wall, 1)},
        "lr_alignment_ms": {"p50": round(float(np.percentile(align, 50)), 3), "p95": round(float(np.percentile(align, 95)), 3)},
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }
    if not args.json:
        print(f"two sensors at {args.rate:g} Hz, {wall:.1f} s of streaming through the emulated BlueZ + bleak")
        print(f"  samples received {out['samples_received']}, lost {out['samples_lost']}, emulator drops {dropped}")
        print(f"  arrival -> decoded block latency p50 {out['latency_arrival_to_block_ms']['p50']} ms, "
              f"p99 {out['latency_arrival_to_block_ms']['p99']} ms")
        print(f"  CPU (% of one core): {out['cpu_pct_of_one_core']}  (load avg {out['load_avg_1min']})")
        print(f"  L/R alignment |error| p50 {out['lr_alignment_ms']['p50']} ms, p95 {out['lr_alignment_ms']['p95']} ms")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
