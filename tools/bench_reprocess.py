#!/usr/bin/env python
"""Benchmark ``imugait reprocess``: sessions per minute with --jobs 1 and --jobs 2.

Target scenario: 100 one-hour sessions (two thigh sensors, 200 Hz). Generating 100 distinct
one-hour simulations is slow and needs disk, so the tool simulates ``--unique`` distinct
sessions and copies them to ``--sessions`` files (the work per file is identical: every
copy is fully re-analysed and written, ``--replace``). Use ``--sessions 100`` for the full
run; with fewer it extrapolates linearly (reprocessing is embarrassingly parallel; the
extrapolation is printed as such).

    nice -n 10 .venv/bin/python tools/bench_reprocess.py --sessions 6 --unique 2 --duration-s 3600 --jobs 1 2

Writes ``--out`` (JSON) with the measured times; the machine's load is reported too
(other processes running at the same time slow it down — note it with the figures).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path


class _RssPeak:
    """Peak resident memory of this process, sampled every 0.1 s (Linux /proc)."""

    def __init__(self):
        import threading

        self.start_mb = self.peak_mb = self._now_mb()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    @staticmethod
    def _now_mb() -> float:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return float("nan")

    def _run(self):
        while not self._stop.wait(0.1):
            self.peak_mb = max(self.peak_mb, self._now_mb())

    def stop(self):
        self._stop.set()
        self._t.join()
        self.peak_mb = max(self.peak_mb, self._now_mb())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=100, help="session files to reprocess")
    ap.add_argument("--unique", type=int, default=2, help="distinct simulated sessions (copied to --sessions files)")
    ap.add_argument("--duration-s", type=float, default=3600.0)
    ap.add_argument("--gait", default="run")
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--dir", default="/tmp/imugait-bench-reprocess")
    ap.add_argument("--mode", choices=["write", "no-write"], default="write",
                    help="write: results into the sessions (default of imugait reprocess, with --replace)")
    ap.add_argument("--out", default="bench_reprocess.json")
    ap.add_argument("--keep", action="store_true", help="keep the generated sessions")
    a = ap.parse_args(argv)

    from imugait.compare import write_sim_session
    from imugait.compare.reprocess import reprocess
    from imugait.sim.gait import SimConfig

    work = Path(a.dir)
    src = work / "unique"
    src.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    uniq = []
    for i in range(a.unique):
        p = src / f"u{i:02d}_{int(a.duration_s)}s.h5"
        if not p.exists():
            cfg = SimConfig(gait=a.gait, duration_s=a.duration_s, seed=1000 + i, speed_mps=3.0 if a.gait == "run" else 1.3)
            write_sim_session(p, cfg, {"subject_id": f"B{i:02d}", "condition": "bench"})
        uniq.append(p)
    t_gen = time.perf_counter() - t0
    size_mb = sum(p.stat().st_size for p in uniq) / len(uniq) / 1e6
    print(f"{a.unique} unique {a.duration_s:.0f} s sessions ready ({size_mb:.1f} MB each, {t_gen:.0f} s)", file=sys.stderr)

    results = {"sessions": a.sessions, "unique": a.unique, "duration_s": a.duration_s, "gait": a.gait,
               "mode": a.mode, "file_mb": round(size_mb, 2), "cpu_count": os.cpu_count(),
               "loadavg_before": os.getloadavg(), "runs": []}
    for jobs in a.jobs:
        files_dir = work / f"jobs{jobs}"
        if files_dir.exists():
            shutil.rmtree(files_dir)
        files_dir.mkdir(parents=True)
        for k in range(a.sessions):
            shutil.copyfile(uniq[k % len(uniq)], files_dir / f"s{k:03d}.h5")
        load0 = os.getloadavg()
        rss = _RssPeak()
        t = time.perf_counter()
        res = reprocess([files_dir], jobs=jobs, out_dir=work / f"out{jobs}", replace=True,
                        write=a.mode == "write", progress=True)
        dt = time.perf_counter() - t
        rss.stop()
        ok = int(res.sessions["ok"].sum())
        spm = 60.0 * ok / dt
        run = {"jobs": jobs, "seconds": round(dt, 2), "ok": ok, "failed": int(len(res.sessions) - ok),
               "sessions_per_min": round(spm, 3),
               "median_seconds_per_session_in_worker": round(float(res.sessions["seconds"].median()), 2),
               "extrapolated_minutes_for_100": round(100.0 / spm, 1) if spm > 0 else None,
               "loadavg_start": load0, "loadavg_end": os.getloadavg(), "strides": res.n_strides,
               # this process: with --jobs 1 it runs the analysis too; with more it only collects
               "parent_rss_start_mb": round(rss.start_mb, 1), "parent_rss_peak_mb": round(rss.peak_mb, 1)}
        results["runs"].append(run)
        print(json.dumps(run), file=sys.stderr)
        if not a.keep:
            shutil.rmtree(files_dir, ignore_errors=True)
    if len(results["runs"]) >= 2:
        r1 = results["runs"][0]
        results["speedup"] = {f"jobs{r['jobs']}": round(r["sessions_per_min"] / r1["sessions_per_min"], 2)
                              for r in results["runs"]}
    Path(a.out).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
