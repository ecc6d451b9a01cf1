#!/usr/bin/env python
"""Benchmark of the analysis pipeline (issue 3, item 10). Not a test: prints figures.

1. Batch: ``analyze()`` of a 1-hour two-sensor 200 Hz simulated recording (walking and
   running with stops) on one core -> speed as a multiple of real time (target ≥ 1000×).
2. Live: two ``GaitPipeline`` objects fed 200 Hz data in packets (default 10 samples = 50 ms,
   as BLE notifications arrive) -> per-chunk processing time p50/p99/max and CPU share.
3. Peak memory of the batch analysis (tracemalloc: Python + numpy allocations).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python tools/bench_analysis.py [--minutes 60] [--live-minutes 10]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import time
import tracemalloc

import numpy as np


def make_recording(minutes: float, fs_hz: float, seed: int = 7):
    from imugait.sim.gait import SimConfig, simulate

    dur = minutes * 60.0
    stops = tuple((float(t), 8.0) for t in np.arange(300.0, dur - 60, 600.0))
    cfg = SimConfig(gait="mixed", duration_s=dur, fs_hz=fs_hz, seed=seed, strap="random", stops=stops)
    rec = simulate(cfg)
    return {s: (v.t_true_s, v.acc_mps2, v.gyr_dps) for s, v in rec.sides.items()}


def bench_batch(data, fs_hz: float) -> dict:
    from imugait.analysis import analyze

    analyze(*(tuple(a[:2000] for a in data[s]) for s in ("left", "right")), fs_hz=fs_hz)  # warm-up (imports)
    dur_s = float(data["left"][0][-1] - data["left"][0][0])
    t0 = time.perf_counter()
    c0 = time.process_time()
    res = analyze(data["left"], data["right"], fs_hz=fs_hz)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    tracemalloc.start()
    analyze(data["left"], data["right"], fs_hz=fs_hz)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n_in = sum(len(v[0]) for v in data.values())
    return {"recording_s": dur_s, "samples": n_in, "wall_s": wall, "cpu_s": cpu, "x_realtime": dur_s / wall,
            "us_per_sample": 1e6 * wall / n_in, "strides": int(len(res.strides)),
            "valid_strides": int(res.strides.valid.sum()), "peak_mem_mb": peak / 1e6,
            "input_mb": sum(v[0].nbytes + v[1].nbytes + v[2].nbytes for v in data.values()) / 1e6}


def bench_live(data, fs_hz: float, chunk: int, minutes: float) -> dict:
    from imugait.analysis import GaitPipeline

    n = min(len(data["left"][0]), len(data["right"][0]), int(minutes * 60 * fs_hz))
    pipes = {s: GaitPipeline(fs_hz, s) for s in ("left", "right")}
    times = []
    n_strides = 0
    latencies = []  # stride emitted at data time t_now vs its closing IC
    for i in range(0, n, chunk):
        for s, p in pipes.items():
            t, a, g = data[s]
            t0 = time.perf_counter()
            out = p.push(t[i:i + chunk], a[i:i + chunk], g[i:i + chunk])
            times.append(time.perf_counter() - t0)
            t_now = float(t[min(i + chunk, n) - 1])
            for st in out.strides:
                n_strides += 1
                latencies.append(t_now - st.next_ic_s)
    times = np.array(times)
    lat = np.array(latencies)
    dur_s = n / fs_hz
    return {"chunk_samples": chunk, "chunk_ms": 1e3 * chunk / fs_hz, "chunks": int(len(times)), "recording_s": dur_s,
            "p50_ms": 1e3 * float(np.quantile(times, 0.5)), "p99_ms": 1e3 * float(np.quantile(times, 0.99)),
            "max_ms": 1e3 * float(times.max()), "cpu_share_pct": 100 * float(times.sum()) / dur_s,
            "strides": n_strides,
            "stride_latency_after_closing_ic_s": {"median": float(np.median(lat)) if lat.size else None,
                                                  "p95": float(np.quantile(lat, 0.95)) if lat.size else None,
                                                  "max": float(lat.max()) if lat.size else None}}


def bench_filters(seeds=(1, 2, 3), fs_hz: float = 100.0) -> list[dict]:
    """Thigh-angle estimators on the same calibrated axes vs simulator truth: online VQF (the
    pipeline), offline VQF, 1-D complementary filter (tau 1 s and 3 s). RMSE over steady gait,
    per-stride ROM error, cost per sample."""
    from scipy.signal import lfilter
    from vqf import offlineVQF

    from imugait.analysis import analyze
    from imugait.conventions import DEG_PER_RAD, RAD_PER_DEG
    from imugait.sim.gait import SimConfig, simulate

    rows = []
    for gait, speed in (("walk", 1.3), ("run", 3.5)):
        for seed in seeds:
            rec = simulate(SimConfig(gait=gait, speed_mps=speed, duration_s=60, fs_hz=fs_hz, seed=seed, strap="random", sides=("left",)))
            s = rec.sides["left"]
            t, acc, gyr = s.t_true_s, s.acc_mps2, s.gyr_dps
            t0 = time.perf_counter()
            res = analyze(left=(t, acc, gyr), fs_hz=fs_hz)
            cal = res.calibration["left"]
            x, y, z = (np.asarray(v) for v in (cal.anterior_axis, cal.long_axis, cal.flexion_axis))
            g = gyr - np.asarray(cal.gyro_bias_dps)
            est = {"VQF online (pipeline)": res.angles["left"][1]}
            c0 = time.perf_counter()
            q = offlineVQF(np.ascontiguousarray(g * RAD_PER_DEG), np.ascontiguousarray(acc), None, 1 / fs_hz)["quat6D"]
            cost_off = (time.perf_counter() - c0) / len(t)
            qw, qx, qy, qz = q.T
            up = np.stack([2 * (qx * qz - qw * qy), 2 * (qy * qz + qw * qx), 1 - 2 * (qx * qx + qy * qy)], axis=1)
            est["VQF offline"] = np.arctan2(up @ x, up @ y) * DEG_PER_RAD
            th_acc = np.arctan2(acc @ x, acc @ y) * DEG_PER_RAD
            w = g @ z
            for tau in (1.0, 3.0):
                a = np.exp(-1 / (tau * fs_hz))
                # theta[n] = a*(theta[n-1] + w*dt) + (1-a)*theta_acc[n]
                u = a * w / fs_hz + (1 - a) * th_acc
                est[f"complementary 1-D tau {tau:.0f} s"] = lfilter([1.0], [1.0, -a], u, zi=[a * th_acc[0]])[0]
            st = s.strides[s.strides.steady]
            m = (t > st.ic_s.min()) & (t < st.next_ic_s.max())
            ta = res.angles["left"][0]
            for name, ang in est.items():
                tt = ta if name.startswith("VQF online") else t
                truth = np.interp(tt, t, s.thigh_angle_deg)
                mm = (tt > st.ic_s.min()) & (tt < st.next_ic_s.max())
                err = ang[mm] - truth[mm]
                rom_e = [np.ptp(ang[(tt >= r.ic_s) & (tt <= r.next_ic_s)]) - r.rom_deg for r in st.itertuples()]
                rows.append({"gait": gait, "seed": seed, "estimator": name, "rmse_deg": float(np.sqrt(np.mean(err ** 2))),
                             "bias_deg": float(err.mean()), "rmse_offset_removed_deg": float(err.std()),
                             "rom_err_median_abs_deg": float(np.median(np.abs(rom_e)))})
            _ = m, t0, cost_off
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0, help="batch recording length (default 60)")
    ap.add_argument("--live-minutes", type=float, default=10.0)
    ap.add_argument("--fs", type=float, default=200.0)
    ap.add_argument("--chunk", type=int, default=10, help="live packet size in samples (default 10 = 50 ms at 200 Hz)")
    ap.add_argument("--filters", action="store_true", help="only compare thigh-angle estimators (VQF online/offline, complementary)")
    args = ap.parse_args(argv)
    try:
        os.nice(10)
    except OSError:
        pass
    if args.filters:
        import pandas as pd

        df = pd.DataFrame(bench_filters())
        print(df.groupby(["gait", "estimator"])[["rmse_deg", "bias_deg", "rmse_offset_removed_deg", "rom_err_median_abs_deg"]].mean().round(2).to_string())
        return
    t0 = time.perf_counter()
    data = make_recording(args.minutes, args.fs)
    print(f"simulated {args.minutes:.0f} min two-sensor {args.fs:.0f} Hz recording in {time.perf_counter() - t0:.1f} s", flush=True)
    b = bench_batch(data, args.fs)
    print("batch:", json.dumps(b, indent=1), flush=True)
    lv = bench_live(data, args.fs, args.chunk, args.live_minutes)
    print("live:", json.dumps(lv, indent=1))


if __name__ == "__main__":
    main()
