"""Figures for comparison and runner reports (matplotlib, Agg backend, no display).

Every function returns a matplotlib Figure; :func:`png_bytes` renders it. Sized for a phone
(≈ 7 in wide at 110 dpi) and readable in greyscale (before = dashed/blue, after = solid/orange).
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from imugait.analysis.metrics import metric_info  # noqa: E402
from imugait.analysis.metrics import ASYM_METRICS

BEFORE_C = "#1f77b4"
AFTER_C = "#ff7f0e"
LEFT_C = "#2a9d8f"
RIGHT_C = "#c0392b"
DPI = 110


def legend(ax, **kw) -> None:
    """``ax.legend(**kw)`` when something is labelled (an empty session draws nothing)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kw)


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _stack_cycles(sessions, side):
    arrs = [np.asarray(s.cycles.get(side), float) for s in sessions if s.cycles.get(side) is not None]
    arrs = [a for a in arrs if a.ndim == 2 and a.shape[0] > 0]
    if not arrs:
        return None
    return np.concatenate(arrs, axis=0)


def fig_cycles(cmp):
    """Ensemble-average thigh angle over the normalised gait cycle, mean ± SD, per leg."""
    sides = [s for s in ("left", "right") if any(s in x.cycles for x in cmp.before + cmp.after)]
    fig, axes = plt.subplots(1, max(1, len(sides)), figsize=(7, 3.2), sharey=True, squeeze=False, layout="constrained")
    for ax, side in zip(axes[0], sides):
        for cond, sess, c, ls in (("before", cmp.before, BEFORE_C, "--"), ("after", cmp.after, AFTER_C, "-")):
            a = _stack_cycles(sess, side)
            if a is None:
                continue
            x = np.linspace(0, 100, a.shape[1])
            m = np.nanmean(a, axis=0)
            sd = np.nanstd(a, axis=0)
            ax.fill_between(x, m - sd, m + sd, color=c, alpha=0.2, lw=0)
            ax.plot(x, m, ls, color=c, lw=2, label=f"{cond} (n={a.shape[0]})")
        ax.set_title(f"{side} thigh")
        ax.set_xlabel("gait cycle (%)")
        ax.grid(alpha=0.3)
        legend(ax, fontsize=8, loc="best")
    axes[0][0].set_ylabel("thigh angle (°, flexion +)")
    fig.suptitle("Thigh angle over the gait cycle (mean ± SD)", fontsize=11)
    return fig


