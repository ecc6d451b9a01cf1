#!/usr/bin/env python
"""Real-data measurements behind the before/after error budget (imugait/data/compare_error_budget.json).

What it measures (the budget's evidence entries R1–R3; docs/compare.md, "Error budget"):

* ``--calibration`` (R1, R1b, R2) — how much the strap's sensor-to-thigh rotation moves
  when the sensor did **not** move, which sets the tolerances that tell "kept on" from
  "re-strapped":
  R1: every HuGaDB recording is analysed again from every 10 s (the pipeline restarted, so
  it calibrates again on later strides of the same, unmoved sensor); each calibration's
  thigh long axis and flexion axis (sign ignored) are compared with the first one.
  R1b: the two halves of each recording analysed as two sessions; their whole-session
  flexion axes (``GaitPipeline.strap_axes``, what compare uses) are compared.
  R2: recordings of one subject made minutes apart (HuGaDB file names ``_<subject>_<trial>``,
  dates in the headers) — assumed **not** re-strapped (HuGaDB does not say; the short gaps
  suggest the sensors stayed on). Their gyroscopes are partly stored ×10 and clipped
  (see the HuGaDB README); for the axes only, such a gyroscope is divided by 10 (the
  direction of the flexion axis survives the scaling, the clipped peaks do not matter for
  it) and the strap calibration runs on the first 20 s.
* ``--rom-error`` (R3) — the per-session hip-range error against motion capture on real
  running (virtual thigh IMUs from Fukuchi et al. 2017 marker clusters, force-plate and
  mocap truth, /work/shared/data/running_fukuchi): how much it changes between two runs of
  the same leg with the cluster kept on, and how much it differs between legs and runners.
* ``--issue12`` (R4) — #12's per-session table of analysis 2.0 on real running
  (docs/validation.md, "Per session (for the before/after error budget, #13)"; force-plate
  and mocap truth, leave-one-runner-out): the spread of the per-session error over legs and
  runners, the difference between the two thighs of one trial (another sensor placement,
  same runner and pace — includes the runner's own left/right difference), and the change of
  the same leg between speeds (cluster kept on).
* ``--halves`` (context) — each HuGaDB thigh's first half against its second half: the
  difference of medians against its block-bootstrap SE. The excess is real within-run change
  of the walker's gait (pace changes, turns) plus any drift of the analysis: an upper bound
  of what a kept-on sensor adds, not a measurement error.

Nothing is fitted. Data locations: ``--hugadb DIR ...`` (default /work/shared/data/hugadb,
4 files; the full set of 18 HuGaDB v1 walking files is in the public repository
BlackPer/Legpro at commit ceffa35fc76e21e28762d594962771c22ec8c1cf — e.g. ``git --git-dir
<mirror> show HEAD:<file> > DIR/<file>`` for each ``HuGaDB_v1_walking_*.txt``) and
``--fukuchi DIR`` (default /work/shared/data/running_fukuchi). Missing folders are reported
and skipped.

    .venv/bin/python tools/measure_compare_budget.py --hugadb /work/shared/data/hugadb ~/data/legpro \\
        --out budget_evidence.json
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

import numpy as np

from imugait.analysis import AnalysisParams, CalibrationSettings, analyze
from imugait.analysis.calibrate import calibrate
from imugait.compare import bootstrap_median_diff, load_budget
from imugait.errors import ImugaitError
from imugait.store import read_hugadb

SIDES = ("left", "right")
CORRUPT_GYR_Q99_DPS = 1000.0  # thigh gyros in walking stay far below; HuGaDB's x10 corruption goes above
NAME = re.compile(r"HuGaDB_v\d+_(?P<act>[a-z_]+?)_(?P<subj>\d+)_(?P<trial>\d+)", re.IGNORECASE)


def angle_deg(a, b, signless: bool = False) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    c = float(np.clip(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)), -1.0, 1.0))
    return math.degrees(math.acos(abs(c) if signless else c))


def hugadb_files(dirs) -> list[Path]:
    seen, out = set(), []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            print(f"note: {d} is not a folder — skipped", file=sys.stderr)
            continue
        for f in sorted(d.glob("HuGaDB_v*_*.txt")):
            if f.name not in seen:
                seen.add(f.name)
                out.append(f)
    return out


def repeated_calibrations(t, acc, gyr, fs_hz: float, step_s: float = 10.0, min_rest_s: float = 25.0) -> list[dict]:
    """The pipeline's own calibration of one unmoved sensor, restarted every ``step_s``."""
    out = []
    for off in np.arange(0.0, t[-1] - t[0] - min_rest_s, step_s):
        k = int(off * fs_hz)
        try:
            res = analyze(left=(t[k:] - t[k], acc[k:], gyr[k:]), fs_hz=fs_hz)
        except (ImugaitError, ValueError):
            continue
        c = res.calibration["left"]
        if c.failed or not c.calibrated:
            continue
        out.append({"start_s": float(off), "long_axis": list(c.long_axis), "flexion_axis": list(c.flexion_axis),
                    "still_found": bool(c.still_found), "axis_confidence": float(c.axis_confidence)})
    return out


