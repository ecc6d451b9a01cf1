"""Validation on real running with force-plate truth (virtual thigh IMUs from motion capture).

Cases are folders holding ``left.csv``, ``right.csv`` (the project's CSV import format),
``truth.json`` (force-plate IC/TO and mocap thigh values per stride) and
``mocap_thigh_angle.csv`` — the layout of ``/work/shared/data/running_fukuchi`` and of the
folders ``tools/fukuchi_virtual_imu.py`` writes. Used by ``tools/validate.py``.

Scoring (the data set's README): each truth stride is matched to the valid detected stride of
the same side whose IC is nearest, within 30 % of the median stride time; unmatched truth
strides are misses, unmatched detections inside the truth span are false. Errors = ours − truth.

Leave-one-subject-out (LOSO): the two running constants (``ic_after_rise_run_frac``,
``to_after_trough_run_frac``) are refitted without the held-out runner — the mean over runners of
each runner's mean (truth event − fiducial)/stride — and the held-out runner is analysed again
with them.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from imugait.analysis import AnalysisParams, analyze
from imugait.store import read_imu_csv

RUN_CONSTANTS = ("ic_after_rise_run_frac", "to_after_trough_run_frac")


def find_cases(dirs) -> list[dict]:
    """Case folders below the given directories (each with truth.json and left/right.csv)."""
    out = []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            continue
        for f in sorted(d.glob("*/truth.json")):
            c = f.parent
            if not ((c / "left.csv").exists() and (c / "right.csv").exists()):
                continue
            tr = json.loads(f.read_text())
            subject = tr.get("subject") or c.name.split("_")[0].upper()
            out.append({"name": c.name, "path": str(c), "subject": _subject_id(subject), "speed_mps": float(tr["speed_mps"]),
                        "source": str(d)})
    return out


def _subject_id(s: str) -> str:
    s = s.upper().replace("RBDS0041", "RBDS004")  # RBDS0041 is the file name of runner RBDS004's session 1
    return s


def load_inputs(case: dict, crop: tuple | None = None, keep_standing: bool = True) -> dict:
    """(t, acc, gyr) per side, optionally cropped to ``crop`` = (t0_s, t1_s) (the standing
    period before 4 s is kept when ``keep_standing``)."""
    out = {}
    for side in ("left", "right"):
        tab = read_imu_csv(Path(case["path"]) / f"{side}.csv")
        m = np.ones(tab.n, bool)
        if crop is not None:
            m = (tab.t_s >= crop[0]) & (tab.t_s < crop[1])
            if keep_standing:
                m |= tab.t_s < 4.0
        out[side] = (tab.t_s[m], tab.acc_mps2[m], tab.gyr_dps[m])
    return out


def truth_strides(case: dict, side: str, crop: tuple | None = None) -> pd.DataFrame:
    tr = json.loads((Path(case["path"]) / "truth.json").read_text())
    rows = [s for s in tr["strides"] if s["side"] == side]
    df = pd.DataFrame(rows)
    if crop is not None and len(df):
        df = df[(df.ic_s >= crop[0] + 0.3) & (df.next_ic_s <= crop[1] - 0.1)]
    return df.reset_index(drop=True)


def score(ours: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Match and errors for one side (see the module docstring)."""
    O = ours[ours["valid"].astype(bool)].reset_index(drop=True)
    res = {"n_truth": int(len(truth)), "tp": 0, "fp": 0, "rows": []}
    if not len(truth):
        return res
    med = float(np.median(truth.stride_s))
    oic = O.ic_s.to_numpy()
    used = set()
    for r in truth.itertuples():
        if not len(oic):
            break
        j = int(np.argmin(np.abs(oic - r.ic_s)))
        if abs(oic[j] - r.ic_s) < 0.3 * med and j not in used:
            used.add(j)
            o = O.iloc[j]
            T = r.next_ic_s - r.ic_s
            res["rows"].append({
                "stride_s": T, "ic_err_ms": 1e3 * (o.ic_s - r.ic_s), "to_err_ms": 1e3 * (o.to_s - r.to_s),
                "stance_err_ms": 1e3 * ((o.to_s - o.ic_s) - (r.to_s - r.ic_s)),
                "swing_err_pct": float(o.swing_pct - 100 * (r.next_ic_s - r.to_s) / T),
                "rom_err_deg": float(o.rom_deg - r.rom_deg), "gait": o.gait,
            })
    lo, hi = truth.ic_s.min() - 0.3 * med, truth.next_ic_s.max() + 0.3 * med
    res["fp"] = int(sum(1 for j, x in enumerate(oic) if j not in used and lo <= x <= hi))
    res["tp"] = len(res["rows"])
    return res


