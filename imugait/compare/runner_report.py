"""One-page report of one run for the runner: key numbers, drift over the run, balance.

Drift ("fatigue"): per-minute medians of each metric, and the change from the first to the
last fifth of the running time (at most 5 min each) with a block-bootstrap 95 % CI —
"clear" only when the interval excludes 0. Balance: runner-style left share
``100·L/(L+R)`` of the per-leg medians (50 % = even).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

import imugait.extras as extras
import imugait.outputs as outputs
from imugait.compare import stats
from imugait.compare.comparison import CompareParams
from imugait.compare.data import SessionData
from imugait.analysis.metrics import metric_info
from imugait.analysis.summary import balance_left_pct, ln_ratio_pct
from imugait.compare.report_html import esc, img_tag, page

TREND_METRICS = ("rom_deg", "cadence_spm", "stance_s", "swing_pct")
BALANCE_METRICS = ("stance_s", "rom_deg", "swing_pct")


def per_minute(sd: SessionData, bin_s: float = 60.0) -> pd.DataFrame:
    """Per-minute medians per side: columns ``minute, side, n`` + metric medians."""
    v = sd.valid_strides()
    if v.empty:
        return pd.DataFrame(columns=["minute", "side", "n", *TREND_METRICS])
    t0 = v["ic_s"].min()
    v = v.assign(minute=((v["ic_s"] - t0) // bin_s).astype(int))
    cols = [m for m in TREND_METRICS if m in v.columns]
    g = v.groupby(["minute", "side"])
    out = g[cols].median()
    out["n"] = g.size()
    return out.reset_index()


def drift(sd: SessionData, seed: int = 0) -> list[dict]:
    """First vs last part of the run per side and metric (block-bootstrap CI)."""
    rows = []
    for side in sd.sides:
        v = sd.valid_strides(side)
        if len(v) < 40:
            continue
        t = v["ic_s"].to_numpy(float)
        span = t.max() - t.min()
        part = min(span / 5.0, 300.0)
        first = t <= t.min() + part
        last = t >= t.max() - part
        for m in TREND_METRICS:
            if m not in v.columns:
                continue
            x = v[m].to_numpy(float)
            # same interval as `imugait compare` (guard-banded 95 %); one session, so no
            # between-session measurement error
            r = stats.bootstrap_median_diff([x[first]], [x[last]], n_boot=1000, seed=seed,
                                            level=CompareParams().ci_level)
            info = metric_info(m)
            clear = math.isfinite(r["ci_low"]) and (r["ci_low"] > 0 or r["ci_high"] < 0)
            if clear:
                word = "rose" if r["diff"] > 0 else "fell"
                span_txt = f"{part:.0f} s" if part < 120 else f"{part / 60:.0f} min"
                text = (f"{side.capitalize()} {info.label} {word} by {info.fmt(abs(r['diff']), diff=True)} from the first to "
                        f"the last {span_txt} (95 % CI {info.fmt(r['ci_low'], unit=False)} to "
                        f"{info.fmt(r['ci_high'], diff=True)}).")
            else:
                text = f"{side.capitalize()} {info.label}: steady over the run ({info.fmt(r['diff'], signed=True, diff=True)})."
            rows.append({"side": side, "metric": m, "first_median": r["before_median"], "last_median": r["after_median"],
                         "diff": r["diff"], "ci_low": r["ci_low"], "ci_high": r["ci_high"], "clear": clear,
                         "part_s": part, "text": text})
    return rows


def balance(sd: SessionData) -> list[dict]:
    out: list = []
    if len(sd.sides) < 2:
        return out
    L, R = sd.valid_strides("left"), sd.valid_strides("right")
    for m in BALANCE_METRICS:
        if m not in L.columns or L.empty or R.empty:
            continue
        lm, rm = float(L[m].median()), float(R[m].median())
        b = float(balance_left_pct(lm, rm))
        info = metric_info(m)
        if not math.isfinite(b):
            continue
        lean = "even" if abs(b - 50) <= 1.0 else ("more on the left" if b > 50 else "more on the right")
        out.append({"metric": m, "left": lm, "right": rm, "balance_left_pct": b,
                    "ln_ratio_pct": float(ln_ratio_pct(lm, rm)),
                    "text": f"{info.label}: {b:.1f} % left / {100 - b:.1f} % right ({lean})"})
    return out


def _fig_trend(sd: SessionData, pm: pd.DataFrame):
    import matplotlib.pyplot as plt

    from imugait.compare.figures import LEFT_C, RIGHT_C, legend

    fig, axes = plt.subplots(2, 2, figsize=(7, 4.8), sharex=True, layout="constrained")
    for ax, m in zip(axes.ravel(), TREND_METRICS):
        info = metric_info(m)
        for side, c in (("left", LEFT_C), ("right", RIGHT_C)):
            d = pm[pm["side"] == side]
            if d.empty or m not in d.columns:
                continue
            ax.plot(d["minute"] + 0.5, d[m] * info.scale, "o-", color=c, ms=3, lw=1.5, label=side)
        ax.set_title(f"{info.label} ({info.unit})", fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    for ax in axes[1]:
        ax.set_xlabel("minute of the run", fontsize=8)
    legend(axes[0][0], fontsize=8)
    fig.suptitle("Per-minute medians: how the run developed", fontsize=11)
    return fig


def _fig_cycle(sd: SessionData):
    import matplotlib.pyplot as plt

    from imugait.compare.figures import LEFT_C, RIGHT_C, legend

    if not sd.cycles:
        return None
    fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
    for side, c in (("left", LEFT_C), ("right", RIGHT_C)):
        a = sd.cycles.get(side)
        if a is None or np.asarray(a).ndim != 2 or len(a) == 0:
            continue
        a = np.asarray(a, float)
        x = np.linspace(0, 100, a.shape[1])
        m, s = np.nanmean(a, 0), np.nanstd(a, 0)
        ax.fill_between(x, m - s, m + s, color=c, alpha=0.2, lw=0)
        ax.plot(x, m, color=c, lw=2, label=f"{side} (n={len(a)})")
    ax.set_xlabel("gait cycle (%), 0 = foot contact")
    ax.set_ylabel("thigh angle (°)")
    ax.grid(alpha=0.3)
    legend(ax, fontsize=8)
    ax.set_title("Your thigh swing, left vs right (mean ± SD)", fontsize=11)
    return fig


def _key_numbers(sd: SessionData) -> list[tuple[str, str]]:
    v = sd.valid_strides()
    out: list = []
    if v.empty:
        return out
    t = v["ic_s"].to_numpy(float)
    out.append(("running time", f"{(t.max() - t.min()) / 60:.1f} min"))
    out.append(("strides analysed", f"{len(v)}"))
    for m in ("cadence_spm", "stride_s"):
        info = metric_info(m)
        out.append((info.label, info.fmt(float(v[m].median()))))
    for m in ("rom_deg", "stance_s", "swing_pct"):
        info = metric_info(m)
        parts = []
        for side in sd.sides:
            vs = sd.valid_strides(side)
            parts.append(f"{side[0].upper()} {info.fmt(float(vs[m].median()))}")
        out.append((info.label, " · ".join(parts)))
    return out


def write_runner_report(sd: SessionData, out_dir) -> Path:
    extras.require("reports", "the runner report (its figures)")
    from imugait.compare.figures import png_bytes  # matplotlib: the [reports] extra

    out = outputs.out_dir(out_dir)
    pm = per_minute(sd)
    dr = drift(sd)
    bal = balance(sd)
    created = sd.meta.get("created_utc", "")
    body = [f"<h1>Your run: {esc(sd.name)}</h1>",
            f"<div class='sub'>{esc(created)} {esc(sd.meta.get('condition', '') or '')} "
            f"{esc(sd.meta.get('subject_id', '') or '')}</div>"]
    keys = _key_numbers(sd)
    failed = {side: c.get("message") or "calibration failed" for side, c in sorted(sd.calibration.items())
              if c.get("failed")}
    for side, msg in failed.items():
        body.append(f"<div class='warn'>{esc(side.capitalize())} sensor: {esc(msg)}. Its numbers are not trustworthy "
                    "and were left out — check the sensor (range and scale settings, firmware) and record again.</div>")
    if not keys and not failed:
        body.append("<div class='warn'>No valid strides were found in this session — was the sensor worn on the thigh "
                    "and did the recording include running or walking?</div>")
    body.append("<h2>Key numbers</h2><div class='cards'>" + "".join(
        f"<div class='card'><div class='what'>{esc(k)}</div><div class='big'>{esc(v)}</div></div>" for k, v in keys) + "</div>")
    if bal:
        body.append("<h2>Left / right balance</h2><ul>" + "".join(f"<li>{esc(b['text'])}</li>" for b in bal) + "</ul>"
                    "<p class='sub'>50 % is perfectly even; most runners lie within 48–52 % for contact time.</p>")
    clear = [d for d in dr if d["clear"]]
    body.append("<h2>Over the run (fatigue shows here)</h2>")
    if dr:
        body.append("<ul>" + "".join(f"<li>{esc(d['text'])}</li>" for d in (clear or dr[:2])) + "</ul>")
        if not clear:
            body.append("<p class='sub'>No clear drift in any metric.</p>")
    elif keys:
        body.append("<p class='sub'>The run is too short to look at drift (fewer than 40 strides per leg).</p>")
    else:
        body.append("<p class='sub'>No valid strides to follow over the run.</p>")
    for fname, fig in (("trend", _fig_trend(sd, pm) if len(pm) else None), ("cycle", _fig_cycle(sd))):
        if fig is None:
            continue
        png = png_bytes(fig)
        outputs.write_bytes(out / f"{fname}.png", png)
        body.append(img_tag(png, fname))
    body.append("<p class='sub'>Hip range = thigh flexion–extension range per stride (a thigh sensor does not see "
                "the pelvis). Contact time carries ±20–40 ms uncertainty from a thigh sensor; cadence and stride "
                "time are accurate.</p>")
    with outputs.atomic_open(out / "per_minute.csv", newline="") as f:
        pm.to_csv(f, index=False)

    outputs.write_text(out / "runner_report.json", json.dumps(outputs.jsonable(
        {"session": sd.name, "file": str(sd.path) if sd.path else None, "key_numbers": dict(keys),
         "balance": bal, "drift": dr}), indent=2, allow_nan=False))
    path = out / "report.html"
    outputs.write_text(path, page(f"imugait run report: {sd.name}", "\n".join(body)))
    return path
