"""Per-session error budget of a before/after comparison and the sensor-placement regime of each leg.

Stride resampling only sees stride-to-stride variation. Each session's median also carries
errors that are constant within the session and that no bootstrap can see: the analysis'
own error, the gyroscope's scale at that day's temperature, where the strap sits on the
thigh (soft tissue moves the sensor more or less than the bone), and the sensor's own
calibration. Which of them cancel in an ``after − before`` difference depends on whether
the sensor stayed on the thigh:

* **kept_on** — the same device (known id) on that leg in every session, and the strap
  calibration's sensor-to-thigh rotation unchanged within a tolerance measured on real
  recordings of unmoved sensors (thigh long axis and flexion axis in the sensor frame);
* **restrapped** — taken off and put back (rotation changed), swapped (device ids differ),
  or unknown (no device id, e.g. a CSV import; no comparable calibration). A sensor put
  back at another orientation measures the flexion with another mix of its axes, whose
  scale errors differ — for the gyroscope's scale it is as good as another sensor.

The numbers — per metric, per regime, each with its source — live in one data file,
``imugait/data/compare_error_budget.json`` (documented in docs/compare.md, "Error
budget"); this module loads it, decides the regime per leg from the sessions and turns the
budget into the variance that :func:`imugait.compare.stats.bootstrap_median_diff` convolves
into the interval (sampling ⊕ measurement, GUM / JCGM 100:2008).

Variance of the difference contributed by one component of SD σ (σ = ``sd``, or
``sd_rel`` × the condition's median), with ``k_b``/``k_a`` sessions per condition:

* ``shared = session`` (independent between sessions): ``σ_b²/k_b + σ_a²/k_a``;
* ``shared = strapping`` (one value per strapping; sessions of one condition may share it,
  so it is not divided by ``k``): ``σ_b² + σ_a²``.

Asymmetry metrics (``100·ln(L/R)``) take their own ``analysis`` term plus, for each leg,
the other terms of the source metric in that leg's regime as ``100 · σ / median``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from imugait.compare.data import SessionData

KEPT_ON = "kept_on"
RESTRAPPED = "restrapped"
REGIMES = (KEPT_ON, RESTRAPPED)
SHARED = ("session", "strapping")
BUDGET_SCHEMA = "imugait.compare_error_budget/1"
BUDGET_RESOURCE = ("data", "compare_error_budget.json")
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Component:
    """One error source constant within a session (see the module docstring)."""

    name: str
    sd: float
    sd_rel: float
    applies: frozenset
    shared: str
    status: str
    source: str
    awaits: str = ""

    def sd_at(self, median: float) -> float:
        """SD in the metric's unit for a session whose median is ``median``."""
        if self.sd_rel:
            return self.sd_rel * abs(median) if math.isfinite(median) else 0.0
        return self.sd


@dataclass(frozen=True)
class MetricBudget:
    metric: str
    unit: str
    kappa: float
    components: tuple
    source_metric: str | None = None

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)


@dataclass(frozen=True)
class ErrorBudget:
    metrics: dict
    long_axis_tol_deg: float
    flexion_axis_tol_deg: float
    strap_flexion_axis_tol_deg: float
    neutral_tol_deg: float
    evidence: dict
    path: str

    def metric(self, name: str) -> MetricBudget | None:
        return self.metrics.get(name)

    def provisional(self) -> list[dict]:
        """Components still waiting for real-data figures: ``{metric, component, awaits}``."""
        return [{"metric": m.metric, "component": c.name, "status": c.status, "awaits": c.awaits}
                for m in self.metrics.values() for c in m.components if c.status == "provisional" or c.awaits]

    def session_sd(self, metric: str, regime: str, median: float = float("nan")) -> float:
        """SD of one session's error of a per-leg metric in ``regime`` (all components that
        apply, root-sum-square) — the "SEM" of a single measurement of that leg."""
        mb = self.metrics.get(metric)
        if mb is None:
            return 0.0
        v = sum(c.sd_at(median) ** 2 for c in mb.components if regime in c.applies)
        return math.sqrt(v)

    def summary(self) -> dict:
        """What ``comparison.json`` records about the budget it used."""
        return {"schema": BUDGET_SCHEMA, "file": self.path,
                "tolerances_deg": {"long_axis": self.long_axis_tol_deg, "flexion_axis": self.flexion_axis_tol_deg,
                                   "strap_flexion_axis": self.strap_flexion_axis_tol_deg, "neutral": self.neutral_tol_deg},
                "provisional": self.provisional()}


