#!/usr/bin/env python
"""Validate ``imugait compare`` with the simulator: simulate -> analyze -> compare.

For each seed, three runs of the same simulated runner (same speed; one ``timing_seed``: the
runner's own IC/TO timing relative to the thigh kinematics; same sensors unless
``--sensors different``: the three runs share one ``sensor_seed``, i.e. the static sensor
errors — scale, misalignment, constant bias — of one sensor pair; fresh stride-to-stride
variability, noise and bias drift):

* ``before``                       asym_rom_deg = 0
* ``after_same``   (unchanged)     asym_rom_deg = 0          -> CI of left ROM diff must contain 0
* ``after_plus5``  (+5° left ROM)  asym_rom_deg = +5 (true)  -> CI must exclude 0 and contain +5

Each is analysed by ``imugait.analysis.analyze`` and compared by
``imugait.compare.compare`` (the full statistics, all metrics). The same comparison is
also run on the simulator's *true* strides, which separates the coverage of the bootstrap
itself from errors of the analysis (the truth comparison leaves out the analysis'
measurement-error term, ``CompareParams(analysis_error=False)``). Per seed, every
metric's analysis and true difference is recorded (``after_*_all``): the source of
``imugait.compare.comparison.ANALYSIS_ERROR`` (development seeds 300–379, never the
held-out seeds 0–199). Rates are over seeds; target ≥ 95 % each. Conditions:
``--gait``, ``--speed-mps``, ``--strap random``, ``--soft-tissue-deg``, ``--sensors``.

    nice -n 10 .venv/bin/python tools/validate_compare.py --seeds 100 --workers 2
    # re-measure the analysis error table from development runs (one argument per condition,
    # comma-joined files are pooled): see docs/compare.md for the seven runs used
    .venv/bin/python tools/validate_compare.py --measure-error run.partial.jsonl walk.partial.jsonl ...

Independent-error mode (``--errors budget``): the per-session systematic errors are not the
simulator's own but drawn from the error budget (``imugait/data/compare_error_budget.json``),
for two triplets of runs per seed — the same three conditions each:

* **kept on**: one random strap and one sensor pair for all three runs, one soft-tissue
  placement gain per leg shared by the runs, and per run a gyroscope scale change drawn from
  the budget's ``gyro_scale_temperature`` term (cold vs warm);
* **re-strapped**: every run a new random strap orientation (uniform, or turned by up to
  ``--restrap-max-deg`` from the first), a new placement gain per leg drawn from the budget's
  ``placement`` term (a gain on the thigh range seen by the sensor, ``rom_scale``), a new
  temperature scale change, and on odd seeds a new sensor pair (own device ids, the
  simulator's 1 % scale errors).

``--error-scale K`` multiplies every drawn error by K (K > 1: errors larger than the budget).
The report gives, per triplet, how often the 95 % interval contains the true change (0 on
unchanged legs, +5° on the left leg of the +5° run; 4 legs per seed), its median width and
how often the placement regime was recognised.

    nice -n 10 .venv/bin/python tools/validate_compare.py --errors budget --seeds 100 --workers 2
    nice -n 10 .venv/bin/python tools/validate_compare.py --errors budget --seeds 100 --error-scale 1.5

Writes a JSON with every seed's numbers (``--out``) and prints a summary table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np

TRUE_CHANGE_DEG = 5.0


def _cmp_row(cmp, side, metric="rom_deg"):
    t = cmp.table
    r = t[(t["side"] == side) & (t["metric"] == metric)].iloc[0]
    return {k: float(r[k]) for k in ("before_median", "after_median", "diff", "ci_low", "ci_high",
                                     "ci_low_exact", "ci_high_exact", "effect_size",
                                     "mdc95", "block_before", "block_after", "sampling_sd", "measurement_sd",
                                     "boot_sd", "sensor_sd")}


def run_seed(args) -> dict:
    seed, duration_s, gait, speed_mps, n_boot, strap, sensors, soft_tissue_deg = args
    from imugait.analysis import analyze
    from imugait.compare import CompareParams, SessionData, compare, session_from_result, sim_arrays
    from imugait.sim.gait import SimConfig, random_rotation, simulate

    kw = {}
    if strap == "random":  # one random strap per seed, kept on for all three runs
        rr = np.random.default_rng([seed, 4242])
        kw = {"strap_R_left": tuple(map(tuple, random_rotation(rr))),
              "strap_R_right": tuple(map(tuple, random_rotation(rr)))}
    # one runner: the same leg-specific IC/TO timing relative to the kinematics in all three runs
    base = SimConfig(gait=gait, duration_s=duration_s, speed_mps=speed_mps, seed=0, soft_tissue_deg=soft_tissue_deg,
                     timing_seed=700_000 + seed, **kw)
    # same sensors: the static sensor errors (scale, misalignment, constant bias) of one
    # sensor pair (sensor_seed) in all three runs; different: each run its own pair
    sensor_seed = {k: (900_000 + seed if sensors == "same" else off + seed)
                   for k, off in (("before", 100_000), ("after_same", 200_000), ("after_plus5", 300_000))}
    recs = {
        "before": simulate(base.replace(seed=100_000 + seed, sensor_seed=sensor_seed["before"])),
        "after_same": simulate(base.replace(seed=200_000 + seed, sensor_seed=sensor_seed["after_same"])),
        "after_plus5": simulate(base.replace(seed=300_000 + seed, sensor_seed=sensor_seed["after_plus5"],
                                             asym_rom_deg=TRUE_CHANGE_DEG)),
    }
    sess, truth = {}, {}
    for k, rec in recs.items():
        arr = sim_arrays(rec)
        res = analyze(left=arr.get("left"), right=arr.get("right"))
        meta = {"speed_mps": speed_mps, "sensors": {sd: st.info.device_id for sd, st in rec.sides.items()}}
        sess[k] = session_from_result(k, res, meta)
        tr = rec.strides.copy()
        tr["valid"] = True
        truth[k] = SessionData(name=k + "_truth", strides=tr)
    cp = CompareParams(n_boot=n_boot, seed=seed)
    cp_truth = CompareParams(n_boot=n_boot, seed=seed, analysis_error=False)  # true strides: no analysis error
    out = {"seed": seed}
    for scen in ("after_same", "after_plus5"):
        c = compare([sess["before"]], [sess[scen]], cp)
        ct = compare([truth["before"]], [truth[scen]], cp_truth)
        for side in ("left", "right"):
            out[f"{scen}_{side}"] = _cmp_row(c, side)
            out[f"{scen}_{side}_truth"] = _cmp_row(ct, side)
        out[f"{scen}_warnings"] = [w["kind"] for w in c.warnings]
        # every metric: [analysis diff, truth diff, analysis boot_sd] (measures the analysis error of a difference)
        tt = ct.table.set_index(["side", "metric"])
        out[f"{scen}_all"] = {f"{r.side}/{r.metric}": [float(r.diff), float(tt.loc[(r.side, r.metric), "diff"])
                                                        if (r.side, r.metric) in tt.index else None, float(r.boot_sd)]
                              for r in c.table.itertuples()}
    # analysis ROM error per session (median analysed - median true), left leg
    for k in recs:
        a = sess[k].valid_strides("left")["rom_deg"].median()
        t = truth[k].valid_strides("left")["rom_deg"].median()
        out[f"rom_bias_left_{k}"] = float(a - t)
        out[f"n_strides_left_{k}"] = int(len(sess[k].valid_strides("left")))
    return out


def run_truth_seed(args) -> dict:
    """Statistics only: left ROM of the true strides of two unchanged runs (no analysis)."""
    seed, duration_s, gait, speed_mps, n_boot, _strap, _sensors, _soft = args
    import numpy as np

    from imugait.compare import bootstrap_median_diff
    from imugait.sim.gait import SimConfig, simulate

    base = SimConfig(gait=gait, duration_s=duration_s, speed_mps=speed_mps, sides=("left",), seed=0)
    x = [simulate(base.replace(seed=off + seed)).sides["left"].strides["rom_deg"].to_numpy() for off in (100_000, 200_000)]
    r = bootstrap_median_diff([x[0]], [x[1]], n_boot=n_boot, seed=seed)
    return {"seed": seed, "diff": r["diff"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
            "n": int(np.median([len(v) for v in x]))}


def summarise_truth(rows: list[dict]) -> dict:
    d = np.array([r["diff"] for r in rows])
    w = np.array([r["ci_high"] - r["ci_low"] for r in rows])
    cov = np.mean([r["ci_low"] <= 0 <= r["ci_high"] for r in rows])
    return {"n_seeds": len(rows), "truth_only_unchanged_contains0_pct": 100 * float(cov),
            "sd_of_diff_deg": float(d.std()), "mean_implied_se_deg": float(w.mean() / 3.92)}


def summarise(rows: list[dict]) -> dict:
    def rate(f):
        v = [f(r) for r in rows]
        return 100.0 * sum(v) / len(v)

    def contains(r, x):
        return r["ci_low"] <= x <= r["ci_high"]

    def excludes0(r):
        return r["ci_low"] > 0 or r["ci_high"] < 0

    def sd(x):
        return float(np.std(x, ddof=1)) if len(x) > 1 else float("nan")

    s = {"n_seeds": len(rows)}
    for src in ("", "_truth"):
        tag = "analysis" if not src else "truth"
        s[f"{tag}_unchanged_contains0_pct"] = rate(lambda r, src=src: contains(r["after_same_left" + src], 0.0))
        s[f"{tag}_plus5_detected_pct"] = rate(lambda r, src=src: excludes0(r["after_plus5_left" + src])
                                              and contains(r["after_plus5_left" + src], TRUE_CHANGE_DEG))
        s[f"{tag}_plus5_excludes0_pct"] = rate(lambda r, src=src: excludes0(r["after_plus5_left" + src]))
        s[f"{tag}_plus5_contains5_pct"] = rate(lambda r, src=src: contains(r["after_plus5_left" + src], TRUE_CHANGE_DEG))
        s[f"{tag}_plus5_right_contains0_pct"] = rate(lambda r, src=src: contains(r["after_plus5_right" + src], 0.0))
        s[f"{tag}_unchanged_right_contains0_pct"] = rate(lambda r, src=src: contains(r["after_same_right" + src], 0.0))
        d5 = np.array([r["after_plus5_left" + src]["diff"] for r in rows])
        d0 = np.array([r["after_same_left" + src]["diff"] for r in rows])
        w = np.array([r["after_same_left" + src]["ci_high"] - r["after_same_left" + src]["ci_low"] for r in rows])
        s[f"{tag}_plus5_diff_mean_sd"] = [float(d5.mean()), sd(d5)]
        s[f"{tag}_unchanged_diff_mean_sd"] = [float(d0.mean()), sd(d0)]
        s[f"{tag}_ci_width_median_deg"] = float(np.median(w))
        ex = [dict(r["after_same_left" + src], ci_low=r["after_same_left" + src].get("ci_low_exact", np.nan),
                   ci_high=r["after_same_left" + src].get("ci_high_exact", np.nan)) for r in rows]
        e5 = [dict(r["after_plus5_left" + src], ci_low=r["after_plus5_left" + src].get("ci_low_exact", np.nan),
                   ci_high=r["after_plus5_left" + src].get("ci_high_exact", np.nan)) for r in rows]
        s[f"{tag}_exact_unchanged_contains0_pct"] = 100.0 * float(np.mean([contains(x, 0.0) for x in ex]))
        s[f"{tag}_exact_plus5_detected_pct"] = 100.0 * float(np.mean([excludes0(x) and contains(x, TRUE_CHANGE_DEG)
                                                                      for x in e5]))
        s[f"{tag}_unchanged_both_legs_contains0_pct"] = 100.0 * float(np.mean(
            [contains(r[f"{sc}_{sd}" + src], 0.0) for r in rows
             for sc, sd in (("after_same", "left"), ("after_same", "right"), ("after_plus5", "right"))]))
    b = np.array([r["rom_bias_left_before"] for r in rows])
    s["analysis_rom_bias_left_mean_sd_deg"] = [float(b.mean()), sd(b)]
    # how often an exact 95 % interval reaches >= 95 of n seeds (binomial), for reading the rates
    from math import comb

    n = len(rows)
    k0 = int(np.ceil(0.95 * n))
    s["p_exact_95pct_interval_reaches_target"] = float(sum(comb(n, k) * 0.95**k * 0.05 ** (n - k) for k in range(k0, n + 1)))
    s["n_strides_left_median"] = float(np.median([r["n_strides_left_before"] for r in rows]))
    return s


def _turned(R0: np.ndarray, max_deg: float, rng) -> np.ndarray:
    """``R0`` turned about a random axis by an angle uniform in [0, max_deg]."""
    from scipy.spatial.transform import Rotation

    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    return Rotation.from_rotvec(np.radians(rng.uniform(0.0, max_deg)) * axis).as_matrix() @ R0


def run_seed_budget(args) -> dict:
    """One seed of ``--errors budget`` (see the module docstring): a kept-on and a
    re-strapped triplet, each compared before vs after_same and before vs after_plus5."""
    seed, duration_s, gait, speed_mps, n_boot, error_scale, soft_tissue_deg, restrap_max_deg = args
    from imugait.analysis import analyze
    from imugait.compare import CompareParams, compare, load_budget, session_from_result, sim_arrays
    from imugait.sim.gait import SimConfig, random_rotation, run_rom_deg, simulate, walk_rom_deg

    budget = load_budget()
    rom = budget.metric("rom_deg")
    temp_sd = rom.component("gyro_scale_temperature").sd_rel * error_scale
    place_sd = rom.component("placement").sd * error_scale
    rom0 = float(run_rom_deg(speed_mps) if gait == "run" else walk_rom_deg(speed_mps))
    rng = np.random.default_rng([seed, 1313])
    sides = ("left", "right")
    base = SimConfig(gait=gait, duration_s=duration_s, speed_mps=speed_mps, seed=0, soft_tissue_deg=soft_tissue_deg,
                     scale_error_sd_pct=1.0 * error_scale, timing_seed=700_000 + seed)  # one runner
    R0 = {sd: random_rotation(rng) for sd in sides}
    g0 = {sd: rng.normal(0.0, place_sd) / rom0 for sd in sides}
    runs = (("before", 100_000, 0.0), ("after_same", 200_000, 0.0), ("after_plus5", 300_000, TRUE_CHANGE_DEG))
    out = {"seed": seed}
    for scen in ("kept_on", "restrapped"):
        sess = {}
        for k, (name, off, change) in enumerate(runs):
            if scen == "kept_on" or k == 0:
                R, g = R0, g0  # the first re-strapped run is the before run, strapped like the kept-on one
            elif restrap_max_deg:
                R = {sd: _turned(R0[sd], restrap_max_deg, rng) for sd in sides}
                g = {sd: rng.normal(0.0, place_sd) / rom0 for sd in sides}
            else:
                R = {sd: random_rotation(rng) for sd in sides}
                g = {sd: rng.normal(0.0, place_sd) / rom0 for sd in sides}
            sensor_seed = 900_000 + seed
            if scen == "restrapped" and seed % 2 == 1 and k > 0:
                sensor_seed = 500_000 + 1000 * k + seed  # another sensor pair
            cfg = base.replace(seed=off + seed + (0 if scen == "kept_on" else 50_000), sensor_seed=sensor_seed,
                               asym_rom_deg=change, strap_R_left=tuple(map(tuple, R["left"])),
                               strap_R_right=tuple(map(tuple, R["right"])),
                               rom_scale_left=1.0 + g["left"], rom_scale_right=1.0 + g["right"])
            rec = simulate(cfg)
            arr = sim_arrays(rec)
            scale = {sd: 1.0 + rng.normal(0.0, temp_sd) for sd in sides}  # this run's temperature
            arr = {sd: (t, acc, gyr * scale[sd]) for sd, (t, acc, gyr) in arr.items()}
            res = analyze(left=arr.get("left"), right=arr.get("right"))
            meta = {"speed_mps": speed_mps, "sensors": {sd: st.info.device_id for sd, st in rec.sides.items()}}
            sess[name] = session_from_result(name, res, meta)
        cp = CompareParams(n_boot=n_boot, seed=seed)
        for pair, true_left in (("after_same", 0.0), ("after_plus5", TRUE_CHANGE_DEG)):
            c = compare([sess["before"]], [sess[pair]], cp)
            for side in sides:
                r = _cmp_row(c, side)
                t = c.table
                row = t[(t["side"] == side) & (t["metric"] == "rom_deg")].iloc[0]
                r.update(true=true_left if side == "left" else 0.0, regime=str(row["regime"]),
                         placement_sd=float(row["placement_sd"]), measurement_mdc95=float(row["measurement_mdc95"]))
                out[f"{scen}_{pair}_{side}"] = r
    return out


def summarise_budget(rows: list[dict]) -> dict:
    """Per triplet: coverage of the true change over all legs, the +5° leg, width, regime."""
    out = {"n_seeds": len(rows)}
    for scen in ("kept_on", "restrapped"):
        legs = [r[f"{scen}_{pair}_{side}"] for r in rows for pair in ("after_same", "after_plus5")
                for side in ("left", "right")]
        cover = [x["ci_low"] <= x["true"] <= x["ci_high"] for x in legs]
        cover_exact = [x["ci_low_exact"] <= x["true"] <= x["ci_high_exact"] for x in legs]
        plus5 = [r[f"{scen}_after_plus5_left"] for r in rows]
        same = [r[f"{scen}_after_same_left"] for r in rows]
        err = np.array([x["diff"] - x["true"] for x in legs])
        out[scen] = {
            "legs": len(legs),
            "ci_contains_true_pct": 100.0 * float(np.mean(cover)),
            "exact_ci_contains_true_pct": 100.0 * float(np.mean(cover_exact)),
            "plus5_left_contains5_pct": 100.0 * float(np.mean([x["ci_low"] <= TRUE_CHANGE_DEG <= x["ci_high"] for x in plus5])),
            "plus5_left_excludes0_pct": 100.0 * float(np.mean([x["ci_low"] > 0 or x["ci_high"] < 0 for x in plus5])),
            "unchanged_left_ci_width_median_deg": float(np.median([x["ci_high"] - x["ci_low"] for x in same])),
            "ci_width_median_deg": float(np.median([x["ci_high"] - x["ci_low"] for x in legs])),
            "error_sd_deg": float(np.std(err, ddof=1)) if len(err) > 1 else float("nan"),
            "mean_boot_sd_deg": float(np.mean([x["boot_sd"] for x in legs])),
            "regime_recognised_pct": 100.0 * float(np.mean([x["regime"] == scen for x in legs])),
            "restrap_mdc95_median_deg": float(np.median([x["measurement_mdc95"] for x in legs])),
        }
    return out


def measure_error(paths: list[str]) -> dict:
    """Per metric and file: ``σ_s`` = RMS(analysis diff − true diff)/√2 over the legs that
    did not change, and ``κ`` = the extra RMS error of the +5° left change (ROM and ROM
    asymmetry only) relative to the true change; plus the maximum over files (what
    ``comparison.ANALYSIS_ERROR`` holds)."""
    out: dict = {"files": {}, "max": {}}
    for path in paths:  # one condition per argument; "a.jsonl,b.jsonl" pools several runs
        rows = [json.loads(line) for f in path.split(",") for line in open(f) if line.strip()]
        same: dict = {}
        changed: dict = {}
        for r in rows:
            for scen in ("after_same", "after_plus5"):
                for key, (a, t, _sd) in r[scen + "_all"].items():
                    side, metric = key.split("/")
                    if t is None or not (np.isfinite(a) and np.isfinite(t)):
                        continue
                    if scen == "after_plus5" and (side == "left" or metric == "asym_rom_pct"):
                        changed.setdefault(metric, []).append((a - t, t))
                    else:
                        same.setdefault(metric, []).append(a - t)
        res = {}
        for metric, v in same.items():
            sig = float(np.sqrt(np.mean(np.square(v))) / np.sqrt(2))
            kap = 0.0
            if metric in ("rom_deg", "asym_rom_pct") and metric in changed:
                e = np.array([x for x, _t in changed[metric]])
                true = float(np.mean([t for _x, t in changed[metric]]))
                kap = float(np.sqrt(max(np.mean(e ** 2) - 2 * sig ** 2, 0.0)) / abs(true)) if true else 0.0
            res[metric] = {"sigma_s": sig, "kappa": kap, "n": len(v)}
            m = out["max"].setdefault(metric, {"sigma_s": 0.0, "kappa": 0.0})
            m["sigma_s"] = max(m["sigma_s"], sig)
            m["kappa"] = max(m["kappa"], kap)
        out["files"][path] = res
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--duration-s", type=float, default=150.0)
    ap.add_argument("--gait", default="run")
    ap.add_argument("--speed-mps", type=float, default=3.0)
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--strap", default="default", choices=["default", "random"],
                    help="strap orientation: the default lateral strap, or one random orientation per seed "
                         "(kept on for all three runs)")
    ap.add_argument("--sensors", default="same", choices=["same", "different"],
                    help="same: one sensor pair worn in all three runs (static errors shared); "
                         "different: each run recorded with its own sensors")
    ap.add_argument("--soft-tissue-deg", type=float, default=0.0,
                    help="soft-tissue wobble of the sensors (RMS deg walking, x2 running; 1.0 ~ HuGaDB)")
    ap.add_argument("--errors", default="simulator", choices=["simulator", "budget"],
                    help="simulator: the simulator's own sensor errors (one sensor pair, one strap); budget: "
                         "per-session errors drawn from the error budget, kept-on and re-strapped triplets")
    ap.add_argument("--error-scale", type=float, default=1.0,
                    help="--errors budget: multiply every drawn error by this (> 1: errors larger than the budget)")
    ap.add_argument("--restrap-max-deg", type=float, default=0.0,
                    help="--errors budget: re-strap by turning the first strap by up to this angle (0: uniform random)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="validate_compare.json")
    ap.add_argument("--summarise", metavar="JSONL", help="only summarise the seeds of a .partial.jsonl file")
    ap.add_argument("--truth-only", action="store_true",
                    help="statistics only: coverage of the bootstrap on true strides of unchanged pairs (fast)")
    ap.add_argument("--measure-error", nargs="+", metavar="JSONL",
                    help="print the analysis error table (σ_s, κ per metric) of development runs and exit")
    a = ap.parse_args(argv)
    if a.measure_error:
        print(json.dumps(measure_error(a.measure_error), indent=1))
        return 0
    if a.summarise:
        rows = [json.loads(line) for line in open(a.summarise) if line.strip()]
        fn = summarise_truth if "n" in rows[0] else summarise_budget if "kept_on_after_same_left" in rows[0] else summarise
        print(json.dumps(fn(rows), indent=2))
        return 0
    t0 = time.time()
    seeds = range(a.first_seed, a.first_seed + a.seeds)
    if a.errors == "budget":
        jobs = [(s, a.duration_s, a.gait, a.speed_mps, a.n_boot, a.error_scale, a.soft_tissue_deg, a.restrap_max_deg)
                for s in seeds]
    else:
        jobs = [(s, a.duration_s, a.gait, a.speed_mps, a.n_boot, a.strap, a.sensors, a.soft_tissue_deg) for s in seeds]
    partial = Path(a.out).with_suffix(".partial.jsonl")  # one line per finished seed (survives interruption)
    rows = []

    def done(i, r):
        rows.append(r)
        with open(partial, "a") as fh:
            fh.write(json.dumps(r) + "\n")
        print(f"\r{i}/{len(jobs)} seeds", end="", file=sys.stderr, flush=True)

    fn = run_truth_seed if a.truth_only else run_seed_budget if a.errors == "budget" else run_seed
    if a.workers > 1:
        with mp.get_context("fork").Pool(a.workers) as pool:
            for i, r in enumerate(pool.imap_unordered(fn, jobs), 1):
                done(i, r)
    else:
        for i, j in enumerate(jobs, 1):
            done(i, fn(j))
    print(file=sys.stderr)
    rows.sort(key=lambda r: r["seed"])
    if a.truth_only:
        s = summarise_truth(rows)
        s["args"] = vars(a)
        Path(a.out).write_text(json.dumps({"summary": s, "seeds": rows}, indent=1))
        print(json.dumps(s, indent=2))
        return 0
    if a.errors == "budget":
        s = summarise_budget(rows)
        s["seconds"] = round(time.time() - t0, 1)
        s["args"] = vars(a)
        Path(a.out).write_text(json.dumps({"summary": s, "seeds": rows}, indent=1))
        print(json.dumps(s, indent=2))
        ok = all(s[k]["ci_contains_true_pct"] >= 95 for k in ("kept_on", "restrapped"))
        print("PASS" if ok else "BELOW TARGET (>= 95 % of legs in both triplets)")
        return 0 if ok else 1
    s = summarise(rows)
    s["seconds"] = round(time.time() - t0, 1)
    s["args"] = vars(a)
    Path(a.out).write_text(json.dumps({"summary": s, "seeds": rows}, indent=1))
    print(json.dumps(s, indent=2))
    ok = s["analysis_unchanged_contains0_pct"] >= 95 and s["analysis_plus5_detected_pct"] >= 95
    print("PASS" if ok else "BELOW TARGET (>= 95 % each)")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
