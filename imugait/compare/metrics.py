"""Metric names, labels and formatting shared by comparison and reports."""

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


SIDE_METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("rom_deg", "hip range", "°"),
        MetricInfo("flex_peak_deg", "peak flexion", "°", absolute_angle=True),
        MetricInfo("ext_peak_deg", "peak extension angle", "°", absolute_angle=True),
        MetricInfo("swing_pct", "swing share", "%", diff_unit="% points"),
        MetricInfo("stance_s", "stance (ground contact) time", "ms", scale=1000.0, decimals=0),
        MetricInfo("stride_s", "stride time", "ms", scale=1000.0, decimals=0),
        MetricInfo("cadence_spm", "cadence", "steps/min"),
    )
}
"""Per-leg metrics compared, in report order."""

ASYM_METRICS: dict[str, tuple[str, MetricInfo]] = {
    "asym_rom_pct": ("rom_deg", MetricInfo("asym_rom_pct", "left/right hip-range asymmetry", "%", diff_unit="% points")),
    "asym_stance_pct": ("stance_s", MetricInfo("asym_stance_pct", "left/right contact-time asymmetry", "%", diff_unit="% points")),
    "asym_swing_pct": ("swing_pct", MetricInfo("asym_swing_pct", "left/right swing-share asymmetry", "%", diff_unit="% points")),
}
"""Asymmetry metrics: 100·ln(L/R) of per-stride pairs of the source metric (side ``"both"``)."""


def metric_info(name: str) -> MetricInfo:
    if name in SIDE_METRICS:
        return SIDE_METRICS[name]
    if name in ASYM_METRICS:
        return ASYM_METRICS[name][1]
    return MetricInfo(name, name.replace("_", " "), "")
