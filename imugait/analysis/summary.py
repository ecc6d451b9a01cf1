"""Per-bout / per-side summaries and left/right asymmetry.

Summaries use valid strides only: median, IQR (q75 − q25), CV (% = 100·SD/|mean|) and n.

Asymmetry (two sensors). Each valid left stride is paired with the valid right stride that
begins inside it (right IC between the left IC and the next left IC, overlap ≥ 25 %). Per
metric and pair:

* ``ln_ratio_pct`` = 100·ln(L/R) — symmetric, additive; ≈ % difference. Positive: left larger.
* ``balance_left_pct`` = 100·L/(L+R) — the "L/R balance" runners know (50 % = symmetric).

Both need positive quantities (times, ROM, swing %, cadence). Signed angles (peak
flexion/extension, which can be either side of zero and depend on the standing neutral) get
the difference ``diff_deg`` = L − R instead (positive: left more flexed / less extended),
which is what a clinician reads off two curves. Session values are medians over pairs.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from imugait.analysis.metrics import POSITIVE_METRICS, SIGNED_METRICS, SUMMARY_METRICS


def ln_ratio_pct(left, right) -> np.ndarray:
    """Per-pair asymmetry ``100 · ln(L/R)`` (≈ % difference, symmetric and additive; positive:
    left larger). NaN where either value is not positive. The one implementation used by the
    summary, the comparison and the live view."""
    left = np.asarray(left, float)
    right = np.asarray(right, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = 100.0 * np.log(left / right)
    v = np.where((left > 0) & (right > 0), v, np.nan)
    return v


def balance_left_pct(left, right) -> np.ndarray:
    """Runner-style L/R balance ``100 · L/(L+R)`` (50 % = symmetric; "50.8 % L"). NaN where
    the sum is not positive or a value is missing."""
    left = np.asarray(left, float)
    right = np.asarray(right, float)
    tot = left + right
    with np.errstate(divide="ignore", invalid="ignore"):
        b = 100.0 * left / tot
    return np.where(np.isfinite(b) & (tot > 0), b, np.nan)


def describe(x) -> dict:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"median": None, "iqr": None, "cv_pct": None, "mean": None, "sd": None, "n": 0}
    q25, q50, q75 = np.quantile(x, [0.25, 0.5, 0.75])
    m = float(x.mean())
    sd = float(x.std(ddof=1)) if x.size > 1 else 0.0
    return {"median": float(q50), "iqr": float(q75 - q25), "cv_pct": float(100 * sd / abs(m)) if m else None,
            "mean": m, "sd": sd, "n": int(x.size)}


def side_summary(df: pd.DataFrame) -> dict:
    v = df[df["valid"].astype(bool)]
    out = {"n_strides": int(len(df)), "n_valid": int(len(v)),
           "rejected": {str(k): int(n) for k, n in df.loc[~df["valid"].astype(bool), "reason"].value_counts().items()},
           "metrics": {m: describe(v[m]) for m in SUMMARY_METRICS if m in v}}
    bouts = []
    for b, g in df[df["bout_index"] >= 0].groupby("bout_index"):
        gv = g[g["valid"].astype(bool)]
        gait = gv["gait"].mode().iloc[0] if len(gv) and gv["gait"].astype(bool).any() else ""
        bouts.append({"bout_index": int(b), "start_s": float(g["ic_s"].min()), "end_s": float(g["next_ic_s"].max()),
                      "n_strides": int(len(g)), "n_valid": int(len(gv)), "gait": str(gait),
                      "metrics": {m: describe(gv[m]) for m in SUMMARY_METRICS}})
    out["bouts"] = bouts
    gaits = v["gait"].value_counts()
    out["gait"] = {str(k): int(n) for k, n in gaits.items()}
    return out


def pair_strides(left: pd.DataFrame, right: pd.DataFrame) -> list[tuple[int, int]]:
    """Pairs of (left row label, right row label), valid strides only: each left stride with
    the right stride that begins inside it (right IC in [left IC, next left IC) — the
    contralateral contact at ≈ 50 % of the stride), the two overlapping by ≥ 25 % of the shorter."""
    L = left[left["valid"].astype(bool)]
    R = right[right["valid"].astype(bool)]
    if L.empty or R.empty:
        return []
    r0 = R["ic_s"].to_numpy()
    r1 = R["next_ic_s"].to_numpy()
    order = np.argsort(r0)
    r0s = r0[order]
    pairs = []
    for li, (a, b) in zip(L.index, L[["ic_s", "next_ic_s"]].to_numpy()):
        j0, j1 = np.searchsorted(r0s, a, "left"), np.searchsorted(r0s, b, "left")
        if j1 - j0 != 1:
            continue
        j = order[j0]
        ov = min(b, r1[j]) - max(a, r0[j])
        if ov >= 0.25 * min(b - a, r1[j] - r0[j]):
            pairs.append((li, R.index[j]))
    return pairs


def asymmetry(left: pd.DataFrame, right: pd.DataFrame) -> dict:
    pairs = pair_strides(left, right)
    out: dict = {"n_pairs": len(pairs), "pairing": "each valid left stride with the valid right stride that begins inside it",
           "metrics": {}}
    if not pairs:
        out["note"] = "no overlapping valid left/right strides"
        return out
    li = [p[0] for p in pairs]
    ri = [p[1] for p in pairs]
    for m in POSITIVE_METRICS:
        lv = left.loc[li, m].to_numpy(float)
        rv = right.loc[ri, m].to_numpy(float)
        ok = (lv > 0) & (rv > 0) & np.isfinite(lv) & np.isfinite(rv)
        if not ok.any():
            continue
        lr = ln_ratio_pct(lv[ok], rv[ok])
        bal = balance_left_pct(lv[ok], rv[ok])
        out["metrics"][m] = {"ln_ratio_pct": float(np.median(lr)), "ln_ratio_pct_iqr": float(np.subtract(*np.quantile(lr, [0.75, 0.25]))),
                             "balance_left_pct": float(np.median(bal)), "left_median": float(np.median(lv[ok])),
                             "right_median": float(np.median(rv[ok])), "n": int(ok.sum())}
    for m in SIGNED_METRICS:
        lv = left.loc[li, m].to_numpy(float)
        rv = right.loc[ri, m].to_numpy(float)
        d = lv - rv
        d = d[np.isfinite(d)]
        if d.size:
            out["metrics"][m] = {"diff_deg": float(np.median(d)), "diff_deg_iqr": float(np.subtract(*np.quantile(d, [0.75, 0.25]))),
                                 "left_median": float(np.nanmedian(lv)), "right_median": float(np.nanmedian(rv)), "n": int(d.size)}
    return out


def pair_table(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Per-pair asymmetry table (for plots / comparison)."""
    rows = []
    for li, ri in pair_strides(left, right):
        row = {"left_stride_index": int(left.loc[li, "stride_index"]), "right_stride_index": int(right.loc[ri, "stride_index"]),
               "ic_s": float(left.loc[li, "ic_s"])}
        for m in POSITIVE_METRICS:
            lv, rv = float(left.loc[li, m]), float(right.loc[ri, m])
            row[f"{m}_ln_ratio_pct"] = float(ln_ratio_pct(lv, rv))
        for m in SIGNED_METRICS:
            row[f"{m}_diff"] = float(left.loc[li, m]) - float(right.loc[ri, m])
        rows.append(row)
    return pd.DataFrame(rows)
