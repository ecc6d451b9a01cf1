"""Before/after comparison of hip-flexor (modified Thomas) tests — the flexor section of
``imugait compare`` and its report.

Per tested side: the change of the median hold value (``thigh_below_horizontal_deg``, +
= the thigh hangs further below the horizontal = longer hip flexors), a 95 % interval from
the repeated holds (Welch–Satterthwaite t interval of the two conditions' hold values,
centred on the change of medians), and whether the change exceeds the test's published
smallest real change (:data:`imugait.analysis.flexor.PUBLISHED_TEST_RETEST`).

When the sensor of a leg differs between the conditions (device id) or was re-strapped
(the standing long axis turned by more than :data:`RESTRAP_DEG` in the sensor frame), each
condition carries its own sensor calibration error, which the repeated holds cannot show:
:data:`SENSOR_ERROR_SD_DEG` is then added to the interval.
"""

from __future__ import annotations

import html
import math

import numpy as np
from scipy import stats as sps

import imugait.outputs as outputs
from imugait.analysis.flexor import HARVEY_1998, HARVEY_1998_MEAN_BELOW_DEG, PUBLISHED_TEST_RETEST
from imugait.compare.data import SessionData
from imugait.conventions import SIDES

RESTRAP_DEG = 10.0
"""Standing long axis turned more than this (sensor frame) between conditions: re-strapped."""

SENSOR_ERROR_SD_DEG = 0.72
"""SD of one session's side value around the truth that the repeated holds cannot see (the
accelerometer's scale, misalignment and bias errors seen through one strap orientation, in
the simulator's sensor model): ``tools/validate_flexor.py`` (seeds 1000–1199, 400 sides,
standing-referenced truth), SD of the error of the per-side medians = 0.72°. Nothing was
fitted. Enters the interval only when the sensor or its strap changed between conditions."""

LEVEL = 0.95


def session_holds(s: SessionData, side: str) -> list[float]:
    fx = s.flexor or {}
    d = (fx.get("sides") or {}).get(side) or {}
    return [float(h["value"]) for h in d.get("holds") or [] if h.get("value") is not None]


def _long_axis(s: SessionData, side: str):
    st = ((s.flexor or {}).get("standing") or {}).get(side) or {}
    v = st.get("long_axis")
    if v is None:
        return None
    a = np.asarray(v, float)
    n = np.linalg.norm(a)
    return a / n if n > 0 else None


def _device(s: SessionData, side: str) -> str:
    d = s.meta.get("sensors")
    return str(d.get(side) or "") if isinstance(d, dict) else ""


def sensor_changed(before: list[SessionData], after: list[SessionData], side: str) -> tuple[bool, str]:
    """Was the leg's sensor swapped or re-strapped between the conditions? (and why)"""
    db = {_device(s, side) for s in before} - {""}
    da = {_device(s, side) for s in after} - {""}
    if db and da and db != da:
        return True, f"different sensors ({', '.join(sorted(db))} before, {', '.join(sorted(da))} after)"
    ab = [a for a in (_long_axis(s, side) for s in before) if a is not None]
    aa = [a for a in (_long_axis(s, side) for s in after) if a is not None]
    if ab and aa:
        ang = max(math.degrees(math.acos(float(np.clip(x @ y, -1, 1)))) for x in ab for y in aa)
        if ang > RESTRAP_DEG:
            return True, f"the sensor was re-strapped (its thigh axis turned {ang:.0f}° in the sensor frame)"
    return False, ""


