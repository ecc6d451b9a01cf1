"""Group study: did the condition change the runners' gait? Paired statistics across runners.

``imugait compare`` answers for one runner (strides are the sample). A paper asks about a
group, and there the *runner* is the sample: each runner contributes one number per
condition (the median over all their valid strides in that condition, pooled over their
sessions — the "summary statistic" approach), and the per-runner differences are tested.

Input: the combined stride table of ``imugait reprocess`` (``strides.parquet`` / ``.csv``,
or the folder), which carries ``subject_id`` and ``condition`` from the session metadata.
Per-stride values are exactly those of ``compare`` (same metrics, same left/right stride
pairing for the asymmetries: :func:`imugait.compare.comparison.side_series`,
:func:`~imugait.compare.comparison.asym_series`). Values are in the units of the metric
names (``_deg``, ``_s``, ``_spm``; the ``asym_*_pct`` asymmetries 100·ln(L/R), differences in
% points).

Per side and metric: number of runners with both conditions, mean and median of the
per-runner differences (after − before), a 95 % t-interval of the mean difference, the
Wilcoxon signed-rank p-value (exact for n ≤ 25, two-sided), Cohen's d_z (mean / SD of the
differences), and how many runners went up / down. Runners with only one condition are
listed and left out.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import imugait.outputs as outputs
from imugait.compare.data import SessionData
from imugait.analysis.metrics import ASYM_METRICS, SIDE_METRICS, metric_info
from imugait.errors import ImugaitError, InputFileError
from imugait.compare.comparison import asym_series, side_series
from imugait.store.importers import file_sha256

GROUP_SCHEMA = "imugait.group/1"


def table_file(path) -> Path:
    """The stride table behind ``path`` (a file, or reprocess's output folder)."""
    p = Path(path)
    if p.is_dir():
        for name in ("strides.parquet", "strides.csv"):
            if (p / name).exists():
                return p / name
    return p


def source_provenance(path) -> dict:
    """Where the table came from: its file and SHA-256, and from reprocess's
    ``provenance.json`` beside it the algorithm version, parameters hash and command."""
    f = table_file(path)
    out: dict[str, Any] = {"table": str(f), "table_sha256": file_sha256(f)}
    prov = f.parent / "provenance.json"
    if prov.exists():
        try:
            pj = json.loads(prov.read_text())
            out["reprocess"] = {k: pj.get(k) for k in ("imugait_version", "algorithm_version", "params_sha256",
                                                        "command", "finished_utc", "n_files", "n_failed")}
        except ValueError:
            out["reprocess"] = "provenance.json unreadable"
    return out


def read_stride_table(path) -> pd.DataFrame:
    """A ``reprocess`` stride table: ``strides.parquet``, ``strides.csv`` or their folder."""
    p = table_file(path)
    if p.is_dir():
        raise InputFileError(path, None, "holds no strides.parquet or strides.csv",
                             "give the output folder of `imugait reprocess` or one of its tables")
    if not p.exists():
        raise InputFileError(p, None, "does not exist", "check the path")
    try:
        df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
    except Exception as e:  # noqa: BLE001
        raise InputFileError(p, None, f"cannot be read as a stride table ({type(e).__name__})",
                             "give strides.parquet or strides.csv written by `imugait reprocess`") from e
    need = {"subject_id", "condition", "side", "ic_s"}
    missing = sorted(need - set(df.columns))
    if missing:
        raise InputFileError(p, "columns", f"lacks {', '.join(missing)}",
                             "give the combined table written by `imugait reprocess`")
    return df


def runner_values(table: pd.DataFrame) -> pd.DataFrame:
    """One row per runner × condition × side × metric: the median over the runner's valid
    strides of that condition (sessions pooled), with the number of strides behind it."""
    t = table.copy()
    t["subject_id"] = t["subject_id"].fillna("").astype(str)
    t["condition"] = t["condition"].fillna("").astype(str)
    if "valid" in t.columns:
        t["valid"] = t["valid"].astype(bool)
    skey = "file" if "file" in t.columns else ("session" if "session" in t.columns else None)
    rows = []
    for (subj, cond), g in t.groupby(["subject_id", "condition"], sort=True):
        if not subj or not cond:
            continue
        parts = g.groupby(skey, sort=False) if skey else [("all", g)]
        sessions = [SessionData(name=str(k), strides=d.sort_values("ic_s", kind="stable")) for k, d in parts]
        series = [(side, m, side_series(sessions, side, m)) for side in ("left", "right") for m in SIDE_METRICS]
        series += [("both", m, asym_series(sessions, src)) for m, (src, _i) in ASYM_METRICS.items()]
        for side, metric, ser in series:
            x = np.concatenate([v for _t, v in ser]) if ser else np.array([])
            x = x[np.isfinite(x)]
            if x.size:
                rows.append({"subject_id": subj, "condition": cond, "side": side, "metric": metric,
                             "median": float(np.median(x)), "n_strides": int(x.size), "n_sessions": len(ser)})
    return pd.DataFrame(rows, columns=["subject_id", "condition", "side", "metric", "median", "n_strides",
                                       "n_sessions"])


def paired_stats(d: np.ndarray, level: float = 0.95) -> dict:
    """Statistics of per-runner differences ``d`` (after − before)."""
    from scipy import stats

    d = np.asarray(d, float)
    d = d[np.isfinite(d)]
    n = int(d.size)
    out = {"n_runners": n, "mean_diff": float("nan"), "median_diff": float("nan"), "ci_low": float("nan"),
           "ci_high": float("nan"), "sd_diff": float("nan"), "cohens_dz": float("nan"), "p_wilcoxon": float("nan"),
           "n_up": int((d > 0).sum()), "n_down": int((d < 0).sum())}
    if n == 0:
        return out
    out["mean_diff"] = float(d.mean())
    out["median_diff"] = float(np.median(d))
    if n >= 2:
        sd = float(d.std(ddof=1))
        out["sd_diff"] = sd
        half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
        out["ci_low"], out["ci_high"] = out["mean_diff"] - half, out["mean_diff"] + half
        out["cohens_dz"] = out["mean_diff"] / sd if sd > 0 else float("nan")
        if np.any(d != 0):
            out["p_wilcoxon"] = float(stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
    return out


def group_compare(table: pd.DataFrame, before: str, after: str, level: float = 0.95) -> tuple[pd.DataFrame, dict]:
    """Paired comparison of conditions ``before`` and ``after`` across runners.

    Returns ``(results, info)``: one row per side × metric (see the module docstring) and a
    dict with the runners used, those left out, and the per-runner values."""
    if str(before) == str(after):
        raise ImugaitError(f"before and after both name the condition {before!r} — a group comparison needs two "
                           "different conditions (e.g. --before pre --after post; `imugait info FILE` shows a "
                           "session's condition)")
    rv = runner_values(table)
    conds = sorted(set(rv["condition"])) if len(rv) else []
    for c in (before, after):
        if c not in conds:
            raise InputFileError("the stride table", "column condition", f"has no condition {c!r} "
                                 f"(found: {', '.join(conds) or 'none'})",
                                 "label sessions with `imugait import/record --condition` or pick one of those")
    subj_b = set(rv.loc[rv.condition == before, "subject_id"])
    subj_a = set(rv.loc[rv.condition == after, "subject_id"])
    paired = sorted(subj_b & subj_a)
    left_out = {"only_" + before: sorted(subj_b - subj_a), "only_" + after: sorted(subj_a - subj_b)}
    rows = []
    order = [(s, m) for s in ("left", "right") for m in SIDE_METRICS] + [("both", m) for m in ASYM_METRICS]
    per_runner = {}
    for side, metric in order:
        sel = rv[(rv.side == side) & (rv.metric == metric) & rv.subject_id.isin(paired)]
        w = sel.pivot_table(index="subject_id", columns="condition", values="median", aggfunc="first")
        if before not in w.columns or after not in w.columns:
            continue
        w = w[[before, after]].dropna()
        d = (w[after] - w[before]).to_numpy(float)
        r = paired_stats(d, level)
        info = metric_info(metric)
        r.update(side=side, metric=metric, label=info.label,
                 before_mean=float(w[before].mean()) if len(w) else float("nan"),
                 after_mean=float(w[after].mean()) if len(w) else float("nan"))
        r["verdict"] = _verdict(side, info, r, level)
        rows.append(r)
        per_runner[f"{side}/{metric}"] = {s: [float(w.loc[s, before]), float(w.loc[s, after])] for s in w.index}
    cols = ["side", "metric", "label", "n_runners", "before_mean", "after_mean", "mean_diff", "ci_low", "ci_high",
            "median_diff", "sd_diff", "cohens_dz", "p_wilcoxon", "n_up", "n_down", "verdict"]
    res = pd.DataFrame(rows, columns=cols)
    about = {"schema": GROUP_SCHEMA, "before": before, "after": after, "level": level, "runners": paired,
            "left_out": left_out, "per_runner": per_runner,
            "method": "per runner and condition the median over valid strides (sessions pooled); paired "
                      "differences across runners: mean with t-interval, Wilcoxon signed-rank, Cohen's d_z"}
    return res, about


def _verdict(side: str, info, r: dict, level: float) -> str:
    who = {"left": "Left ", "right": "Right ", "both": ""}[side]
    name = (who + info.label) if who else info.label[0].upper() + info.label[1:]
    n = r["n_runners"]
    if n < 2:
        return f"{name}: {n} runner(s) with both conditions — too few to say anything."
    diff = info.fmt(r["mean_diff"], signed=True, diff=True)
    ci = f"{info.fmt(r['ci_low'], diff=True, unit=False)} to {info.fmt(r['ci_high'], diff=True)}"
    p = r["p_wilcoxon"]
    ptxt = f"Wilcoxon p = {p:.3g}" if math.isfinite(p) else "Wilcoxon p n/a"
    pct = round(100 * level)
    clear = r["ci_low"] > 0 or r["ci_high"] < 0
    head = f"{name} {'changed' if clear else 'did not change clearly'}"
    few = " (with fewer than 6 runners the signed-rank test cannot reach p < 0.05)" if n < 6 else ""
    return (f"{head}: mean {diff} ({pct} % CI {ci}) over {n} runners, {r['n_up']} up / {r['n_down']} down; "
            f"{ptxt}{few}; d_z {r['cohens_dz']:.2f}.")


def write_group(res: pd.DataFrame, info: dict, out_dir, source: dict | None = None) -> Path:
    """``group.csv`` and ``group.json`` (``source``: :func:`source_provenance` of the table)."""
    out = outputs.out_dir(out_dir)
    with outputs.atomic_open(out / "group.csv", newline="") as f:
        res.to_csv(f, index=False, float_format="%.6g")

    doc = dict(info)
    if source:
        doc["source"] = source
    doc["metrics"] = res.to_dict(orient="records")
    outputs.write_text(out / "group.json", json.dumps(outputs.jsonable(doc), indent=2, allow_nan=False))
    return out
