"""Stage 3 — the sagittal thigh angle and the signals the later stages read.

Online VQF (Laidig & Seel 2023, ``vqf.VQF``, 6D, ``tauAcc`` = ``vqf_tau_acc_s``) on the
bias-corrected gyro and the accelerometer gives the sensor's orientation in a world frame
whose vertical is known and whose heading is arbitrary (and drifts slowly). The thigh's long
axis ``y_T`` and anterior axis ``x_T`` (from the calibration) are turned into that frame.

The **walking direction** ``d`` is the horizontal part of ``x_T``, averaged by a causal
exponential filter of time constant ``heading_tau_s`` (2 s; ``scipy.signal.lfilter`` with its
state carried between chunks): the thigh swings forwards and backwards along it, its
ab/adduction and axial rotation average out. The **sagittal thigh angle** is the long axis in
the vertical plane through ``d``: ``atan2(−y_T·d, y_T·up)`` — flexion +, 0 = vertical = the
standing neutral. This is how an optical gait lab measures it (the thigh's long axis in the
lab's sagittal plane); measuring the inclination about the thigh's own flexion axis instead
read the range 1.3–2.6 % larger on real running (mocap reference, docs/analysis.md).
Causal: batch uses the same online filters, so batch == live exactly. VQF (and the heading
filter) restart after a data gap longer than ``vqf_reset_gap_s`` (VQF's gyro-bias estimate kept).

**(Re)start.** VQF aligns to its first accelerometer samples; in motion these are tens of
degrees off the vertical and the filter takes seconds to settle (measured on real running,
docs/analysis.md). So at the start of the stream and after a long gap the stage holds the
next ``vqf_init_s`` seconds, estimates the vertical at the first sample from them
(:func:`initial_vertical`), starts VQF settled on it and then processes the held samples —
a look-ahead of ``vqf_init_s`` at (re)starts only (the calibration holds these samples anyway
at the start of a stream).

``estimate_angle(chunk, state, settings) -> (ThighSignals, state)``: per sample

* ``t_s``                 time (s, the input's clock)
* ``thigh_angle_deg``     sagittal thigh angle (deg, flexion +)
* ``flexion_rate_dps``    angular velocity about the flexion axis (deg/s, flexion +)
* ``acc_norm_g``          accelerometer norm (g)
* ``acc_jerk_gps``        ‖Δacc‖·fs (g/s), the impact detector's input
* ``acc_vert_g``          vertical specific force (g): the accelerometer along the VQF vertical
  (1 standing, 0 in free fall) — the flight cue of the gait weight (docs/analysis.md, "Events")
* ``segment_start``       first sample after a long data gap
* ``gyro_implausible``    any gyro axis ≥ ``implausible_gyr_dps`` (clipped / corrupted)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter
from vqf import VQF

from imugait.analysis.calibrate import CalibrationState
from imugait.analysis.condition import ConditionedChunk
from imugait.analysis.params import AngleSettings
from imugait.conventions import DEG_PER_RAD, GRAVITY_MPS2, RAD_PER_DEG

SIGNALS = {
    "t_s": np.float64, "thigh_angle_deg": np.float64, "flexion_rate_dps": np.float64, "acc_norm_g": np.float64,
    "acc_jerk_gps": np.float64, "acc_vert_g": np.float64, "segment_start": bool, "gyro_implausible": bool,
}
"""Columns of :class:`ThighSignals` and of the pipeline's signal buffer (name → dtype)."""


@dataclass
class ThighSignals:
    """A chunk of per-sample signals (see the module docstring for names and units)."""

    columns: dict = field(default_factory=lambda: {k: np.empty(0, dtype=dt) for k, dt in SIGNALS.items()})

    def __len__(self) -> int:
        return int(self.columns["t_s"].shape[0])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]


@dataclass
class AngleState:
    """Axes from the calibration, the orientation filter, the samples held while a (re)start
    of the filter is being initialised, and the last sample seen."""

    fs_hz: float
    gyro_bias_dps: np.ndarray
    anterior_axis: np.ndarray
    long_axis: np.ndarray
    flexion_axis: np.ndarray
    vqf: VQF | None = None  # None: (re)starting, samples are held in ``init_hold``
    vqf_bias_rps: np.ndarray | None = None  # VQF's gyro-bias estimate carried over a restart
    init_hold: list = field(default_factory=list)  # [ConditionedChunk] after a (re)start
    heading_zi: np.ndarray | None = None  # lfilter state of the heading filter (1, 2), None = start afresh
    last_t_s: float | None = None  # last sample that reached this stage (held or processed)
    last_acc_mps2: np.ndarray | None = None  # last processed accelerometer sample (jerk)


