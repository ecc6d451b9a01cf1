"""Thigh-IMU gait analysis: strap calibration, thigh angle, strides, events, metrics,
asymmetry — one streaming implementation (:class:`GaitPipeline`) for live and batch
(:func:`analyze` = one chunk + flush). See ``docs/analysis.md``.

Stages (each a function with its own settings and explicit state): ``condition`` →
``calibrate`` → ``angle`` → ``segment`` → ``events``/``strides``; ``summary`` for per-side
summaries and left/right asymmetry."""

from imugait.analysis.calibrate import CalibrationState, long_axis_from_standing
from imugait.analysis.params import ALGORITHM_VERSION, AnalysisParams, load_params
from imugait.analysis.pipeline import GaitPipeline, PipelineOutput
from imugait.analysis.results import STRIDE_COLUMNS, StrideResult

__all__ = ["ALGORITHM_VERSION", "AnalysisParams", "AnalysisResult", "CalibrationState", "GaitPipeline",
           "PipelineOutput", "STRIDE_COLUMNS", "StrideResult", "analyze", "load_params", "long_axis_from_standing"]


def __getattr__(name):
    if name in ("analyze", "AnalysisResult"):
        from imugait.analysis import api

        return getattr(api, name)
    raise AttributeError(name)
