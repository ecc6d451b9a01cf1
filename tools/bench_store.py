#!/usr/bin/env python
"""Session storage benchmark (not a test): size on disk, write throughput, read time.

    .venv/bin/python tools/bench_store.py [--minutes 10] [--hours 1.0] [--keep DIR]

1. **Bytes per 6-axis sample, as recorded.** ``--minutes`` of a simulated two-sensor
   200 Hz run go through the real chain — virtual sensors (own protocol packets, BLE link
   model), the acquisition engine (decode, loss tracking, clock mapping) and
   :class:`SessionWriter` — with the writer flushing every 0.5 s *of data time*, as
   ``imugait record`` does in real time (SWMR rewrites the growing chunks at every flush,
   which costs space; this measures it). Bytes = file size / samples (both sensors), so
   timing (packet table, device time residuals, arrival times, clock mapping) and all
   metadata are included. Target ≤ 16 bytes.
2. **Write throughput**: samples per second through ``append_block`` + flushes, in-process.
3. **Read one hour**: a ``--hours`` two-sensor 200 Hz file is built from the recorded
   packets (repeated, indices and times shifted; flushed every 30 s of data to keep the
   benchmark short — the closed file is compacted either way); time to ``open_session`` it and get
   ``imu()`` (session time, m/s², deg/s) for both sides — best of 3, page cache warm.
   Target ≤ 0.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from imugait.acquire import Acquisition
from imugait.sim.source import SimulatedSource
from imugait.sim.gait import SimConfig
from imugait.store import SessionWriter, open_session
from imugait.types import SampleBlock


def record_simulated(path: Path, minutes: float, flush_every_s: float = 0.5):
    """Simulated run through the real acquisition chain into a SessionWriter whose clock is
    data time (so flushes happen every ``flush_every_s`` of recording, as in real time)."""
    cfg = SimConfig(gait="run", duration_s=minutes * 60.0, seed=11, stand_before_s=4.0, stand_after_s=0.0)
    src = SimulatedSource(cfg, speed=None, seed=11)
    state = {"t": 0.0}
    blocks = []
    infos = {}
    writer = {"w": None}
    t_write = [0.0]

    def clock():
        return state["t"]

    def on_event(ev):
        from imugait.events import InfoEvent

        if isinstance(ev, InfoEvent) and ev.side not in infos:
            infos[ev.side] = ev.info
            if len(infos) == len(src.sides):
                w = SessionWriter(path, {"subject_id": "bench"}, overwrite=True, flush_interval_s=flush_every_s,
                                  clock=clock)
                for s in src.sides:
                    w.add_sensor(infos[s])
                w.start()
                writer["w"] = w

    def on_block(block, t_s):
        state["t"] = max(state["t"], float(t_s[-1]))
        blocks.append((block, np.asarray(t_s)))
        w = writer["w"]
        if w is not None:
            t0 = time.perf_counter()
            w.append_block(block, t_s)
            t_write[0] += time.perf_counter() - t0

    acq = Acquisition(src, on_block, on_event)
    asyncio.run(acq.run())
    w = writer["w"]
    t0 = time.perf_counter()
    w.close("bench")
    t_write[0] += time.perf_counter() - t0
    n = sum(w.n_samples(s) for s in w.sides)
    return blocks, n, t_write[0]


def build_long(path: Path, blocks, hours: float) -> tuple[int, float]:
    """Repeat the recorded packets to ``hours`` (indices and times shifted); returns
    (samples, seconds spent writing)."""
    span = max(float(t[-1]) for _b, t in blocks) + 0.005
    idx_span = {}
    for b, _t in blocks:
        idx_span[b.side] = max(idx_span.get(b.side, 0), b.first_index + len(b))
    reps = int(np.ceil(hours * 3600.0 / span))
    first = blocks[0][0]
    infos = {}
    with open_session(path) as s:
        for side in s.sides:
            infos[side] = s.sensor_info(side)
    out = path.with_name("long.h5")
    state = {"t": 0.0}
    w = SessionWriter(out, {"subject_id": "bench-long"}, overwrite=True, flush_interval_s=30.0,
                      clock=lambda: state["t"])
    for side in infos:
        w.add_sensor(infos[side])
    w.start()
    t0 = time.perf_counter()
    n = 0
    for r in range(reps):
        for b, t in blocks:
            if r * span + float(t[-1]) > hours * 3600.0:
                break
            shift_i = r * idx_span[b.side]
            nb = SampleBlock(b.side, b.first_index + shift_i, b.t_dev_s + r * span, b.acc_counts, b.gyr_counts,
                             b.acc_scale_mps2, b.gyr_scale_dps, seq=b.seq, t_arrival_host_s=b.t_arrival_host_s + r * span)
            state["t"] = r * span + float(t[-1])
            w.append_block(nb, t + r * span)
            n += len(b)
    w.close("bench")
    del first
    return out, n, time.perf_counter() - t0


def storage_breakdown(path: Path, n_samples: int) -> list[tuple[str, float]]:
    rows = []
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                rows.append((name, obj.id.get_storage_size() / n_samples))
        f.visititems(visit)
    rows.sort(key=lambda r: -r[1])
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--keep", type=Path, default=None, help="keep the files in this folder")
    a = ap.parse_args()
    d = a.keep or Path(tempfile.mkdtemp(prefix="bench_store_"))
    d.mkdir(parents=True, exist_ok=True)
    rec = d / "recorded.h5"
    t0 = time.perf_counter()
    blocks, n, t_write = record_simulated(rec, a.minutes)
    t_total = time.perf_counter() - t0
    size = os.path.getsize(rec)
    ds_total = sum(b for _n, b in storage_breakdown(rec, n))
    pk = np.mean([len(b) for b, _ in blocks])
    print(f"recorded {a.minutes:g} min, 2 sensors, 200 Hz: {n} samples in {len(blocks)} packets "
          f"({pk:.1f} samples/packet), flush every 0.5 s of data")
    print(f"  file {size / 1e6:.2f} MB = {size / n:.2f} bytes per 6-axis sample (target <= 16), "
          f"datasets alone {ds_total:.2f} B/sample; rest is HDF5 metadata and free space left by SWMR flushes")
    for name, b in storage_breakdown(rec, n)[:8]:
        print(f"    {name:<40} {b:6.2f} B/sample")
    print(f"  writer time {t_write:.2f} s -> {n / t_write / 1e3:.0f} k samples/s = "
          f"{n / t_write / 400:.0f}x real time for 2 x 200 Hz, incl. 0.5 s flushes and closing/compacting "
          f"(whole chain incl. simulation {t_total:.1f} s)")

    long, n_long, t_long = build_long(rec, blocks, a.hours)
    size_l = os.path.getsize(long)
    print(f"{a.hours:g} h file built from those packets: {n_long} samples, {size_l / 1e6:.1f} MB = "
          f"{size_l / n_long:.2f} B/sample; write throughput {n_long / t_long / 1e3:.0f} k samples/s "
          f"({t_long:.1f} s)")
    times, times_raw = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        with open_session(long) as s:
            out = [s.imu(side) for side in s.sides]
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with open_session(long) as s:
            raws = [s.raw(side) for side in s.sides]
        times_raw.append(time.perf_counter() - t0)
    assert sum(len(o[0]) for o in out) == n_long and sum(len(r["acc_counts"]) for r in raws) == n_long
    print(f"  read {a.hours:g} h, both sensors: open_session + imu() best {min(times):.3f} s "
          f"(target <= 0.5 s), raw() best {min(times_raw):.3f} s")
    if a.keep is None:
        for p in (rec, long):
            p.unlink(missing_ok=True)
        d.rmdir()


if __name__ == "__main__":
    main()
