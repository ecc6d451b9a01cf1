"""Analysis settings — one frozen dataclass with units in every name, serialisable with the
results, and the per-stage settings carved from it.

``AnalysisParams`` is what a user sets (``imugait analyze --params FILE``, ``compare``,
``reprocess``); :func:`load_params` is the one place that turns a file, a dict or ``None``
into it. Each pipeline stage receives only its own frozen settings object
(:class:`ConditionSettings`, :class:`CalibrationSettings`, :class:`AngleSettings`,
:class:`SegmentationSettings`, :class:`EventSettings`, :class:`StrideSettings`), built by
``<Settings>.from_params(params)``.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from imugait.errors import ImugaitError, InputFileError

ALGORITHM_VERSION = "2.1.0"
"""Bumped whenever the numbers the pipeline produces can change for the same input."""

RETIRED_PARAMS = frozenset({
    # 1.x event rules, replaced in 2.0.0 by the rise-crossing / peak-extension rules
    "ic_search_frac", "ic_use_impact", "ic_zc_start_frac", "ic_zc_end_frac", "ic_zc_level_frac",
    "ic_max_dev_frac", "ic_default_frac_walk", "ic_default_frac_run", "to_frac_walk", "to_frac_run",
    "to_ef_frac", "run_cadence_spm",
    # 2.0.0 development names
    "to_after_ext_walk_frac", "to_after_ext_run_frac",
    # 1.x calibration window (seconds of movement), replaced by calib_min_motion_s
    "calib_motion_s", "max_bout_gap_s", "max_gyr_clipped_pct",
})
"""Names of parameters that older versions wrote into summary.json / provenance.json. They are
ignored with a warning when such a file is loaded, so old sessions can be reprocessed."""


@dataclass(frozen=True)
class AnalysisParams:
    # --- input conditioning -------------------------------------------------------------
    max_interp_gap_s: float = 0.25
    """Gaps in ``t_s`` up to this long are filled by linear interpolation; longer gaps end
    the current bout and strides across them are rejected (``gap_in_data``)."""
    vqf_reset_gap_s: float = 2.0
    """After a gap longer than this the orientation filter is restarted (bias kept)."""
    vqf_init_s: float = 2.0
    """At a (re)start of the orientation filter the vertical is estimated from the next
    ``vqf_init_s`` seconds (gyro-compensated mean of the accelerometer) and the filter starts
    settled on it."""

    # --- calibration --------------------------------------------------------------------
    still_min_s: float = 1.0
    """A still period must last at least this long (standing calibration)."""
    still_block_s: float = 0.5
    still_gyr_std_dps: float = 4.0
    still_acc_std_mps2: float = 0.25
    still_gyr_mean_dps: float = 15.0
    calib_min_motion_s: float = 4.0
    """Seconds of movement (gyro norm above ``motion_gyr_dps``) the first calibration attempt
    uses for the flexion axis and its sign (≈ 3–6 strides of walking or running)."""
    calib_max_motion_s: float = 32.0
    """If the flexion sign is unclear (``sign_confidence < min_sign_confidence``) the window
    doubles (4 → 8 → 16 → 32 s of movement) before the calibration is accepted. At the end of
    a recording whatever was collected is used."""
    min_sign_confidence: float = 0.3
    hold_max_s: float = 600.0
    """Samples held while waiting for the calibration are capped at this duration (oldest dropped)."""
    motion_gyr_dps: float = 30.0
    min_axis_confidence: float = 0.6
    """Fraction of in-plane gyro variance on the flexion axis below which calibration is poor."""
    implausible_gyr_dps: float = 1500.0
    """Thigh angular velocity above this (or clipped gyro) marks the data implausible."""
    gyro_acc_ratio_range: tuple = (0.33, 3.0)
    """Allowed ratio of gyro-integrated to accelerometer-derived stride ROM (scale check)."""

    # --- orientation (VQF) and the sagittal plane ----------------------------------------
    vqf_tau_acc_s: float = 8.0
    heading_tau_s: float = 2.0
    """Time constant (s) of the causal filter that finds the walking direction (the sagittal
    plane the thigh angle is measured in) from the thigh's anterior axis."""

    # --- segmentation -------------------------------------------------------------------
    smooth_s: float = 0.08
    """Hann window (s) smoothing the angle before extremum detection (zero phase, look-ahead smooth_s/2)."""
    hysteresis_min_deg: float = 8.0
    hysteresis_rom_frac: float = 0.3
    min_stride_s: float = 0.4
    max_stride_s: float = 2.5
    rom_floor_deg: float = 10.0
    max_stride_change_frac: float = 0.4
    """A stride differing from the previous by more than this fraction is rejected (stride_time_jump)."""
    max_stance_frac_dev: float = 0.08
    """The first strides of a bout whose stance fraction differs from the bout's median by more
    than this (gait initiation out of standing) are rejected (events_implausible)."""
    min_bout_strides: int = 3

    # --- events (docs/analysis.md, "Events": sources of every constant) ----------------
    rise_level_frac: float = 0.8
    """The forward-swing fiducial: the moment the rising thigh angle crosses
    ``extension peak + rise_level_frac × (next flexion peak − extension peak)``."""
    ic_after_rise_walk_frac: float = 0.24
    ic_after_rise_run_frac: float = 0.315
    """IC = rise crossing + this fraction of the stride (walking / running ends of the
    continuous gait weight)."""
    trough_level_frac: float = 0.1
    """The extension fiducial: the middle of the time the thigh angle stays within
    ``trough_level_frac`` of the range above its peak extension (robust to the flat trough of
    walking, where the minimum itself wanders)."""
    to_after_trough_walk_frac: float = 0.106
    to_after_trough_run_frac: float = -0.046
    """TO = extension fiducial + this fraction of the stride (negative: before it)."""
    run_stride_s: float = 0.80
    walk_stride_s: float = 0.92
    """The cadence part of the gait weight (0 walking … 1 running): 1 for strides ≤
    ``run_stride_s`` (cadence ≥ 150 spm), 0 for strides ≥ ``walk_stride_s`` (cadence ≤ 130 spm)
    and a smoothstep in between: the event offsets change continuously, never at a label."""
    flight_walk_g: float = -0.35
    flight_run_g: float = -0.75
    """The flight part of the gait weight: the lowest vertical specific force of a stride (the
    accelerometer along the vertical, smoothed over ``flight_smooth_s``; 1 g standing, 0 g in
    free fall), median of the chain's last strides. Running (a flight phase) ≤ ``flight_run_g``
    → 1, walking (double support) ≥ ``flight_walk_g`` → 0, smoothstep between. Measured on real
    thighs: walking −0.21…+0.27 g (HuGaDB, 110–153 spm), running −0.95…−2.5 g (Fukuchi 2017,
    2.5–4.5 m/s) (docs/analysis.md, "Events")."""
    flight_smooth_s: float = 0.1
    flight_band_spm: tuple = (115.0, 125.0, 140.0, 150.0)
    """Cadences (spm) where the flight cue decides the gait weight: its share rises from 0 at the
    first to 1 at the second value, stays 1 up to the third and falls to 0 at the fourth
    (smoothsteps); elsewhere the cadence alone decides (nobody runs at 110 spm; at ≥ 150 spm the
    cadence part is 1 — and simulators whose accelerometer has no realistic flight phase, like
    imugait.sim 2.0's running, are not misread there; docs/analysis.md "Events")."""
    ic_impact_refine: bool = True
    """Running-like strides only: IC moves to a clear accelerometer impact when one lies
    within ``ic_impact_window_frac`` of the stride around the kinematic prediction."""
    ic_impact_window_frac: float = 0.06
    ic_jerk_ratio: float = 4.0
    """The impact's jerk must exceed this multiple of the stride's median accelerometer jerk."""
    ic_min_jerk_gps: float = 30.0
    """... and this absolute jerk (g/s) ..."""
    run_impact_g: float = 3.5
    """... and the accelerometer norm must reach this (g) within the window."""

    def to_dict(self) -> dict:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        d["algorithm_version"] = ALGORITHM_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "AnalysisParams":
        names = {f.name for f in fields(cls)}
        kw: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in names}
        return cls(**kw)

    def replace(self, **kw) -> "AnalysisParams":
        return replace(self, **kw)


