#!/usr/bin/env python
"""Validation harness for the analysis pipeline — real data first, the simulator second.

1. Real running with force-plate truth (``tools/running_validation.py``): virtual thigh IMUs
   from motion capture (Fukuchi et al. 2017), per data set and speed: recall/precision, IC/TO
   bias ± SD and 95 % limits of agreement, stance-time, swing-% and ROM error; the running
   constants evaluated leave-one-subject-out; short-trial crops (4–10 s, with and without a
   standing period).
2. Real walking (HuGaDB, ``tools/validate_walking.py``): thigh events vs the independent
   foot-gyro reference (``tools/foot_reference.py``), per leg, subject and cadence, 8–15 s crops,
   the walking constants checked leave-one-subject-out; corrupted sensors recognised.
3. The simulator matrix (imugait.sim.gait 2.0, re-anchored on measured gait): walk/run,
   cadences ~100–190 spm, random straps, 50–400 Hz, noise, packet loss, asymmetries.

    nice -n 10 .venv/bin/python tools/validate.py --quick        # smaller simulator matrix
    nice -n 10 .venv/bin/python tools/validate.py                # everything
    ... --running DIR [--running DIR2 ...]  (default: the shared running_fukuchi folder)
    ... --hugadb DIR [--hugadb DIR2 ...]  (default: the shared hugadb folder; all 18 walking files of
        HuGaDB v1 are in github:BlackPer/Legpro@ceffa35, at its root)   --out docs/validation.md
    .venv/bin/python tools/validate.py --strap-invariance          # real thighs, random straps

More running cases are made from the data set's raw files by ``tools/fukuchi_virtual_imu.py``.
Writes Markdown to ``--out`` and the per-session real-data errors to ``--real-json``
(default docs/data/validation_real.json, read by the comparison's error budget).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import running_validation as rv
import validate_walking as vw

from imugait.analysis import ALGORITHM_VERSION, AnalysisParams

ROOT = Path(__file__).resolve().parents[1]


def shared_data(name: str) -> Path | None:
    """``../shared/data/<name>`` next to the repository, else /work/shared/data/<name>, else None."""
    for base in (ROOT.parent / "shared" / "data", Path("/work/shared/data")):
        if (base / name).is_dir():
            return base / name
    return None

TARGETS = {
    "recall": 0.99, "precision": 0.99, "rom_err_median_deg": 1.0, "rom_err_p95_deg": 2.5,
    "ic_mae_ms": 20.0, "to_mae_ms": 20.0, "asym_tol_points": 1.5, "orientation_ok_frac": 0.98,
}


# ----------------------------------------------------------------------------- sim cases
def drop_packets(n: int, loss_frac: float, packet: int, rng) -> np.ndarray:
    """Boolean keep-mask dropping whole packets of ``packet`` samples with prob ``loss_frac``."""
    if loss_frac <= 0:
        return np.ones(n, bool)
    npk = int(math.ceil(n / packet))
    lost = rng.random(npk) < loss_frac
    return ~np.repeat(lost, packet)[:n]


def match_truth(ours, truth, steady_only=True):
    """Match truth strides to our valid strides by IC (nearest within 25 % of the stride)."""
    tr = truth[truth["steady"]] if steady_only and "steady" in truth else truth
    ov = ours[ours["valid"].astype(bool)]
    o_ic = ov["ic_s"].to_numpy()
    res = {"n_truth": len(tr), "n_ours": 0, "tp": 0, "pairs": []}
    if len(tr) == 0:
        return res
    # precision: our valid strides inside the steady truth span that match no truth stride at
    # all (steady or in a transition) are false positives
    lo, hi = tr["ic_s"].min() - 0.2, tr["next_ic_s"].max() + 0.2
    inside = (o_ic >= lo) & (ov["next_ic_s"].to_numpy() <= hi)
    all_ic = truth["ic_s"].to_numpy()
    all_T = truth["stride_s"].to_numpy()
    fp = 0
    for x in o_ic[inside]:
        j = int(np.argmin(np.abs(all_ic - x))) if len(all_ic) else -1
        if j < 0 or abs(all_ic[j] - x) >= 0.25 * all_T[j]:
            fp += 1
    res["fp"] = fp
    used = set()
    for i, row in enumerate(tr.itertuples()):
        if len(o_ic) == 0:
            break
        j = int(np.argmin(np.abs(o_ic - row.ic_s)))
        if abs(o_ic[j] - row.ic_s) < 0.25 * row.stride_s and j not in used and abs(ov["next_ic_s"].iloc[j] - row.next_ic_s) < 0.25 * row.stride_s:
            used.add(j)
            res["pairs"].append((i, j))
    res["tp"] = len(res["pairs"])
    res["n_ours"] = res["tp"] + res["fp"]  # precision = tp / (tp + fp)
    res["truth_sel"] = tr
    res["ours_sel"] = ov
    return res


def run_sim_case(case: dict) -> dict:
    from imugait.analysis import AnalysisParams, analyze
    from imugait.sim.gait import SimConfig, simulate

    cfgd = dict(case["sim"])
    rec = simulate(SimConfig(**cfgd))
    rng = np.random.default_rng(case.get("seed", 0) + 1000)
    inputs = {}
    for side, s in rec.sides.items():
        keep = drop_packets(len(s.t_true_s), case.get("loss", 0.0), case.get("packet", 8), rng)
        inputs[side] = (s.t_true_s[keep], s.acc_mps2[keep], s.gyr_dps[keep])
    t0 = time.perf_counter()
    res = analyze(inputs.get("left"), inputs.get("right"), params=AnalysisParams(), fs_hz=rec.config.fs_hz)
    dt = time.perf_counter() - t0
    out = {"name": case["name"], "group": case["group"], "gait": cfgd.get("gait"), "fs_hz": cfgd.get("fs_hz"),
           "loss": case.get("loss", 0.0), "runtime_s": dt, "sides": {}}
    for side, s in rec.sides.items():
        ours = res.strides[res.strides["side"] == side].reset_index(drop=True)
        m = match_truth(ours, s.strides)
        d = {"n_truth": m["n_truth"], "n_ours": m["n_ours"], "tp": m["tp"],
             "calibrated": res.calibration[side].calibrated, "still": res.calibration[side].still_found,
             "axis_conf": res.calibration[side].axis_confidence}
        if m["pairs"]:
            tr, ov = m["truth_sel"], m["ours_sel"]
            ti = [p[0] for p in m["pairs"]]
            oi = [p[1] for p in m["pairs"]]
            T = tr.iloc[ti]
            O = ov.iloc[oi]
            d["rom_err"] = (O["rom_deg"].to_numpy() - T["rom_deg"].to_numpy()).tolist()
            d["ic_err_ms"] = (1e3 * (O["ic_s"].to_numpy() - T["ic_s"].to_numpy())).tolist()
            d["to_err_ms"] = (1e3 * (O["to_s"].to_numpy() - T["to_s"].to_numpy())).tolist()
            d["flex_err"] = (O["flex_peak_deg"].to_numpy() - T["flex_peak_deg"].to_numpy()).tolist()
            d["swing_pct"] = (float(np.median(O["swing_pct"])), float(np.median(T["swing_pct"])))
            d["rom_med"] = (float(np.median(O["rom_deg"])), float(np.median(T["rom_deg"])))
            d["gait_ok"] = float((O["gait"].to_numpy() == T["gait"].to_numpy()).mean())
        out["sides"][side] = d
    a = res.summary.get("asymmetry", {}).get("metrics", {})
    if a and "imposed" in case:
        kind, val = case["imposed"]
        if kind == "swing_pct":
            L = res.strides[(res.strides.side == "left") & res.strides.valid]["swing_pct"].median()
            R = res.strides[(res.strides.side == "right") & res.strides.valid]["swing_pct"].median()
            tl = rec.sides["left"].strides.query("steady")["swing_pct"].median()
            trr = rec.sides["right"].strides.query("steady")["swing_pct"].median()
            out["asym"] = {"kind": kind, "imposed": val, "truth": float(tl - trr), "measured": float(L - R)}
        else:
            L = res.strides[(res.strides.side == "left") & res.strides.valid]["rom_deg"].median()
            R = res.strides[(res.strides.side == "right") & res.strides.valid]["rom_deg"].median()
            tl = rec.sides["left"].strides.query("steady")["rom_deg"].median()
            trr = rec.sides["right"].strides.query("steady")["rom_deg"].median()
            out["asym"] = {"kind": kind, "imposed": val, "truth": float(tl - trr), "measured": float(L - R)}
    return out


def scale_check_case(case: dict) -> tuple:
    """(gyro scale error along the true flexion axis, median relative ROM error) for one leg."""
    from imugait.analysis import analyze
    from imugait.sim.gait import SimConfig, simulate

    rec = simulate(SimConfig(**case["sim"]))
    s = rec.sides["left"]
    res = analyze(left=(s.t_true_s, s.acc_mps2, s.gyr_dps), fs_hz=case["sim"]["fs_hz"])
    m = match_truth(res.strides, s.strides)
    if not m["pairs"]:
        return None
    T = m["truth_sel"].iloc[[p[0] for p in m["pairs"]]]
    O = m["ours_sel"].iloc[[p[1] for p in m["pairs"]]]
    rel = float(np.median((O.rom_deg.to_numpy() - T.rom_deg.to_numpy()) / T.rom_deg.to_numpy()))
    zs = np.asarray(s.R_thigh_sensor)[2, :]  # flexion axis in sensor coordinates
    sf = np.asarray(s.sensor_params["gyr_scale_factor"], float)
    S = np.diag(sf) if sf.ndim == 1 else sf
    return float(zs @ S @ zs - 1.0), rel


def sign_cue_case(args) -> list[tuple]:
    """Per leg: (gait, still?, final sign correct?, {cue: vote agrees with truth}) for one seed."""
    from imugait.analysis import SIGN_WEIGHTS, analyze
    from imugait.sim.gait import SimConfig, simulate

    seed, gait = args
    still = seed % 3 != 0
    rng = np.random.default_rng(seed)
    speed = float(rng.uniform(1.0, 1.8) if gait == "walk" else rng.uniform(2.3, 5.0))
    rec = simulate(SimConfig(gait=gait, duration_s=25, fs_hz=100.0, seed=100 + seed, strap="random",
                             stand_before_s=3.0 if still else 0.0, speed_mps=speed))
    res = analyze(*((s.t_true_s, s.acc_mps2, s.gyr_dps) for s in rec.sides.values()), fs_hz=100.0)
    out = []
    for side, s in rec.sides.items():
        t, a = res.angles[side]
        ok = bool(np.corrcoef(a, np.interp(t, s.t_true_s, s.thigh_angle_deg))[0, 1] > 0)
        cal = res.calibration[side]
        score = sum(SIGN_WEIGHTS[k] * v for k, v in cal.sign_votes.items() if k in SIGN_WEIGHTS)
        truth = np.sign(score) if ok else -np.sign(score)
        out.append((gait, still, ok, {k: bool(np.sign(v) == truth) for k, v in cal.sign_votes.items() if k in SIGN_WEIGHTS}))
    return out


def strap_invariance(hugadb_dir: str, n_rot: int = 6, seed: int = 1) -> dict:
    """Real data, other strap orientations: each clean HuGaDB thigh's sensor frame turned by
    ``n_rot`` random rotations (acc and gyro alike). Same movement, so the same strides and
    numbers should come out. Reports, per file, the worst change over the rotations."""
    from scipy.spatial.transform import Rotation

    from imugait.analysis import analyze
    from imugait.errors import ImugaitError
    from imugait.store import read_hugadb

    def valid(res, side):
        st = res.strides[res.strides.side == side]
        return st[st.valid.astype(bool)]

    rng = np.random.default_rng(seed)
    out = {}
    for f in sorted(Path(hugadb_dir).glob("*.txt")):
        r = read_hugadb(str(f))
        try:
            base = analyze(r.imu("left"), r.imu("right"), fs_hz=r.fs_hz)
        except ImugaitError:
            continue
        if any(base.calibration[s].failed for s in ("left", "right")):
            out[f.name] = "calibration failed (bad file): skipped"
            continue
        worst = {"strides_changed": 0, "rom_median_deg": 0.0, "swing_median_pts": 0.0, "ic_matched_within_30ms": 1.0}
        for _ in range(n_rot):
            inp = []
            for side in ("left", "right"):
                t, acc, gyr = r.imu(side)
                m = Rotation.random(random_state=int(rng.integers(2**31))).as_matrix()
                inp.append((t, acc @ m.T, gyr @ m.T))
            res = analyze(*inp, fs_hz=r.fs_hz)
            for side in ("left", "right"):
                a, b = valid(base, side), valid(res, side)
                worst["strides_changed"] = max(worst["strides_changed"], abs(len(a) - len(b)))
                worst["rom_median_deg"] = max(worst["rom_median_deg"], abs(a.rom_deg.median() - b.rom_deg.median()))
                worst["swing_median_pts"] = max(worst["swing_median_pts"],
                                                abs(a.swing_pct.median() - b.swing_pct.median()))
                ic_b = b.ic_s.to_numpy()
                hit = np.mean([np.min(np.abs(ic_b - x)) < 0.03 for x in a.ic_s.to_numpy()]) if len(ic_b) else 0.0
                worst["ic_matched_within_30ms"] = min(worst["ic_matched_within_30ms"], float(hit))
        out[f.name] = {k: round(v, 3) if isinstance(v, float) else v for k, v in worst.items()}
    return out


def short_walk_case(seed: int) -> list[dict]:
    """One simulated 8–15 s walk that starts and stops inside the recording (0–3 s standing
    before, 0.5–2 s after, 0.8–1.6 m/s, random strap, 1° soft-tissue wobble): per side the truth
    strides (all, not only steady ones), matches and event errors."""
    from imugait.analysis import analyze
    from imugait.sim.gait import SimConfig, simulate

    rng = np.random.default_rng(seed)
    dur, sb = float(rng.uniform(8, 15)), float(rng.choice([0.0, 1.5, 3.0]))
    sa, v = float(rng.uniform(0.5, 2.0)), float(rng.uniform(0.8, 1.6))
    rec = simulate(SimConfig(gait="walk", duration_s=dur, stand_before_s=sb, stand_after_s=sa, speed_mps=v, seed=500 + seed,
                             strap="random", fs_hz=100.0, soft_tissue_deg=1.0))
    res = analyze(*((s.t_true_s, s.acc_mps2, s.gyr_dps) for s in rec.sides.values()), fs_hz=100.0)
    out = []
    for side, s in rec.sides.items():
        m = match_truth(res.strides[res.strides.side == side].reset_index(drop=True), s.strides, steady_only=False)
        e = [(1e3 * (m["ours_sel"].ic_s.iloc[j] - m["truth_sel"].ic_s.iloc[i]), 1e3 * (m["ours_sel"].to_s.iloc[j] - m["truth_sel"].to_s.iloc[i]))
             for i, j in m["pairs"]]
        out.append({"seed": seed, "side": side, "n": m["n_truth"], "tp": m["tp"], "n_ours": m["n_ours"], "err": e})
    return out


def short_walks(n: int = 24, workers: int = 2) -> dict:
    with get_context("fork").Pool(workers) as pool:
        legs = [x for r in pool.map(short_walk_case, range(n), chunksize=1) for x in r]
    n_t, tp, n_o = (sum(x[k] for x in legs) for k in ("n", "tp", "n_ours"))
    e = np.array([v for x in legs for v in x["err"]])
    return {"walks": n, "legs": len(legs), "truth_strides": n_t, "recall": tp / n_t, "precision": tp / n_o if n_o else None,
            "ic_ms": f"{e[:, 0].mean():+.1f} ± {e[:, 0].std(ddof=1):.1f}", "to_ms": f"{e[:, 1].mean():+.1f} ± {e[:, 1].std(ddof=1):.1f}"}


def sign_cues(n_seeds: int = 30, workers: int = 2) -> dict:
    jobs = [(seed, gait) for seed in range(n_seeds) for gait in ("walk", "run")]
    with get_context("fork").Pool(workers) as pool:
        legs = [x for r in pool.map(sign_cue_case, jobs, chunksize=1) for x in r]
    res = {"legs": len(legs), "final_sign_correct": sum(x[2] for x in legs), "cues": {}}
    for gait in ("walk", "run"):
        for cue in sorted({k for x in legs for k in x[3]}):
            v = [x[3][cue] for x in legs if x[0] == gait and cue in x[3]]
            res["cues"][f"{gait}/{cue}"] = f"{sum(v)}/{len(v)}"
    return res


def sim_matrix(quick: bool, seed0: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed0)
    cases = []
    k = 0

    def add(group, name, sim, **kw):
        nonlocal k
        k += 1
        sim = {"seed": seed0 + k, "strap": "random", **sim}
        cases.append({"group": group, "name": name, "sim": sim, "seed": seed0 + k, **kw})

    n_orient = 12 if quick else 60
    dur = 40 if quick else 60
    # 1. random strap orientations, walk and run, cadences 100-190
    for i in range(n_orient):
        gait = "walk" if i % 2 == 0 else "run"
        cad = float(rng.uniform(100, 125)) if gait == "walk" else float(rng.uniform(150, 190))
        fs = float(rng.choice([50, 100, 200, 400] if not quick else [100, 200]))
        add("orientation", f"{gait}-cad{cad:.0f}-fs{fs:.0f}-o{i}", {"gait": gait, "cadence_spm": cad, "fs_hz": fs, "duration_s": dur,
                                                               "timing_sd_pct": 0.0})
    # 1b. the same random orientations with an ideal sensor (no scale/bias/misalignment
    #     errors): isolates the calibration from sensor errors
    for i in range(n_orient // 2):
        gait = "walk" if i % 2 == 0 else "run"
        cad = float(rng.uniform(100, 125)) if gait == "walk" else float(rng.uniform(150, 190))
        add("orientation_ideal", f"ideal-{gait}-cad{cad:.0f}-o{i}", {"gait": gait, "cadence_spm": cad, "fs_hz": 100.0,
                                                                   "duration_s": dur, "sensor_errors": False, "timing_sd_pct": 0.0})
    # 2. sample rates
    for fs in (50, 100, 200, 400):
        for gait in ("walk", "run"):
            add("rate", f"{gait}-fs{fs}", {"gait": gait, "fs_hz": float(fs), "duration_s": dur})
    # 3. packet loss 0-5 %
    for loss in ((0.02, 0.05) if quick else (0.01, 0.02, 0.05)):
        for gait in ("walk", "run"):
            add("loss", f"{gait}-loss{loss:.2f}", {"gait": gait, "fs_hz": 200.0, "duration_s": dur}, loss=loss)
    # 4. noise / bias drift x3
    for gait in ("walk", "run"):
        add("noise", f"{gait}-noise-x3", {"gait": gait, "fs_hz": 100.0, "duration_s": dur,
                                          "acc_noise_density_mps2_rthz": 0.0045, "gyr_noise_density_dps_rthz": 0.021,
                                          "gyr_bias_sd_dps": 1.5, "gyr_bias_rw_dps_rts": 0.03})
    # 5. asymmetry
    for gait in ("walk", "run"):
        for sgn in (1, -1):
            add("asym", f"{gait}-swing{5 * sgn:+d}", {"gait": gait, "fs_hz": 200.0, "duration_s": dur, "asym_swing_pct": 5.0 * sgn},
                imposed=("swing_pct", 5.0 * sgn))
            add("asym", f"{gait}-rom{5 * sgn:+d}", {"gait": gait, "fs_hz": 200.0, "duration_s": dur, "asym_rom_deg": 5.0 * sgn},
                imposed=("rom_deg", 5.0 * sgn))
    # 6. mixed gait with stops, turns, speed changes
    add("mixed", "mixed-stops-turns", {"gait": "mixed", "fs_hz": 200.0, "duration_s": 90 if quick else 150,
                                        "stops": ((40.0, 5.0),), "turns": ((20.0, 180.0, 1.5), (70.0, -90.0, 1.0))})
    add("mixed", "walk-speed-change", {"gait": "walk", "fs_hz": 100.0, "duration_s": dur + 20,
                                        "speed_changes": ((25.0, 1.0), (45.0, 1.6))})
    return cases


# ----------------------------------------------------------------------------- report
def _fmt(x, nd=2):
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{nd}f}"


def aggregate(results: list[dict]) -> dict:
    agg = {}
    for gait in ("walk", "run"):
        rs = [r for r in results if r["gait"] == gait]
        sides = [s for r in rs for s in r["sides"].values()]
        nt = sum(s["n_truth"] for s in sides)
        tp = sum(s["tp"] for s in sides)
        no = sum(s["n_ours"] for s in sides)
        rom = np.concatenate([s.get("rom_err", []) for s in sides]) if sides else np.empty(0)
        ic = np.concatenate([s.get("ic_err_ms", []) for s in sides]) if sides else np.empty(0)
        to = np.concatenate([s.get("to_err_ms", []) for s in sides]) if sides else np.empty(0)
        agg[gait] = {"cases": len(rs), "recall": tp / nt if nt else None, "precision": min(1.0, tp / no) if no else None,
                     "rom_err_median_deg": float(np.median(np.abs(rom))) if rom.size else None,
                     "rom_err_p95_deg": float(np.quantile(np.abs(rom), 0.95)) if rom.size else None,
                     "rom_bias_deg": float(np.mean(rom)) if rom.size else None,
                     "ic_mae_ms": float(np.mean(np.abs(ic))) if ic.size else None, "ic_bias_ms": float(np.mean(ic)) if ic.size else None,
                     "ic_sd_ms": float(np.std(ic)) if ic.size else None,
                     "to_mae_ms": float(np.mean(np.abs(to))) if to.size else None, "to_bias_ms": float(np.mean(to)) if to.size else None,
                     "to_sd_ms": float(np.std(to)) if to.size else None,
                     "gait_class_ok": float(np.mean([s["gait_ok"] for s in sides if "gait_ok" in s])) if sides else None}
    # orientation OK: per side recall >= 0.95 and |median rom err| <= 1 deg
    for grp, key in (("orientation", "orientation"), ("orientation_ideal", "orientation_ideal")):
        ok = []
        for r in results:
            if r["group"] != grp:
                continue
            for s in r["sides"].values():
                ok.append(side_ok(s))
        agg[f"{key}_ok_frac"] = float(np.mean(ok)) if ok else None
        agg[f"{key}_n"] = len(ok)
    return agg


def side_ok(s) -> bool:
    """All per-recording targets for one side: recall/precision ≥ 0.95 (a 40 s case has ~30
    strides, one miss = 0.97), |median ROM error| ≤ 1°, IC and TO MAE ≤ 20 ms."""
    if not s.get("rom_err") or not s["n_truth"]:
        return False
    rec = s["tp"] / s["n_truth"]
    prec = s["tp"] / s["n_ours"] if s["n_ours"] else 0
    return (rec >= 0.95 and prec >= 0.95 and abs(float(np.median(s["rom_err"]))) <= 1.0
            and float(np.mean(np.abs(s["ic_err_ms"]))) <= 20 and float(np.mean(np.abs(s["to_err_ms"]))) <= 20)


RUN_TARGETS = {"ic_bias_ms": 15.0, "ic_sd_ms": 25.0, "to_bias_ms": 15.0, "to_sd_ms": 25.0, "stance_sd_ms": 25.0,
               "recall": 0.97, "precision": 0.99, "rom_bias_deg": 1.5}
"""Done-when targets of issue #12 on the running set (leave-one-subject-out)."""


