"""Thigh-IMU gait analysis: strap calibration, thigh angle, strides, events, metrics,
asymmetry — one streaming implementation (:class:`GaitPipeline`) for live and batch
(:func:`analyze` = one chunk + flush). See ``docs/analysis.md``.

Stages (each a function with its own settings and explicit state): ``condition`` →
``calibrate`` → ``angle`` → ``segment`` → ``events``/``strides``; ``summary`` for per-side
summaries and left/right asymmetry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imugait._lazy import lazy_exports

from imugait.analysis.calibrate import CalibrationState, long_axis_from_standing
from imugait.analysis.params import ALGORITHM_VERSION, AnalysisParams, load_params
from imugait.analysis.pipeline import GaitPipeline, PipelineOutput
from imugait.analysis.results import STRIDE_COLUMNS, StrideResult

if TYPE_CHECKING:  # the lazily imported names, for type checkers and IDEs
    from imugait.analysis.api import AnalysisResult, analyze
    from imugait.analysis.params import CalibrationSettings, EventSettings
    from imugait.analysis.calibrate import SIGN_WEIGHTS
    from imugait.analysis.summary import asymmetry, describe, pair_strides
    from imugait.analysis.flexor import FLEXOR_ALGORITHM_VERSION, FlexorParams, analyze_flexor

_LAZY = {
    **dict.fromkeys(("AnalysisResult", "analyze"), "imugait.analysis.api"),
    **dict.fromkeys(("CalibrationSettings", "EventSettings"), "imugait.analysis.params"),
    **dict.fromkeys(("SIGN_WEIGHTS",), "imugait.analysis.calibrate"),
    **dict.fromkeys(("asymmetry", "describe", "pair_strides"), "imugait.analysis.summary"),
    **dict.fromkeys(("FLEXOR_ALGORITHM_VERSION", "FlexorParams", "analyze_flexor"), "imugait.analysis.flexor"),
}

__all__ = ["ALGORITHM_VERSION", "AnalysisParams", "AnalysisResult", "analyze", "analyze_flexor", "asymmetry",
           "CalibrationSettings", "CalibrationState", "describe", "EventSettings",
           "FLEXOR_ALGORITHM_VERSION", "FlexorParams", "GaitPipeline", "load_params",
           "long_axis_from_standing", "pair_strides", "PipelineOutput", "SIGN_WEIGHTS", "STRIDE_COLUMNS",
           "StrideResult"]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