def load_params(source=None) -> AnalysisParams:
    """``None`` (defaults) | ``AnalysisParams`` | dict | path of a JSON file -> ``AnalysisParams``.

    The one place parameters are loaded (``imugait analyze --params``, ``compare``,
    ``reprocess``, ``report``). A JSON file may hold the parameter object itself or a
    ``summary.json`` / ``provenance.json`` with a ``"params"`` member. Unknown names are an
    error (a typo must not silently fall back to the default); names that older versions
    wrote (:data:`RETIRED_PARAMS`) are ignored with a warning."""
    if source is None:
        return AnalysisParams()
    if isinstance(source, AnalysisParams):
        return source
    if isinstance(source, (str, Path)):
        p = Path(source)
        try:
            d = json.loads(p.read_text())
        except FileNotFoundError:
            raise InputFileError(p, None, "does not exist", "give a JSON file of analysis parameters") from None
        except ValueError as e:
            raise InputFileError(p, f"line {getattr(e, 'lineno', '?')}", f"is not valid JSON ({getattr(e, 'msg', e)})",
                                 "write the parameters as a JSON object, e.g. {\"rom_floor_deg\": 15}") from None
        if isinstance(d, dict) and isinstance(d.get("params"), dict):
            d = d["params"]
        if not isinstance(d, dict):
            raise InputFileError(p, None, "must hold a JSON object of parameter names and values",
                                 "write the parameters as a JSON object, e.g. {\"rom_floor_deg\": 15}")
        return _params_from_dict(d, where=str(p))
    if isinstance(source, dict):
        return _params_from_dict(source, where="params")
    raise TypeError(f"params must be None, AnalysisParams, dict or a JSON path, not {type(source).__name__}")