def parse_budget(d: dict, path: str = "") -> ErrorBudget:
    """Validate and convert the JSON of the error budget (``ValueError`` naming the entry)."""
    where = path or "error budget"
    if d.get("schema") != BUDGET_SCHEMA:
        raise ValueError(f"{where}: schema must be {BUDGET_SCHEMA!r}, found {d.get('schema')!r}")
    metrics = {}
    for name, m in (d.get("metrics") or {}).items():
        comps = []
        for c in m.get("components", []):
            label = f"{where}: metrics.{name}.{c.get('name', '?')}"
            sd, sd_rel = float(c.get("sd", 0.0)), float(c.get("sd_rel", 0.0))
            if (sd > 0) == (sd_rel > 0) or sd < 0 or sd_rel < 0:
                raise ValueError(f"{label}: give exactly one of 'sd' (> 0, in {m.get('unit')}) or 'sd_rel' (> 0)")
            applies = frozenset(c.get("applies", ()))
            if not applies or not applies <= set(REGIMES):
                raise ValueError(f"{label}: 'applies' must name kept_on and/or restrapped")
            if c.get("shared") not in SHARED:
                raise ValueError(f"{label}: 'shared' must be one of {', '.join(SHARED)}")
            if not c.get("source"):
                raise ValueError(f"{label}: every number needs a 'source'")
            comps.append(Component(name=str(c["name"]), sd=sd, sd_rel=sd_rel, applies=applies, shared=c["shared"],
                                   status=str(c.get("status", "")), source=str(c["source"]),
                                   awaits=str(c.get("awaits", ""))))
        metrics[name] = MetricBudget(metric=name, unit=str(m.get("unit", "")), kappa=float(m.get("kappa", 0.0)),
                                     components=tuple(comps), source_metric=m.get("source_metric"))
    reg = d.get("regime") or {}

    def tol(key: str) -> float:
        v = (reg.get(key) or {}).get("value")
        if v is None or not float(v) > 0:
            raise ValueError(f"{where}: regime.{key}.value must be a positive angle in degrees")
        return float(v)

    return ErrorBudget(metrics=metrics, long_axis_tol_deg=tol("long_axis_tol_deg"),
                       flexion_axis_tol_deg=tol("flexion_axis_tol_deg"),
                       strap_flexion_axis_tol_deg=tol("strap_flexion_axis_tol_deg"), neutral_tol_deg=tol("neutral_tol_deg"),
                       evidence=dict(d.get("evidence") or {}), path=path)


@lru_cache(maxsize=1)
def load_budget() -> ErrorBudget:
    """The error budget shipped with imugait (``imugait/data/compare_error_budget.json``)."""
    ref = resources.files("imugait").joinpath(*BUDGET_RESOURCE)
    return parse_budget(json.loads(ref.read_text(encoding="utf-8")), path="imugait/" + "/".join(BUDGET_RESOURCE))


def budget_from_file(path) -> ErrorBudget:
    """An error budget from another file of the same schema (e.g. with real-data figures of your own)."""
    p = Path(path)
    return parse_budget(json.loads(p.read_text(encoding="utf-8")), path=str(p))


# ----------------------------------------------------------------------------- regime
def session_device(s: SessionData, side: str) -> str:
    """Device id of ``side`` in a session (``""`` when unknown, e.g. CSV imports)."""
    d = s.meta.get("sensors")
    return str(d.get(side) or "") if isinstance(d, dict) else ""


