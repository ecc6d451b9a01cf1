#!/usr/bin/env python
"""Validate ``imugait group`` with the simulator: many simulated group studies.

A study has ``--runners`` runners. Runner *i* runs at its own speed (uniform 2.6–3.6 m/s:
its own hip range and cadence) with its own sensor pair, once before and once after. The
after run adds ``δ_i = --effect-deg + --effect-sd-deg · z_i`` (z_i standard normal) to the
left hip range (``SimConfig.asym_rom_deg``); the right leg does not change. Each run is
simulated, analysed (:func:`imugait.analysis.analyze`, the pipeline every command uses)
and the strides go through :func:`imugait.compare.group.group_compare` exactly as
``imugait group`` does.

Per study: the left hip range's mean per-runner difference and its 95 % t-interval, and
the same for the right leg. Rates over studies:

* left: the interval contains the population effect ``--effect-deg`` (target ≈ 95 %: a
  plain t-interval, no guard band), and excludes 0 (power);
* right (unchanged): the interval contains 0 (≈ 95 %).

    nice -n 10 .venv/bin/python tools/validate_group.py --studies 100 --workers 2                   # null
    nice -n 10 .venv/bin/python tools/validate_group.py --studies 100 --workers 2 --effect-deg 3 --effect-sd-deg 1

Writes every study's numbers to ``--out`` (JSON) and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np


def run_study(args) -> dict:
    study, n_runners, duration_s, effect_deg, effect_sd_deg = args
    import pandas as pd

    from imugait.analysis import analyze
    from imugait.compare import group_compare, sim_arrays
    from imugait.sim.gait import SimConfig, simulate

    rng = np.random.default_rng(10_000 + study)
    frames, deltas = [], []
    for i in range(n_runners):
        speed = float(rng.uniform(2.6, 3.6))
        delta = float(effect_deg + effect_sd_deg * rng.standard_normal())
        deltas.append(delta)
        sensor_seed = int(rng.integers(2**31))
        for cond, asym, k in (("pre", 0.0, 1), ("post", delta, 2)):
            cfg = SimConfig(gait="run", duration_s=duration_s, speed_mps=speed, sensor_seed=sensor_seed,
                            seed=int(rng.integers(2**31)) + k, asym_rom_deg=asym)
            a = sim_arrays(simulate(cfg))
            st = analyze(a["left"], a["right"]).strides.copy()
            st.insert(0, "subject_id", f"S{i:02d}")
            st.insert(1, "condition", cond)
            st.insert(2, "file", f"study{study}_S{i:02d}_{cond}")
            frames.append(st)
    res, info = group_compare(pd.concat(frames, ignore_index=True), "pre", "post")
    res = res.set_index(["side", "metric"])
    out = {"study": study, "n_runners": int(res.loc[("left", "rom_deg"), "n_runners"]),
           "true_effects_mean": float(np.mean(deltas))}
    for side in ("left", "right"):
        r = res.loc[(side, "rom_deg")]
        out[side] = {k: float(r[k]) for k in ("mean_diff", "ci_low", "ci_high", "p_wilcoxon", "cohens_dz")}
    return out


def summarise(rows: list[dict], effect_deg: float) -> dict:
    L = [r["left"] for r in rows]
    R = [r["right"] for r in rows]

    def pct(x):
        return round(100.0 * float(np.mean(x)), 1) if len(x) else float("nan")

    return {
        "studies": len(rows),
        "left_ci_contains_population_effect_pct": pct([r["ci_low"] <= effect_deg <= r["ci_high"] for r in L]),
        "left_ci_excludes_0_pct": pct([r["ci_low"] > 0 or r["ci_high"] < 0 for r in L]),
        "left_wilcoxon_p_below_0.05_pct": pct([r["p_wilcoxon"] < 0.05 for r in L]),
        "right_ci_contains_0_pct": pct([r["ci_low"] <= 0 <= r["ci_high"] for r in R]),
        "left_mean_diff_mean_sd": [float(np.mean([r["mean_diff"] for r in L])),
                                   float(np.std([r["mean_diff"] for r in L], ddof=1)) if len(L) > 1 else float("nan")],
        "left_ci_width_median": float(np.median([r["ci_high"] - r["ci_low"] for r in L])),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--studies", type=int, default=100)
    ap.add_argument("--first-study", type=int, default=0)
    ap.add_argument("--runners", type=int, default=6)
    ap.add_argument("--duration-s", type=float, default=45.0, help="each run, standing included")
    ap.add_argument("--effect-deg", type=float, default=0.0, help="population mean change of left hip range")
    ap.add_argument("--effect-sd-deg", type=float, default=0.0, help="runner-to-runner SD of that change")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="validate_group.json")
    a = ap.parse_args(argv)
    t0 = time.time()
    jobs = [(s, a.runners, a.duration_s, a.effect_deg, a.effect_sd_deg)
            for s in range(a.first_study, a.first_study + a.studies)]
    rows = []
    if a.workers > 1:
        with mp.get_context("fork").Pool(a.workers) as pool:
            for i, r in enumerate(pool.imap_unordered(run_study, jobs), 1):
                rows.append(r)
                print(f"\r{i}/{len(jobs)} studies", end="", file=sys.stderr)
    else:
        for i, j in enumerate(jobs, 1):
            rows.append(run_study(j))
            print(f"\r{i}/{len(jobs)} studies", end="", file=sys.stderr)
    print(file=sys.stderr)
    rows.sort(key=lambda r: r["study"])
    summary = summarise(rows, a.effect_deg)
    summary["seconds"] = round(time.time() - t0, 1)
    summary["args"] = vars(a)
    Path(a.out).write_text(json.dumps({"summary": summary, "studies": rows}, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