def calibration_repeatability(files: list[Path]) -> dict:
    """R1: per thigh, the largest change against the first calibration."""
    thighs = []
    for f in files:
        r = read_hugadb(f)
        for side in SIDES:
            t, acc, gyr = r.imu(side)
            cals = repeated_calibrations(t, acc, gyr, r.fs_hz)
            if len(cals) < 2:
                continue
            ref = cals[0]
            dl = [angle_deg(ref["long_axis"], c["long_axis"]) for c in cals[1:]]
            df = [angle_deg(ref["flexion_axis"], c["flexion_axis"], signless=True) for c in cals[1:]]
            thighs.append({"file": f.name, "side": side, "n_calibrations": len(cals), "long_axis_max_deg": max(dl),
                           "flexion_axis_max_deg": max(df), "long_axis_deg": dl, "flexion_axis_deg": df,
                           "axis_confidence_min": min(c["axis_confidence"] for c in cals)})
    allv = lambda k: [v for th in thighs for v in th[k]]  # noqa: E731
    summ = {}
    if thighs:
        for key in ("long_axis_deg", "flexion_axis_deg"):
            v = np.array(allv(key))
            summ[key] = {"n": int(v.size), "median": float(np.median(v)), "p95": float(np.quantile(v, 0.95)),
                         "max": float(v.max())}
    return {"thighs": thighs, "recordings": len({th["file"] for th in thighs}), "summary": summ}


def strap_axes_halves(files: list[Path]) -> dict:
    """R1b: each clean recording's two halves analysed as two sessions of an unmoved sensor:
    the whole-session flexion axis (``strap_axes``, what compare uses) and, for comparison,
    the calibration's few-second axis."""
    thighs = []
    for f in files:
        r = read_hugadb(f)
        for side in SIDES:
            t, acc, gyr = r.imu(side)
            h = r.n // 2
            try:
                a = analyze(**{side: (t[:h], acc[:h], gyr[:h])}, fs_hz=r.fs_hz)
                b = analyze(**{side: (t[h:] - t[h], acc[h:], gyr[h:])}, fs_hz=r.fs_hz)
            except (ImugaitError, ValueError):
                continue
            sa, sb = a.strap_axes[side], b.strap_axes[side]
            if not sa or not sb or a.calibration[side].failed or b.calibration[side].failed:
                continue
            thighs.append({"file": f.name, "side": side, "motion_s": [sa["motion_s"], sb["motion_s"]],
                           "strap_flexion_axis_deg": angle_deg(sa["flexion_axis"], sb["flexion_axis"], signless=True),
                           "calibration_flexion_axis_deg": angle_deg(a.calibration[side].flexion_axis,
                                                                     b.calibration[side].flexion_axis, signless=True),
                           "long_axis_deg": angle_deg(sa["long_axis"], sb["long_axis"])})
    summ = {k: float(max(th[k] for th in thighs)) for k in ("strap_flexion_axis_deg", "calibration_flexion_axis_deg",
                                                             "long_axis_deg")} if thighs else {}
    return {"thighs": thighs, "max": summ}


def _axes_first_seconds(r, side: str, seconds: float = 20.0) -> dict:
    t, acc, gyr = r.imu(side)
    corrupted = bool(np.quantile(np.abs(gyr), 0.99) > CORRUPT_GYR_Q99_DPS)
    g = gyr / 10.0 if corrupted else gyr
    n = int(seconds * r.fs_hz)
    c = calibrate(g[:n], acc[:n], r.fs_hz, CalibrationSettings.from_params(AnalysisParams()))
    return {"long_axis": list(c.long_axis), "flexion_axis": list(c.flexion_axis), "gyro_x10_corrupted": corrupted}