def new_angle_state(fs_hz: float, cal: CalibrationState, s: AngleSettings) -> AngleState:
    return AngleState(fs_hz=fs_hz, gyro_bias_dps=np.asarray(cal.gyro_bias_dps, float),
                      anterior_axis=np.asarray(cal.anterior_axis, float), long_axis=np.asarray(cal.long_axis, float),
                      flexion_axis=np.asarray(cal.flexion_axis, float))


def estimate_angle(chunk: ConditionedChunk, state: AngleState, s: AngleSettings,
                   final: bool = False) -> tuple[ThighSignals, AngleState]:
    """Angles and signals for the samples that are ready (see the module docstring)."""
    n = len(chunk)
    outs = []
    if n:
        t, brk = chunk.t_s, chunk.segment_start
        # pieces between VQF restarts (gaps longer than vqf_reset_gap_s)
        bounds = [0]
        for i in np.flatnonzero(brk):
            prev_t = t[i - 1] if i > 0 else state.last_t_s
            if prev_t is not None and t[i] - prev_t > s.vqf_reset_gap_s:
                if i > 0:
                    bounds.append(int(i))
                else:
                    _restart(state)
        bounds.append(n)
        state.last_t_s = float(t[-1])
        for k in range(len(bounds) - 1):
            piece = chunk.slice(bounds[k], bounds[k + 1])
            if k > 0:
                outs.append(_release(state, s))  # the filter that ended here (if still initialising)
                _restart(state)
            if state.vqf is None:
                state.init_hold.append(piece)
                if sum(len(c) for c in state.init_hold) >= s.vqf_init_s * state.fs_hz:
                    outs.append(_release(state, s))
            else:
                outs.append(_process(piece, state, s))
    if final and state.vqf is None and state.init_hold:
        outs.append(_release(state, s))
    return _concat(outs), state


def _restart(state: AngleState) -> None:
    """A data gap longer than ``vqf_reset_gap_s``: a new filter and a new heading (VQF's
    gyro-bias estimate kept)."""
    if state.vqf is not None:
        state.vqf_bias_rps = state.vqf.getBiasEstimate()[0].copy()
    state.vqf = None
    state.init_hold = []
    state.heading_zi = None


def _release(state: AngleState, s: AngleSettings) -> ThighSignals:
    """Start the filter on the held samples (if any) and process them."""
    if state.vqf is not None or not state.init_hold:
        return ThighSignals()
    held = ConditionedChunk.concat(state.init_hold)
    state.init_hold = []
    g0 = initial_vertical(held.gyr_dps - state.gyro_bias_dps, held.acc_mps2, state.fs_hz, s.vqf_init_s)
    state.vqf = VQF(1.0 / state.fs_hz, tauAcc=s.vqf_tau_acc_s)
    if state.vqf_bias_rps is not None:
        state.vqf.setBiasEstimate(state.vqf_bias_rps, -1.0)
    # VQF aligns to its first accelerometer samples and averages them for its first tauAcc
    # seconds: a lead-in of tauAcc seconds "at rest" with the estimated vertical starts it
    # settled instead of on a few samples taken in motion (tens of degrees off, docs/analysis.md)
    m = max(1, int(round(s.vqf_tau_acc_s * state.fs_hz)))
    state.vqf.updateBatch(np.zeros((m, 3)), np.ascontiguousarray(np.tile(g0 * GRAVITY_MPS2, (m, 1))))
    return _process(held, state, s)


