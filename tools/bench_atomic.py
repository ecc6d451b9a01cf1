#!/usr/bin/env python
"""Cost of writing analysis results atomically (not a test).

    .venv/bin/python tools/bench_atomic.py [--hours 1.0] [--repeat 3]

Results are stored by changing an in-memory copy of the session file and swapping it in with
``os.replace`` (:func:`imugait.store.writer.rewrite_session`), so the file is openable at
every instant. This measures, on a ``--hours`` two-thigh 200 Hz session (simulated running,
imported like a CSV recording, analysed once):

1. the swap alone: read the file, open the copy, close it, write + fsync the temporary
   file, ``os.replace`` — ``rewrite_session`` with an edit that changes nothing;
2. storing one analysis run that way (:func:`imugait.store.results.store_analysis`);
3. the same run written in place with h5py ``r+`` (how results were stored before: not
   atomic — a kill in the middle left the file refused by every command);
4. the analysis itself (:func:`imugait.app.session_analysis.analyze_session`), for scale;
5. peak Python memory of step 2 (tracemalloc: the in-memory copy).

Best of ``--repeat``; page cache warm; the shared 2-core development machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import h5py

from imugait.sim.gait import SimConfig, simulate
from imugait.app import analyze_session
from imugait.store import (
    file_fingerprint,
    rewrite_session,
    store_analysis,
    write_run,
    write_session_arrays,
)


def build(path: Path, hours: float) -> None:
    rec = simulate(SimConfig(gait="run", duration_s=hours * 3600.0, seed=7, stand_before_s=4.0))
    sides = {side: (s.info, s.t_true_s, s.acc_counts, s.gyr_counts) for side, s in rec.sides.items()}
    write_session_arrays(path, {"source": "simulated", "subject_id": "bench"}, sides, overwrite=True)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="imugait-atomic-"))
    try:
        path = d / "long.h5"
        t = time.perf_counter()
        build(path, a.hours)
        print(f"built a {a.hours:g} h two-thigh 200 Hz session in {time.perf_counter() - t:.1f} s: "
              f"{os.path.getsize(path) / 1e6:.1f} MB")
        t = time.perf_counter()
        sa = analyze_session(path)
        t_an = time.perf_counter() - t
        n_strides = len(sa.result.strides)
        print(f"4. analysis: {t_an:.2f} s ({n_strides} strides)")

        t_swap = best(lambda: rewrite_session(path, lambda f: None), a.repeat)
        print(f"1. atomic swap alone (read, copy in memory, write + fsync, os.replace): {t_swap * 1000:.0f} ms")

        copies = [d / f"c{i}.h5" for i in range(a.repeat)]
        for c in copies:
            shutil.copy(path, c)
        it = iter(copies)

        def atomic():
            c = next(it)  # the analysis was made of this very file (same inode, size, time)
            store_analysis(c, dataclasses.replace(sa, path=c, file_stat=file_fingerprint(c)))
        t_store = best(atomic, a.repeat)
        print(f"2. storing one run atomically: {t_store * 1000:.0f} ms")

        copies = [d / f"p{i}.h5" for i in range(a.repeat)]
        for c in copies:
            shutil.copy(path, c)
        it2 = iter(copies)

        def in_place():
            with h5py.File(next(it2), "r+", libver="latest") as f:
                write_run(f, sa, False)
                f.flush()
                os.fsync(f.id.get_vfd_handle())
        t_inplace = best(in_place, a.repeat)
        print(f"3. the same run in place (h5py r+, not atomic): {t_inplace * 1000:.0f} ms")
        print(f"   atomic costs {1000 * (t_store - t_inplace):+.0f} ms per stored run "
              f"= {100 * (t_store - t_inplace) / t_an:.1f} % of the analysis time")

        c = d / "m.h5"
        shutil.copy(path, c)
        tracemalloc.start()
        store_analysis(c, dataclasses.replace(sa, path=c, file_stat=file_fingerprint(c)))
        _cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"5. peak Python memory while storing: {peak / 1e6:.1f} MB (file {os.path.getsize(c) / 1e6:.1f} MB)")
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