def sensor_identity(before: list[SessionData], after: list[SessionData], side: str) -> str:
    """``"same"`` when every session of both conditions names the same device for ``side``,
    ``"different"`` when they all name one and the names differ, else ``"unknown"``."""
    ids = [session_device(s, side) for s in before + after if side in s.sides]
    if not ids or "" in ids:
        return "unknown"
    return "same" if len(set(ids)) == 1 else "different"


def _unit(v) -> np.ndarray | None:
    if v is None:
        return None
    a = np.asarray(v, float).ravel()
    if a.size != 3 or not np.all(np.isfinite(a)) or np.linalg.norm(a) == 0:
        return None
    return a / np.linalg.norm(a)


def _angle_deg(a: np.ndarray, b: np.ndarray, signless: bool = False) -> float:
    c = float(np.clip(np.dot(a, b), -1.0, 1.0))
    return math.degrees(math.acos(abs(c) if signless else c))


def _cal(s: SessionData, side: str) -> dict | None:
    c = s.calibration.get(side) if side in s.sides else None
    if not c or c.get("failed") or c.get("calibrated") is False:
        return None
    return c


@dataclass(frozen=True)
class CalibrationChange:
    status: str                      # "unchanged" | "changed" | "unknown"
    long_axis_change_deg: float      # largest over before × after pairs (NaN if not comparable)
    flexion_axis_change_deg: float   # sign ignored
    neutral_change_deg: float
    reasons: tuple
    flexion_axis_tol_deg: float = float("nan")  # the tolerance that applied (whole-session or calibration axis)


def calibration_change(before: list[SessionData], after: list[SessionData], side: str,
                       budget: ErrorBudget) -> CalibrationChange:
    """Did the strap calibration's sensor-to-thigh rotation of ``side`` change between the
    conditions? Compares the thigh long axis (gravity while standing, or the mean
    acceleration while moving when no session of the pair stood still) and the flexion axis
    (sign ignored: a sign decision is the analysis', not the strap's) in the sensor frame,
    every before session against every after session. The flexion axis is the whole-session
    estimate (``strap_flexion_axis``, from :meth:`imugait.analysis.pipeline.GaitPipeline.strap_axes`)
    when every session has one — tolerance ``strap_flexion_axis_tol_deg`` — else the
    calibration's few-second estimate with the wider ``flexion_axis_tol_deg``."""
    nan = float("nan")
    cals_b = [_cal(s, side) for s in before if side in s.sides]
    cals_a = [_cal(s, side) for s in after if side in s.sides]
    cb = [c for c in cals_b if c is not None]
    ca = [c for c in cals_a if c is not None]
    if not cb or not ca or len(cb) < len(cals_b) or len(ca) < len(cals_a):
        return CalibrationChange("unknown", nan, nan, nan, ("no strap calibration in every session",))
    reasons, unknown = [], []
    dl = df = dn = nan
    pairs = [(x, y) for x in cb for y in ca]
    # long axis: only like with like (standing vs standing, moving vs moving)
    still = [(x.get("still_found"), y.get("still_found")) for x, y in pairs]
    if any(a is not None and b is not None and bool(a) != bool(b) for a, b in still):
        unknown.append("only one condition has a standing calibration, so the long axes are not comparable")
    else:
        angs = [_angle_deg(u, v) for x, y in pairs
                if (u := _unit(x.get("long_axis"))) is not None and (v := _unit(y.get("long_axis"))) is not None]
        if angs:
            dl = max(angs)
    # flexion axis: the whole-session estimate when every session has one, else the calibration's
    key, flex_tol = "flexion_axis", budget.flexion_axis_tol_deg
    if all(_unit(c.get("strap_flexion_axis")) is not None for c in cb + ca):
        key, flex_tol = "strap_flexion_axis", budget.strap_flexion_axis_tol_deg
    angs = [_angle_deg(u, v, signless=True) for x, y in pairs
            if (u := _unit(x.get(key))) is not None and (v := _unit(y.get(key))) is not None]
    if angs:
        df = max(angs)
    nb = [c["neutral_deg"] for c in cb if c.get("neutral_deg") is not None]
    na = [c["neutral_deg"] for c in ca if c.get("neutral_deg") is not None]
    if nb and na:
        dn = abs(float(np.median(na)) - float(np.median(nb)))
    if math.isfinite(dl) and dl > budget.long_axis_tol_deg:
        reasons.append(f"thigh long axis in the sensor frame turned {dl:.0f}° (tolerance {budget.long_axis_tol_deg:g}°)")
    if math.isfinite(df) and df > flex_tol:
        reasons.append(f"flexion axis in the sensor frame turned {df:.0f}° (tolerance {flex_tol:g}°)")
    if math.isfinite(dn) and dn > budget.neutral_tol_deg:
        reasons.append(f"standing neutral angle moved {dn:.1f}° (tolerance {budget.neutral_tol_deg:g}°)")
    if reasons:
        return CalibrationChange("changed", dl, df, dn, tuple(reasons), flex_tol)
    if not math.isfinite(df) and not math.isfinite(dl):
        unknown.append("the calibrations store no sensor axes")
    if unknown:
        return CalibrationChange("unknown", dl, df, dn, tuple(unknown), flex_tol)
    return CalibrationChange("unchanged", dl, df, dn, (), flex_tol)