def _rom_difference(ra, rb, side: str) -> dict:
    """Hip-range difference of two recordings of one thigh, with its stride-bootstrap SD and
    the kept-on budget's SD (is the pair consistent with a sensor that stayed on?)."""
    x, axes = [], []
    for r in (ra, rb):
        try:
            res = analyze(**{side: r.imu(side)}, fs_hz=r.fs_hz)
        except (ImugaitError, ValueError):
            return {}
        st = res.strides[(res.strides["side"] == side) & res.strides["valid"].astype(bool)].sort_values("ic_s")
        if res.calibration[side].failed or len(st) < 10:
            return {}
        x.append(st["rom_deg"].to_numpy(float))
        axes.append(res.strap_axes[side])
    q = bootstrap_median_diff([x[0]], [x[1]], n_boot=2000, seed=1)
    budget_sd = math.sqrt(2.0) * load_budget().session_sd("rom_deg", "kept_on", float(np.median(x[0])))
    strap = (angle_deg(axes[0]["flexion_axis"], axes[1]["flexion_axis"], signless=True)
             if all(axes) else float("nan"))
    return {"strap_flexion_axis_deg": strap,
            "rom_diff_deg": q["diff"], "rom_sampling_sd_deg": q["sampling_sd"], "rom_kept_on_budget_sd_deg": budget_sd,
            "rom_z": q["diff"] / math.hypot(q["sampling_sd"], budget_sd), "n_strides": [len(v) for v in x]}


def same_subject_pairs(files: list[Path]) -> dict:
    """R2: recordings of one subject and activity, compared pairwise (axes only)."""
    groups: dict = {}
    for f in files:
        m = NAME.search(f.name)
        if m:
            groups.setdefault((m["act"].lower(), m["subj"]), []).append(f)
    pairs = []
    for (act, subj), fs in sorted(groups.items()):
        if len(fs) < 2:
            continue
        recs = [read_hugadb(f) for f in fs]
        axes = [{side: _axes_first_seconds(r, side) for side in SIDES} for r in recs]
        for i in range(len(fs)):
            for j in range(i + 1, len(fs)):
                for side in SIDES:
                    a, b = axes[i][side], axes[j][side]
                    pair = {"subject": subj, "activity": act, "files": [fs[i].name, fs[j].name],
                            "dates": [recs[i].date, recs[j].date], "side": side,
                            "long_axis_deg": angle_deg(a["long_axis"], b["long_axis"]),
                            "flexion_axis_deg": angle_deg(a["flexion_axis"], b["flexion_axis"], signless=True),
                            "gyro_x10_corrupted": a["gyro_x10_corrupted"] or b["gyro_x10_corrupted"]}
                    if not pair["gyro_x10_corrupted"]:
                        pair.update(_rom_difference(recs[i], recs[j], side))
                    pairs.append(pair)
    summ = {}
    if pairs:
        summ = {k: float(max(p[k] for p in pairs)) for k in ("long_axis_deg", "flexion_axis_deg")}
    return {"pairs": pairs, "max": summ,
            "assumption": "recordings minutes apart on one day: assumed not re-strapped (HuGaDB does not record it)"}


def rom_error_vs_mocap(fukuchi_dir: Path) -> dict:
    """R3: per trial and leg, median analysed hip range − median mocap hip range."""
    import pandas as pd

    cases = sorted(p for p in Path(fukuchi_dir).iterdir() if (p / "truth.json").exists()) if Path(fukuchi_dir).is_dir() else []
    rows = []
    for case in cases:
        truth = json.loads((case / "truth.json").read_text())
        for side in SIDES:
            f = case / f"{side}.csv"
            if not f.exists():
                continue
            df = pd.read_csv(f)
            res = analyze(**{side: (df["time_s"].to_numpy(), df[["acc_x_mps2", "acc_y_mps2", "acc_z_mps2"]].to_numpy(),
                                    df[["gyr_x_dps", "gyr_y_dps", "gyr_z_dps"]].to_numpy())})
            st = res.strides[(res.strides["side"] == side) & res.strides["valid"].astype(bool)]
            ref = [s["rom_deg"] for s in truth["strides"] if s["side"] == side]
            if st.empty or not ref:
                continue
            rows.append({"case": case.name, "runner": case.name.split("_")[0], "speed_mps": truth.get("speed_mps"),
                         "side": side, "n_strides": int(len(st)), "rom_deg": float(st["rom_deg"].median()),
                         "mocap_rom_deg": float(np.median(ref)),
                         "error_deg": float(st["rom_deg"].median() - np.median(ref))})
    same_leg = []
    by_leg: dict = {}
    for r in rows:
        by_leg.setdefault((r["runner"], r["side"]), []).append(r)
    for (runner, side), rs in sorted(by_leg.items()):
        for i in range(len(rs)):
            for j in range(i + 1, len(rs)):
                same_leg.append({"runner": runner, "side": side, "cases": [rs[i]["case"], rs[j]["case"]],
                                 "error_change_deg": rs[j]["error_deg"] - rs[i]["error_deg"]})
    e = np.array([r["error_deg"] for r in rows])
    ch = np.array([x["error_change_deg"] for x in same_leg])
    return {"rows": rows, "same_leg_changes": same_leg,
            "sd_over_legs_deg": float(np.std(e, ddof=1)) if e.size > 1 else None,
            "kept_on_per_session_deg": float(np.sqrt(np.mean(ch ** 2) / 2)) if ch.size else None}