def fig_forest(cmp):
    """Difference after − before relative to the before median, with 95 % CI and MDC band."""
    t = cmp.table
    if t.empty:
        return None
    rows = []
    for r in t.itertuples():
        base = abs(r.before_median)
        if r.metric.startswith("asym"):
            scale = 1.0  # percentage points
        else:
            if not (base and math.isfinite(base)):
                continue
            scale = 100.0 / base  # % of the before median
        side = {"left": "L", "right": "R", "both": ""}[r.side]
        rows.append((f"{side} {metric_info(r.metric).label}".strip(), r.diff * scale, r.ci_low * scale,
                     r.ci_high * scale, (r.mdc95 * scale) if r.mdc95 == r.mdc95 else float("nan"), r.significant))
    n = len(rows)
    fig, ax = plt.subplots(figsize=(7, 0.32 * n + 1.2), layout="constrained")
    y = np.arange(n)[::-1]
    for yi, (_lab, d, lo, hi, mdc, sig) in zip(y, rows):
        if math.isfinite(mdc):
            ax.fill_betweenx([yi - 0.35, yi + 0.35], -mdc, mdc, color="0.85", lw=0)
        c = AFTER_C if sig else "0.4"
        ax.plot([lo, hi], [yi, yi], color=c, lw=2.5)
        ax.plot([d], [yi], "o", color=c, ms=5)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([r[0] for r in rows], fontsize=8)
    ax.set_xlabel("change after − before (% of before; asymmetry in % points)\ngrey band: day-to-day change (MDC95)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("What changed (95 % confidence intervals)", fontsize=11)
    return fig


DIST_METRICS = ("rom_deg", "flex_peak_deg", "ext_peak_deg", "swing_pct", "stance_s", "cadence_spm")


def fig_distributions(cmp):
    """Per-stride distributions per metric, side and condition (box + jittered strides)."""
    fig, axes = plt.subplots(2, 3, figsize=(7, 5.2), layout="constrained")
    rng = np.random.default_rng(0)
    for ax, metric in zip(axes.ravel(), DIST_METRICS):
        info = metric_info(metric)
        data, pos, cols, labels = [], [], [], []
        k = 0.0
        for side in ("left", "right"):
            for cond, c in (("before", BEFORE_C), ("after", AFTER_C)):
                ser = cmp.series.get((cond, side, metric))
                if not ser:
                    continue
                x = np.concatenate([v for _t, v in ser]) * info.scale
                data.append(x)
                pos.append(k + (0 if cond == "before" else 0.8))
                cols.append(c)
            labels.append((k + 0.4, side[0].upper()))
            k += 2.2
        if not data:
            ax.set_visible(False)
            continue
        bp = ax.boxplot(data, positions=pos, widths=0.6, showfliers=False, patch_artist=True)
        for patch, c in zip(bp["boxes"], cols):
            patch.set_facecolor(c)
            patch.set_alpha(0.35)
        for x, p, c in zip(data, pos, cols):
            xs = x if x.size <= 400 else rng.choice(x, 400, replace=False)
            ax.plot(p + rng.uniform(-0.2, 0.2, xs.size), xs, ".", ms=2, color=c, alpha=0.5)
        ax.set_xticks([p for p, _ in labels])
        ax.set_xticklabels([lab for _, lab in labels])
        ax.set_title(f"{info.label} ({info.unit})", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Per-stride values (blue: before, orange: after)", fontsize=11)
    return fig


TIME_METRICS = ("rom_deg", "swing_pct", "stance_s", "cadence_spm")


def _rolling_median(t, x, win_s=30.0):
    if x.size == 0:
        return t, x
    tc = np.arange(t.min(), t.max() + 1e-9, win_s / 3)
    m = np.array([np.median(x[(t >= c - win_s / 2) & (t < c + win_s / 2)]) if np.any((t >= c - win_s / 2) & (t < c + win_s / 2)) else np.nan for c in tc])
    return tc, m


def fig_timecourse(cmp, max_sessions: int = 4):
    """Each metric over time within each session (points per stride, 30 s rolling median)."""
    sessions = [("before", i, s) for i, s in enumerate(cmp.before)] + [("after", i, s) for i, s in enumerate(cmp.after)]
    sessions = sessions[:max_sessions]
    ncol = len(sessions)
    fig, axes = plt.subplots(len(TIME_METRICS), ncol, figsize=(7, 1.7 * len(TIME_METRICS) + 0.6),
                             sharey="row", squeeze=False, layout="constrained")
    for j, (cond, i, s) in enumerate(sessions):
        for r, metric in enumerate(TIME_METRICS):
            ax = axes[r][j]
            info = metric_info(metric)
            for side, c in (("left", LEFT_C), ("right", RIGHT_C)):
                df = s.valid_strides(side)
                if metric not in df.columns or df.empty:
                    continue
                t = df["ic_s"].to_numpy(float)
                x = df[metric].to_numpy(float) * info.scale
                ok = np.isfinite(x)
                t, x = t[ok], x[ok]
                if t.size == 0:
                    continue
                tm = (t - t.min()) / 60.0
                ax.plot(tm, x, ".", ms=2, color=c, alpha=0.35)
                tc, m = _rolling_median(tm * 60.0, x)
                ax.plot(tc / 60.0, m, "-", color=c, lw=1.5, label=side)
            if r == 0:
                ax.set_title(f"{cond} {i + 1}: {s.name}"[:28], fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{info.label}\n({info.unit})", fontsize=8)
            if r == len(TIME_METRICS) - 1:
                ax.set_xlabel("time (min)", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    legend(axes[0][0], fontsize=7, loc="best")
    fig.suptitle("Over time within each session (line: 30 s rolling median)", fontsize=11)
    return fig


def fig_asymmetry(cmp):
    """Per-stride-pair asymmetry 100·ln(L/R) before vs after (0 = symmetric)."""
    names = [m for m in ASYM_METRICS if cmp.series.get(("before", "both", m))]
    if not names:
        return None
    fig, axes = plt.subplots(1, len(names), figsize=(7, 3), squeeze=False, layout="constrained")
    for ax, m in zip(axes[0], names):
        data = []
        for cond in ("before", "after"):
            ser = cmp.series.get((cond, "both", m)) or []
            data.append(np.concatenate([v for _t, v in ser]) if ser else np.array([]))
        bp = ax.boxplot(data, positions=[0, 1], widths=0.6, showfliers=False, patch_artist=True)
        for patch, c in zip(bp["boxes"], (BEFORE_C, AFTER_C)):
            patch.set_facecolor(c)
            patch.set_alpha(0.35)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks([0, 1])
        ax.set_xticklabels(["before", "after"], fontsize=8)
        ax.set_title(metric_info(m).label.replace("left/right ", ""), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("100·ln(L/R)  (+ = left larger)", fontsize=8)
    fig.suptitle("Left/right asymmetry per stride pair", fontsize=11)
    return fig
