"""Self-contained HTML reports (figures embedded as base64 PNG; no external files, no JS).

Layout is phone-first: verdict cards, then warnings, then figures (``max-width: 100%``),
then the full table in a horizontally scrolling box, then methods.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

from imugait._version import __version__
import imugait.extras as extras
import imugait.outputs as outputs
from imugait.compare.flexor import report_html as flexor_report_html
from imugait.analysis.metrics import metric_info

CSS = """
:root{--fg:#1b1b1b;--muted:#666;--bg:#fff;--card:#f6f7f9;--up:#1a7f37;--warn:#b35900;--line:#ddd}
*{box-sizing:border-box}
body{font:16px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:var(--fg);background:var(--bg);margin:0 auto;max-width:860px;padding:12px}
h1{font-size:1.45rem;margin:.3em 0}
h2{font-size:1.15rem;margin:1.4em 0 .5em;border-bottom:1px solid var(--line);padding-bottom:.2em}
.sub{color:var(--muted);font-size:.9rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:10px}
.card{background:var(--card);border-radius:10px;padding:10px 12px;border-left:6px solid #999}
.card.sig{border-left-color:var(--up)}
.card.mdc{border-left-color:var(--warn)}
.card .big{font-size:1.35rem;font-weight:600}
.card .what{font-size:.85rem;color:var(--muted)}
.warn{background:#fff4e5;border:1px solid #f0c27b;border-radius:8px;padding:8px 12px;margin:8px 0}
.info{background:#eef5ff;border:1px solid #b6d0f5;border-radius:8px;padding:8px 12px;margin:8px 0}
img{max-width:100%;height:auto;display:block;margin:8px 0}
.tbl{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.8rem;min-width:640px}
td,th{border-bottom:1px solid var(--line);padding:4px 6px;text-align:right;white-space:nowrap}
td:first-child,th:first-child,td.l,th.l{text-align:left}
ul.verdicts li{margin:.25em 0}
footer{color:var(--muted);font-size:.75rem;margin-top:2em}
@media (max-width:480px){body{font-size:15px;padding:8px}.card .big{font-size:1.2rem}}
"""


def esc(s) -> str:
    return html.escape(str(s))


def img_tag(png: bytes, alt: str) -> str:
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>{body}"
            f"<footer>imugait {esc(__version__)}</footer></body></html>")


def _fmt(v, info, **kw) -> str:
    return esc(info.fmt(v, **kw))


KEY_ORDER = ("rom_deg", "asym_rom_pct", "cadence_spm", "stance_s", "swing_pct", "flex_peak_deg",
             "ext_peak_deg", "stride_s", "asym_stance_pct", "asym_swing_pct")


def _card(r) -> str:
    info = metric_info(r["metric"])
    cls = "card"
    if r.get("significant"):
        cls += " sig" if r.get("exceeds_mdc") in (True, None) else " mdc"
    side = {"left": "Left", "right": "Right", "both": ""}[r["side"]]
    if r.get("significant"):
        big = _fmt(r["diff"], info, signed=True, diff=True)
    else:
        big = "no clear change"
    what = (side + " " + info.label).strip()
    return (f"<div class='{cls}'><div class='what'>{esc(what[0].upper() + what[1:])}</div>"
            f"<div class='big'>{big}</div>"
            f"<div class='what'>{_fmt(r['before_median'], info)} → {_fmt(r['after_median'], info)}</div></div>")


def _regime_title(reg) -> str:
    if reg.regime == "kept_on":
        return "sensor stayed on" + (" (as stated)" if reg.assumed else "")
    if reg.calibration.status == "changed":
        return "sensor re-strapped"
    if reg.sensor == "different":
        return "different sensors"
    return "cannot tell — treated as re-strapped"


def _placement_section(cmp) -> str:
    """Per leg: which error budget the intervals use, and why (comparison.regimes)."""
    if not cmp.regimes:
        return ""
    rows = cmp.metrics
    items = []
    for side, reg in cmp.regimes.items():
        mdc = next((r.get("measurement_mdc95") for r in rows if r["side"] == side and r["metric"] == "rom_deg"), None)
        what = (f" Measurement error alone moves this leg's hip range by up to {mdc:.1f}° between the runs."
                if mdc is not None and math.isfinite(mdc) else "")
        items.append(f"<li><b>{esc(side.capitalize())} leg: {esc(_regime_title(reg))}</b> — "
                     f"{esc(reg.reason)}.{esc(what)}</li>")
    return "<h2>Sensor placement</h2><ul class='verdicts'>" + "".join(items) + "</ul>"


def write_comparison_report(cmp, out: Path, figures: bool = True) -> Path:
    if figures:
        extras.require("reports", "the comparison's figures", "or write the report without them (--no-figures)")
    out = Path(out)
    rows = cmp.metrics
    key = sorted(rows, key=lambda r: (not r.get("significant"), KEY_ORDER.index(r["metric"]) if r["metric"] in KEY_ORDER else 99))
    body = ["<h1>Before / after comparison</h1>"]
    names_b = ", ".join(s.name for s in cmp.before)
    names_a = ", ".join(s.name for s in cmp.after)
    body.append(f"<div class='sub'>Before: {esc(names_b)}<br>After: {esc(names_a)}</div>")
    if cmp.flexor is not None:
        body.append(flexor_report_html(cmp.flexor, figures=figures, out=out))
    if not rows:  # hip-flexor test sessions only: no gait to compare
        path = out / "report.html"
        outputs.write_text(path, page("imugait before/after comparison", "\n".join(body)))
        return path
    main = [r for r in key if r["metric"] in ("rom_deg", "asym_rom_pct", "cadence_spm", "stance_s", "swing_pct")]
    body.append("<h2>Key results</h2><div class='cards'>" + "".join(_card(r) for r in main[:8]) + "</div>")
    body.append("<ul class='verdicts'>" + "".join(f"<li>{esc(r['verdict'])}</li>" for r in key
                                                  if r.get("significant") or r["metric"] == "rom_deg") + "</ul>")
    warns = [w for w in cmp.warnings if w.get("severity") != "info"]
    infos = [w for w in cmp.warnings if w.get("severity") == "info"]
    if warns:
        body.append("<h2>Check before you trust this</h2>")
        body += [f"<div class='warn'>⚠ {esc(w['message'])}</div>" for w in warns]
    body += [f"<div class='info'>{esc(w['message'])}</div>" for w in infos if w.get("kind") != "sensors_kept_on"]
    body.append(_placement_section(cmp))
    if figures:
        import imugait.compare.figures as F  # matplotlib: the [reports] extra (checked above)

        figs = [("fig_forest", "What changed", F.fig_forest), ("fig_cycles", "Thigh angle over the gait cycle", F.fig_cycles),
                ("fig_distributions", "Per-stride distributions", F.fig_distributions),
                ("fig_timecourse", "Over time within each session", F.fig_timecourse),
                ("fig_asymmetry", "Left/right asymmetry", F.fig_asymmetry)]
        body.append("<h2>Figures</h2>")
        for fname, title, fn in figs:
            fig = fn(cmp)
            if fig is None:
                continue
            png = F.png_bytes(fig)
            outputs.write_bytes(out / f"{fname}.png", png)
            body.append(img_tag(png, title))
    # full table
    head = ("<tr><th class='l'>side</th><th class='l'>metric</th><th>before</th><th>after</th><th>diff</th>"
            "<th>95 % CI</th><th>effect (d<sub>R</sub>)</th><th>Cliff's δ</th><th>MDC95</th><th>n</th><th class='l'>note</th></tr>")
    trs = []
    for r in rows:
        info = metric_info(r["metric"])
        g = lambda k, r=r: r.get(k) if r.get(k) is not None else float("nan")  # noqa: E731
        es = g("effect_size")
        cd = g("cliffs_delta")
        trs.append(
            f"<tr><td>{esc(r['side'])}</td><td class='l'>{esc(info.label)}</td><td>{_fmt(g('before_median'), info)}</td>"
            f"<td>{_fmt(g('after_median'), info)}</td><td>{_fmt(g('diff'), info, signed=True, diff=True)}</td>"
            f"<td>{_fmt(g('ci_low'), info, signed=True, unit=False)} … {_fmt(g('ci_high'), info, signed=True, unit=False)}</td>"
            f"<td>{'n/a' if not math.isfinite(es) else f'{es:+.2f}'}</td><td>{'n/a' if not math.isfinite(cd) else f'{cd:+.2f}'}</td>"
            f"<td>{_fmt(g('mdc95'), info, diff=True)}</td><td>{r.get('n_before')}/{r.get('n_after')}</td>"
            f"<td class='l'>{esc(r.get('caution') or '')}</td></tr>")
    body.append("<h2>All metrics</h2><div class='tbl'><table>" + head + "".join(trs) + "</table></div>")
    body.append("<h2>How to read this</h2><p class='sub'>"
                "Medians of valid strides per leg. The 95 % confidence interval of the difference comes from a "
                "block bootstrap of consecutive strides (strides are correlated, so a t-test would be over-confident), "
                "combined with the measurement error of each run that stride resampling cannot see — the analysis, the "
                "gyroscope's scale at that temperature and, when a sensor was re-strapped, swapped or cannot be told "
                "apart, where the strap sits (see Sensor placement)"
                + (", and is kept on the safe side: it covers the true change in at least 95 % of comparisons "
                   f"(computed as the {100 * cmp.params.ci_level:g} % interval). "
                   if cmp.params.guard_level else ". ")
                + 
                f"MDC95 is the smallest change that exceeds measurement noise ({esc(cmp.mdc_source)}). "
                "Effect d<sub>R</sub> = difference of medians / pooled robust SD; Cliff's δ = P(after &gt; before) − P(after &lt; before). "
                "Asymmetry = 100·ln(left/right): 0 is symmetric, +5 means the left value is about 5 % larger. "
                "Hip range is the thigh's flexion–extension range (pelvis motion is not seen by a thigh sensor).</p>")
    path = out / "report.html"
    outputs.write_text(path, page("imugait before/after comparison", "\n".join(body)))
    return path