def initial_vertical(gyr_dps: np.ndarray, acc_mps2: np.ndarray, fs_hz: float, window_s: float) -> np.ndarray:
    """The vertical (unit vector, sensor frame) at the first sample: the accelerometer samples
    of the next ``window_s`` seconds turned back into the first sample's frame by the
    integrated gyroscope, then averaged. Over whole strides the body's accelerations average
    out; what remains is gravity (the first sample's own acceleration does not bias it)."""
    n = min(acc_mps2.shape[0], max(1, int(window_s * fs_hz)))
    rv = gyr_dps[:n] * (RAD_PER_DEG / fs_hz)  # rotation during each sample interval
    R = np.eye(3)
    acc0 = np.empty((n, 3))
    for k in range(n):  # R maps sensor(k) -> sensor(0)
        acc0[k] = R @ acc_mps2[k]
        R = R @ _rotvec_matrix(rv[k])
    g0 = acc0.mean(axis=0)
    nrm = float(np.linalg.norm(g0))
    return g0 / nrm if nrm > 0 else np.array([0.0, 0.0, 1.0])


def _rotvec_matrix(v: np.ndarray) -> np.ndarray:
    th = float(np.linalg.norm(v))
    if th < 1e-12:
        return np.eye(3)
    k = v / th
    K = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(th) * K + (1.0 - np.cos(th)) * (K @ K)


def _process(chunk: ConditionedChunk, state: AngleState, s: AngleSettings) -> ThighSignals:
    t, acc = chunk.t_s, chunk.acc_mps2
    if len(chunk) == 0:
        return ThighSignals()
    g = chunk.gyr_dps - state.gyro_bias_dps
    ang, vert = _sagittal_angle(state, s, g, acc)
    prev = state.last_acc_mps2[None] if state.last_acc_mps2 is not None else acc[:1]
    jerk = np.linalg.norm(np.diff(np.concatenate([prev, acc]), axis=0), axis=1) * (state.fs_hz / GRAVITY_MPS2)
    state.last_acc_mps2 = acc[-1].copy()
    return ThighSignals({
        "t_s": t.copy(), "thigh_angle_deg": ang, "flexion_rate_dps": g @ state.flexion_axis,
        "acc_norm_g": np.linalg.norm(acc, axis=1) / GRAVITY_MPS2, "acc_jerk_gps": jerk,
        "acc_vert_g": vert, "segment_start": chunk.segment_start.copy(),
        "gyro_implausible": np.abs(chunk.gyr_dps).max(axis=1) >= s.implausible_gyr_dps,
    })


def _concat(parts: list) -> ThighSignals:
    parts = [p for p in parts if len(p)]
    if not parts:
        return ThighSignals()
    if len(parts) == 1:
        return parts[0]
    return ThighSignals({k: np.concatenate([p[k] for p in parts]) for k in SIGNALS})


def _sagittal_angle(state: AngleState, s: AngleSettings, gyr_dps: np.ndarray,
                    acc_mps2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sagittal thigh angle (deg), vertical specific force (g)) for one run of samples without
    a VQF restart."""
    if gyr_dps.shape[0] == 0:
        return np.empty(0), np.empty(0)
    assert state.vqf is not None  # created at (re)start
    q = state.vqf.updateBatch(np.ascontiguousarray(gyr_dps * RAD_PER_DEG), np.ascontiguousarray(acc_mps2))["quat6D"]
    long_w = rotate(q, state.long_axis)  # knee -> hip, world frame (z up)
    ant_w = rotate(q, state.anterior_axis)
    h = ant_w[:, :2]
    alpha = 1.0 / max(s.heading_tau_s * state.fs_hz, 1.0)
    if state.heading_zi is None:
        state.heading_zi = ((1.0 - alpha) * h[0])[None, :]  # start at the first sample's heading
    hf, state.heading_zi = lfilter([alpha], [1.0, alpha - 1.0], h, axis=0, zi=state.heading_zi)
    d = hf / np.maximum(np.linalg.norm(hf, axis=1, keepdims=True), 1e-12)
    # the accelerometer turned into the world frame: its vertical component (specific force)
    vert = rotate(q, acc_mps2)[:, 2] / GRAVITY_MPS2
    return np.arctan2(-(long_w[:, :2] * d).sum(axis=1), long_w[:, 2]) * DEG_PER_RAD, vert


def rotate(q_wxyz: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate ``v`` — one fixed vector (3,) or one vector per sample (n, 3) — by each unit
    quaternion (w, x, y, z) of ``q_wxyz`` (n, 4)."""
    w = q_wxyz[:, :1]
    u = q_wxyz[:, 1:]
    v = np.broadcast_to(v, u.shape)
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)