def change_interval(vb, va, extra_var: float = 0.0, level: float = LEVEL) -> dict:
    """Change of medians with a Welch–Satterthwaite interval from the hold values. A
    condition with one hold borrows the other's spread; with one hold on both sides the
    published method error stands for the spread of one hold."""
    vb, va = np.asarray(vb, float), np.asarray(va, float)
    diff = float(np.median(va) - np.median(vb))
    sb = float(np.std(vb, ddof=1)) if vb.size > 1 else None
    sa = float(np.std(va, ddof=1)) if va.size > 1 else None
    spread_from = "holds"
    if sb is None and sa is None:
        sb = sa = PUBLISHED_TEST_RETEST["error_sd_deg"]
        spread_from = "published method error (single holds)"
    elif sb is None:
        sb = sa
        spread_from = "holds (before: one hold, after's spread used)"
    elif sa is None:
        sa = sb
        spread_from = "holds (after: one hold, before's spread used)"
    assert sb is not None and sa is not None
    vbn, van = sb * sb / vb.size, sa * sa / va.size
    var = vbn + van + extra_var
    dof_terms = (vbn * vbn / (vb.size - 1) if vb.size > 1 else 0.0) + (van * van / (va.size - 1) if va.size > 1 else 0.0)
    dof = var * var / dof_terms if dof_terms > 0 else math.inf
    q = float(sps.t.ppf(0.5 + level / 2, dof)) if math.isfinite(dof) else float(sps.norm.ppf(0.5 + level / 2))
    half = q * math.sqrt(var)
    return {"change_deg": diff, "ci_low_deg": diff - half, "ci_high_deg": diff + half, "se_deg": math.sqrt(var),
            "dof": dof if math.isfinite(dof) else None, "spread_from": spread_from}


def _words(v: float) -> str:
    return f"{abs(v):.1f}° {'below' if v >= 0 else 'above'}"


def side_comparison(before: list[SessionData], after: list[SessionData], side: str) -> dict:
    vb = [v for s in before for v in session_holds(s, side)]
    va = [v for s in after for v in session_holds(s, side)]
    name = side.capitalize()
    out = {"side": side, "n_holds_before": len(vb), "n_holds_after": len(va), "holds_before_deg": vb,
           "holds_after_deg": va}
    if not vb or not va:
        missing = "before" if not vb else "after"
        out.update(verdict_code="insufficient_data",
                   verdict=f"{name} hip flexors: no test hold {missing} — not compared.")
        return out
    changed, why = sensor_changed(before, after, side)
    extra = 2 * SENSOR_ERROR_SD_DEG ** 2 if changed else 0.0
    r = change_interval(vb, va, extra)
    mdc = PUBLISHED_TEST_RETEST["mdc95_deg"]
    mb, ma = float(np.median(vb)), float(np.median(va))
    d, lo, hi = r["change_deg"], r["ci_low_deg"], r["ci_high_deg"]
    out.update(before_deg=mb, after_deg=ma, **r, sensor_changed=changed, sensor_change_reason=why,
               published_mdc95_deg=mdc, within_published_error=bool(abs(d) <= mdc),
               significant=bool(lo > 0 or hi < 0))
    ci = f"95 % interval {lo:+.1f}° to {hi:+.1f}° from the repeated holds"
    head = f"{name} hip flexors: thigh {_words(mb)} → {_words(ma)} horizontal, {d:+.1f}° ({ci})"
    if lo <= 0 <= hi:
        code, text = "no_clear_change", head + " — no clear change"
    else:
        code = "lengthened" if d > 0 else "shortened"
        text = head + (" — the thigh hangs lower: more hip extension" if d > 0
                       else " — the thigh hangs higher: less hip extension")
    if abs(d) <= mdc:
        code += "_within_published_error"
        text += (f"; within the test's published test–retest error (smallest real change {mdc:.1f}°, "
                 f"{PUBLISHED_TEST_RETEST['source'].split(' (')[0]}): it may not be a real change")
    else:
        text += f"; larger than the test's published smallest real change of {mdc:.1f}°"
    if changed:
        text += f". Note: {why}; the interval includes that sensor's calibration error"
    out.update(verdict_code=code, verdict=text + ".")
    return out


def compare_flexor(before: list[SessionData], after: list[SessionData]) -> dict | None:
    """The flexor section, or None when neither condition holds a flexor test."""
    if not any(s.flexor for s in before + after):
        return None
    sides = {s: side_comparison(before, after, s) for s in SIDES}
    notes = []
    for cond, ss in (("before", before), ("after", after)):
        for s in ss:
            if s.flexor and s.flexor.get("refused"):
                notes.append(f"{s.name} ({cond}): no flexor result — {s.flexor['refused']}")
            elif not s.flexor:
                notes.append(f"{s.name} ({cond}) holds no hip-flexor test")
    return {
        "sides": sides,
        "notes": notes,
        "published_test_retest": dict(PUBLISHED_TEST_RETEST),
        "athletes_mean_below_horizontal_deg": HARVEY_1998_MEAN_BELOW_DEG,
        "athletes_source": HARVEY_1998,
        "sensor_error_sd_deg": SENSOR_ERROR_SD_DEG,
        "method": ("per side: change of the median hold value (+ = the thigh hangs further below the horizontal); "
                   "95 % Welch–Satterthwaite interval from the hold values of each condition (plus each "
                   "condition's sensor calibration error when the sensor or strap changed); compared with the "
                   "published smallest real change 1.96·√2·method error"),
    }


