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

from imugait import __version__
import imugait.outputs as outputs
from imugait.compare import stats
from imugait.compare.data import SessionData, pair_left_right
from imugait.compare.flexor import compare_flexor
from imugait.compare.metrics import ASYM_METRICS, SIDE_METRICS

SCHEMA = "imugait.comparison/1"

CADENCE_WARN_PCT = 3.0
SPEED_WARN_PCT = 3.0
NEUTRAL_WARN_DEG = 3.0
LONG_AXIS_WARN_DEG = 10.0
FLEX_AXIS_WARN_DEG = 20.0
MIN_STRIDES = 20
MIN_PART_STRIDES = 10

#: Measurement error of the analysis per metric: ``(σ_s, κ)`` — σ_s = SD of the error of
#: one session's median that is constant within the session and independent between two
#: sessions recorded with the same sensors (unit of the metric), κ = relative SD of the
#: error of a measured change. Source: tools/validate_compare.py on development seeds
#: 300–339 (never the held-out seeds 0–199), 3 × 150 s simulated runs per seed with one
#: sensor pair; σ_s = RMS(analysis diff − true diff of unchanged legs)/√2, κ = the extra
#: error of the +5° change. σ_s: the largest of four rigid-mount conditions (running 3.0
#: and 4.5 m/s, random strap, walking 1.3 m/s). With soft-tissue motion of the sensor the
#: analysis − truth error grows (ROM 0.17–0.23°) but almost all of it is stride-to-stride
#: noise that the bootstrap already sees (the part it cannot see: 0.10 ± 0.09°), so it is
#: not added twice. κ: the largest of all six conditions including soft tissue (a bias on
#: a change, invisible to the bootstrap: soft tissue inflates both legs' ROM and shrinks
#: ln(L/R) changes by ≈ 6–11 %). See docs/compare.md and docs/data/compare_analysis_error.json.
ANALYSIS_ERROR: dict[str, tuple[float, float]] = {
    "rom_deg": (0.074, 0.028),
    "flex_peak_deg": (1.1, 0.0),    # absolute angles: the standing calibration differs per session
    "ext_peak_deg": (1.1, 0.0),
    "swing_pct": (0.067, 0.0),
    "stance_s": (0.00099, 0.0),
    "stride_s": (0.0015, 0.0),      # medians of event times on the 5 ms sample grid
    "cadence_spm": (0.38, 0.0),
    "asym_rom_pct": (0.20, 0.11),
    "asym_stance_pct": (0.23, 0.0),
    "asym_swing_pct": (0.21, 0.0),
}

#: Calibration error of the *sensor itself* — constant for one physical sensor, independent
#: between sensors — per metric: relative SD (fraction of the metric's before median). It
#: cancels when the same sensor is worn before and after (the usual protocol) and enters
#: the CI when the sensors differ (``SessionData.meta["sensors"]``: device id per side).
#: Source: the gyroscope scale error, 1 % SD per axis in the simulator's sensor model
#: (docs/simulator.md; MEMS gyro datasheets give sensitivity tolerances of that order, e.g. ±3 %
#: for the InvenSense MPU-6050): thigh
#: angle amplitudes scale with it. Measured with tools/validate_compare.py
#: ``--sensors different`` (development seeds 300–339): ROM analysis error of one session
#: 0.56° at 55° (1.0 %) vs 0.067° with the same sensors; timing metrics unchanged.
SENSOR_ERROR_REL: dict[str, float] = {
    "rom_deg": 0.010,
    "flex_peak_deg": 0.010,
    "ext_peak_deg": 0.010,
}
#: The same for asymmetry metrics, per side whose sensor changed (points of 100·ln(L/R)).
SENSOR_ERROR_ASYM: dict[str, float] = {"asym_rom_pct": 1.0}


def session_device(s: SessionData, side: str) -> str:
    """Device id of ``side`` in a session (``""`` when unknown, e.g. CSV imports)."""
    d = s.meta.get("sensors")
    return str(d.get(side) or "") if isinstance(d, dict) else ""


