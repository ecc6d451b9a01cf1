"""The streaming gait pipeline — ONE implementation for live and batch.

``GaitPipeline.push(t_s, acc_mps2, gyr_dps)`` takes chunks of any size (one sample to a
whole recording) and returns what became final; ``flush()`` ends the stream. Batch analysis
(:func:`imugait.analysis.analyze`) is one ``push`` plus ``flush``.

The pipeline only wires stages together; each stage is a function with its own settings
(carved from :class:`~imugait.analysis.params.AnalysisParams`) and explicit state, in the
shape of ``scipy.signal.sosfilt(sos, x, zi)`` — state in, state out:

1. :func:`~imugait.analysis.condition.condition` — clean, regular samples; holes filled or
   marked as segment starts.
2. :func:`~imugait.analysis.calibrate.calibrator_step` — samples held until the strap
   calibration is computed on a sample-determined prefix, then released.
3. :func:`~imugait.analysis.angle.estimate_angle` — thigh angle (online VQF) and the
   per-sample signals, appended to the :class:`~imugait.analysis.signals.SignalBuffer`.
4. :func:`~imugait.analysis.segment.segment_step` — peaks of flexion/extension, stride candidates.
5./6. :func:`~imugait.analysis.strides.stride_step` — events (:mod:`imugait.analysis.events`),
   metrics, validity, bouts.

Latency (docs/analysis.md): a stride is emitted once the closing IC's look-ahead
(:func:`~imugait.analysis.events.ic_lookahead_frac` × stride after the flexion peak before
it, + ``smooth_s/2``) has been seen; the first strides of a bout wait until the bout has
``min_bout_strides`` strides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imugait.analysis.angle import AngleState, estimate_angle, new_angle_state
from imugait.analysis.calibrate import (CalibrationState, CalibratorState, calibrator_step, flexion_axis_from_cov,
                                      in_plane_cov)
from imugait.analysis.condition import ConditionedChunk, ConditionState, condition
from imugait.analysis.params import (AnalysisParams, AngleSettings, CalibrationSettings, ConditionSettings,
                                     EventSettings, SegmentationSettings, StrideSettings)
from imugait.analysis.results import StrideResult
from imugait.analysis.segment import SegmentState, new_segment_state, segment_step, trim_segment_state
from imugait.analysis.signals import SignalBuffer
from imugait.analysis.strides import StrideState, close_bout, oldest_needed_index, stride_step, trim_stride_state
from imugait.conventions import Side, parse_side


@dataclass
class PipelineOutput:
    strides: list = field(default_factory=list)  # list[StrideResult]
    t_s: np.ndarray = field(default_factory=lambda: np.empty(0))
    thigh_angle_deg: np.ndarray = field(default_factory=lambda: np.empty(0))
    events: list = field(default_factory=list)  # [("IC"|"TO", t_s)]

    def extend(self, other: "PipelineOutput") -> None:
        self.strides.extend(other.strides)
        self.events.extend(other.events)
        if other.t_s.size:
            self.t_s = np.concatenate([self.t_s, other.t_s])
            self.thigh_angle_deg = np.concatenate([self.thigh_angle_deg, other.thigh_angle_deg])

    def add_strides(self, strides: list[StrideResult]) -> None:
        for s in strides:
            self.strides.append(s)
            self.events.append(("IC", s.ic_s))
            if np.isfinite(s.to_s):
                self.events.append(("TO", s.to_s))


@dataclass(frozen=True)
class StageSettings:
    """The settings of every stage, carved from one :class:`AnalysisParams`."""

    condition: ConditionSettings
    calibration: CalibrationSettings
    angle: AngleSettings
    segmentation: SegmentationSettings
    events: EventSettings
    strides: StrideSettings

    @classmethod
    def from_params(cls, p: AnalysisParams) -> "StageSettings":
        return cls(ConditionSettings.from_params(p), CalibrationSettings.from_params(p), AngleSettings.from_params(p),
                   SegmentationSettings.from_params(p), EventSettings.from_params(p), StrideSettings.from_params(p))


class GaitPipeline:
    """Streaming thigh-IMU gait analysis for one leg. See the module docstring."""

    BLOCK_S = 60.0
    """Chunks longer than this are processed in blocks of this length (memory bound)."""

    def __init__(self, fs_hz: float, side: Side = "left", params: AnalysisParams | None = None):
        if not (10.0 <= float(fs_hz) <= 2000.0):
            raise ValueError(f"fs_hz must be a sample rate in Hz (10–2000), got {fs_hz!r}")
        self.fs_hz = float(fs_hz)
        self.side: Side = parse_side(side)
        self.params = params or AnalysisParams()
        self.settings = StageSettings.from_params(self.params)
        self._condition = ConditionState(period_s=1.0 / self.fs_hz)
        self._strides = StrideState(self.fs_hz, self.side)
        self._pending_out = PipelineOutput()
        self._start_calibration()

    # ----------------------------------------------------------------- public surface
    @property
    def calibration(self) -> CalibrationState:
        return self._calibrator.result

    def stats(self) -> dict:
        return self._condition.stats()

    def strap_axes(self) -> dict | None:
        """The strap's axes in the sensor frame from every sample since the calibration: the
        long axis of the calibration and the flexion axis re-estimated (the calibration's PCA,
        :func:`imugait.analysis.calibrate.flexion_axis_from_cov`) over all movement seen so
        far, its sign taken from the calibration. Far less noisy than the calibration's few
        seconds; ``imugait compare`` uses it to tell a sensor that stayed on from a
        re-strapped one. ``None`` before 2 s of movement."""
        cal = self._calibrator.result
        if not cal.calibrated or self._axes_moving_n < 2 * self.fs_hz:
            return None
        y = np.asarray(cal.long_axis, float)
        z, conf = flexion_axis_from_cov(self._axes_cov, y)
        if z @ np.asarray(cal.flexion_axis, float) < 0:
            z = -z
        return {"long_axis": [float(v) for v in y], "flexion_axis": [float(v) for v in z], "axis_confidence": conf,
                "motion_s": float(self._axes_moving_n / self.fs_hz)}

    def push(self, t_s, acc_mps2, gyr_dps) -> PipelineOutput:
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        acc = np.asarray(acc_mps2, dtype=np.float64).reshape(-1, 3)
        gyr = np.asarray(gyr_dps, dtype=np.float64).reshape(-1, 3)
        if not (t.shape[0] == acc.shape[0] == gyr.shape[0]):
            raise ValueError(f"t_s, acc_mps2, gyr_dps lengths differ: {t.shape[0]}, {acc.shape[0]}, {gyr.shape[0]}")
        out, self._pending_out = self._pending_out, PipelineOutput()
        block = max(1, int(self.BLOCK_S * self.fs_hz))
        for i in range(0, t.shape[0], block):
            chunk, self._condition = condition(t[i:i + block], acc[i:i + block], gyr[i:i + block], self._condition,
                                               self.settings.condition)
            if len(chunk):
                out.extend(self._after_condition(chunk, final=False))
        return out

    def flush(self) -> PipelineOutput:
        out, self._pending_out = self._pending_out, PipelineOutput()
        out.extend(self._after_condition(ConditionedChunk(), final=True))
        return out

    def recalibrate(self) -> None:
        """Start a new calibration from the next sample on (stand still, then walk).
        Strides pending so far are finalised and returned by the next ``push``/``flush``."""
        self._pending_out.extend(self._finish())
        self._start_calibration()
        self._calibrator.result = CalibrationState(message="recalibrating: stand still for 2 s, then walk")

    # ----------------------------------------------------------------- wiring
    def _start_calibration(self) -> None:
        self._calibrator = CalibratorState(self.fs_hz)
        self._axes_cov = np.zeros((3, 3))  # in-plane gyro scatter since the calibration (strap_axes)
        self._axes_moving_n = 0
        self._angle: AngleState | None = None
        self._signals = SignalBuffer()
        self._segment: SegmentState = new_segment_state(self.fs_hz, self.settings.segmentation)
        self._strides.pending, self._strides.ic_cache = [], {}

    def _after_condition(self, chunk: ConditionedChunk, final: bool) -> PipelineOutput:
        out = PipelineOutput()
        ready, self._calibrator = calibrator_step(chunk, self._calibrator, self.settings.calibration, final=final)
        if self._angle is None and self._calibrator.result.calibrated:
            self._angle = new_angle_state(self.fs_hz, self._calibrator.result, self.settings.angle)
        if self._angle is not None and len(ready):
            self._accumulate_axes(ready)
        if self._angle is not None and (len(ready) or final):
            sig, self._angle = estimate_angle(ready, self._angle, self.settings.angle, final=final)
            if len(sig):
                self._signals.append(sig)
                out.t_s, out.thigh_angle_deg = sig["t_s"], sig["thigh_angle_deg"]
                out.add_strides(self._detect(final=False))
        if final:
            out.add_strides(self._finish_strides())
        return out

    def _accumulate_axes(self, chunk: ConditionedChunk) -> None:
        cal = self._calibrator.result
        g = chunk.gyr_dps - np.asarray(cal.gyro_bias_dps, float)
        gn = np.linalg.norm(g, axis=1)
        cs = self.settings.calibration
        moving = (gn > cs.motion_gyr_dps) & (gn <= cs.implausible_gyr_dps)  # the calibration's PCA samples
        if moving.any():
            self._axes_cov += in_plane_cov(g[moving], np.asarray(cal.long_axis, float))
            self._axes_moving_n += int(moving.sum())

    def _detect(self, final: bool) -> list[StrideResult]:
        s = self.settings
        cands, self._segment = segment_step(self._signals, self._segment, s.segmentation, final=final)
        strides, self._strides = stride_step(self._signals, self._segment, cands, self._strides, s.strides, s.events,
                                             self._calibrator.result, final=final)
        self._trim()
        return strides

    def _finish_strides(self) -> list[StrideResult]:
        if self._angle is None:
            return []
        return self._detect(final=True) + close_bout(self._strides)

    def _finish(self) -> PipelineOutput:
        out = PipelineOutput()
        out.add_strides(self._finish_strides())
        return out

    def _trim(self) -> None:
        """Bound memory: keep the samples still needed by pending strides and peaks (+3–10 s)."""
        sig, seg = self._signals, self._segment
        fs = self.fs_hz
        cands = [sig.end - int(10 * fs), seg.next_test - seg.half_window - 2]
        need = oldest_needed_index(self._strides, fs)
        if need is not None:
            cands.append(need)
        if seg.flexion_peaks:
            cands.append(int(seg.flexion_peaks[-1].index) - int(3 * fs))
        keep = min(cands)
        if keep - sig.base > int(20 * fs):
            sig.trim_before(keep)
            trim_stride_state(self._strides, keep)
            trim_segment_state(self._segment, keep)
