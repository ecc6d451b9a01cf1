"""Result types of the analysis — the contract between the pipeline and its users
(CLI tables, HDF5 derived results, live view, comparison).

``STRIDE_COLUMNS`` is the column order of ``strides.csv`` (documented in the README);
extra columns follow it. A stride runs from one initial contact (IC) to the next IC of
the same leg. Times are in the input's clock (session time for sessions, the CSV's
``time_s`` for CSV input).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from imugait.conventions import Side

STRIDE_COLUMNS: tuple[str, ...] = (
    "side", "stride_index", "ic_s", "to_s", "next_ic_s", "stride_s", "cadence_spm",
    "stance_s", "swing_s", "swing_pct", "flex_peak_deg", "ext_peak_deg", "rom_deg",
    "valid", "reason",
)
"""Required columns of ``strides.csv``, in order."""

EXTRA_STRIDE_COLUMNS: tuple[str, ...] = ("bout_index", "gait", "flex_peak_s", "ext_peak_s", "angle_calibrated")

# Metrics that asymmetry and comparison are computed for (name, unit, higher-is-what).
STRIDE_METRICS: tuple[str, ...] = (
    "rom_deg", "flex_peak_deg", "ext_peak_deg", "swing_pct", "stance_s", "swing_s",
    "stride_s", "cadence_spm",
)


@dataclass(frozen=True)
class StrideResult:
    """One stride of one leg. ``valid`` False means excluded, with ``reason`` saying why
    (e.g. ``"stride_time_out_of_range"``, ``"rom_below_floor"``, ``"gap_in_data"``)."""

    side: Side
    stride_index: int
    ic_s: float
    to_s: float
    next_ic_s: float
    stride_s: float
    cadence_spm: float
    stance_s: float
    swing_s: float
    swing_pct: float
    flex_peak_deg: float
    ext_peak_deg: float
    rom_deg: float
    valid: bool
    reason: str = ""
    bout_index: int = -1
    gait: str = ""  # "walk" | "run" | ""
    flex_peak_s: float = float("nan")
    ext_peak_s: float = float("nan")
    angle_calibrated: bool = True  # False: absolute angles uncalibrated (no still period); ROM stays valid

    def as_row(self) -> dict:
        return {name: getattr(self, name) for name in _FIELD_NAMES}

    @classmethod
    def column_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


_FIELD_NAMES = tuple(f.name for f in fields(StrideResult))