@dataclass(frozen=True)
class LegRegime:
    """Sensor-placement regime of one leg between the conditions, and why."""

    side: str
    regime: str              # kept_on | restrapped
    sensor: str              # same | different | unknown
    calibration: CalibrationChange
    reason: str
    assumed: bool = False    # kept_on only because the user said so (CompareParams.assume_kept_on)

    def to_dict(self) -> dict:
        c = self.calibration
        return {"side": self.side, "regime": self.regime, "sensor": self.sensor,
                "calibration": c.status, "long_axis_change_deg": c.long_axis_change_deg,
                "flexion_axis_change_deg": c.flexion_axis_change_deg, "flexion_axis_tol_deg": c.flexion_axis_tol_deg,
                "neutral_change_deg": c.neutral_change_deg, "assumed": self.assumed, "reason": self.reason}


def leg_regime(before: list[SessionData], after: list[SessionData], side: str, budget: ErrorBudget | None = None,
               assume_kept_on: bool = False) -> LegRegime:
    """Decide ``kept_on`` / ``restrapped`` for one leg (rules in the module docstring).

    ``assume_kept_on``: the user states that the sensors stayed on. It stands in for what the
    data cannot show (an unknown device id, a missing calibration) but never overrides
    evidence of the contrary (a turned calibration, different device ids)."""
    b = budget or load_budget()
    ident = sensor_identity(before, after, side)
    cal = calibration_change(before, after, side, b)
    who = f"{side} sensor"
    if cal.status == "changed":
        return LegRegime(side, RESTRAPPED, ident, cal, f"{who} taken off and put back: " + "; ".join(cal.reasons))
    if ident == "different":
        ids_b = sorted({session_device(s, side) for s in before if side in s.sides})
        ids_a = sorted({session_device(s, side) for s in after if side in s.sides})
        return LegRegime(side, RESTRAPPED, ident, cal,
                         f"different sensors on the {side} thigh (before {', '.join(ids_b)}; after {', '.join(ids_a)})")
    unknown = []
    if ident == "unknown":
        unknown.append("the sessions do not name the sensor (e.g. imported from CSV)")
    if cal.status == "unknown":
        unknown.extend(cal.reasons)
    if unknown:
        if assume_kept_on:
            return LegRegime(side, KEPT_ON, ident, cal,
                             f"{who}: stated to have stayed on ({'; '.join(unknown)}; nothing in the data contradicts it)",
                             assumed=True)
        return LegRegime(side, RESTRAPPED, ident, cal,
                         f"{who}: cannot tell whether it stayed on — " + "; ".join(unknown)
                         + " — so the re-strapped error budget is used")
    moved = [f"{name} {v:.1f}°" for name, v in (("long axis", cal.long_axis_change_deg),
                                                 ("flexion axis", cal.flexion_axis_change_deg)) if math.isfinite(v)]
    tol = (f"{b.long_axis_tol_deg:g}°" if b.long_axis_tol_deg == cal.flexion_axis_tol_deg
           else f"{b.long_axis_tol_deg:g}° and {cal.flexion_axis_tol_deg:g}°")
    return LegRegime(side, KEPT_ON, ident, cal,
                     f"{who} stayed on: same device, strap calibration unchanged ({', '.join(moved)}; tolerance {tol})")