def verdict_lines(section: dict | None) -> list[str]:
    if not section:
        return []
    return [section["sides"][s]["verdict"] for s in SIDES] + list(section.get("notes", []))


# ---------------------------------------------------------------------------- report
def figure(section: dict):
    """Hold values before and after per side, medians and the published smallest real
    change around the before median."""
    import matplotlib.pyplot as plt

    from imugait.compare.figures import AFTER_C, BEFORE_C

    fig, axes = plt.subplots(1, 2, figsize=(7, 3.0), sharey=True, layout="constrained")
    mdc = section["published_test_retest"]["mdc95_deg"]
    for ax, side in zip(axes, SIDES):
        d = section["sides"][side]
        for x, key, c in ((0, "holds_before_deg", BEFORE_C), (1, "holds_after_deg", AFTER_C)):
            v = np.asarray(d.get(key) or [], float)
            if v.size:
                ax.scatter(np.full(v.size, x) + np.linspace(-0.06, 0.06, v.size), v, color=c, s=22, zorder=3)
                ax.hlines(np.median(v), x - 0.2, x + 0.2, color=c, lw=2.5)
        if d.get("before_deg") is not None:
            ax.axhspan(d["before_deg"] - mdc, d["before_deg"] + mdc, color="#999", alpha=0.15, lw=0,
                       label=f"± published smallest real change ({mdc:.1f}°)")
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks([0, 1], ["before", "after"])
        ax.set_xlim(-0.6, 1.6)
        ax.set_title(f"{side} leg hanging")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("thigh below horizontal (°)")
    from imugait.compare.figures import legend

    legend(axes[0], fontsize=7, loc="lower left")
    return fig


def report_html(section: dict | None, figures: bool = True, out=None) -> str:
    """The report's flexor section (HTML)."""
    if not section:
        return ""
    esc = html.escape
    b = ["<h2>Hip-flexor length (modified Thomas test)</h2><div class='cards'>"]
    for side in SIDES:
        d = section["sides"][side]
        if d.get("before_deg") is None:
            b.append(f"<div class='card'><div class='what'>{side.capitalize()} hip flexors</div>"
                     f"<div class='big'>no data</div><div class='what'>{esc(d['verdict'])}</div></div>")
            continue
        cls = "card" + ((" mdc" if d["within_published_error"] else " sig") if d["significant"] else "")
        b.append(f"<div class='{cls}'><div class='what'>{side.capitalize()} thigh below horizontal</div>"
                 f"<div class='big'>{d['change_deg']:+.1f}°</div>"
                 f"<div class='what'>{d['before_deg']:+.1f}° → {d['after_deg']:+.1f}° "
                 f"({d['n_holds_before']} / {d['n_holds_after']} holds)</div></div>")
    b.append("</div><ul class='verdicts'>" + "".join(f"<li>{esc(v)}</li>" for v in verdict_lines(section)) + "</ul>")
    if figures:
        from imugait.compare.figures import png_bytes
        from imugait.compare.report_html import img_tag

        png = png_bytes(figure(section))
        if out is not None:
            outputs.write_bytes(out / "fig_flexor.png", png)
        b.append(img_tag(png, "Hip-flexor test holds before and after"))
    pub = section["published_test_retest"]
    b.append("<p class='sub'>Value: the hanging thigh's angle to the horizontal, median of the holds (+ below the "
             f"horizontal = longer hip flexors; athletes average {section['athletes_mean_below_horizontal_deg']:.1f}° "
             f"below, {esc(section['athletes_source'])}). Interval: Welch–Satterthwaite 95 % t interval from the "
             "repeated holds of each condition. A change within the test's published test–retest error — smallest "
             f"real change {pub['mdc95_deg']:.1f}° = 1.96·√2·{pub['method_error_deg']:g}° method error "
             f"({esc(pub['source'])}) — may not be a real change. A thigh sensor does not see the pelvis (its tilt "
             "moves the value) or the knee (rectus femoris length).</p>")
    return "\n".join(b)
