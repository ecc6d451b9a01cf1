"""The stride metrics — one table: name (unit in the name), label, display unit and scale.

Every view selects from it by name: the analysis summary (:data:`SUMMARY_METRICS`, all of
them), the before/after comparison and group study (:data:`SIDE_METRICS`,
:data:`ASYM_METRICS`), the live view's bars (``imugait.live.metrics.BAR_METRICS``) and the
batch tables (:data:`HEADLINE_METRICS`).

*Positive* metrics (times, range, swing %, cadence) get a left/right ratio asymmetry
(:func:`imugait.analysis.summary.ln_ratio_pct`); *signed* ones (peak flexion/extension angles,
either side of zero, relative to the standing neutral) get a difference instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str          # plain language, e.g. "hip range"
    unit: str           # unit shown to the user
    scale: float = 1.0  # stored value × scale = shown value (s -> ms)
    decimals: int = 1
    absolute_angle: bool = False  # depends on the strap's neutral (re-strapping moves it)
    diff_unit: str | None = None  # unit of a difference if different ("% points")
    signed: bool = False  # can be either side of zero: differences, not ratios
    short: str = ""  # a word or two for small displays ("Hip range")

    @property
    def value_unit(self) -> str:
        """The unit of the stored value (from the name's suffix): "°", "s", "%", "steps/min"."""
        return {"deg": "°", "s": "s", "pct": "%", "spm": "steps/min"}.get(self.name.rsplit("_", 1)[-1], "")

    def fmt(self, v: float, signed: bool = False, unit: bool = True, diff: bool = False) -> str:
        if v is None or not math.isfinite(v):
            return "n/a"
        x = v * self.scale
        s = f"{x:+.{self.decimals}f}" if signed else f"{x:.{self.decimals}f}"
        s = s.replace("-", "−")
        if not unit:
            return s
        u = (self.diff_unit if diff and self.diff_unit else self.unit)
        return s + ("" if u in ("°",) else " ") + u


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("rom_deg", "hip range", "°", short="Hip range"),
        MetricInfo("swing_pct", "swing share", "%", diff_unit="% points", short="Swing"),
        MetricInfo("stance_s", "stance (ground contact) time", "ms", scale=1000.0, decimals=0, short="Stance"),
        MetricInfo("swing_s", "swing time", "ms", scale=1000.0, decimals=0, short="Swing time"),
        MetricInfo("stride_s", "stride time", "ms", scale=1000.0, decimals=0, short="Stride"),
        MetricInfo("cadence_spm", "cadence", "steps/min", short="Cadence"),
        MetricInfo("flex_peak_deg", "peak flexion", "°", absolute_angle=True, signed=True, short="Peak flexion"),
        MetricInfo("ext_peak_deg", "peak extension angle", "°", absolute_angle=True, signed=True,
                   short="Peak extension"),
    )
}
"""Every per-stride metric of the stride table that is summarised, in summary order."""

SUMMARY_METRICS = tuple(METRICS)
POSITIVE_METRICS = tuple(m for m, i in METRICS.items() if not i.signed)
SIGNED_METRICS = tuple(m for m, i in METRICS.items() if i.signed)

SIDE_METRICS: dict[str, MetricInfo] = {m: METRICS[m] for m in (
    "rom_deg", "flex_peak_deg", "ext_peak_deg", "swing_pct", "stance_s", "stride_s", "cadence_spm")}
"""Per-leg metrics compared before/after, in report order."""

ASYM_METRICS: dict[str, tuple[str, MetricInfo]] = {
    "asym_rom_pct": ("rom_deg", MetricInfo("asym_rom_pct", "left/right hip-range asymmetry", "%", diff_unit="% points")),
    "asym_stance_pct": ("stance_s", MetricInfo("asym_stance_pct", "left/right contact-time asymmetry", "%", diff_unit="% points")),
    "asym_swing_pct": ("swing_pct", MetricInfo("asym_swing_pct", "left/right swing-share asymmetry", "%", diff_unit="% points")),
}
"""Asymmetry metrics: 100·ln(L/R) of per-stride pairs of the source metric (side ``"both"``)."""

HEADLINE_METRICS = ("rom_deg", "cadence_spm", "swing_pct", "stance_s")
"""The per-leg medians of batch tables (``reprocess``'s sessions.csv)."""


def metric_info(name: str) -> MetricInfo:
    if name in METRICS:
        return METRICS[name]
    if name in ASYM_METRICS:
        return ASYM_METRICS[name][1]
    return MetricInfo(name, name.replace("_", " "), "")


__all__ = ["ASYM_METRICS", "HEADLINE_METRICS", "METRICS", "MetricInfo", "POSITIVE_METRICS", "SIDE_METRICS",
           "SIGNED_METRICS", "SUMMARY_METRICS", "metric_info"]
