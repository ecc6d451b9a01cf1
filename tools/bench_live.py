#!/usr/bin/env python
"""Benchmark of the live dashboard (not a test — figures go to docs/live.md).

Two parts:

``realtime``  two simulated sensors at 200 Hz, in real time, through the real acquisition
              path, the window redrawing at 30 fps (offscreen when there is no display).
              After ``--warmup`` seconds (standing + calibration) it measures:
              * CPU of the whole process (GUI + acquisition + analysis threads), % of one core;
              * achieved redraw rate (frames/s);
              * angle view: sample arrival (host time its packet arrived) → angle painted;
              * raw view (last ``--raw-s`` seconds): packet arrival → samples painted;
              * stride: its closing contact (session time mapped to host time) → its bar painted.
``memory``    replays a long simulated session (default 60 min) at ``--speed`` (10×) with
              the window open, sampling the resident memory every ``--every`` seconds.

    nice -n 10 .venv/bin/python tools/bench_live.py realtime --seconds 90
    nice -n 10 .venv/bin/python tools/bench_live.py memory --minutes 60 --speed 10
    nice -n 10 .venv/bin/python tools/bench_live.py pipeline-memory --minutes 60   # the analysis alone
    nice -n 10 .venv/bin/python tools/bench_live.py paint      # where one frame's paint time goes

Offscreen rendering uses Qt's software raster engine — the same painter a desktop without
OpenGL uses — so CPU figures are representative of, not identical to, an on-screen window.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _pct(a, q):
    a = np.asarray(a, dtype=float)
    return float(np.percentile(a, q)) if a.size else float("nan")


def realtime(args) -> dict:
    from PySide6 import QtCore

    from imugait.live.app import LiveWindow, make_backend, qapp
    from imugait.live.sources import default_sim_config

    app = qapp()
    cfg = default_sim_config(gait=args.gait, seed=args.seed, duration_s=args.seconds + 30)
    be = make_backend(simulate=True, sim_config=cfg)
    win = LiveWindow(be, fps=args.fps)
    win.resize(1600, 950)
    be.start()
    win.show()
    res: dict = {"mode": "realtime", "gait": args.gait, "fps_target": args.fps, "seconds": args.seconds,
                 "warmup_s": args.warmup, "raw_s": args.raw_s}
    marks = {}

    def start_measuring():
        win.lat.angle.clear()
        win.lat.stride.clear()
        win.lat.stride_emit.clear()
        win.lat.frame_cost_s.clear()
        marks["t0"], marks["cpu0"], marks["f0"] = time.monotonic(), _cpu_s(), len(win.lat.frames)
        marks["gui0"] = time.thread_time()  # the timers run in the Qt (GUI) thread

    def switch_raw():
        marks["t1"], marks["cpu1"], marks["f1"] = time.monotonic(), _cpu_s(), len(win.lat.frames)
        marks["gui1"] = time.thread_time()
        win.signal.set_mode("gyro")
        win.lat.sample.clear()

    def finish():
        marks["t2"] = time.monotonic()
        win.close()
        app.quit()

    QtCore.QTimer.singleShot(int(args.warmup * 1000), start_measuring)
    QtCore.QTimer.singleShot(int((args.seconds - args.raw_s) * 1000), switch_raw)
    QtCore.QTimer.singleShot(int(args.seconds * 1000), finish)
    app.exec()
    be.stop()
    wall = marks["t1"] - marks["t0"]
    res["cpu_pct_of_one_core"] = 100.0 * (marks["cpu1"] - marks["cpu0"]) / wall
    # of which the Qt thread (snapshot, setData, paint); the rest is the worker thread
    # (simulated sensors, acquisition, analysis, model)
    res["gui_thread_cpu_pct_of_one_core"] = 100.0 * (marks["gui1"] - marks["gui0"]) / wall
    res["frames_per_s"] = (marks["f1"] - marks["f0"]) / wall
    res["frame_cost_ms_p50"] = 1e3 * _pct(win.lat.frame_cost_s, 50)
    res["frame_cost_ms_p95"] = 1e3 * _pct(win.lat.frame_cost_s, 95)
    for name, vals in (("angle", win.lat.angle), ("sample_raw", win.lat.sample), ("stride", win.lat.stride),
                       ("stride_emitted_by_pipeline", win.lat.stride_emit)):
        res[f"{name}_latency_ms_p50"] = 1e3 * _pct(vals, 50)
        res[f"{name}_latency_ms_p95"] = 1e3 * _pct(vals, 95)
        res[f"{name}_latency_ms_max"] = 1e3 * (float(np.max(vals)) if len(vals) else float("nan"))
        res[f"{name}_n"] = len(vals)
    snap = be.model.snapshot(consume=False)
    res["strides_shown"] = {s: snap.sides[s].n_strides for s in snap.sides}
    res["samples"] = dict(be.n_samples)
    return res


def make_long_session(path: Path, minutes: float, seed: int) -> Path:
    """A simulated run of ``minutes`` written as a session (blocks of 10 samples, like packets)."""
    from imugait.sim.gait import SimConfig, simulate
    from imugait.store import SessionWriter
    from imugait.types import SampleBlock

    dur = minutes * 60.0
    chunk_s = 300.0
    w = SessionWriter(path, {"subject_id": "bench", "condition": "long", "source": "simulated",
                             "t0_host_s": 0.0}, overwrite=True)
    infos_added = False
    t_off = 0.0
    k_chunk = 0
    while t_off < dur - 1e-9:
        d = min(chunk_s, dur - t_off)
        rec = simulate(SimConfig(gait="run", duration_s=d, fs_hz=200.0, seed=seed + k_chunk,
                                 stand_before_s=4.0 if k_chunk == 0 else 0.0, stand_after_s=0.0))
        if not infos_added:
            for s in rec.sides.values():
                w.add_sensor(s.info)
            infos_added = True
        for side, s in rec.sides.items():
            n = s.n
            idx0 = int(round(t_off * 200.0))
            for i in range(0, n, 10):
                sl = slice(i, min(i + 10, n))
                # device time: the true time plus a constant (chunks are simulated separately,
                # their own device clocks would jump at the seams)
                b = SampleBlock(side=side, first_index=idx0 + i, t_dev_s=s.t_true_s[sl] + t_off + 1000.0,
                                acc_counts=s.acc_counts[sl], gyr_counts=s.gyr_counts[sl],
                                acc_scale_mps2=s.info.acc_scale_mps2, gyr_scale_dps=s.info.gyr_scale_dps,
                                seq=(idx0 + i) // 10, t_arrival_host_s=float(s.t_true_s[sl][-1] + t_off))
                w.append_block(b, s.t_true_s[sl] + t_off)
        t_off += d
        k_chunk += 1
    w.close("bench session complete")
    return path


def memory(args) -> dict:
    from PySide6 import QtCore

    from imugait.live.app import LiveWindow, make_backend, qapp

    path = Path(args.session) if args.session else Path(tempfile.gettempdir()) / f"bench_live_{args.minutes:g}min.h5"
    if not path.exists():
        t = time.monotonic()
        make_long_session(path, args.minutes, args.seed)
        print(f"wrote {path} in {time.monotonic() - t:.0f} s", file=sys.stderr)
    app = qapp()
    be = make_backend(replay=path, speed=args.speed)
    win = LiveWindow(be, fps=args.fps)
    win.resize(1600, 950)
    be.start()
    win.show()
    rss: list[tuple[float, float, float]] = []
    t0 = time.monotonic()

    def sample():
        snap = be.model.snapshot(consume=False)
        rss.append((time.monotonic() - t0, snap.t_now_s, _rss_mb()))
        if snap.finished or (args.max_wall_s and time.monotonic() - t0 > args.max_wall_s):
            win.close()
            app.quit()

    timer = QtCore.QTimer()
    timer.timeout.connect(sample)
    timer.start(int(args.every * 1000))
    app.exec()
    be.stop()
    a = np.array(rss)
    res = {"mode": "memory", "session_minutes": args.minutes, "speed": args.speed, "session": str(path)}
    if a.shape[0] >= 4:
        keep = a[a[:, 0] >= min(60.0, a[-1, 0] / 4)]  # after the first minute (imports, caches)
        slope = np.polyfit(keep[:, 1] / 60.0, keep[:, 2], 1)[0] if keep.shape[0] >= 2 else float("nan")
        res.update(rss_mb_first=float(keep[0, 2]), rss_mb_last=float(keep[-1, 2]), rss_mb_max=float(a[:, 2].max()),
                   rss_mb_per_session_hour=float(slope * 60.0), session_minutes_replayed=float(a[-1, 1] / 60.0),
                   wall_s=float(a[-1, 0]), samples=dict(be.n_samples),
                   strides=sum(be.model.snapshot(consume=False).sides[s].n_strides for s in ("left", "right")))
        res["trace"] = [[round(x, 1), round(y, 1), round(z, 1)] for x, y, z in a[:: max(1, a.shape[0] // 40)]]
    return res


def pipeline_memory(args) -> dict:
    """Resident memory of one GaitPipeline fed the same session in 10-sample chunks (no GUI,
    no acquisition): separates the analysis' own growth from the dashboard's."""
    import gc

    from imugait.analysis import GaitPipeline
    from imugait.store import open_session

    path = Path(args.session) if args.session else Path(tempfile.gettempdir()) / f"bench_live_{args.minutes:g}min.h5"
    if not path.exists():
        make_long_session(path, args.minutes, args.seed)
    with open_session(path) as s:
        t, a, g = s.imu("left")
    p = GaitPipeline(200.0, "left")
    trace = []
    n_strides = 0
    for i in range(0, t.size, 10):
        n_strides += len(p.push(t[i:i + 10], a[i:i + 10], g[i:i + 10]).strides)
        if i % 120_000 == 0:
            gc.collect()
            trace.append((float(t[i]), _rss_mb(), n_strides))
    tr = np.array(trace)
    keep = tr[tr[:, 0] >= 300]
    slope = np.polyfit(keep[:, 0] / 3600.0, keep[:, 1], 1)[0]
    return {"mode": "pipeline-memory", "session": str(path), "side": "left", "strides": n_strides,
            "rss_mb_per_session_hour": float(slope),
            "bytes_per_stride": float(1e6 * (keep[-1, 1] - keep[0, 1]) / max(1, keep[-1, 2] - keep[0, 2])),
            "trace_t_s_rss_mb_strides": [[round(x, 1), round(y, 1), int(z)] for x, y, z in trace]}


def paint(args) -> dict:
    """Where one angle-view frame goes: run the simulated window ``--warmup`` s in real time,
    stop the source (the snapshot freezes), then time ``--frames`` forced repaints (Qt
    thread CPU per frame) with parts of the view hidden, configurations interleaved over
    ``--rounds``. Deterministic enough to compare drawing options on a noisy machine."""
    from PySide6 import QtCore

    from imugait.live.app import LiveWindow, make_backend, qapp
    from imugait.live.sources import default_sim_config

    app = qapp()
    be = make_backend(simulate=True, sim_config=default_sim_config(gait=args.gait, seed=1, duration_s=args.warmup + 30))
    win = LiveWindow(be, fps=30.0)
    win.resize(1600, 950)
    be.start()
    win.show()
    res: dict = {"mode": "paint", "gait": args.gait, "frames": args.frames, "rounds": args.rounds}

    def measure():
        win.timer.stop()
        be.stop()
        sig = win.signal
        curves = list(sig.angle_curves.values())
        marks = list(sig.ic_items.values()) + list(sig.to_items.values())

        def vis(curv=True, mk=True):
            for c in curves:
                c.setVisible(curv)
            for m in marks:
                m.setVisible(mk)

        confs = {"whole frame": (True, True), "without curves": (False, True), "without contact markers": (True, False),
                 "axes and background only": (False, False)}
        ms: dict = {k: [] for k in list(confs) + ["snapshot + setData only"]}
        for _ in range(args.rounds):
            for name, (cv, mk) in confs.items():
                vis(cv, mk)
                t0 = time.thread_time()
                for _i in range(args.frames):
                    win.refresh()
                    sig.angle_w.viewport().repaint()
                    app.processEvents()
                ms[name].append(1000.0 * (time.thread_time() - t0) / args.frames)
            vis()
            t0 = time.thread_time()
            for _i in range(args.frames):
                win.refresh()
            ms["snapshot + setData only"].append(1000.0 * (time.thread_time() - t0) / args.frames)
        res["ms_per_frame_median"] = {k: float(np.median(v)) for k, v in ms.items()}
        res["ms_per_frame_rounds"] = {k: [round(x, 2) for x in v] for k, v in ms.items()}
        win.close()
        app.quit()

    QtCore.QTimer.singleShot(int(args.warmup * 1000), measure)
    app.exec()
    return res


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("realtime")
    r.add_argument("--seconds", type=float, default=90.0)
    r.add_argument("--warmup", type=float, default=25.0, help="standing + calibration, not measured")
    r.add_argument("--raw-s", type=float, default=15.0, help="final seconds in the raw gyro view")
    r.add_argument("--gait", default="run")
    r.add_argument("--fps", type=float, default=30.0)
    r.add_argument("--seed", type=int, default=1)
    m = sub.add_parser("memory")
    m.add_argument("--minutes", type=float, default=60.0, help="length of the replayed session")
    m.add_argument("--speed", type=float, default=10.0)
    m.add_argument("--every", type=float, default=5.0)
    m.add_argument("--fps", type=float, default=30.0)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--session", help="replay this session instead of a generated one")
    m.add_argument("--max-wall-s", type=float, default=0.0)
    pm = sub.add_parser("pipeline-memory")
    pm.add_argument("--minutes", type=float, default=60.0)
    pm.add_argument("--seed", type=int, default=1)
    pm.add_argument("--session")
    pa = sub.add_parser("paint")
    pa.add_argument("--warmup", type=float, default=28.0, help="real-time seconds before the snapshot freezes")
    pa.add_argument("--frames", type=int, default=150)
    pa.add_argument("--rounds", type=int, default=3)
    pa.add_argument("--gait", default="run")
    args = ap.parse_args(argv)
    res = {"realtime": realtime, "memory": memory, "pipeline-memory": pipeline_memory, "paint": paint}[args.mode](args)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
