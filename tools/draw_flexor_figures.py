#!/usr/bin/env python
"""Draw the position pictures of docs/flexor-test.md (matplotlib stick figures, side view).

    .venv/bin/python tools/draw_flexor_figures.py      # writes docs/img/flexor_*.svg

Drawn from the geometry the test uses (segment angles), not copied from anywhere.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Arc, Circle, FancyArrowPatch, Rectangle

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"

THIGH, SHANK, TRUNK = 0.45, 0.43, 0.62
TESTED_C, HUGGED_C, BODY_C, SENSOR_C = "#1f5fbf", "#e0661b", "#333333", "#2e9e44"


def seg(ax, p, ang_deg, length, color=BODY_C, lw=5):
    """A segment from ``p`` at ``ang_deg`` (counter-clockwise from +x); returns its end."""
    q = (p[0] + length * math.cos(math.radians(ang_deg)), p[1] + length * math.sin(math.radians(ang_deg)))
    ax.plot([p[0], q[0]], [p[1], q[1]], color=color, lw=lw, solid_capstyle="round", zorder=3)
    return q


def sensor(ax, hip, knee, color=SENSOR_C):
    """A small sensor box on the thigh (40 % down from the hip) with the long-axis arrow
    pointing from the knee toward the hip (y_T)."""
    ang = math.atan2(knee[1] - hip[1], knee[0] - hip[0])
    c = (hip[0] + 0.45 * (knee[0] - hip[0]), hip[1] + 0.45 * (knee[1] - hip[1]))
    box = Rectangle((c[0] - 0.045, c[1] - 0.025), 0.09, 0.05, angle=math.degrees(ang), rotation_point="center",
                    color=color, zorder=4)
    ax.add_patch(box)
    tip = (c[0] - 0.17 * math.cos(ang), c[1] - 0.17 * math.sin(ang))
    ax.add_patch(FancyArrowPatch(c, tip, arrowstyle="-|>", mutation_scale=10, color=color, lw=1.5, zorder=5))


def table(ax, x0=-1.35, x1=0.0, top=0.0):
    ax.add_patch(Rectangle((x0, top - 0.07), x1 - x0, 0.07, color="#c9b79c", zorder=1))
    ax.plot([x0 + 0.08, x0 + 0.08], [top - 0.07, top - 0.75], color="#a08a6c", lw=4, zorder=1)
    ax.plot([x1 - 0.08, x1 - 0.08], [top - 0.07, top - 0.75], color="#a08a6c", lw=4, zorder=1)


def lying(ax, tested_below_deg: float, hug_deg: float, label_angle: bool = True):
    """Supine at the table end: hip at the edge, one knee hugged ``hug_deg`` from the table,
    the other thigh ``tested_below_deg`` below the horizontal."""
    table(ax)
    hip = (-0.02, 0.09)
    shoulder = seg(ax, hip, 180, TRUNK)
    ax.add_patch(Circle((shoulder[0] - 0.13, shoulder[1] + 0.02), 0.1, fill=False, lw=3, color=BODY_C, zorder=3))
    # hugged leg: thigh toward the head, shank folded back
    k2 = seg(ax, hip, hug_deg, THIGH, HUGGED_C)
    seg(ax, k2, hug_deg - 150, SHANK * 0.9, HUGGED_C)
    sensor(ax, hip, k2)
    # arms around the knee
    seg(ax, shoulder, math.degrees(math.atan2(k2[1] - shoulder[1], k2[0] - shoulder[0])),
        0.92 * math.dist(shoulder, k2), "#777777", lw=3)
    # tested leg: thigh below the horizontal, shank hanging
    k1 = seg(ax, hip, -tested_below_deg, THIGH, TESTED_C)
    seg(ax, k1, -95, SHANK, TESTED_C)
    sensor(ax, hip, k1)
    ax.plot([hip[0], hip[0] + 0.62], [hip[1], hip[1]], ls="--", color="#888", lw=1.2, zorder=2)
    if label_angle:
        a0, a1 = sorted((0.0, -tested_below_deg))
        ax.add_patch(Arc(hip, 0.62, 0.62, theta1=a0, theta2=a1, color=TESTED_C, lw=2, zorder=2))
        mid = math.radians(-tested_below_deg / 2)
        where = "below" if tested_below_deg >= 0 else "above"
        ax.text(hip[0] + 0.62 * math.cos(mid) + 0.05, hip[1] + 0.62 * math.sin(mid) + (-0.1 if tested_below_deg >= 0 else 0.1),
                f"{abs(tested_below_deg):.0f}° {where} horizontal\n(value {tested_below_deg:+.0f}°)", color=TESTED_C,
                fontsize=9, va="center")
        ax.add_patch(Arc(hip, 0.32, 0.32, theta1=0, theta2=hug_deg, color=HUGGED_C, lw=1.5, zorder=2))
        ax.text(hip[0] - 0.75, hip[1] + 0.55, f"hugged knee {hug_deg:.0f}°\nfrom the table", color=HUGGED_C,
                fontsize=9)


def standing(ax):
    floor = -0.78
    ax.plot([-0.5, 0.5], [floor, floor], color="#888", lw=2)
    hip = (0.0, floor + SHANK + THIGH)
    sh = seg(ax, hip, 90, TRUNK)
    ax.add_patch(Circle((sh[0], sh[1] + 0.12), 0.1, fill=False, lw=3, color=BODY_C, zorder=3))
    k = seg(ax, hip, -90, THIGH, TESTED_C)
    seg(ax, k, -90, SHANK, TESTED_C)
    sensor(ax, hip, k)
    seg(ax, sh, -95, 0.55, "#777777", lw=3)
    ax.annotate("gravity", xy=(0.3, hip[1] - 0.35), xytext=(0.3, hip[1] + 0.05), color="#555", fontsize=9,
                arrowprops=dict(arrowstyle="-|>", color="#555"), ha="center")


def sitting(ax):
    table(ax, x0=-0.9, x1=0.25)
    hip = (-0.45, 0.09)
    sh = seg(ax, hip, 95, TRUNK)
    ax.add_patch(Circle((sh[0] - 0.01, sh[1] + 0.12), 0.1, fill=False, lw=3, color=BODY_C, zorder=3))
    k = seg(ax, hip, 0, THIGH, TESTED_C)
    seg(ax, k, -90, SHANK, TESTED_C)
    sensor(ax, hip, k)


def finish(ax, title, text=""):
    ax.set_aspect("equal")
    ax.set_xlim(-1.45, 0.95)
    ax.set_ylim(-1.0, 1.05)
    ax.axis("off")
    ax.set_title(title, fontsize=11, fontweight="bold")
    if text:
        ax.text(-1.4, -0.98, text, fontsize=8.5, color="#444", va="bottom", wrap=True)


def positions():
    fig, axes = plt.subplots(2, 2, figsize=(9.5, 7.2), layout="constrained")
    standing(axes[0, 0])
    axes[0, 0].set_xlim(-1.0, 1.0)
    finish(axes[0, 0], "1  Stand still (≥ 2 s)", "gravity along each thigh = its long axis (green arrow:\n"
                                                   "from the knee up to the hip, in the sensor's own axes)")
    axes[0, 0].set_xlim(-1.2, 1.2)
    sitting(axes[0, 1])
    finish(axes[0, 1], "2  Sit on the end of the table", "thighs horizontal, front up: shows each sensor\n"
                                                            "which way the thigh's front faces")
    lying(axes[1, 0], 12.0, 130.0)
    finish(axes[1, 0], "3  Test hold: hug one knee, the other leg hangs",
           "value = the hanging thigh's angle to the horizontal\n(+ below = hip extended); hold ≥ 3 s, relaxed")
    lying(axes[1, 1], -15.0, 130.0)
    finish(axes[1, 1], "Tight hip flexors: the thigh stays above", "negative value; athletes average 11.9° below\n"
                                                                     "(Harvey 1998)")
    return fig


def not_holds():
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.1), layout="constrained")
    cases = (
        ("Lying flat, both legs out", "no thigh lifted: no hold", ((0.0, 0.0), (0.0, 0.0))),
        ("One knee bent, foot on the table", "the lifted knee points to the feet,\nnot to the chest: no hold",
         ((45.0, -48.0), (0.0, 0.0))),
        ("Both knees hugged", "no thigh near horizontal: no hold", ((125.0, -25.0), (132.0, -18.0))),
    )
    for ax, (title, txt, legs) in zip(axes, cases):
        table(ax, x1=0.95)
        hip = (-0.25, 0.09)
        sh = seg(ax, hip, 180, TRUNK)
        ax.add_patch(Circle((sh[0] - 0.13, sh[1] + 0.02), 0.1, fill=False, lw=3, color=BODY_C, zorder=3))
        for (thigh, shank), col in zip(legs, (HUGGED_C, TESTED_C)):
            k = seg(ax, hip, thigh, THIGH, col)
            seg(ax, k, shank, SHANK * (0.9 if thigh > 90 else 1.0), col)
        finish(ax, title, txt)
        ax.set_xlim(-1.45, 1.0)
        ax.set_ylim(-0.9, 0.75)
    return fig


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, fig in (("flexor_positions.svg", positions()), ("flexor_not_holds.svg", not_holds())):
        fig.savefig(OUT / name, format="svg", metadata={"Date": None})
        plt.close(fig)
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
