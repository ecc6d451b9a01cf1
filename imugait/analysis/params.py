"""Analysis settings — one frozen dataclass, units in every name, serialisable with the results."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

ALGORITHM_VERSION = "1.2.2"
"""Bumped whenever the numbers the pipeline produces can change for the same input."""


@dataclass(frozen=True)
class AnalysisParams:
    # --- input conditioning -------------------------------------------------------------
    max_interp_gap_s: float = 0.25
    """Gaps in ``t_s`` up to this long are filled by linear interpolation; longer gaps end
    the current bout and strides across them are rejected (``gap_in_data``)."""
    vqf_reset_gap_s: float = 2.0
    """After a gap longer than this the orientation filter is restarted (bias kept)."""

    # --- calibration --------------------------------------------------------------------
    still_min_s: float = 1.0
    """A still period must last at least this long (standing calibration)."""
    still_block_s: float = 0.5
    still_gyr_std_dps: float = 4.0
    still_acc_std_mps2: float = 0.25
    still_gyr_mean_dps: float = 15.0
    calib_motion_s: float = 8.0
    """Seconds of movement (gyro norm above ``motion_gyr_dps``) used for the flexion axis."""
    calib_max_motion_s: float = 32.0
    """If the flexion sign is unclear (``sign_confidence < min_sign_confidence``) the window
    doubles (8 → 16 → 32 s of movement) before the calibration is accepted."""
    min_sign_confidence: float = 0.3
    hold_max_s: float = 600.0
    """Samples held while waiting for the calibration are capped at this duration (oldest dropped)."""
    motion_gyr_dps: float = 30.0
    min_axis_confidence: float = 0.6
    """Fraction of in-plane gyro variance on the flexion axis below which calibration is poor."""
    implausible_gyr_dps: float = 1500.0
    """Thigh angular velocity above this (or clipped gyro) marks the data implausible."""
    max_gyr_clipped_pct: float = 0.5
    gyro_acc_ratio_range: tuple = (0.33, 3.0)
    """Allowed ratio of gyro-integrated to accelerometer-derived stride ROM (scale check)."""

    # --- orientation (VQF) --------------------------------------------------------------
    vqf_tau_acc_s: float = 8.0

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
    max_bout_gap_s: float = 3.0

    # --- events -------------------------------------------------------------------------
    ic_search_frac: tuple = (0.03, 0.25)
    """IC is searched in [F + a·T, F + b·T] after peak flexion F (T = stride time)."""
    ic_use_impact: bool = True
    """Running only: IC at the accelerometer impact when it stands out (walking uses the
    kinematic fiducial, see ``ic_default_frac_walk``)."""
    ic_zc_start_frac: float = 0.15
    ic_zc_end_frac: float = 0.10
    """The first flexion-velocity zero crossing is searched in [F − start·T, F + end·T] ..."""
    ic_zc_level_frac: float = 0.10
    """... with the angle within this fraction of the stride's range below the peak flexion."""
    ic_jerk_ratio: float = 3.0
    """The impact must exceed this multiple of the stride's median accelerometer jerk."""
    ic_min_jerk_gps: float = 10.0
    """... and this absolute jerk (g/s)."""
    ic_max_dev_frac: float = 0.15
    """An impact further than this fraction of the stride from the fraction-based prediction is
    not trusted (the prediction is used)."""
    ic_default_frac_walk: float = 0.10
    """Walking IC = first flexion-velocity zero crossing at peak flexion + this fraction of the
    stride. Real HuGaDB thighs vs the shin reference: ≈ 0.09 (per thigh 0.07–0.11); the
    simulator's template: 0.115; shank-gyro IC is reported 0–25 ms early against pressure
    insoles (Catalfamo 2010) — 0.10 sits between (docs/analysis.md)."""
    ic_default_frac_run: float = 0.185
    to_frac_walk: float = 0.07
    """TO = peak extension + this fraction of the stride (running uses ``to_frac_run``; walking
    uses it only when ``to_ef_frac`` is None)."""
    to_frac_run: float = 0.01
    to_ef_frac: float | None = 0.18
    """Walking TO = E + this fraction of the way from peak extension E to the next peak flexion
    (its first flexion-velocity zero crossing): follows a longer or shorter swing."""
    run_cadence_spm: float = 145.0
    run_impact_g: float = 3.5

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
        kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in names}
        return cls(**kw)

    def replace(self, **kw) -> "AnalysisParams":
        return replace(self, **kw)