ISSUE12_ROW = re.compile(r"\| (rbds\S+) \| (left|right) \| (\d+) \| ([+-]?\d+) \| ([+-]?\d+) \| ([+-]?\d+) \| "
                         r"([+-]?[\d.]+) \| ([+-]?[\d.]+) \| ([\d.]+) \|")


def issue12_per_session(validation_md: Path) -> dict:
    """R4 from #12's per-session table (see the module docstring)."""
    text = Path(validation_md).read_text(encoding="utf-8")
    start = text.find("### Per session (for the before/after error budget, #13)")
    if start < 0:
        return {}
    end = text.find("\n### ", start + 10)
    rows = {}
    for m in ISSUE12_ROW.finditer(text[start:end if end > 0 else None]):
        rows[(m[1], m[2])] = {"stance_ms": float(m[6]), "swing_pts": float(m[7]), "rom_deg": float(m[8])}
    out: dict = {"n_leg_sessions": len(rows)}
    trials = sorted({t for t, _s in rows})
    for k in ("rom_deg", "stance_ms", "swing_pts"):
        v = np.array([r[k] for r in rows.values()])
        lr = np.array([rows[(t, "left")][k] - rows[(t, "right")][k] for t in trials
                       if (t, "left") in rows and (t, "right") in rows])
        out[k] = {"sd_over_leg_sessions": float(np.std(v, ddof=1)) if v.size > 1 else None,
                  "left_minus_right": lr.tolist(),
                  "per_placement_sd": float(np.sqrt(np.mean(lr ** 2) / 2)) if lr.size else None}
        # the same leg in two trials of one runner (cluster kept on), by runner
        same = {}
        for (t, side), r in rows.items():
            same.setdefault((t.split("_")[0], side), []).append((t, r[k]))
        changes = {f"{runner} {side} {a[0]}→{b[0]}": b[1] - a[1]
                   for (runner, side), lst in sorted(same.items()) if len(lst) == 2 for a, b in [sorted(lst)]}
        out[k]["same_leg_changes"] = changes
        c = np.array(list(changes.values()))
        out[k]["same_leg_per_session_sd"] = float(np.sqrt(np.mean(c ** 2) / 2)) if c.size else None
    return out


def halves(files: list[Path], metrics=("rom_deg", "stance_s", "swing_pct", "cadence_spm")) -> dict:
    """Context: first vs second half of each clean thigh (see the module docstring)."""
    acc: dict = {m: [] for m in metrics}
    for f in files:
        r = read_hugadb(f)
        for side in SIDES:
            try:
                res = analyze(**{side: r.imu(side)}, fs_hz=r.fs_hz)
            except (ImugaitError, ValueError):
                continue
            if res.calibration[side].failed:
                continue
            st = res.strides[(res.strides["side"] == side) & res.strides["valid"].astype(bool)].sort_values("ic_s")
            if len(st) < 40:
                continue
            h = len(st) // 2
            for m in metrics:
                x = st[m].to_numpy(float)
                q = bootstrap_median_diff([x[:h]], [x[h:]], n_boot=2000, seed=1)
                acc[m].append((q["diff"], q["sampling_sd"]))
    out = {}
    for m, v in acc.items():
        if not v:
            continue
        d = np.array(v)
        out[m] = {"n_thighs": len(v), "rms_diff": float(np.sqrt(np.mean(d[:, 0] ** 2))),
                  "rms_bootstrap_se": float(np.sqrt(np.mean(d[:, 1] ** 2))),
                  "excess_sd_per_half": float(np.sqrt(max(0.0, np.mean(d[:, 0] ** 2 - d[:, 1] ** 2) / 2)))}
    return out