def sensor_change(before: list[SessionData], after: list[SessionData], side: str) -> float:
    """How much of one sensor's own calibration error stays in the before/after difference
    of ``side``: ``Σ_d (w_after(d) − w_before(d))²`` over devices ``d``, with ``w`` the
    share of a condition's sessions recorded with ``d``. 0 when the same sensor was worn
    throughout, 2 for one sensor before and another after. Unknown device ids count as the
    same sensor (nothing to go by)."""
    ids_b = [session_device(s, side) for s in before if side in s.sides]
    ids_a = [session_device(s, side) for s in after if side in s.sides]
    if not ids_b or not ids_a or "" in ids_b or "" in ids_a:
        return 0.0
    devs = set(ids_b) | set(ids_a)
    return float(sum((ids_a.count(d) / len(ids_a) - ids_b.count(d) / len(ids_b)) ** 2 for d in devs))


def sensor_error_var(before: list[SessionData], after: list[SessionData], side: str, metric: str,
                     before_median: float) -> float:
    """Variance the sensors' own calibration errors add to the difference (see
    :data:`SENSOR_ERROR_REL`); 0 when the same sensors were worn before and after."""
    if side == "both":
        sd = SENSOR_ERROR_ASYM.get(metric, 0.0)
        return sum(sensor_change(before, after, s) for s in ("left", "right")) * sd ** 2
    rel = SENSOR_ERROR_REL.get(metric, 0.0)
    if rel == 0.0 or not math.isfinite(before_median):
        return 0.0
    return sensor_change(before, after, side) * (rel * abs(before_median)) ** 2


def sensor_warnings(before: list[SessionData], after: list[SessionData]) -> list[dict]:
    out = []
    for side in ("left", "right"):
        if sensor_change(before, after, side) <= 0:
            continue
        ids_b = sorted({session_device(s, side) for s in before if side in s.sides})
        ids_a = sorted({session_device(s, side) for s in after if side in s.sides})
        out.append({
            "kind": "different_sensors", "side": side, "before_devices": ids_b, "after_devices": ids_a,
            "message": (f"The {side} thigh was recorded with different sensors before ({', '.join(ids_b)}) and "
                        f"after ({', '.join(ids_a)}). Each sensor has its own small calibration error (about 1 % of "
                        "an angle, ≈ 0.5° of hip range), which does not cancel here, so the intervals of that leg "
                        "are wider. Wear the same sensor on the same leg for before/after comparisons."),
        })
    return out


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
    neutral_warn_deg: float = NEUTRAL_WARN_DEG
    long_axis_warn_deg: float = LONG_AXIS_WARN_DEG
    flex_axis_warn_deg: float = FLEX_AXIS_WARN_DEG
    #: include the analysis' own measurement error (ANALYSIS_ERROR) in the CI; False only
    #: for values that are not measured by the analysis (e.g. simulator truth)
    analysis_error: bool = True

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

    @property
    def metrics(self) -> list[dict]:
        return [_clean(r) for r in self.table.to_dict(orient="records")]

    def verdicts(self) -> list[str]:
        return list(self.table["verdict"]) if "verdict" in self.table else []

    def to_dict(self) -> dict:
        def sess(s: SessionData) -> dict:
            return {"name": s.name, "file": str(s.path) if s.path else None,
                    "meta": _clean(s.meta), "n_valid_strides": int(len(s.valid_strides()))}

        return {
            "schema": SCHEMA,
            "imugait_version": __version__,
            "params": self.params.to_dict(),
            "mdc_source": self.mdc_source,
            "before": [sess(s) for s in self.before],
            "after": [sess(s) for s in self.after],
            "warnings": self.warnings,
            "metrics": self.metrics,
            **({"flexor": _clean(self.flexor)} if self.flexor is not None else {}),
        }

    def to_json(self, path) -> Path:
        return outputs.write_text(path, json.dumps(self.to_dict(), indent=2, allow_nan=False))

    def write(self, out_dir, figures: bool = True) -> Path:
        """Write ``comparison.json``, ``comparison.csv``, figures (PNG) and ``report.html``
        into ``out_dir``; returns the path of ``report.html``."""
        from imugait.compare.report_html import write_comparison_report

        out = outputs.out_dir(out_dir)
        self.to_json(out / "comparison.json")
        with outputs.atomic_open(out / "comparison.csv", newline="") as f:
            self.table.to_csv(f, index=False)
        self.report_path = write_comparison_report(self, out, figures=figures)
        return self.report_path