def analyse_case(case: dict, params: AnalysisParams, crop=None, keep_standing=True) -> dict:
    inputs = load_inputs(case, crop, keep_standing)
    res = analyze(inputs["left"], inputs["right"], params=params)
    out = {"case": case["name"], "subject": case["subject"], "speed_mps": case["speed_mps"], "sides": {}}
    mocap = pd.read_csv(Path(case["path"]) / "mocap_thigh_angle.csv")
    for side in ("left", "right"):
        ours = res.strides[res.strides.side == side]
        sc = score(ours, truth_strides(case, side, crop))
        t, a = res.angles[side]
        sign_ok = None
        if len(t) > 10:
            mt = mocap.time_s.to_numpy()
            k = (mt >= t[0]) & (mt <= t[-1])
            if k.sum() > 10:
                sign_ok = bool(np.corrcoef(np.interp(mt[k], t, a), mocap[f"{side}_deg"].to_numpy()[k])[0, 1] > 0)
        cal = res.calibration[side]
        sc.update(sign_ok=sign_ok, calibrated=cal.calibrated, still_found=cal.still_found,
                  sign_confidence=cal.sign_confidence, n_valid=int(ours.valid.sum()))
        out["sides"][side] = sc
    return out


def case_job(args) -> dict:
    case, params_dict, crop, keep_standing = args
    return analyse_case(case, AnalysisParams.from_dict(params_dict), crop, keep_standing)


def errors_frame(results: list[dict]) -> pd.DataFrame:
    rows = []
    for r in results:
        for side, sc in r["sides"].items():
            for e in sc["rows"]:
                rows.append({"case": r["case"], "subject": r["subject"], "speed_mps": r["speed_mps"], "side": side, **e})
    return pd.DataFrame(rows)


def fit_running_constants(err: pd.DataFrame, base: AnalysisParams) -> dict:
    """The two running constants that remove the mean error: mean over runners of each
    runner's mean (error / stride) subtracted from the constants ``err`` was made with."""
    if err.empty:
        return {k: getattr(base, k) for k in RUN_CONSTANTS}
    per = err.assign(ic=err.ic_err_ms / 1e3 / err.stride_s, to=err.to_err_ms / 1e3 / err.stride_s).groupby("subject")[["ic", "to"]].mean()
    return {"ic_after_rise_run_frac": round(base.ic_after_rise_run_frac - float(per.ic.mean()), 4),
            "to_after_trough_run_frac": round(base.to_after_trough_run_frac - float(per.to.mean()), 4)}


def summarize(rows: pd.DataFrame, counts: dict) -> dict:
    """Pooled figures for a set of matched strides and the tp/fp/n counts."""
    out = {"n_truth": counts["n"], "tp": counts["tp"], "fp": counts["fp"],
           "recall": counts["tp"] / counts["n"] if counts["n"] else None,
           "precision": counts["tp"] / (counts["tp"] + counts["fp"]) if counts["tp"] + counts["fp"] else None}
    for k in ("ic_err_ms", "to_err_ms", "stance_err_ms", "swing_err_pct", "rom_err_deg"):
        x = rows[k].to_numpy(float) if len(rows) else np.empty(0)
        x = x[np.isfinite(x)]
        if x.size:
            m, sd = float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else 0.0
            out[k] = {"bias": m, "sd": sd, "loa": (m - 1.96 * sd, m + 1.96 * sd), "n": int(x.size)}
    return out


def counts(results: list[dict], pred=lambda r: True) -> dict:
    c = {"n": 0, "tp": 0, "fp": 0}
    for r in results:
        if not pred(r):
            continue
        for sc in r["sides"].values():
            c["n"] += sc["n_truth"]
            c["tp"] += sc["tp"]
            c["fp"] += sc["fp"]
    return c


def run_all(cases: list[dict], base: AnalysisParams, pool_map, crops=(4.0, 6.0, 10.0)) -> dict:
    """Default-parameter run, LOSO run, per-speed tables and short-trial crops."""
    jobs = [(c, base.to_dict(), None, True) for c in cases]
    default = list(pool_map(case_job, jobs))
    err = errors_frame(default)
    all_fit = fit_running_constants(err, base)
    subjects = sorted({c["subject"] for c in cases})
    loso_params, loso_jobs = {}, []
    for s in subjects:
        fit = fit_running_constants(err[err.subject != s], base)
        loso_params[s] = fit
        p = replace(base, **fit)
        loso_jobs += [(c, p.to_dict(), None, True) for c in cases if c["subject"] == s]
    loso = list(pool_map(case_job, loso_jobs))
    crop_jobs, crop_meta = [], []
    for L in crops:
        for c in cases:
            for t0 in np.arange(6.0, 34.0 - L, 7.0):
                for standing in (False, True):
                    crop_jobs.append((c, base.to_dict(), (float(t0), float(t0 + L)), standing))
                    crop_meta.append({"L": L, "standing": standing})
    crop_res = list(pool_map(case_job, crop_jobs))
    return {"default": default, "loso": loso, "loso_params": loso_params, "all_subject_fit": all_fit,
            "crops": [dict(m, **r) for m, r in zip(crop_meta, crop_res)], "subjects": subjects}


def fmt_pm(d: dict | None, key: str, nd: int = 0) -> str:
    if not d or key not in d:
        return "–"
    v = d[key]
    return f"{v['bias']:+.{nd}f} ± {v['sd']:.{nd}f}"


def fmt_loa(d: dict | None, key: str, nd: int = 0) -> str:
    if not d or key not in d:
        return "–"
    lo, hi = d[key]["loa"]
    return f"{lo:+.{nd}f} … {hi:+.{nd}f}"


def fmt(x, nd=3) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{nd}f}"