# ----------------------------------------------------------------------------- variance
@dataclass(frozen=True)
class MeasurementVariance:
    """Variance of ``after − before`` from the budget (without the κ·diff term), by component."""

    total: float
    parts: dict

    @property
    def sd(self) -> float:
        return math.sqrt(self.total)

    @property
    def mdc95(self) -> float:
        """Smallest difference that measurement error alone exceeds in only 5 % of pairs."""
        return Z95 * self.sd

    def part_sd(self, *names: str) -> float:
        return math.sqrt(sum(v for k, v in self.parts.items() if k in names))


def _component_var(c: Component, med_b: float, med_a: float, k_b: int, k_a: int) -> float:
    sb, sa = c.sd_at(med_b), c.sd_at(med_a)
    if c.shared == "session":
        return sb ** 2 / k_b + sa ** 2 / k_a
    return sb ** 2 + sa ** 2  # strapping: once per condition


def measurement_variance(metric: str, side: str, regimes: dict, medians: dict, k_b: int, k_a: int,
                         budget: ErrorBudget | None = None) -> MeasurementVariance:
    """Budget variance of the difference of ``metric`` on ``side`` (``"both"`` for asymmetry).

    ``regimes``: side -> :class:`LegRegime`; ``medians``: ``(condition, side, metric)`` ->
    median of that condition's valid strides (for relative terms and for converting a leg's
    terms into asymmetry points)."""
    b = budget or load_budget()
    mb = b.metric(metric)
    if mb is None or k_b < 1 or k_a < 1:
        return MeasurementVariance(0.0, {})
    parts: dict = {}

    def add(name: str, v: float) -> None:
        if v > 0 and math.isfinite(v):
            parts[name] = parts.get(name, 0.0) + v

    if side != "both":
        reg = regimes[side]
        med_b = medians.get(("before", side, metric), float("nan"))
        med_a = medians.get(("after", side, metric), float("nan"))
        for c in mb.components:
            if reg.regime in c.applies:
                add(c.name, _component_var(c, med_b, med_a, k_b, k_a))
    else:
        for c in mb.components:  # the asymmetry's own analysis term
            if c.shared == "session":
                add(c.name, _component_var(c, 0.0, 0.0, k_b, k_a))
        src = b.metric(mb.source_metric) if mb.source_metric else None
        for leg, reg in regimes.items():
            if src is None:
                break
            med_b = medians.get(("before", leg, src.metric), float("nan"))
            med_a = medians.get(("after", leg, src.metric), float("nan"))
            if not (math.isfinite(med_b) and math.isfinite(med_a) and med_b and med_a):
                continue
            for c in src.components:
                if c.name == "analysis" or reg.regime not in c.applies:
                    continue
                v = _component_var(c, med_b, med_a, k_b, k_a)
                # an error of σ on a leg's median is 100·σ/median points of 100·ln(L/R)
                add(c.name, v * (100.0 / (0.5 * (abs(med_b) + abs(med_a)))) ** 2)
    return MeasurementVariance(float(sum(parts.values())), parts)