TYPICAL = {"rom_deg": 55.0, "flex_peak_deg": 35.0, "ext_peak_deg": -15.0, "swing_pct": 62.0, "stance_s": 0.25,
           "stride_s": 0.72, "cadence_spm": 168.0}
SHOW = {"s": (1000.0, " ms"), "deg": (1.0, "°"), "% points": (1.0, " pts"), "steps/min": (1.0, " spm")}
APPLIES = {"kept_on": "kept on", "restrapped": "re-strapped, swapped or unknown"}


def budget_table_markdown(budget) -> str:
    """The budget as the table in docs/compare.md (``--table`` prints it)."""
    lines = ["| metric | term | SD per session | counts when | status | source |", "|---|---|---|---|---|---|"]
    for m in budget.metrics.values():
        scale, unit = SHOW.get(m.unit, (1.0, " " + m.unit))
        for c in m.components:
            sd = f"{100 * c.sd_rel:g} % of the median" if c.sd_rel else f"{c.sd * scale:g}{unit}"
            when = ", ".join(APPLIES[a] for a in ("kept_on", "restrapped") if a in c.applies)
            status = c.status + (f" (awaits {c.awaits.split(':')[0]})" if c.awaits else "")
            refs = ", ".join(sorted(set(re.findall(r"\b([LDR]\d)\b", c.source)))) or c.source.split(";")[0]
            lines.append(f"| `{m.metric}` | {c.name} | {sd} | {when} | {status} | {refs} |")
    lines += ["", "| metric (typical value) | one session, kept on | one session, re-strapped | measurement error alone "
              "moves one before/after difference by up to (MDC95): kept on | re-strapped |",
              "|---|---|---|---|---|"]
    for name, med in TYPICAL.items():
        scale, unit = SHOW.get(budget.metric(name).unit, (1.0, ""))
        k = budget.session_sd(name, "kept_on", med) * scale
        r = budget.session_sd(name, "restrapped", med) * scale
        z = 1.959964 * math.sqrt(2.0)
        lines.append(f"| `{name}` ({med * scale:g}{unit}) | {k:.3g}{unit} | {r:.3g}{unit} | {z * k:.2g}{unit} | "
                     f"{z * r:.2g}{unit} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hugadb", nargs="*", default=["/work/shared/data/hugadb"], help="folders with HuGaDB .txt files")
    ap.add_argument("--fukuchi", default="/work/shared/data/running_fukuchi", help="folder of the Fukuchi running cases")
    ap.add_argument("--calibration", action="store_true", help="R1 and R2 only")
    ap.add_argument("--rom-error", action="store_true", help="R3 only")
    ap.add_argument("--halves", action="store_true", help="the halves context only")
    ap.add_argument("--issue12", nargs="?", const=str(Path(__file__).resolve().parents[1] / "docs" / "validation.md"),
                    default=None, help="R4 only, from #12's per-session table (default: docs/validation.md)")
    ap.add_argument("--out", default=None, help="write every number to this JSON file")
    ap.add_argument("--table", action="store_true", help="print the budget table of docs/compare.md and exit")
    a = ap.parse_args(argv)
    if a.table:
        print(budget_table_markdown(load_budget()))
        return 0
    every = not (a.calibration or a.rom_error or a.halves or a.issue12)
    files = hugadb_files(a.hugadb)
    out: dict = {"hugadb_files": [f.name for f in files]}
    if not files and (every or a.calibration or a.halves):
        print("no HuGaDB files found in " + ", ".join(a.hugadb) + " — the calibration and halves measurements are skipped",
              file=sys.stderr)
    if files and (every or a.calibration):
        out["R1_repeated_calibrations"] = rep = calibration_repeatability(files)
        out["R1b_strap_axes_halves"] = halves_axes = strap_axes_halves(files)
        out["R2_same_subject_recordings"] = pairs = same_subject_pairs(files)
        s = rep["summary"]
        if s:
            print(f"R1 repeated calibrations of unmoved thighs ({rep['recordings']} recordings, {len(rep['thighs'])} thighs): "
                  f"long axis median {s['long_axis_deg']['median']:.1f}° p95 {s['long_axis_deg']['p95']:.1f}° "
                  f"max {s['long_axis_deg']['max']:.1f}°; flexion axis median {s['flexion_axis_deg']['median']:.1f}° "
                  f"p95 {s['flexion_axis_deg']['p95']:.1f}° max {s['flexion_axis_deg']['max']:.1f}° "
                  f"({s['long_axis_deg']['n']} comparisons)")
        if halves_axes["max"]:
            m = halves_axes["max"]
            print(f"R1b two halves of each recording ({len(halves_axes['thighs'])} thighs): whole-session flexion axis "
                  f"max {m['strap_flexion_axis_deg']:.2f}°, the calibrations' flexion axis max "
                  f"{m['calibration_flexion_axis_deg']:.2f}°, long axis max {m['long_axis_deg']:.2f}°")
        for p in pairs["pairs"]:
            print(f"R2 subject {p['subject']} {p['side']:5s} {p['files'][0]} vs {p['files'][1]} ({p['dates'][0]} / "
                  f"{p['dates'][1]}): long axis {p['long_axis_deg']:.1f}°, flexion axis {p['flexion_axis_deg']:.1f}°"
                  + (" (gyro x10-corrupted: axes only)" if p["gyro_x10_corrupted"] else "")
                  + (f"; whole-session flexion axis {p['strap_flexion_axis_deg']:.1f}°; hip range {p['rom_diff_deg']:+.2f}° "
                     f"(stride-bootstrap SD {p['rom_sampling_sd_deg']:.2f}°, "
                     f"kept-on budget SD {p['rom_kept_on_budget_sd_deg']:.2f}°, z {p['rom_z']:+.2f}, strides "
                     f"{p['n_strides'][0]}/{p['n_strides'][1]})" if "rom_diff_deg" in p else ""))
        if not pairs["pairs"]:
            print("R2: no subject with two recordings among the files given (the full HuGaDB set is in BlackPer/Legpro)")
    if every or a.rom_error:
        if not Path(a.fukuchi).is_dir():
            print(f"{a.fukuchi} not found — the hip-range error against motion capture is skipped", file=sys.stderr)
        else:
            out["R3_rom_error_vs_mocap"] = rom = rom_error_vs_mocap(Path(a.fukuchi))
            for r in rom["rows"]:
                print(f"R3 {r['case']} {r['side']:5s}: hip range {r['rom_deg']:.2f}° vs mocap {r['mocap_rom_deg']:.2f}° "
                      f"→ error {r['error_deg']:+.2f}°")
            for x in rom["same_leg_changes"]:
                print(f"R3 same leg {x['runner']} {x['side']}: error changed by {x['error_change_deg']:+.2f}° "
                      f"({x['cases'][0]} → {x['cases'][1]}, cluster kept on)")
            print(f"R3 SD of the per-session error over legs: {rom['sd_over_legs_deg']:.2f}°; kept on, per session: "
                  f"{rom['kept_on_per_session_deg']:.3f}°")
    if every or a.issue12:
        md = Path(a.issue12 or Path(__file__).resolve().parents[1] / "docs" / "validation.md")
        r4 = issue12_per_session(md) if md.exists() else {}
        if not r4 or not r4.get("n_leg_sessions"):
            print(f"{md}: no per-session table of #12 found — R4 skipped", file=sys.stderr)
        else:
            out["R4_issue12_per_session"] = r4
            for k, unit in (("rom_deg", "°"), ("stance_ms", " ms"), ("swing_pts", " pts")):
                v = r4[k]
                print(f"R4 {k}: SD over {r4['n_leg_sessions']} leg-sessions {v['sd_over_leg_sessions']:.2f}{unit}; "
                      f"left vs right of one trial {v['per_placement_sd']:.2f}{unit} per placement; same leg across "
                      f"speeds " + ", ".join(f"{n} {c:+.2f}" for n, c in v["same_leg_changes"].items()))
    if files and (every or a.halves):
        out["halves"] = hv = halves(files)
        for m, v in hv.items():
            print(f"halves {m}: RMS diff {v['rms_diff']:.4g} vs bootstrap SE {v['rms_bootstrap_se']:.4g} "
                  f"→ excess {v['excess_sd_per_half']:.4g} per half ({v['n_thighs']} thighs)")
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