def _params_from_dict(d: dict, where: str) -> AnalysisParams:
    names = {f.name for f in fields(AnalysisParams)}
    retired = sorted(set(d) & RETIRED_PARAMS)
    unknown = sorted(set(d) - names - RETIRED_PARAMS - {"algorithm_version"})
    if unknown:
        raise ImugaitError(f"{where}: unknown analysis parameter(s) {', '.join(unknown)} — "
                           f"valid names are listed in docs/analysis.md (AnalysisParams)")
    if retired:
        warnings.warn(f"{where}: parameter(s) {', '.join(retired)} of an older analysis version are ignored "
                      f"(analysis {ALGORITHM_VERSION} uses other rules; see docs/analysis.md)", stacklevel=3)
    return AnalysisParams.from_dict({k: v for k, v in d.items() if k in names})


# --------------------------------------------------------------------------------------
# Per-stage settings: each stage sees only the fields it uses (same names as above).
# --------------------------------------------------------------------------------------
class _FromParams:
    @classmethod
    def from_params(cls, p: AnalysisParams):
        return cls(**{f.name: getattr(p, f.name) for f in fields(cls)})  # type: ignore[arg-type]  # subclasses are dataclasses


@dataclass(frozen=True)
class ConditionSettings(_FromParams):
    """Input conditioning (:mod:`imugait.analysis.condition`)."""

    max_interp_gap_s: float


@dataclass(frozen=True)
class CalibrationSettings(_FromParams):
    """Strap calibration (:mod:`imugait.analysis.calibrate`)."""

    still_min_s: float
    still_block_s: float
    still_gyr_std_dps: float
    still_acc_std_mps2: float
    still_gyr_mean_dps: float
    calib_min_motion_s: float
    calib_max_motion_s: float
    min_sign_confidence: float
    hold_max_s: float
    motion_gyr_dps: float
    min_axis_confidence: float
    implausible_gyr_dps: float
    gyro_acc_ratio_range: tuple


@dataclass(frozen=True)
class AngleSettings(_FromParams):
    """Thigh angle (:mod:`imugait.analysis.angle`)."""

    vqf_tau_acc_s: float
    heading_tau_s: float
    vqf_reset_gap_s: float
    vqf_init_s: float
    implausible_gyr_dps: float


@dataclass(frozen=True)
class SegmentationSettings(_FromParams):
    """Peaks of flexion and extension (:mod:`imugait.analysis.segment`)."""

    smooth_s: float
    hysteresis_min_deg: float
    hysteresis_rom_frac: float
    min_stride_s: float
    max_stride_s: float


@dataclass(frozen=True)
class EventSettings(_FromParams):
    """Initial contact and toe-off rules (:mod:`imugait.analysis.events`)."""

    min_stride_s: float
    max_stride_s: float
    rise_level_frac: float
    ic_after_rise_walk_frac: float
    ic_after_rise_run_frac: float
    trough_level_frac: float
    to_after_trough_walk_frac: float
    to_after_trough_run_frac: float
    run_stride_s: float
    walk_stride_s: float
    flight_walk_g: float
    flight_run_g: float
    flight_smooth_s: float
    flight_band_spm: tuple
    ic_impact_refine: bool
    ic_impact_window_frac: float
    ic_jerk_ratio: float
    ic_min_jerk_gps: float
    run_impact_g: float


@dataclass(frozen=True)
class StrideSettings(_FromParams):
    """Stride metrics, validity and bouts (:mod:`imugait.analysis.strides`)."""

    min_stride_s: float
    max_stride_s: float
    rom_floor_deg: float
    max_stride_change_frac: float
    max_stance_frac_dev: float
    min_bout_strides: int
