"""Before/after comparison of analysed sessions: statistics, warnings, verdicts.

Entry point: :func:`compare` (lists of :class:`~imugait.compare.data.SessionData` per
condition) → :class:`Comparison` (``.table`` DataFrame, ``.warnings``, ``.to_dict()`` =
``comparison.json``). No file I/O except :meth:`Comparison.write`.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from imugait._version import __version__
import imugait.outputs as outputs
from imugait.outputs import jsonable
from imugait.compare import stats
from imugait.compare.budget import (KEPT_ON, RESTRAPPED, LegRegime, MeasurementVariance, leg_regime, load_budget,
                                    measurement_variance, session_device)
from imugait.compare.data import SessionData, pair_left_right
from imugait.compare.flexor import compare_flexor
from imugait.analysis.summary import ln_ratio_pct
from imugait.analysis.metrics import ASYM_METRICS, SIDE_METRICS
from imugait.compare.report_html import write_comparison_report

SCHEMA = "imugait.comparison/1"

CADENCE_WARN_PCT = 3.0
SPEED_WARN_PCT = 3.0
MIN_STRIDES = 20
MIN_PART_STRIDES = 10

#: The analysis' own measurement error per metric, ``(σ_s, κ)``: σ_s = SD of one session's
#: error that is constant within the session and independent between sessions, κ =
#: relative SD of the error of a measured change. A view of the ``analysis`` component and
#: ``kappa`` of the error budget (``imugait/data/compare_error_budget.json``, sources there
#: and in docs/compare.md); the budget adds the terms that depend on whether the sensors
#: stayed on (:mod:`imugait.compare.budget`).
ANALYSIS_ERROR: dict[str, tuple[float, float]] = {
    m.metric: ((m.component("analysis").sd if m.component("analysis") else 0.0), m.kappa)
    for m in load_budget().metrics.values()
}

#: Advice given wherever re-strapping limits what a comparison can show.
KEEP_ON_ADVICE = ("Keep the sensors on between the runs (e.g. during the stretching), or mark the strap "
                  "position on the skin so they go back to the same place.")


@dataclass
class CompareParams:
    """Settings of the comparison (all documented in docs/compare.md)."""

    n_boot: int = 2000
    seed: int = 0
    level: float = 0.95
    #: Guard band (JCGM 106:2012): the reported ``level`` interval is the percentile
    #: interval at this wider level, so that it covers the true difference in at least
    #: ``level`` of comparisons not only on average but in (nearly) every batch of 100 —
    #: an exactly calibrated 95 % interval reaches 95 of 100 only 62 % of the time. None
    #: (``imugait compare --exact-ci``): the plain ``level`` interval. See docs/compare.md.
    guard_level: float | None = 0.975
    cadence_warn_pct: float = CADENCE_WARN_PCT
    speed_warn_pct: float = SPEED_WARN_PCT
    #: include the measurement-error budget (analysis, sensors, strap placement) in the CI;
    #: False only for values that are not measured by the analysis (e.g. simulator truth)
    analysis_error: bool = True
    #: the user states that the sensors stayed on: stands in for an unknown device id or a
    #: missing calibration, never overrides evidence of the contrary (``imugait compare
    #: --assume-kept-on``)
    assume_kept_on: bool = False

    @property
    def ci_level(self) -> float:
        """Percentile level actually computed for the reported interval."""
        return float(self.guard_level) if self.guard_level else float(self.level)

    def to_dict(self) -> dict:
        return {**self.__dict__, "ci_level": self.ci_level}


@dataclass
class Comparison:
    """Result of :func:`compare`. ``table``: one row per (side, metric)."""

    table: pd.DataFrame
    warnings: list[dict]
    before: list[SessionData]
    after: list[SessionData]
    params: CompareParams
    mdc_source: str
    series: dict = field(default_factory=dict, repr=False)  # (cond, side, metric) -> list of (t, x) per session
    report_path: Path | None = None
    flexor: dict | None = None  # hip-flexor test section (imugait.compare.flexor), when a session holds a test
    regimes: dict = field(default_factory=dict)  # side -> budget.LegRegime (kept_on | restrapped, and why)
    budget: dict = field(default_factory=dict)   # budget.ErrorBudget.summary() of the budget used

    @property
    def metrics(self) -> list[dict]:
        return [jsonable(r) for r in self.table.to_dict(orient="records")]

    def verdicts(self) -> list[str]:
        return list(self.table["verdict"]) if "verdict" in self.table else []

    def to_dict(self) -> dict:
        def sess(s: SessionData) -> dict:
            return {"name": s.name, "file": str(s.path) if s.path else None,
                    "meta": jsonable(s.meta), "n_valid_strides": int(len(s.valid_strides()))}

        return {
            "schema": SCHEMA,
            "imugait_version": __version__,
            "params": self.params.to_dict(),
            "mdc_source": self.mdc_source,
            "regimes": {side: jsonable(reg.to_dict()) for side, reg in self.regimes.items()},
            "error_budget": jsonable(self.budget),
            "before": [sess(s) for s in self.before],
            "after": [sess(s) for s in self.after],
            "warnings": self.warnings,
            "metrics": self.metrics,
            **({"flexor": jsonable(self.flexor)} if self.flexor is not None else {}),
        }

    def to_json(self, path) -> Path:
        return outputs.write_text(path, json.dumps(self.to_dict(), indent=2, allow_nan=False))

    def write(self, out_dir, figures: bool = True) -> Path:
        """Write ``comparison.json``, ``comparison.csv``, figures (PNG) and ``report.html``
        into ``out_dir``; returns the path of ``report.html``."""
        out = outputs.out_dir(out_dir)
        self.to_json(out / "comparison.json")
        with outputs.atomic_open(out / "comparison.csv", newline="") as f:
            self.table.to_csv(f, index=False)
        self.report_path = write_comparison_report(self, out, figures=figures)
        return self.report_path




def _seed_for(base: int, *keys: str) -> int:
    return (int(base) * 1_000_003 + zlib.crc32("/".join(keys).encode())) % (2**32)


def side_series(sessions: list[SessionData], side: str, metric: str) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for s in sessions:
        df = s.valid_strides(side)
        if metric not in df.columns or df.empty:
            continue
        if metric in ("flex_peak_deg", "ext_peak_deg") and "angle_calibrated" in df.columns:
            df = df[df["angle_calibrated"].astype(bool)]
        x = df[metric].to_numpy(float)
        t = df["ic_s"].to_numpy(float)
        ok = np.isfinite(x)
        if ok.any():
            out.append((t[ok], x[ok]))
    return out


def asym_series(sessions: list[SessionData], source: str) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for s in sessions:
        p = pair_left_right(s.valid_strides("left"), s.valid_strides("right"))
        if p.empty or f"{source}_l" not in p.columns:
            continue
        v = ln_ratio_pct(p[f"{source}_l"].to_numpy(), p[f"{source}_r"].to_numpy())
        t = p["ic_s"].to_numpy(float)
        ok = np.isfinite(v)
        if ok.any():
            out.append((t[ok], v[ok]))
    return out


def _split_parts(t: np.ndarray, x: np.ndarray, bouts: np.ndarray | None) -> tuple[list[np.ndarray], str]:
    if bouts is not None:
        parts = [x[bouts == b] for b in np.unique(bouts) if b >= 0]
        parts = [p for p in parts if p.size >= MIN_PART_STRIDES]
        if len(parts) >= 2:
            return parts, f"{len(parts)} walking/running bouts of the baseline session (within-session: lower bound)"
    if x.size >= 2 * MIN_PART_STRIDES:
        h = x.size // 2
        return [x[:h], x[h:]], "first vs second half of the baseline session (within-session: lower bound)"
    return [], "none"


def _bouts_for(sessions: list[SessionData], side: str | None, metric: str) -> np.ndarray | None:
    s = sessions[0]
    df = s.valid_strides(side if side in ("left", "right") else "left")
    if "bout_index" not in df.columns:
        return None
    if metric in df.columns:
        df = df[np.isfinite(df[metric].to_numpy(float))]
    return df["bout_index"].to_numpy()


def _row_regime(leg_regimes: dict) -> str:
    """A row's regime: the leg's; for asymmetry (both legs) kept_on only if both legs were."""
    if not leg_regimes:
        return ""
    return KEPT_ON if all(r.regime == KEPT_ON for r in leg_regimes.values()) else RESTRAPPED


def _verdict(info, side: str, r: dict) -> tuple[str, str]:
    who = {"left": "Left ", "right": "Right ", "both": ""}.get(side, "")
    label = info.label
    subject = (who + label) if who else label[0].upper() + label[1:]
    d, lo, hi = r["diff"], r["ci_low"], r["ci_high"]
    if not all(math.isfinite(v) for v in (d, lo, hi)):
        return "insufficient_data", f"{subject}: not enough strides to compare."
    ci = f"95 % CI {info.fmt(lo, unit=False)} to {info.fmt(hi, diff=True)}"
    restrap_mdc = r.get("measurement_mdc95", float("nan"))
    restrapped = (r.get("regime") == RESTRAPPED and r.get("placement_sd", 0.0) > 0
                  and restrap_mdc is not None and math.isfinite(restrap_mdc))
    if restrapped and abs(d) <= restrap_mdc:
        # the difference is within what re-strapping alone does (the regime's measurement MDC)
        return "no_clear_change", (f"{subject}: no clear change — re-strapping alone moves {label} by up to "
                                   f"{info.fmt(restrap_mdc, diff=True)} ({info.fmt(d, signed=True, diff=True)}, {ci}). "
                                   + KEEP_ON_ADVICE)
    if lo <= 0 <= hi:
        return "no_clear_change", f"{subject}: no clear change ({info.fmt(d, signed=True, diff=True)}, {ci})."
    word = "increased" if d > 0 else "decreased"
    text = f"{subject} {word} by {info.fmt(abs(d), diff=True)} ({ci})"
    mdc = r.get("mdc95", float("nan"))
    what = ("the day-to-day change" if "baseline sessions" in str(r.get("mdc_source", ""))
            else "the within-run variation")
    if mdc is not None and math.isfinite(mdc):
        if abs(d) > mdc:
            text += f", larger than {what} of {info.fmt(mdc, diff=True)}"
            code = word
        else:
            text += (f", but not larger than {what} of {info.fmt(mdc, diff=True)}"
                     " — it may not be a real change")
            code = word + "_within_mdc"
    else:
        code = word
    return code, text + "."


def calibration_warnings(before: list[SessionData], after: list[SessionData]) -> list[dict]:
    """A sensor whose calibration failed, and legs without a standing calibration."""
    out = []
    for cond, ss in (("before", before), ("after", after)):
        for s in ss:
            for side, c in sorted(s.calibration.items()):
                if c and c.get("failed"):
                    out.append({"kind": "sensor_failed", "side": side, "condition": cond, "session": s.name,
                                "message": f"{s.name} ({cond}), {side} sensor: {c.get('message') or 'calibration failed'}"
                                           ". Its strides are not used — check the sensor (range and scale "
                                           "settings, firmware) and record again."})
    for side in ("left", "right"):
        # a failed calibration is reported above; its axes say nothing about the strap
        for cond, ss in (("before", before), ("after", after)):
            cals = [cal for s in ss if (cal := s.calibration.get(side)) and not cal.get("failed")]
            if any(c.get("still_found") is False or c.get("angle_calibrated") is False for c in cals):
                out.append({"kind": "calibration_missing", "side": side, "condition": cond,
                            "message": f"{side.capitalize()} leg, {cond}: no standing calibration was found, so "
                                       "absolute angles (peak flexion/extension) are uncalibrated and whether the sensor "
                                       "stayed on is judged from its flexion axis alone. Stand still for 5 s at the start "
                                       "of each run."})
    return out


def placement_warnings(before: list[SessionData], after: list[SessionData], regimes: dict[str, LegRegime],
                       table: pd.DataFrame) -> list[dict]:
    """One message per leg that was (or may have been) re-strapped or swapped, with what
    re-strapping alone can do to its hip range (the budget's MDC in that regime)."""
    out = []
    for side, reg in regimes.items():
        if reg.regime != RESTRAPPED:
            continue
        mdc = float("nan")
        if not table.empty:
            r = table[(table["side"] == side) & (table["metric"] == "rom_deg")]
            if len(r):
                mdc = float(r.iloc[0]["measurement_mdc95"])
        moves = f" Re-strapping alone moves hip range by up to {mdc:.1f}°" if math.isfinite(mdc) else ""
        moves += (" and peak angles by several degrees; that leg's intervals include this, so only larger changes "
                  "show, and peak flexion/extension are not comparable. ") if moves else " "
        c = reg.calibration
        info = {"side": side, "long_axis_change_deg": c.long_axis_change_deg,
                "flexion_axis_change_deg": c.flexion_axis_change_deg, "neutral_change_deg": c.neutral_change_deg,
                "restrap_mdc95_deg": mdc}
        if c.status == "changed":
            out.append({"kind": "restrapped", **info,
                        "message": f"The {side} sensor was taken off and put back between the runs ("
                                   + "; ".join(c.reasons) + ")." + moves + KEEP_ON_ADVICE})
        elif reg.sensor == "different":
            devices = {cond: sorted({session_device(x, side) for x in ss if side in x.sides})
                       for cond, ss in (("before_devices", before), ("after_devices", after))}
            out.append({"kind": "different_sensors", **info, **devices,
                        "message": reg.reason[0].upper() + reg.reason[1:] + ". Each sensor has its own calibration error "
                                   "(about 1 % of an angle) and sits differently on the thigh." + moves
                                   + "Wear the same sensor on the same leg, and keep it on between the runs."})
        else:
            out.append({"kind": "placement_unknown", **info,
                        "message": reg.reason[0].upper() + reg.reason[1:] + "." + moves
                                   + "If the sensors stayed on, say so (imugait compare --assume-kept-on)."})
    return out


def _meta_speed(s: SessionData) -> float | None:
    for k in ("speed_mps", "mean_speed_mps"):
        v = s.meta.get(k)
        if v is None and isinstance(s.meta.get("sim"), dict):
            v = s.meta["sim"].get(k)
        if v is not None:
            try:
                f = float(v)
            except (TypeError, ValueError):
                continue
            if math.isfinite(f) and f > 0:
                return f
    return None


def pace_warnings(before, after, p: CompareParams) -> list[dict]:
    out = []
    cb = np.concatenate([s.valid_strides()["cadence_spm"].to_numpy(float) for s in before] or [np.array([])])
    ca = np.concatenate([s.valid_strides()["cadence_spm"].to_numpy(float) for s in after] or [np.array([])])
    cb, ca = cb[np.isfinite(cb)], ca[np.isfinite(ca)]
    if cb.size and ca.size:
        mb, ma = float(np.median(cb)), float(np.median(ca))
        pct = 100.0 * (ma - mb) / mb
        if abs(pct) > p.cadence_warn_pct:
            out.append({"kind": "cadence_differs", "before_spm": mb, "after_spm": ma, "diff_pct": pct,
                        "message": f"Cadence differed by {pct:+.1f} % ({mb:.0f} → {ma:.0f} steps/min). Hip range and "
                                   "timing change with speed and cadence (e.g. +10 % step rate lowered peak hip flexion "
                                   "by ~3°, Heiderscheit et al. 2011), so part of any difference may come from running "
                                   "at a different pace. Repeat at matched pace (metronome or treadmill) to be sure."})
    sb = [v for v in (_meta_speed(s) for s in before) if v]
    sa = [v for v in (_meta_speed(s) for s in after) if v]
    if sb and sa:
        mb, ma = float(np.mean(sb)), float(np.mean(sa))
        pct = 100.0 * (ma - mb) / mb
        if abs(pct) > p.speed_warn_pct:
            out.append({"kind": "speed_differs", "before_mps": mb, "after_mps": ma, "diff_pct": pct,
                        "message": f"Running speed differed by {pct:+.1f} % ({mb:.2f} → {ma:.2f} m/s); hip range rises "
                                   "with speed, so the comparison is confounded. Repeat at matched speed."})
    elif not (sb and sa):
        out.append({"kind": "speed_unknown", "severity": "info",
                    "message": "Speed was not recorded with the sessions; cadence is used as the pace check."})
    return out


GAIT_SHARE_WARN_PTS = 20.0  # walking/running mix differing by more than this many % points


def _gait_shares(sessions: list[SessionData]) -> dict[str, float]:
    labels = [s.valid_strides()["gait"].astype(str) for s in sessions if "gait" in s.strides.columns]
    lab = pd.concat(labels) if labels else pd.Series([], dtype=str)
    lab = lab[lab.isin(["walk", "run"])]
    return {g: 100.0 * float((lab == g).mean()) for g in ("walk", "run")} if len(lab) else {}


def activity_warnings(before: list[SessionData], after: list[SessionData]) -> list[dict]:
    """The same recording on both sides; walking compared with running."""
    out: list[dict] = []

    def key(s: SessionData) -> str:
        return str(s.meta.get("raw_sha256") or "") or (str(Path(s.path).resolve()) if s.path else "")

    kb = {key(s): s.name for s in before if key(s)}
    same = [(kb[key(s)], s.name) for s in after if key(s) in kb]
    if same:
        names = ", ".join(f"{a}" if a == b else f"{a} = {b}" for a, b in same)
        out.append({"kind": "same_recording", "sessions": [list(x) for x in same],
                    "message": f"The same recording is on both sides of the comparison ({names}): any difference "
                               "is zero by construction. Give the before and after sessions."})
    subj = {c: sorted({str(x.meta.get("subject_id") or "") for x in ss} - {""}) for c, ss in (("before", before),
                                                                                             ("after", after))}
    if subj["before"] and subj["after"] and (subj["before"] != subj["after"] or len(subj["before"]) > 1):
        out.append({"kind": "subjects_differ", "before_subjects": subj["before"], "after_subjects": subj["after"],
                    "message": f"Subjects before: {', '.join(subj['before'])}; after: {', '.join(subj['after'])}. "
                               "compare pools the strides of all sessions of a condition, so this mixes runners: "
                               "compare one runner at a time; for a group study run `imugait reprocess` and then "
                               "`imugait group` (paired statistics across runners)."})
    gb, ga = _gait_shares(before), _gait_shares(after)
    if gb and ga and abs(gb["run"] - ga["run"]) > GAIT_SHARE_WARN_PTS:
        out.append({"kind": "gait_differs", "before_run_pct": gb["run"], "after_run_pct": ga["run"],
                    "message": f"Running made up {gb['run']:.0f} % of the strides before and {ga['run']:.0f} % after "
                               "(the rest walking): hips move differently when walking and running, so the "
                               "differences below mostly show that. Compare sessions of the same activity."})
    return out


def compare(before: list[SessionData], after: list[SessionData], params: CompareParams | None = None) -> Comparison:
    """Compare conditions. ``before``/``after``: one or more sessions each."""
    p = params or CompareParams()
    if not before or not after:
        raise ValueError("compare needs at least one session before and one after")
    flexor = compare_flexor(before, after)
    all_before, all_after = list(before), list(after)
    if flexor is not None:
        # hip-flexor test sessions without gait take no part in the gait comparison
        before = [s for s in before if not (s.flexor and s.strides.empty)]
        after = [s for s in after if not (s.flexor and s.strides.empty)]
        if not before or not after:
            return Comparison(table=pd.DataFrame(), warnings=[], before=all_before, after=all_after, params=p,
                              mdc_source="none", flexor=flexor)
    rows: list[dict] = []
    series: dict = {}
    mdc_sources: set[str] = set()
    sides = [s for s in ("left", "right")
             if any(s in x.sides for x in before) and any(s in x.sides for x in after)]
    budget = load_budget()
    regimes = {side: leg_regime(before, after, side, budget, assume_kept_on=p.assume_kept_on) for side in sides}
    medians: dict = {}

    def one(side: str, metric: str, info, fn):
        sb = fn(before)
        sa = fn(after)
        series[("before", side, metric)] = sb
        series[("after", side, metric)] = sa
        xb = np.concatenate([x for _t, x in sb]) if sb else np.array([])
        xa = np.concatenate([x for _t, x in sa]) if sa else np.array([])
        medians[("before", side, metric)] = float(np.median(xb)) if xb.size else float("nan")
        medians[("after", side, metric)] = float(np.median(xa)) if xa.size else float("nan")
        mb = budget.metric(metric)
        leg_regimes = regimes if side == "both" else {side: regimes[side]}
        mv = (measurement_variance(metric, side, leg_regimes, medians, max(len(sb), 1), max(len(sa), 1), budget)
              if p.analysis_error else MeasurementVariance(0.0, {}))
        kappa = mb.kappa if (mb is not None and p.analysis_error) else 0.0
        r = stats.bootstrap_median_diff([x for _t, x in sb], [x for _t, x in sa], n_boot=p.n_boot,
                                        seed=_seed_for(p.seed, side, metric), level=p.ci_level, exact_level=p.level,
                                        relative_error_sd=kappa, extra_error_var=mv.total)
        r["sensor_sd"] = mv.part_sd("sensor_scale")
        r["placement_sd"] = mv.part_sd("placement")
        r["measurement_mdc95"] = mv.mdc95 if p.analysis_error else float("nan")
        r["regime"] = _row_regime(leg_regimes)
        r["effect_size"] = stats.robust_effect_size(xb, xa)
        r["cliffs_delta"] = stats.cliffs_delta(xb, xa)
        r["effect_magnitude"] = stats.cliffs_magnitude(r["cliffs_delta"])
        r["diff_pct"] = (100.0 * r["diff"] / abs(r["before_median"])
                         if r["before_median"] not in (0.0,) and math.isfinite(r["before_median"]) else float("nan"))
        # MDC
        if len(sb) >= 2:
            parts = [x for _t, x in sb]
            src = f"{len(sb)} baseline sessions (test–retest)"
        elif len(sb) == 1:
            bouts = _bouts_for(before, side, info.name if info.name in SIDE_METRICS else "rom_deg") if side != "both" else None
            if bouts is not None and bouts.size != sb[0][1].size:
                bouts = None
            parts, src = _split_parts(sb[0][0], sb[0][1], bouts)
        else:
            parts, src = [], "none"
        parts = [x for x in parts if x.size]
        mdc, sem = stats.mdc95([float(np.median(x)) for x in parts],
                               [stats.median_se(x, seed=_seed_for(p.seed, side, metric)) for x in parts])
        r["mdc95"], r["sem"] = mdc, sem
        r["mdc_source"] = src if math.isfinite(mdc) else "none"
        if math.isfinite(mdc):
            mdc_sources.add(src)
        r["significant"] = bool(math.isfinite(r["ci_low"]) and (r["ci_low"] > 0 or r["ci_high"] < 0))
        r["exceeds_mdc"] = (bool(abs(r["diff"]) > mdc) if math.isfinite(mdc) and math.isfinite(r["diff"]) else None)
        code, text = _verdict(info, side, r)
        cautions = []
        if info.absolute_angle:
            cautions.append("absolute angle: moves when the sensor is re-strapped")
            if r["regime"] == RESTRAPPED:
                cautions.append("sensor re-strapped or unknown: not comparable")
        if r["n_before"] < MIN_STRIDES or r["n_after"] < MIN_STRIDES:
            cautions.append(f"few strides (before {r['n_before']}, after {r['n_after']})")
        if r["regime"] == RESTRAPPED and (r["placement_sd"] > 0 or r["sensor_sd"] > 0):
            cautions.append("interval includes re-strapping / sensor error (re-strapped budget)")
        row = {"side": side, "metric": metric, "label": info.label, "unit": info.unit,
               "before_median": r["before_median"], "after_median": r["after_median"], "diff": r["diff"],
               "ci_low": r["ci_low"], "ci_high": r["ci_high"],
               "ci_low_exact": r.get("ci_low_exact", float("nan")), "ci_high_exact": r.get("ci_high_exact", float("nan")),
               "effect_size": r["effect_size"],
               "verdict": text, "verdict_code": code, "significant": r["significant"],
               "diff_pct": r["diff_pct"], "cliffs_delta": r["cliffs_delta"],
               "effect_magnitude": r["effect_magnitude"], "mdc95": mdc, "sem": sem,
               "mdc_source": r["mdc_source"], "exceeds_mdc": r["exceeds_mdc"],
               "n_before": r["n_before"], "n_after": r["n_after"],
               "block_before": r["block_before"], "block_after": r["block_after"],
               "boot_sd": r["boot_sd"], "sampling_sd": r.get("sampling_sd", float("nan")),
               "measurement_sd": r.get("measurement_sd", float("nan")), "sensor_sd": r["sensor_sd"],
               "placement_sd": r["placement_sd"], "measurement_mdc95": r["measurement_mdc95"], "regime": r["regime"],
               "caution": "; ".join(cautions)}
        rows.append(row)

    for side in sides:
        for metric, info in SIDE_METRICS.items():
            one(side, metric, info, lambda ss, side=side, metric=metric: side_series(ss, side, metric))
    if len(sides) == 2:
        for metric, (source, info) in ASYM_METRICS.items():
            one("both", metric, info, lambda ss, source=source: asym_series(ss, source))

    table = pd.DataFrame(rows)
    warnings = (activity_warnings(before, after) + pace_warnings(before, after, p) + calibration_warnings(before, after)
                + placement_warnings(before, after, regimes, table))
    for side in ("left", "right"):
        has = [cond for cond, ss in (("before", before), ("after", after)) if any(side in x.sides for x in ss)]
        if len(has) == 1:
            other = "after" if has[0] == "before" else "before"
            # recorded there too (a sensor, an analysis), but no stride: too short, not missing
            empty = [x for x in (after if other == "after" else before)
                     if side in (x.meta.get("sensors") or {}) or side in x.calibration]
            if empty:
                what = ", ".join(x.name + (f" ({float(x.meta['duration_s']):.0f} s)" if x.meta.get("duration_s") else "")
                                 for x in empty)
                warnings.insert(0, {"kind": "side_no_strides", "side": side, "only_in": has[0],
                                    "message": f"The {side} leg gave no strides {other} ({what}): the session is too "
                                               "short, or holds no walking or running, to analyse — it is not compared; "
                                               "record at least 2–3 minutes of gait."})
                continue
            warnings.insert(0, {"kind": "side_missing", "side": side, "only_in": has[0],
                                "message": f"The {side} leg was recorded only {has[0]}: it is not compared"
                                           + ("." if sides else ", and no leg was recorded in both conditions.")})
    kept = [side for side, reg in regimes.items() if reg.regime == KEPT_ON]
    if kept:
        warnings.append({"kind": "sensors_kept_on", "severity": "info", "sides": kept,
                         "message": " ".join(regimes[side].reason[0].upper() + regimes[side].reason[1:] + "."
                                             for side in kept)
                                    + " The intervals use the kept-on error budget (analysis and temperature errors; "
                                      "re-strapping errors cancel)."})
    for s in before + after:
        n = len(s.valid_strides())
        fails = [bool(c.get("failed")) for c in s.calibration.values() if c]
        if n < MIN_STRIDES and not (fails and all(fails)):  # failed sensors are reported as such
            warnings.append({"kind": "few_strides", "session": s.name,
                             "message": f"{s.name}: only {n} valid strides — results are uncertain; record at least 2–3 minutes."})
    src = "; ".join(sorted(mdc_sources)) if mdc_sources else "none"
    return Comparison(table=table, warnings=[jsonable(w) for w in warnings], before=all_before,
                      after=all_after, params=p, mdc_source=src, series=series, flexor=flexor, regimes=regimes,
                      budget=budget.summary())