def running_section(run: dict, cases: list[dict], L: list) -> dict:
    """Markdown lines for the real running data; returns the JSON summary it is made from."""
    default, loso = run["default"], run["loso"]
    err_d, err_l = rv.errors_frame(default), rv.errors_frame(loso)
    summ = {"all_subject_fit": run["all_subject_fit"], "loso_params": run["loso_params"], "subjects": run["subjects"]}
    pooled_l = rv.summarize(err_l, rv.counts(loso))
    pooled_d = rv.summarize(err_d, rv.counts(default))
    summ["loso_pooled"], summ["default_pooled"] = pooled_l, pooled_d
    sources = sorted({c["source"] for c in cases})
    L.append("## 1. Real running, force-plate truth (Fukuchi et al. 2017, virtual thigh IMUs from motion capture)\n")
    L.append(f"{len(cases)} treadmill trials of {len(run['subjects'])} runners ({', '.join(run['subjects'])}), 2.5–4.5 m/s, "
             "200 Hz virtual thigh IMUs made from the thigh marker clusters (random strap rotation, gyro bias and noise; "
             "no impact transients above ~15 Hz), IC/TO from the treadmill force plate (50 N). Cases from "
             + ", ".join(f"`{x}`" for x in sources) + ". The shared folder holds RBDS001 2.5 and 3.5 m/s and RBDS008 3.5 m/s; "
             "RBDS002 2.5 and 4.5 m/s and RBDS004 2.5 m/s were made for this validation with `tools/fukuchi_virtual_imu.py` "
             "(the method of the shared README, checked by regenerating RBDS001 2.5 m/s: identical force-plate events, ROM "
             "within 0.03°) from the data set's raw files in the git history of `github:regifukuchi/BMC-RIC-running-biomechanics` "
             "(`RBDS0041runT252*`, the file name of runner RBDS004's session) and `github:tiagosnog/Projeto-de-pesquisa-EBM` "
             "(`data/raw/RBDS002runT25*`, `RBDS002runT45*`): `--subject RBDS002 --trial T25 --speed 2.5 --seed 2002`, "
             "`--subject RBDS002 --trial T45 --speed 4.5 --seed 2003`, `--subject RBDS0041 --trial T252 --speed 2.5 --seed 2004`. "
             "Errors = ours − force plate; LoA = 95 % limits of agreement (bias ± 1.96 SD); stance = TO − IC.\n")
    L.append("**Constants fitted on these data:** `ic_after_rise_run_frac` and `to_after_trough_run_frac` (the running ends of "
             "the IC and TO offsets). The shipped values are the fit on all runners "
             f"({run['all_subject_fit']}); every figure marked LOSO comes from analysing each runner with the two "
             "constants refitted without that runner: "
             + "; ".join(f"{s}: ic {p['ic_after_rise_run_frac']:.4f}, to {p['to_after_trough_run_frac']:.4f}"
                         for s, p in run["loso_params"].items()) + ". "
             "Everything else (the rise-crossing fiducial, the walking constants, the gait weight) was set from the "
             "literature and the walking data set (docs/analysis.md) — but the fiducial was chosen after looking at "
             "all of these runners' mocap angles, so no runner here is untouched by design.\n")
    L.append("### Targets (issue #12, leave-one-subject-out, all strides pooled)\n")
    L.append("| metric | target | LOSO | met |")
    L.append("|---|---|---|---|")

    def trow(name, val, target, ok):
        L.append(f"| {name} | {target} | {val} | {'yes' if ok else '**no**'} |")
    ic, to, st = pooled_l.get("ic_err_ms"), pooled_l.get("to_err_ms"), pooled_l.get("stance_err_ms")
    rom = pooled_l.get("rom_err_deg")
    trow("IC bias (ms)", f"{ic['bias']:+.1f}", "|·| ≤ 15", abs(ic["bias"]) <= 15)
    trow("IC SD (ms)", f"{ic['sd']:.1f}", "≤ 25", ic["sd"] <= 25)
    trow("TO bias (ms)", f"{to['bias']:+.1f}", "|·| ≤ 15", abs(to["bias"]) <= 15)
    trow("TO SD (ms)", f"{to['sd']:.1f}", "≤ 25", to["sd"] <= 25)
    trow("stance-time error SD (ms)", f"{st['sd']:.1f}", "≤ 25", st["sd"] <= 25)
    trow("recall", rv.fmt(pooled_l["recall"]), "≥ 0.97", pooled_l["recall"] >= 0.97)
    trow("precision", rv.fmt(pooled_l["precision"]), "≥ 0.99", pooled_l["precision"] >= 0.99)
    trow("ROM bias vs mocap thigh angle (deg)", f"{rom['bias']:+.2f}", "|·| ≤ 1.5", abs(rom["bias"]) <= 1.5)
    L.append("")
    L.append("### Per runner and speed (LOSO)\n")
    L.append("| runner | speed m/s | trials | truth strides | recall | precision | IC bias ± SD ms | IC LoA ms | TO bias ± SD ms | "
             "TO LoA ms | stance err ± SD ms | swing-% err ± SD | ROM err ± SD deg |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    groups = sorted({(r["subject"], r["speed_mps"]) for r in loso})
    per_group = {}
    for subj, v in groups:
        sel = lambda r, subj=subj, v=v: r["subject"] == subj and r["speed_mps"] == v  # noqa: E731
        e = err_l[(err_l.subject == subj) & (err_l.speed_mps == v)]
        d = rv.summarize(e, rv.counts(loso, sel))
        per_group[f"{subj} {v:g}"] = d
        L.append(f"| {subj} | {v:g} | {sum(1 for r in loso if sel(r))} | {d['n_truth']} | {rv.fmt(d['recall'])} | {rv.fmt(d['precision'])} | "
                 f"{rv.fmt_pm(d, 'ic_err_ms')} | {rv.fmt_loa(d, 'ic_err_ms')} | {rv.fmt_pm(d, 'to_err_ms')} | {rv.fmt_loa(d, 'to_err_ms')} | "
                 f"{rv.fmt_pm(d, 'stance_err_ms')} | {rv.fmt_pm(d, 'swing_err_pct', 1)} | {rv.fmt_pm(d, 'rom_err_deg', 2)} |")
    L.append(f"| **all (LOSO)** | 2.5–4.5 | {len(loso)} | {pooled_l['n_truth']} | {rv.fmt(pooled_l['recall'])} | {rv.fmt(pooled_l['precision'])} | "
             f"{rv.fmt_pm(pooled_l, 'ic_err_ms')} | {rv.fmt_loa(pooled_l, 'ic_err_ms')} | {rv.fmt_pm(pooled_l, 'to_err_ms')} | "
             f"{rv.fmt_loa(pooled_l, 'to_err_ms')} | {rv.fmt_pm(pooled_l, 'stance_err_ms')} | {rv.fmt_pm(pooled_l, 'swing_err_pct', 1)} | "
             f"{rv.fmt_pm(pooled_l, 'rom_err_deg', 2)} |")
    L.append(f"| all (constants fitted on all runners, not LOSO) | 2.5–4.5 | {len(default)} | {pooled_d['n_truth']} | "
             f"{rv.fmt(pooled_d['recall'])} | {rv.fmt(pooled_d['precision'])} | {rv.fmt_pm(pooled_d, 'ic_err_ms')} | "
             f"{rv.fmt_loa(pooled_d, 'ic_err_ms')} | {rv.fmt_pm(pooled_d, 'to_err_ms')} | {rv.fmt_loa(pooled_d, 'to_err_ms')} | "
             f"{rv.fmt_pm(pooled_d, 'stance_err_ms')} | {rv.fmt_pm(pooled_d, 'swing_err_pct', 1)} | {rv.fmt_pm(pooled_d, 'rom_err_deg', 2)} |")
    summ["per_runner_speed"] = per_group
    L.append("")
    L.append("### Per session (for the before/after error budget, #13)\n")
    L.append("Each trial and leg analysed on its own (LOSO constants): the error of the per-session *median* a user would "
             "compare, and the stride-to-stride SD.\n")
    L.append("| trial | side | strides | median IC err ms | median TO err ms | median stance err ms | median swing-% err | "
             "median ROM err deg | ROM err SD deg | sign of flexion |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    sessions = []
    for r in loso:
        for side, sc in r["sides"].items():
            e = pd_frame(sc["rows"])
            if e is None:
                continue
            row = {"trial": r["case"], "subject": r["subject"], "speed_mps": r["speed_mps"], "side": side, "n": len(e),
                   "median_ic_err_ms": float(np.median(e.ic_err_ms)), "median_to_err_ms": float(np.median(e.to_err_ms)),
                   "median_stance_err_ms": float(np.median(e.stance_err_ms)), "median_swing_err_pct": float(np.median(e.swing_err_pct)),
                   "median_rom_err_deg": float(np.median(e.rom_err_deg)), "rom_err_sd_deg": float(np.std(e.rom_err_deg, ddof=1)),
                   "sign_ok": sc["sign_ok"]}
            sessions.append(row)
            L.append(f"| {r['case']} | {side} | {row['n']} | {row['median_ic_err_ms']:+.0f} | {row['median_to_err_ms']:+.0f} | "
                     f"{row['median_stance_err_ms']:+.0f} | {row['median_swing_err_pct']:+.1f} | {row['median_rom_err_deg']:+.2f} | "
                     f"{row['rom_err_sd_deg']:.2f} | {'right' if sc['sign_ok'] else 'WRONG'} |")
    summ["sessions"] = sessions
    L.append("")
    L.append("### Short trials (4–10 s crops of the same trials, shipped constants)\n")
    L.append("Windows of L seconds cut out of the running (every 7 s), analysed alone — *without* a standing period "
             "(the recording starts and ends mid-run) and *with* the trial's 4 s standing period before them. Truth = "
             "the force-plate strides inside the window (IC ≥ start + 0.3 s, next IC ≤ end − 0.1 s).\n")
    L.append("| L s | standing | windows × sides | truth strides | recall | precision | flexion sign right | IC bias ± SD ms | TO bias ± SD ms |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    crops = run["crops"]
    summ["short_trials"] = []
    for Ls in sorted({c["L"] for c in crops}):
        for standing in (False, True):
            sel = [c for c in crops if c["L"] == Ls and c["standing"] == standing]
            e = rv.errors_frame(sel)
            d = rv.summarize(e, rv.counts(sel))
            signs = [sc["sign_ok"] for c in sel for sc in c["sides"].values() if sc["sign_ok"] is not None]
            ns = sum(len(c["sides"]) for c in sel)
            summ["short_trials"].append({"L_s": Ls, "standing": standing, **{k: d[k] for k in ("n_truth", "tp", "fp", "recall", "precision")},
                                         "sign_right": f"{sum(signs)}/{ns}"})
            L.append(f"| {Ls:g} | {'yes' if standing else 'no'} | {ns} | {d['n_truth']} | {rv.fmt(d['recall'])} | {rv.fmt(d['precision'])} | "
                     f"{sum(signs)}/{ns} | {rv.fmt_pm(d, 'ic_err_ms')} | {rv.fmt_pm(d, 'to_err_ms')} |")
    L.append("")
    return summ


def pd_frame(rows):
    import pandas as pd

    return pd.DataFrame(rows) if rows else None


def walking_section(run: dict, L: list) -> dict:
    """Markdown lines for the real walking data (``tools/validate_walking.py``); returns its JSON summary."""
    L.append("## 2. Real walking, foot-gyro reference (HuGaDB v1, Chereshnev & Kertész-Farkas, AIST 2017)\n")
    L.append(f"{len(run['files'])} HuGaDB v1 walking files (real overground walking with turns, young adults; six IMUs — feet, "
             "shins, thighs — on one clock, ~58.8 Hz, no time stamps, ±2 g accelerometers that clip in fast walking). Many of "
             "the database's sensors are corrupted (gyro stored ×10 and clipped, listed in its README): a thigh is recognised "
             "by the pipeline's calibration (flagged, no strides), a foot by `tools/foot_reference.py`; a leg is scored when "
             "its thigh and its foot are intact. The whole file is analysed as the product would (both thighs).\n")
    L.append("**Reference** (`tools/foot_reference.py`, validation only, never used by the pipeline): IC and TO from the foot's "
             "own sagittal angular velocity — published foot-IMU features: the minima of the pitch angular velocity in the first "
             "and second half of a mid-swing-to-mid-swing cycle (Falbriard et al. 2018, Front Physiol 9:610: the most precise "
             "IC/terminal-contact features against a force plate, precision 2 ± 1 and 4 ± 2 ms, running), the zero crossings "
             "around them (Rampp et al. 2015, IEEE TBME 62:1089). No walking force-plate bias of these features was found in "
             "the literature available here, so it was measured: on the published force-plate mean cycles of the walking data "
             "set of Fukuchi, Fukuchi & Duarte 2018 (PeerJ 6:e4640; WBDS01 treadmill T05 and T08, WBDS02 overground fast) the "
             "foot's swing rotation ends 1.0–1.5 % of the stride before IC and its slap peaks 3.5–4.5 % after it; push-off "
             "peaks 1.5–2.5 % before TO and the next swing starts 4.5–6 % after it. The reference therefore places IC 0.30 "
             "and TO 0.27 of the way between the two features (its own uncertainty: ≈ ±5 ms from the spread of those "
             "fractions; one or two participants' mean cycles). Sampling: 17 ms; zero crossings are interpolated, extrema "
             "fitted parabolically. Sanity check against the second, older reference — the shin gyro (Aminian 2002 / "
             "Salarian 2004, `tools/gait_reference.py`): its IC comes 20–80 ms after the foot reference's and its TO 0–25 ms "
             "before (columns *shin − foot*), as published for shank-gyro IC against an instrumented walkway (+34 ± 10 ms, "
             "Greene et al. 2012, J Appl Biomech 28:349); the foot reference's stance is 58–63 % of the stride, the textbook "
             "value for walking at these cadences.\n")
    L.append("**Nothing was fitted on these files** (the walking constants come from the walking data set and the literature, "
             "docs/analysis.md); the gait weight's flight cue was set from these files and the running set together (its "
             "band lies in the gap between them, see docs/analysis.md). Errors = thigh − foot reference; LoA = bias ± 1.96 SD. "
             "Reproduce: `nice -n 10 .venv/bin/python tools/validate_walking.py --hugadb DIR` (the 18 files: "
             "`github:BlackPer/Legpro` at ceffa35, at its root).\n")
    return vw.report(run, L)


def write_report(results, real, agg, out_path: Path, args, elapsed_s, running=None, cases=None):
    L = []
    L.append("# Validation of the analysis pipeline\n")
    L.append(f"Generated by `tools/validate.py{' --quick' if args.quick else ''}` (imugait analysis {ALGORITHM_VERSION}) in "
             f"{elapsed_s:.0f} s on 2 workers. Reproduce: `nice -n 10 .venv/bin/python tools/validate.py"
             f"{' --quick' if args.quick else ''}{''.join(f' --running {d}' for d in args.running)}"
             f"{''.join(f' --hugadb {d}' for d in (args.hugadb or []))}` (the second running folder: the further runners "
             "of section 1, made locally; the second HuGaDB folder: all 18 walking files, section 2). Real data first; the "
             "simulator (written by the same project, re-anchored on the real data below) second.\n")
    real_json = {"algorithm_version": ALGORITHM_VERSION}
    if running is not None:
        real_json["running"] = running_section(running, cases, L)
    else:
        L.append("## 1. Real running\n\nNo running cases found (give `--running DIR`): nothing measured.\n")
    if real:
        real_json["walking"] = walking_section(real, L)
    else:
        L.append("## 2. Real walking\n\nNo HuGaDB walking files found (give `--hugadb DIR`): nothing measured.\n")
    L.append("\n## 3. Simulation (imugait.sim.gait 2.0, random strap orientations)\n")
    L.append("The simulator's thigh templates and event timing come from the real data above and the walking data set "
             "(docs/simulator.md), with each leg's own IC/TO offsets (SD 1.5 % of the stride); passing here checks the "
             "pipeline end to end on known truth, it does not validate the event rules independently. Steady-gait "
             "strides, matched by IC within 25 % of the stride. Errors = ours − truth.\n")
    L.append("| metric | target | walk | run | met |")
    L.append("|---|---|---|---|---|")

    def row(name, key, target, cmp, nd=2):
        w, r = agg["walk"].get(key), agg["run"].get(key)
        met = all(v is not None and cmp(v, target) for v in (w, r))
        L.append(f"| {name} | {('≥ ' if key in ('recall', 'precision') else '≤ ') + str(target)} | {_fmt(w, nd)} | {_fmt(r, nd)} | {'yes' if met else '**no**'} |")

    ge = lambda a, b: a >= b  # noqa: E731
    le = lambda a, b: a <= b  # noqa: E731
    row("stride recall", "recall", TARGETS["recall"], ge, 4)
    row("stride precision", "precision", TARGETS["precision"], ge, 4)
    row("ROM |error| median (deg)", "rom_err_median_deg", TARGETS["rom_err_median_deg"], le)
    row("ROM |error| p95 (deg)", "rom_err_p95_deg", TARGETS["rom_err_p95_deg"], le)
    row("IC MAE (ms)", "ic_mae_ms", TARGETS["ic_mae_ms"], le, 1)
    row("TO MAE (ms)", "to_mae_ms", TARGETS["to_mae_ms"], le, 1)
    L.append(f"| IC bias ± SD (ms) | – | {_fmt(agg['walk']['ic_bias_ms'], 1)} ± {_fmt(agg['walk']['ic_sd_ms'], 1)} | {_fmt(agg['run']['ic_bias_ms'], 1)} ± {_fmt(agg['run']['ic_sd_ms'], 1)} | |")
    L.append(f"| TO bias ± SD (ms) | – | {_fmt(agg['walk']['to_bias_ms'], 1)} ± {_fmt(agg['walk']['to_sd_ms'], 1)} | {_fmt(agg['run']['to_bias_ms'], 1)} ± {_fmt(agg['run']['to_sd_ms'], 1)} | |")
    L.append(f"| ROM bias (deg) | – | {_fmt(agg['walk']['rom_bias_deg'])} | {_fmt(agg['run']['rom_bias_deg'])} | |")
    L.append(f"| walk/run label correct (share of matched strides) | – | {_fmt(agg['walk']['gait_class_ok'], 3)} | {_fmt(agg['run']['gait_class_ok'], 3)} | |")
    of = agg["orientation_ok_frac"]
    oi = agg.get("orientation_ideal_ok_frac")
    L.append(f"\nRandom strap orientations meeting all per-side targets (recall and precision ≥ 0.95, |median ROM error| ≤ 1°, "
             f"IC and TO MAE ≤ 20 ms; these legs follow the templates' event timing, `timing_sd_pct=0`, so that only the strap "
             f"varies): **{_fmt(100 * of if of is not None else None, 1)} %** of {agg['orientation_n']} sides with the "
             f"simulator's sensor errors (1 % gyro scale error SD, bias, drift, misalignment); "
             f"**{_fmt(100 * oi if oi is not None else None, 1)} %** of {agg.get('orientation_ideal_n', 0)} sides with an ideal sensor. "
             "The simulator's ab/adduction and axial rotation move in phase with flexion; with them the measured angle reads "
             "≈ 2 % of the range high against the simulator's own sagittal truth (ideal sensor, one walking and one running leg: "
             "1.023 and 1.025 × truth; 1.003 and 1.008 with them switched off) — on the real running data the same angle is within "
             "−0.3° of the motion-capture range (section 1).\n")
    sc = agg.get("scale_check")
    if sc:
        L.append(f"The relative ROM error follows the simulated gyroscope scale error along the flexion axis (left legs of the "
                 f"orientation group, n = {sc['n']}: correlation {sc['corr']:.2f}, slope {sc['slope']:.2f}; what remains has SD "
                 f"{sc['resid_sd_pct']:.2f} % and bias {sc['rel_rom_bias_pct']:+.2f} % of the ROM): a sensor-calibration limit.\n")
    asy = [r for r in results if "asym" in r]
    if asy:
        L.append("### Imposed asymmetry (left − right, medians of valid strides)\n")
        L.append("| case | imposed | truth (sim strides) | measured | error vs truth | right sign, within 1.5 |")
        L.append("|---|---|---|---|---|---|")
        for r in asy:
            a = r["asym"]
            err = a["measured"] - a["truth"]
            ok = np.sign(a["measured"]) == np.sign(a["imposed"]) and abs(err) <= TARGETS["asym_tol_points"]
            L.append(f"| {r['name']} | {a['imposed']:+.1f} | {a['truth']:+.2f} | {a['measured']:+.2f} | {err:+.2f} | {'yes' if ok else '**no**'} |")
    L.append("\n### Per case\n")
    L.append("| case | group | fs Hz | loss | side | truth strides | recall | precision | ROM err med (deg) | IC err mean (ms) | TO err mean (ms) | axis conf |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        for side, s in r["sides"].items():
            rec = s["tp"] / s["n_truth"] if s["n_truth"] else float("nan")
            prec = s["tp"] / s["n_ours"] if s["n_ours"] else float("nan")
            L.append(f"| {r['name']} | {r['group']} | {r['fs_hz']:.0f} | {r['loss']:.2f} | {side} | {s['n_truth']} | {rec:.3f} | {min(prec, 1):.3f} | "
                     f"{_fmt(float(np.median(s['rom_err'])) if s.get('rom_err') else None)} | {_fmt(float(np.mean(s['ic_err_ms'])) if s.get('ic_err_ms') else None, 1)} | "
                     f"{_fmt(float(np.mean(s['to_err_ms'])) if s.get('to_err_ms') else None, 1)} | {s['axis_conf']:.2f} |")
    out_path.write_text("\n".join(L) + "\n")
    return real_json


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small simulator matrix")
    ap.add_argument("--running", action="append", default=None,
                    help="folder of running cases (repeatable; default: the shared running_fukuchi folder)")
    ap.add_argument("--hugadb", action="append", default=None,
                    help="folder(s) with HuGaDB_v1_walking_*.txt files (repeatable; default: the shared hugadb folder)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "validation.md"))
    ap.add_argument("--real-json", default=str(ROOT / "docs" / "data" / "validation_real.json"))
    ap.add_argument("--json", default=None, help="also dump raw simulator results as JSON")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default=None, help="run only simulator cases whose name contains this")
    ap.add_argument("--no-sim", action="store_true", help="real data only")
    ap.add_argument("--sign-cues", action="store_true", help="only evaluate the flexion-sign cues (120 simulated legs)")
    ap.add_argument("--short-walks", type=int, default=0, metavar="N",
                    help="only: N simulated 8–15 s walks with start and stop inside the recording")
    ap.add_argument("--strap-invariance", action="store_true",
                    help="only check real HuGaDB thighs under 6 random strap rotations each (~5 s)")
    args = ap.parse_args(argv)
    try:
        os.nice(10)
    except OSError:
        pass
    if args.running is None:
        d = shared_data("running_fukuchi")
        args.running = [str(d)] if d else []
    if args.hugadb is None:
        d = shared_data("hugadb")
        args.hugadb = [str(d)] if d else []
    workers = max(1, min(2, args.workers))
    if args.sign_cues:
        print(json.dumps(sign_cues(workers=workers), indent=1))
        return
    if args.short_walks:
        print(json.dumps(short_walks(args.short_walks, workers), indent=1))
        return
    if args.strap_invariance:
        if not args.hugadb:
            sys.exit("HuGaDB data not found: give --hugadb DIR")
        print(json.dumps(strap_invariance(args.hugadb[0]), indent=1))
        return
    t0 = time.time()
    pool = get_context("fork").Pool(workers) if workers > 1 else None
    pmap = (lambda f, xs: pool.map(f, xs, chunksize=1)) if pool else map
    cases = rv.find_cases(args.running)
    if not cases:
        print(f"no running cases under {args.running}: the real-running section is skipped (give --running DIR)")
    running = rv.run_all(cases, AnalysisParams(), pmap) if cases else None
    real = None
    if vw.find_files(args.hugadb):
        real = vw.run_all(args.hugadb, AnalysisParams(), pmap, n_crops=6)
    else:
        print(f"no HuGaDB walking files in {args.hugadb}: the walking section is skipped (give --hugadb DIR)")
    results, agg = [], None
    if not args.no_sim:
        sim_cases = sim_matrix(args.quick, args.seed)
        if args.only:
            sim_cases = [c for c in sim_cases if args.only in c["name"] or args.only == c["group"]]
        results = list(pmap(run_sim_case, sim_cases))
        agg = aggregate(results)
        orient = [c for c in sim_cases if c["group"] == "orientation"]
        sc = [x for x in pmap(scale_check_case, orient) if x]
        if len(sc) > 3:
            x, y = np.array(sc).T
            agg["scale_check"] = {"n": len(sc), "corr": float(np.corrcoef(x, y)[0, 1]), "slope": float(np.polyfit(x, y, 1)[0]),
                                  "resid_sd_pct": float(100 * np.std(y - x)), "rel_rom_bias_pct": float(100 * np.mean(y - x))}
    else:
        agg = {g: {k: None for k in ("recall", "precision", "rom_err_median_deg", "rom_err_p95_deg", "ic_mae_ms", "to_mae_ms",
                                      "ic_bias_ms", "ic_sd_ms", "to_bias_ms", "to_sd_ms", "rom_bias_deg", "gait_class_ok")}
               for g in ("walk", "run")}
        agg.update(orientation_ok_frac=None, orientation_n=0)
    if pool:
        pool.close()
    real_json = write_report(results, real, agg, Path(args.out), args, time.time() - t0, running, cases)
    Path(args.real_json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.real_json).write_text(json.dumps(real_json, indent=1, default=_json_default))
    if args.json:
        Path(args.json).write_text(json.dumps({"sim": results, "real": real, "agg": agg, "running": running}, default=_json_default, indent=1))
    if running is not None:
        print(json.dumps({k: real_json["running"][k] for k in ("all_subject_fit", "loso_pooled", "short_trials")}, indent=1, default=_json_default))
    if agg and results:
        print(json.dumps({g: agg[g] for g in ("walk", "run")}, indent=1, default=_json_default))
    if real is not None:
        w = real_json["walking"]
        print(json.dumps({k: w[k] for k in ("pooled", "by_cadence", "crops") if k in w}, indent=1, default=_json_default))
    print(f"wrote {args.out} and {args.real_json} in {time.time() - t0:.0f} s")


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


if __name__ == "__main__":
    main()