def _clean(obj):
    """JSON-safe: NaN -> None, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (str, int)) or obj is None:
        return obj
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


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
        v = stats.ln_ratio_index(p[f"{source}_l"].to_numpy(), p[f"{source}_r"].to_numpy())
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


def _verdict(info, side: str, r: dict) -> tuple[str, str]:
    who = {"left": "Left ", "right": "Right ", "both": ""}.get(side, "")
    label = info.label
    subject = (who + label) if who else label[0].upper() + label[1:]
    d, lo, hi = r["diff"], r["ci_low"], r["ci_high"]
    if not all(math.isfinite(v) for v in (d, lo, hi)):
        return "insufficient_data", f"{subject}: not enough strides to compare."
    ci = f"95 % CI {info.fmt(lo, unit=False)} to {info.fmt(hi, diff=True)}"
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


def _calib_vec(c: dict, *keys) -> np.ndarray | None:
    for k in keys:
        v = c.get(k)
        if v is not None:
            a = np.asarray(v, float).ravel()
            if a.size == 3 and np.all(np.isfinite(a)) and np.linalg.norm(a) > 0:
                return a / np.linalg.norm(a)
    return None


def _angle_deg(a: np.ndarray, b: np.ndarray, signless: bool = False) -> float:
    c = float(np.clip(np.dot(a, b), -1, 1))
    if signless:
        c = abs(c)
    return math.degrees(math.acos(c))


def calibration_warnings(before: list[SessionData], after: list[SessionData], p: CompareParams) -> list[dict]:
    """Compare the standing calibration of each leg between the conditions: a moved neutral
    angle or a turned sensor axis means the strap was moved (absolute angles not comparable)."""
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
        cb = [s.calibration.get(side) for s in before if s.calibration.get(side) and not s.calibration[side].get("failed")]
        ca = [s.calibration.get(side) for s in after if s.calibration.get(side) and not s.calibration[side].get("failed")]
        for cond, lst in (("before", cb), ("after", ca)):
            for c in lst:
                if c.get("still_found") is False or c.get("angle_calibrated") is False:
                    out.append({"kind": "calibration_missing", "side": side, "condition": cond,
                                "message": f"{side.capitalize()} leg, {cond}: no standing calibration was found, so "
                                           "absolute angles (peak flexion/extension) are uncalibrated; hip range is still valid. "
                                           "Stand still for 5 s at the start of each run."})
                    break
        if not cb or not ca:
            continue
        reasons = []
        nb = [c.get("neutral_deg") for c in cb if c.get("neutral_deg") is not None]
        na = [c.get("neutral_deg") for c in ca if c.get("neutral_deg") is not None]
        dn = float("nan")
        if nb and na:
            dn = float(np.nanmedian(na) - np.nanmedian(nb))
            if abs(dn) > p.neutral_warn_deg:
                reasons.append(f"standing neutral angle moved {abs(dn):.1f}°")
        dl = df = float("nan")
        for key, thr, label, signless in (
            (("long_axis", "long_axis_s", "gravity_axis", "y_axis_s"), p.long_axis_warn_deg, "thigh long axis", False),
            (("flexion_axis", "flexion_axis_s", "z_axis_s", "axis_s"), p.flex_axis_warn_deg, "flexion axis", True),
        ):
            vb = [_calib_vec(c, *key) for c in cb]
            va = [_calib_vec(c, *key) for c in ca]
            vb = [v for v in vb if v is not None]
            va = [v for v in va if v is not None]
            if vb and va:
                ang = max(_angle_deg(x, y, signless) for x in vb for y in va)
                if label == "thigh long axis":
                    dl = ang
                else:
                    df = ang
                if ang > thr:
                    reasons.append(f"{label} in the sensor frame turned {ang:.0f}°")
        if reasons:
            out.append({
                "kind": "restrapped", "side": side, "neutral_change_deg": dn, "long_axis_change_deg": dl,
                "flexion_axis_change_deg": df,
                "message": (f"The {side} sensor seems to have been re-strapped between conditions ("
                            + ", ".join(reasons) + "). Peak flexion/extension angles are not comparable; "
                            "hip range (ROM) and timing are robust to this. Keep sensors on during the intervention, "
                            "or stand still 5 s at the start of each run so the angle is re-zeroed."),
            })
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
    out = []

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

    def one(side: str, metric: str, info, fn):
        sb = fn(before)
        sa = fn(after)
        series[("before", side, metric)] = sb
        series[("after", side, metric)] = sa
        xb = np.concatenate([x for _t, x in sb]) if sb else np.array([])
        xa = np.concatenate([x for _t, x in sa]) if sa else np.array([])
        err_s, err_rel = ANALYSIS_ERROR.get(metric, (0.0, 0.0)) if p.analysis_error else (0.0, 0.0)
        extra = (sensor_error_var(before, after, side, metric, float(np.median(xb)) if xb.size else float("nan"))
                 if p.analysis_error else 0.0)
        r = stats.bootstrap_median_diff([x for _t, x in sb], [x for _t, x in sa], n_boot=p.n_boot,
                                        seed=_seed_for(p.seed, side, metric), level=p.ci_level, exact_level=p.level,
                                        session_error_sd=err_s, relative_error_sd=err_rel, extra_error_var=extra)
        r["sensor_sd"] = math.sqrt(extra)
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
        if r["n_before"] < MIN_STRIDES or r["n_after"] < MIN_STRIDES:
            cautions.append(f"few strides (before {r['n_before']}, after {r['n_after']})")
        if r["sensor_sd"] > 0:
            cautions.append("different sensors before and after: interval includes their calibration error")
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
               "caution": "; ".join(cautions)}
        rows.append(row)

    for side in sides:
        for metric, info in SIDE_METRICS.items():
            one(side, metric, info, lambda ss, side=side, metric=metric: side_series(ss, side, metric))
    if len(sides) == 2:
        for metric, (source, info) in ASYM_METRICS.items():
            one("both", metric, info, lambda ss, source=source: asym_series(ss, source))

    table = pd.DataFrame(rows)
    warnings = (activity_warnings(before, after) + pace_warnings(before, after, p) + sensor_warnings(before, after)
                + calibration_warnings(before, after, p))
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
    if any(w["kind"] == "restrapped" for w in warnings) and not table.empty:
        sides_moved = {w["side"] for w in warnings if w["kind"] == "restrapped"}
        mask = table["metric"].isin(["flex_peak_deg", "ext_peak_deg"]) & table["side"].isin(sides_moved)
        table.loc[mask, "caution"] = table.loc[mask, "caution"].astype(str).str.cat(
            ["sensor re-strapped: not comparable"] * int(mask.sum()), sep="; ").str.strip("; ")
    for s in before + after:
        n = len(s.valid_strides())
        fails = [bool(c.get("failed")) for c in s.calibration.values() if c]
        if n < MIN_STRIDES and not (fails and all(fails)):  # failed sensors are reported as such
            warnings.append({"kind": "few_strides", "session": s.name,
                             "message": f"{s.name}: only {n} valid strides — results are uncertain; record at least 2–3 minutes."})
    src = "; ".join(sorted(mdc_sources)) if mdc_sources else "none"
    return Comparison(table=table, warnings=[_clean(w) for w in warnings], before=all_before,
                      after=all_after, params=p, mdc_source=src, series=series, flexor=flexor)
