"""Physically based thigh-IMU gait simulator with ground truth.

Model (see ``docs/simulator.md`` for frames and equations)
----------------------------------------------------------
1. **Schedule.** The recording is a sequence of segments (stand / walk / run, each with a
   speed). An activity envelope ``e(t)`` in [0, 1] (quintic smoothstep ramps) turns gait
   on and off; a gait blend ``g(t)`` (0 walk, 1 run) and the mean speed ``v(t)`` change
   smoothly at segment boundaries. Turns are smooth yaw changes ``psi(t)``.
2. **Gait phase.** One body phase ``Phi(t)`` (strides, real-valued) is the integral of a
   C2 cubic spline through per-stride frequencies (stride-time variability). The right leg
   has phase ``Phi``, the left ``Phi + 0.5``. Initial contact (IC) is where a leg's phase
   crosses an integer; toe-off (TO) where its fractional phase equals its stance fraction.
3. **Thigh angle.** Per gait a periodic cubic-spline template (thigh angle vs. phase, ISB
   sagittal angle relative to vertical, flexion +) with IC at phase 0, peak flexion before
   IC and peak extension before TO. Per-stride range, mid-angle and stance fraction
   (smooth splines through per-stride random values) rescale it and warp its phase so TO
   moves with the stance fraction. Small ab/adduction and axial rotation follow the phase.
4. **Kinematics.** Thigh orientation ``R_WT = Ry(psi) Rx(phi) Rz(theta) Ry(rho)``; hip at
   ``P(t) + Ry(psi) [0, H + bounce, +-hip_half_width + sway]``. The sensor sits at
   ``r_T = [0, -d, +-lateral]`` on the thigh, with strap rotation ``R_TS``.
   Specific force ``f_S = R_WS^T (a_W - g_W)``, ``a_W`` by central differences (step 0.5 ms)
   of the explicit smooth position functions (hip bounce/sway/turning + rotating lever arm)
   plus the derivative of the forward velocity. Gyro ``w_S = R_TS^T w_T`` with ``w_T`` from
   the Euler-angle rates (analytic composition). Contact impacts: damped transients along
   the thigh axis at each IC (walk 1-2 g, run 3-8 g, rise 10-20 ms).
5. **Sensor.** Scale error, axis misalignment, constant bias + random-walk bias drift, white
   noise (given as density), int16 quantisation with range clipping; device clock with an
   offset and drift (ppm); the device samples regularly on its own clock.

Everything is driven by one ``numpy.random.Generator(seed)``: the same config gives
identical arrays.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
import pandas as pd
from scipy.interpolate import CubicSpline

from imugait.conventions import GRAVITY_MPS2, SIDES, Side
from imugait.types import SensorInfo
from imugait.outputs import jsonable

SIM_VERSION = "2.0"

# --------------------------------------------------------------------------------------
# Templates: thigh angle (deg, relative to the standing neutral, flexion +) vs. phase (IC at 0),
# taken from measured gait (docs/simulator.md, "Where the timing comes from"):
#
# * walking: the sagittal thigh angle (hip flexion minus pelvic tilt) of the mean treadmill
#   gait cycle of participant WBDS01 at speed T05 in Fukuchi, Fukuchi & Duarte 2018,
#   "A public dataset of overground and treadmill walking kinematics and kinetics in healthy
#   individuals", PeerJ 6:e4640, doi:10.7717/peerj.4640 (CC-BY-4.0), sampled every 5 % of
#   the cycle; toe-off (vertical force < threshold) at 61.3 %. Peak flexion at 87 % (IC 13 %
#   of the stride later), peak extension at 52 % (TO 9 % of the stride later).
# * running: the mean mocap thigh angle (cluster long axis, lab sagittal plane, minus the
#   standing neutral) of RBDS001 and RBDS008 at 3.5 m/s in Fukuchi, Fukuchi & Duarte 2017,
#   PeerJ 5:e3298, doi:10.7717/peerj.3298 (CC-BY-4.0), force-plate IC/TO; duty factor 32.5 %,
#   peak flexion at 79–82 % (IC ≈ 20 % of the stride later), peak extension after TO.
# --------------------------------------------------------------------------------------
_WALK_PTS = (
    (0.00, 20.6), (0.05, 20.6), (0.10, 20.4), (0.15, 15.8), (0.20, 10.6), (0.25, 5.1), (0.30, -0.3),
    (0.35, -5.1), (0.40, -9.3), (0.45, -13.2), (0.50, -15.4), (0.55, -14.9), (0.60, -9.3), (0.65, -0.4),
    (0.70, 8.8), (0.75, 16.4), (0.80, 21.6), (0.85, 24.4), (0.90, 23.9), (0.95, 21.0),
)
_WALK_STANCE = 0.613
_RUN_PTS = (
    (0.00, 30.6), (0.05, 30.8), (0.10, 30.3), (0.15, 23.8), (0.20, 13.6), (0.25, 1.3), (0.30, -10.0),
    (0.35, -17.5), (0.40, -19.0), (0.45, -14.9), (0.50, -7.9), (0.55, 0.6), (0.60, 11.0), (0.65, 24.3),
    (0.70, 36.7), (0.75, 44.3), (0.80, 47.0), (0.85, 45.1), (0.90, 39.8), (0.95, 34.3),
)
_RUN_STANCE = 0.325


class _Template:
    """Periodic, infinitely smooth thigh-angle template: a periodic cubic spline through
    the control points, low-passed to its first ``N_HARMONICS`` Fourier harmonics (so
    angular acceleration, hence tangential acceleration, is smooth too)."""

    N_HARMONICS = 7

    def __init__(self, pts, stance_frac: float):
        ph = np.array([p[0] for p in pts] + [1.0])
        val = np.array([p[1] for p in pts] + [pts[0][1]])
        spline = CubicSpline(ph, val, bc_type="periodic")
        m = 1024
        c = np.fft.rfft(spline(np.arange(m) / m)) / m
        self.a0 = float(c[0].real)
        k = np.arange(1, self.N_HARMONICS + 1)
        self.k = k
        self.cos_c = 2.0 * c[k].real
        self.sin_c = -2.0 * c[k].imag
        u = np.linspace(0.0, 1.0, 20001)
        v = self.eval(u)
        self.max_deg = float(v.max())
        self.min_deg = float(v.min())
        self.rom_deg = self.max_deg - self.min_deg
        self.mid_deg = 0.5 * (self.max_deg + self.min_deg)
        self.flex_phase = float(u[v.argmax()])
        self.ext_phase = float(u[v.argmin()])
        self.stance_frac = stance_frac

    def eval(self, u):
        """Fourier series at phase ``u`` (harmonics by the angle-addition recurrence)."""
        x = 2.0 * np.pi * np.asarray(u, dtype=float)
        c1, s1 = np.cos(x), np.sin(x)
        ck, sk = c1, s1
        out = self.a0 + self.cos_c[0] * ck + self.sin_c[0] * sk
        for j in range(1, len(self.k)):
            ck, sk = ck * c1 - sk * s1, sk * c1 + ck * s1
            out += self.cos_c[j] * ck + self.sin_c[j] * sk
        return out

    def _bump(self, u):
        """C2 bump on [0, flex_phase], zero elsewhere (so IC and peak flexion stay put)."""
        pf = self.flex_phase
        x = np.where((u > 0) & (u < pf), np.sin(np.pi * np.clip(u, 0.0, pf) / pf), 0.0)
        return x * x * x

    def shape(self, frac, rom_deg, mid_deg, stance_frac):
        """Angle at fractional phase ``frac`` (0 = IC) for the given range, mid-angle and
        stance fraction. A smooth monotone phase warp ``w = u + beta*B(u)`` with a C2 bump
        ``B`` vanishing at IC and at peak flexion maps TO (``stance_frac``) onto the
        template's TO, so IC, peak flexion and the late swing keep their timing while
        stance/early swing stretch."""
        s0 = self.stance_frac
        s = np.clip(stance_frac, 0.05, self.flex_phase - 0.05)
        beta = np.clip((s0 - s) / np.maximum(self._bump(s), 1e-3), -0.2, 0.2)
        w = frac + beta * self._bump(frac)
        return mid_deg + (rom_deg / self.rom_deg) * (self.eval(w) - self.mid_deg)


WALK_TEMPLATE = _Template(_WALK_PTS, _WALK_STANCE)
RUN_TEMPLATE = _Template(_RUN_PTS, _RUN_STANCE)


# Speed models (v in m/s). Walking: cadence 100-120 spm over 1.0-1.6 m/s, stance ~60 %,
# thigh ROM ~40-45 deg. Running, from Fukuchi 2017 (force plate and mocap, 2.5-4.5 m/s):
# cadence 150-158 spm at 2.5, 162-171 at 3.5, 169 at 4.5 m/s; duty factor 36-39 % at 2.5,
# 32-33 % at 3.5, 30 % at 4.5 m/s; thigh ROM 46-51 deg at 2.5, 61-72 at 3.5, 78 at 4.5 m/s.
def walk_cadence_spm(v):
    return 70.0 + 30.0 * np.asarray(v, dtype=float)


def run_cadence_spm(v):
    return 135.0 + 8.0 * np.asarray(v, dtype=float)


def walk_stance_frac(v):
    return 0.64 - 0.03 * np.asarray(v, dtype=float)


def run_stance_frac(v):
    return np.clip(0.487 - 0.042 * np.asarray(v, dtype=float), 0.22, 0.45)


def walk_rom_deg(v):
    return 30.0 + 9.0 * np.asarray(v, dtype=float)


def run_rom_deg(v):
    return np.clip(48.0 + 13.0 * (np.asarray(v, dtype=float) - 2.5), 40.0, 80.0)


DEFAULT_SPEED_MPS = {"walk": 1.3, "run": 3.0}


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimConfig:
    """Settings of one simulated recording (units in the names; ``None`` = model default).

    Timeline: ``duration_s`` is the whole recording, standing included: standing
    ``stand_before_s``, gait, standing ``stand_after_s``. ``stops`` are extra standing
    periods ``(start_s, duration_s)``; ``speed_changes`` ``(t_s, speed_mps)`` change the
    speed from ``t_s``; ``turns`` ``(t_s, angle_deg, duration_s)`` rotate the whole body
    about the vertical (positive = to the left). ``gait="mixed"`` walks, runs and walks
    again (thirds of the gait time). ``schedule`` ``((t_s, "walk"|"run"|"stand",
    speed_mps), ...)`` overrides all of that with an explicit plan.

    ``speed_mps``, ``cadence_spm``, ``stance_pct`` and ``rom_deg`` set the nominal values of
    ``gait`` (for "mixed": of the running part; walking parts use ``walk_speed_mps``); the
    speed models then scale them with speed changes. Per-stride variability is added on top.
    """

    gait: str = "walk"  # "walk" | "run" | "mixed"
    duration_s: float = 60.0
    fs_hz: float = 200.0
    seed: int = 0
    sides: tuple = ("left", "right")
    # gait parameters (None: from the speed models)
    speed_mps: float | None = None
    walk_speed_mps: float = 1.3  # walking parts of "mixed"
    cadence_spm: float | None = None
    stance_pct: float | None = None
    rom_deg: float | None = None
    stand_before_s: float = 5.0
    stand_after_s: float = 3.0
    stops: tuple = ()
    speed_changes: tuple = ()
    turns: tuple = ()
    schedule: tuple | None = None
    ramp_s: float = 1.0  # gait start/stop ramp
    # variability (per stride, SD)
    stride_cv_pct: float = 2.5
    rom_sd_deg: float = 1.5
    mid_sd_deg: float = 1.0
    stance_sd_pct: float = 1.0
    timing_sd_pct: float = 1.5
    """SD (% of the stride) of each leg's own IC and TO timing relative to its thigh
    kinematics (0: every leg exactly like the templates)."""
    # asymmetry
    rom_scale: float = 1.0
    rom_scale_left: float = 1.0
    rom_scale_right: float = 1.0
    asym_rom_deg: float = 0.0  # added to the left ROM
    asym_swing_pct: float = 0.0  # left swing % minus right swing %
    # body
    hip_height_m: float = 0.90
    hip_half_width_m: float = 0.09
    sensor_dist_m: float = 0.22  # along the thigh below the hip joint centre
    sensor_lateral_m: float = 0.07  # skin surface lateral of the thigh axis
    stand_angle_deg: float = 1.0  # mean standing thigh angle (per side +-1 deg random)
    abduction_walk_deg: float = 5.0  # amplitude of thigh ab/adduction per stride
    abduction_run_deg: float = 6.0
    axial_rotation_deg: float = 6.0  # amplitude of thigh internal/external rotation (incl. pelvis)
    # soft-tissue artefact: small random rotation (RMS deg, walking; x2 running) and
    # translation (0.5 mm per deg) of the sensor on the thigh, band 4-15 Hz. 0 = rigid mount.
    soft_tissue_deg: float = 0.0
    impacts: bool = True
    impact_walk_g: tuple = (1.0, 2.0)
    impact_run_g: tuple | None = None  # None: 3-8 g rising with speed
    # strap: "default" (lateral, mirrored on the left) | "random" (uniform rotation);
    # strap_R_left/right: explicit 3x3 rotation sensor->thigh (columns = sensor axes in T)
    strap: str = "default"
    strap_R_left: tuple | None = None
    strap_R_right: tuple | None = None
    # sensor
    acc_range_g: float = 16.0
    gyr_range_dps: float = 2000.0
    sensor_errors: bool = True  # False: ideal sensor (only quantisation and clipping)
    acc_noise_density_mps2_rthz: float = 0.0015  # -> 0.015 m/s^2 RMS at 200 Hz
    gyr_noise_density_dps_rthz: float = 0.007  # -> 0.07 deg/s RMS at 200 Hz
    acc_bias_sd_mps2: float = 0.05
    gyr_bias_sd_dps: float = 0.5
    acc_bias_rw_mps2_rts: float = 0.0005  # random-walk drift per sqrt(s)
    gyr_bias_rw_dps_rts: float = 0.01
    scale_error_sd_pct: float = 1.0
    misalign_sd_deg: float = 0.3
    clock_drift_ppm: float | None = None  # None: random in +-30 ppm per sensor
    clock_offset_s: float | None = None  # None: random 1..1000 s per sensor
    # static sensor errors (scale, misalignment, constant biases) drawn from this seed
    # instead of ``seed`` when given: "the same physical sensors" in several recordings
    sensor_seed: int | None = None
    # each leg's own IC/TO timing relative to its kinematics (timing_sd_pct) drawn from this
    # seed instead of ``seed`` when given: "the same runner" in several recordings
    timing_seed: int | None = None

    def __post_init__(self):
        if self.gait not in ("walk", "run", "mixed"):
            raise ValueError(f"gait must be 'walk', 'run' or 'mixed', got {self.gait!r}")
        if not self.duration_s > 0:
            raise ValueError("duration_s must be > 0")
        if not 10.0 <= self.fs_hz <= 5000.0:
            raise ValueError("fs_hz must be within 10..5000")
        sides = tuple(self.sides) if not isinstance(self.sides, str) else tuple(s.strip() for s in self.sides.split(","))
        for s in sides:
            if s not in SIDES:
                raise ValueError(f"sides must be 'left'/'right', got {s!r}")
        if not sides:
            raise ValueError("sides must name at least one side")
        object.__setattr__(self, "sides", tuple(dict.fromkeys(sides)))
        if self.strap not in ("default", "random"):
            raise ValueError("strap must be 'default' or 'random'")
        # tuples of tuples (JSON round trip gives lists)
        for name in ("stops", "speed_changes", "turns"):
            object.__setattr__(self, name, tuple(tuple(x) for x in getattr(self, name)))
        if self.schedule is not None:
            object.__setattr__(self, "schedule", tuple(tuple(x) for x in self.schedule))
        for name in ("strap_R_left", "strap_R_right"):
            v = getattr(self, name)
            if v is not None:
                m = np.asarray(v, dtype=float).reshape(3, 3)
                if not np.allclose(m @ m.T, np.eye(3), atol=1e-6) or np.linalg.det(m) < 0:
                    raise ValueError(f"{name} must be a proper rotation matrix")
                object.__setattr__(self, name, tuple(tuple(float(x) for x in r) for r in m))
        object.__setattr__(self, "impact_walk_g", tuple(self.impact_walk_g))
        if self.impact_run_g is not None:
            object.__setattr__(self, "impact_run_g", tuple(self.impact_run_g))

    def to_dict(self) -> dict:
        d = asdict(self)
        return jsonable(d)

    @classmethod
    def from_dict(cls, d: dict) -> "SimConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def replace(self, **kw) -> "SimConfig":
        return replace(self, **kw)




# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------
@dataclass
class SimSide:
    """One simulated thigh sensor: raw output (as a sensor would send it) plus truth."""

    side: Side
    info: SensorInfo
    t_true_s: np.ndarray  # (n,) true sample time on the session clock
    t_dev_s: np.ndarray  # (n,) device clock
    sample_index: np.ndarray  # (n,) int64
    acc_counts: np.ndarray  # (n,3) int16, sensor frame
    gyr_counts: np.ndarray  # (n,3) int16, sensor frame
    acc_mps2: np.ndarray  # counts * scale
    gyr_dps: np.ndarray
    thigh_angle_deg: np.ndarray  # truth: ISB sagittal thigh angle, flexion +, rel. vertical
    strides: pd.DataFrame  # truth per stride
    # extra truth (always filled by simulate(); the None defaults only let it build the record)
    thigh_rate_dps: np.ndarray = field(default=None)  # type: ignore[arg-type]  # d(thigh_angle)/dt
    gait_phase: np.ndarray = field(default=None)  # type: ignore[arg-type]  # 0..1, 0 at IC
    activity: np.ndarray = field(default=None)  # type: ignore[arg-type]  # gait envelope 0 (standing) .. 1
    acc_true_mps2: np.ndarray = field(default=None)  # type: ignore[arg-type]  # ideal specific force, sensor frame
    gyr_true_dps: np.ndarray = field(default=None)  # type: ignore[arg-type]  # ideal angular velocity, sensor frame
    R_thigh_sensor: np.ndarray = field(default=None)  # type: ignore[arg-type]  # 3x3, columns = sensor axes in thigh frame
    sensor_params: dict = field(default_factory=dict)  # biases, scale errors, clock
    impacts: pd.DataFrame = field(default=None)  # t_s, amplitude_g, rise_s
    q_world_sensor: np.ndarray = field(default=None)  # type: ignore[arg-type]  # (n,4) w,x,y,z: sensor frame -> world frame
    heading_deg: np.ndarray = field(default=None)  # type: ignore[arg-type]  # body heading (yaw about world up, + = left turn)

    @property
    def n(self) -> int:
        return int(self.t_true_s.shape[0])

    def truth_dict(self) -> dict:
        return {
            "side": self.side,
            "sensor_info": self.info.to_dict(),
            "R_thigh_sensor": self.R_thigh_sensor,
            "sensor_params": self.sensor_params,
            "n_samples": self.n,
            "strides": self.strides.to_dict(orient="records"),
        }


@dataclass
class SimRecording:
    config: SimConfig
    sides: dict  # Side -> SimSide
    segments: list  # [(t0_s, t1_s, gait, speed_mps)]
    bouts: list  # [(t0_s, t1_s)] moving intervals (activity envelope > 0)

    @property
    def strides(self) -> pd.DataFrame:
        """Truth strides of all sides in one table."""
        frames = [s.strides for s in self.sides.values()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def truth_dict(self) -> dict:
        return jsonable(
            {
                "generator": f"imugait.sim.gait {SIM_VERSION}",
                "config": self.config.to_dict(),
                "segments": [list(s) for s in self.segments],
                "bouts": [list(b) for b in self.bouts],
                "time": "time_s / ic_s / ... are true session time (t_true_s)",
                "sides": {k: v.truth_dict() for k, v in self.sides.items()},
            }
        )


# --------------------------------------------------------------------------------------
# Schedule: segments -> smooth functions e(t), g(t), v(t), psi(t)
# --------------------------------------------------------------------------------------
def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (x * (6.0 * x - 15.0) + 10.0)


def _segments(cfg: SimConfig) -> list:
    D = float(cfg.duration_s)
    if cfg.schedule is not None:
        pts = sorted(cfg.schedule, key=lambda r: float(r[0]))
        segs = []
        for i, (t0, gait, v) in enumerate(pts):
            t1 = float(pts[i + 1][0]) if i + 1 < len(pts) else D
            if gait not in ("walk", "run", "stand"):
                raise ValueError(f"schedule gait must be walk/run/stand, got {gait!r}")
            t0 = max(0.0, float(t0))
            if t1 > t0:
                segs.append((t0, min(t1, D), gait, float(v if v is not None else DEFAULT_SPEED_MPS.get(gait, 0.0))))
        if not segs or segs[0][0] > 0:
            segs.insert(0, (0.0, segs[0][0] if segs else D, "stand", 0.0))
        return segs
    a = min(D, max(0.0, float(cfg.stand_before_s)))
    b = max(a, D - max(0.0, float(cfg.stand_after_s)))
    if cfg.gait == "mixed":
        v_run = cfg.speed_mps if cfg.speed_mps is not None else DEFAULT_SPEED_MPS["run"]
        third = (b - a) / 3.0
        moving = [(a, a + third, "walk", cfg.walk_speed_mps), (a + third, a + 2 * third, "run", v_run),
                  (a + 2 * third, b, "walk", cfg.walk_speed_mps)]
    else:
        v = cfg.speed_mps if cfg.speed_mps is not None else DEFAULT_SPEED_MPS[cfg.gait]
        moving = [(a, b, cfg.gait, float(v))]
    # speed changes split moving segments
    for t, v in sorted(cfg.speed_changes):
        t, v = float(t), float(v)
        out = []
        for s in moving:
            if s[0] < t < s[1]:
                out += [(s[0], t, s[2], s[3]), (t, s[1], s[2], v)]
            elif t <= s[0]:
                out.append((s[0], s[1], s[2], v))
            else:
                out.append(s)
        moving = out
    # stops cut standing windows
    for t, dur in sorted(cfg.stops):
        t0, t1 = float(t), float(t) + float(dur)
        out = []
        for s in moving:
            if t1 <= s[0] or t0 >= s[1]:
                out.append(s)
                continue
            if s[0] < t0:
                out.append((s[0], t0, s[2], s[3]))
            out.append((max(t0, s[0]), min(t1, s[1]), "stand", s[3]))
            if t1 < s[1]:
                out.append((t1, s[1], s[2], s[3]))
        moving = out
    segs = [(0.0, a, "stand", 0.0)] if a > 0 else []
    segs += [s for s in moving if s[1] > s[0]]
    if b < D:
        if segs and segs[-1][2] == "stand":
            segs[-1] = (segs[-1][0], D, "stand", segs[-1][3])
        else:
            segs.append((b, D, "stand", 0.0))
    return segs


class _Schedule:
    def __init__(self, cfg: SimConfig):
        self.cfg = cfg
        self.segments = _segments(cfg)
        # moving intervals (bouts)
        bouts: list = []
        for t0, t1, gait, _v in self.segments:
            if gait == "stand":
                continue
            if bouts and abs(bouts[-1][1] - t0) < 1e-9:
                bouts[-1][1] = t1
            else:
                bouts.append([t0, t1])
        self.bouts = [tuple(b) for b in bouts]
        self.ramps = [min(cfg.ramp_s, 0.5 * (b1 - b0)) for b0, b1 in self.bouts]
        moving = [s for s in self.segments if s[2] != "stand"]
        first = moving[0] if moving else (0, 0, cfg.gait if cfg.gait != "mixed" else "walk", DEFAULT_SPEED_MPS["walk"])
        self.g0 = 1.0 if first[2] == "run" else 0.0
        self.v0 = float(first[3])
        self.g_steps = []  # (t_center, delta)
        self.v_steps = []
        prev_g, prev_v = self.g0, self.v0
        for s in moving[1:]:
            gv = 1.0 if s[2] == "run" else 0.0
            if gv != prev_g:
                self.g_steps.append((s[0], gv - prev_g))
                prev_g = gv
            if s[3] != prev_v:
                self.v_steps.append((s[0], s[3] - prev_v))
                prev_v = s[3]
        self.gv_ramp_s = 2.0
        self.turns = [(float(t), math.radians(float(a)), max(0.2, float(d))) for t, a, d in cfg.turns]

    def envelope(self, t):
        e = np.zeros_like(t)
        for (b0, b1), r in zip(self.bouts, self.ramps):
            if r <= 0:
                continue
            e += _smoothstep((t - b0) / r) * _smoothstep((b1 - t) / r)
        return np.clip(e, 0.0, 1.0)

    def gait_blend(self, t):
        g = np.full_like(t, self.g0)
        for tc, d in self.g_steps:
            g += d * _smoothstep((t - tc) / self.gv_ramp_s + 0.5)
        return np.clip(g, 0.0, 1.0)

    def speed(self, t):
        v = np.full_like(t, self.v0)
        for tc, d in self.v_steps:
            v += d * _smoothstep((t - tc) / self.gv_ramp_s + 0.5)
        return v

    def heading(self, t):
        psi = np.zeros_like(t)
        for t0, a, d in self.turns:
            psi += a * _smoothstep((t - t0) / d)
        return psi


# --------------------------------------------------------------------------------------
# Nominal parameters (functions of time via g(t), v(t))
# --------------------------------------------------------------------------------------
class _Nominal:
    def __init__(self, cfg: SimConfig, sched: _Schedule):
        self.cfg = cfg
        self.sched = sched
        v_ref = {"walk": DEFAULT_SPEED_MPS["walk"], "run": DEFAULT_SPEED_MPS["run"]}
        gait_of_overrides = "run" if cfg.gait == "run" else ("walk" if cfg.gait == "walk" else "run")
        if cfg.speed_mps is not None:
            v_ref[gait_of_overrides] = cfg.speed_mps
        self.cad_scale = {"walk": 1.0, "run": 1.0}
        self.rom_scale = {"walk": 1.0, "run": 1.0}
        self.stance_shift = {"walk": 0.0, "run": 0.0}
        gr = gait_of_overrides
        vr = v_ref[gr]
        if cfg.cadence_spm is not None:
            base = walk_cadence_spm(vr) if gr == "walk" else run_cadence_spm(vr)
            self.cad_scale[gr] = float(cfg.cadence_spm) / float(base)
        if cfg.rom_deg is not None:
            base = walk_rom_deg(vr) if gr == "walk" else run_rom_deg(vr)
            self.rom_scale[gr] = float(cfg.rom_deg) / float(base)
        if cfg.stance_pct is not None:
            base = walk_stance_frac(vr) if gr == "walk" else run_stance_frac(vr)
            self.stance_shift[gr] = float(cfg.stance_pct) / 100.0 - float(base)

    def cadence_spm(self, t):
        g, v = self.sched.gait_blend(t), self.sched.speed(t)
        return (1 - g) * walk_cadence_spm(v) * self.cad_scale["walk"] + g * run_cadence_spm(v) * self.cad_scale["run"]

    def walk_params(self, v):
        return walk_rom_deg(v) * self.rom_scale["walk"], walk_stance_frac(v) + self.stance_shift["walk"]

    def run_params(self, v):
        return run_rom_deg(v) * self.rom_scale["run"], run_stance_frac(v) + self.stance_shift["run"]


# --------------------------------------------------------------------------------------
# Rotations
# --------------------------------------------------------------------------------------
def _rx(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _ry(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _mtv(R, v):
    """R^T v for stacks."""
    return np.einsum("nji,nj->ni", R, v)


def _mv(R, v):
    return np.einsum("nij,nj->ni", R, v)


def _quat_from_matrix(R):
    """(n,3,3) rotation matrices -> (n,4) unit quaternions w,x,y,z (w >= 0)."""
    from scipy.spatial.transform import Rotation

    q = Rotation.from_matrix(R).as_quat()  # x,y,z,w
    q = np.concatenate([q[:, 3:4], q[:, :3]], axis=1)
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    return q


def default_strap_R(side: Side) -> np.ndarray:
    """Default lateral strap: sensor x up the thigh, z out of the skin (lateral),
    y = z × x (right leg: posterior; left leg: anterior — the mirrored mount)."""
    x = np.array([0.0, 1.0, 0.0])
    z = np.array([0.0, 0.0, 1.0 if side == "right" else -1.0])
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


# --------------------------------------------------------------------------------------
# Per-side model
# --------------------------------------------------------------------------------------
class _Body:
    """Shared body motion: phase, envelope, gait blend, speed, heading."""

    def __init__(self, cfg: SimConfig, rng: np.random.Generator):
        self.cfg = cfg
        self.sched = _Schedule(cfg)
        self.nom = _Nominal(cfg, self.sched)
        # stride nodes (body = right-leg phase)
        t = -3.0
        tk_list = [t]
        cv = cfg.stride_cv_pct / 100.0 * 1.15  # spline smoothing shrinks the CV a little
        while t < cfg.duration_s + 3.0:
            T = 120.0 / float(self.nom.cadence_spm(np.array([t + 0.5]))[0])
            T *= 1.0 + cv * float(np.clip(rng.standard_normal(), -3, 3))
            t += T
            tk_list.append(t)
        tk = np.array(tk_list)
        self.t_nodes = 0.5 * (tk[1:] + tk[:-1])
        f_nodes = 1.0 / np.diff(tk)
        self.freq = CubicSpline(self.t_nodes, f_nodes, bc_type="natural")
        self.phase_pp = self.freq.antiderivative()
        self.phase0 = float(rng.uniform(0, 1))
        self.n_nodes = len(self.t_nodes)

    def phase(self, t):
        return self.phase_pp(t) + self.phase0


class _Leg:
    def __init__(self, side: Side, body: _Body, rng: np.random.Generator):
        cfg = body.cfg
        self.side = side
        self.body = body
        self.sign = 1.0 if side == "right" else -1.0
        self.phase_offset = 0.0 if side == "right" else 0.5
        n = body.n_nodes
        left = side == "left"
        self.rom_scale = cfg.rom_scale * (cfg.rom_scale_left if left else cfg.rom_scale_right)
        self.rom_add = cfg.asym_rom_deg if left else 0.0
        # swing = 1 - stance; left swing - right swing = asym  =>  stance shift -+ asym/2
        self.stance_add = (-0.5 if left else 0.5) * cfg.asym_swing_pct / 100.0
        self.d_rom = CubicSpline(body.t_nodes, cfg.rom_sd_deg * rng.standard_normal(n), bc_type="natural")
        self.d_mid = CubicSpline(body.t_nodes, cfg.mid_sd_deg * rng.standard_normal(n), bc_type="natural")
        self.d_stance = CubicSpline(body.t_nodes, cfg.stance_sd_pct / 100.0 * rng.standard_normal(n), bc_type="natural")
        self.stand_deg = cfg.stand_angle_deg + float(rng.normal(0, 1.0))
        self.ab_amp = {"walk": math.radians(cfg.abduction_walk_deg), "run": math.radians(cfg.abduction_run_deg)}
        self.rot_amp = math.radians(cfg.axial_rotation_deg)
        # this leg's own timing of IC and TO relative to its thigh kinematics (people differ:
        # between-runner SD 1.3-1.6 % of the stride on Fukuchi 2017, docs/simulator.md); drawn
        # from their own stream so that the other random draws are unchanged
        trng = np.random.default_rng([cfg.seed if cfg.timing_seed is None else int(cfg.timing_seed), 1 if left else 2, 55])
        self.ic_shift = float(np.clip(trng.normal(0.0, cfg.timing_sd_pct / 100.0), -0.05, 0.05))
        self.to_shift = float(np.clip(trng.normal(0.0, cfg.timing_sd_pct / 100.0), -0.05, 0.05))

    def phase(self, t):
        return self.body.phase(t) + self.phase_offset

    def params(self, t):
        """Per-time (rom_w, rom_r, mid_w, mid_r, stance_w, stance_r)."""
        v = self.body.sched.speed(t)
        rw, sw = self.body.nom.walk_params(v)
        rr, sr = self.body.nom.run_params(v)
        dr, dm, ds = self.d_rom(t), self.d_mid(t), self.d_stance(t)
        rw = rw * self.rom_scale + self.rom_add + dr
        rr = rr * self.rom_scale + self.rom_add + dr
        # the configured stance is the true one; the kinematics are placed this leg's own
        # offsets away from it (see stance_frac and angles)
        sw = sw + self.stance_add + ds - self.ic_shift - self.to_shift
        sr = sr + self.stance_add + ds - self.ic_shift - self.to_shift
        return rw, rr, WALK_TEMPLATE.mid_deg + dm, RUN_TEMPLATE.mid_deg + dm, sw, sr

    def stance_frac(self, t):
        """True toe-off phase (the configured stance): the kinematic stance of ``params`` plus
        this leg's offsets ``ic_shift`` (the kinematics run that much after the IC clock) and
        ``to_shift`` (its own TO relative to its kinematics)."""
        g = self.body.sched.gait_blend(t)
        _rw, _rr, _mw, _mr, sw, sr = self.params(t)
        return (1 - g) * sw + g * sr + self.ic_shift + self.to_shift

    def angles(self, t):
        """theta (sagittal), phi (ab/adduction), rho (axial), psi (heading) in rad, and
        the activity envelope, gait blend and phase."""
        sched = self.body.sched
        e = sched.envelope(t)
        g = sched.gait_blend(t)
        ph = self.phase(t)
        frac = np.mod(ph - self.ic_shift, 1.0)  # the kinematics run ic_shift of a stride after the IC clock
        rw, rr, mw, mr, sw, sr = self.params(t)
        if not np.any(g > 0):
            th_gait = WALK_TEMPLATE.shape(frac, rw, mw, sw)
        elif not np.any(g < 1):
            th_gait = RUN_TEMPLATE.shape(frac, rr, mr, sr)
        else:
            th_gait = (1 - g) * WALK_TEMPLATE.shape(frac, rw, mw, sw) + g * RUN_TEMPLATE.shape(frac, rr, mr, sr)
        theta_deg = self.stand_deg + e * (th_gait - self.stand_deg)
        ab = ((1 - g) * self.ab_amp["walk"] + g * self.ab_amp["run"]) * np.sin(2 * np.pi * (frac - 0.15))
        phi = self.sign * e * ab
        # in phase with ab/adduction: no net coning drift about the flexion axis
        rho = self.sign * e * self.rot_amp * np.sin(2 * np.pi * (frac - 0.15))
        psi = sched.heading(t)
        return np.radians(theta_deg), phi, rho, psi, e, g, ph

    def hip_local(self, t, e, g):
        """Hip joint centre in the heading frame (relative to the ground track)."""
        cfg = self.body.cfg
        phb = self.body.phase(t)
        bounce = e * ((1 - g) * 0.020 * np.cos(4 * np.pi * (phb - 0.30)) - g * 0.040 * np.cos(4 * np.pi * (phb - 0.19)))
        sway = e * ((1 - g) * 0.020 + g * 0.010) * np.cos(2 * np.pi * (phb - 0.30))
        return np.stack([np.zeros_like(t), cfg.hip_height_m + bounce, self.sign * cfg.hip_half_width_m + sway], -1)

    def ground_velocity(self, t, e, g, psi):
        phb = self.body.phase(t)
        v = self.body.sched.speed(t) * e
        eps = (1 - g) * 0.05 + g * 0.03
        ms = (1 - g) * 0.30 + g * 0.19
        v = v * (1 - eps * np.cos(4 * np.pi * (phb - ms)))
        return np.stack([v * np.cos(psi), np.zeros_like(t), -v * np.sin(psi)], -1)


class _Wobble:
    """Soft-tissue artefact: band-limited (4-15 Hz) random rotation vector ``beta(t)`` and
    translation ``delta(t)`` of the sensor relative to the thigh (thigh frame), scaled by
    the activity envelope (x2 when running). C2 cubic splines on a 1 kHz grid, so it can
    be evaluated (and differentiated) at any time."""

    def __init__(self, leg: "_Leg", cfg: SimConfig, rng: np.random.Generator):
        from scipy.signal import butter, sosfiltfilt

        dt = 1e-3
        tg = np.arange(-1.0, cfg.duration_s + 1.0 + dt, dt)
        sos = butter(2, [4.0, 15.0], btype="bandpass", fs=1.0 / dt, output="sos")
        x = sosfiltfilt(sos, rng.standard_normal((len(tg), 6)), axis=0)
        x /= np.sqrt(np.mean(x * x, axis=0))
        sched = leg.body.sched
        amp = sched.envelope(tg) * (1.0 + sched.gait_blend(tg))
        rad = math.radians(cfg.soft_tissue_deg)
        self.beta = CubicSpline(tg, x[:, :3] * (rad * amp)[:, None], axis=0)
        self.beta_dot = self.beta.derivative()
        self.delta = CubicSpline(tg, x[:, 3:] * (0.0005 * cfg.soft_tissue_deg * amp)[:, None], axis=0)


def _skew(v):
    z = np.zeros(v.shape[:-1])
    return np.stack([np.stack([z, -v[..., 2], v[..., 1]], -1), np.stack([v[..., 2], z, -v[..., 0]], -1),
                     np.stack([-v[..., 1], v[..., 0], z], -1)], -2)


def _rotvec_matrix_and_jr(b):
    """exp([b]x) and the right Jacobian J_r(b) (body rate = J_r(b) · db/dt)."""
    th = np.linalg.norm(b, axis=-1)[..., None, None]
    K = _skew(b)
    K2 = K @ K
    small = th < 1e-8
    ths = np.where(small, 1.0, th)
    a = np.where(small, 1.0, np.sin(ths) / ths)
    c = np.where(small, 0.5, (1 - np.cos(ths)) / ths ** 2)
    d = np.where(small, 1.0 / 6.0, (ths - np.sin(ths)) / ths ** 3)
    eye = np.eye(3)
    return eye + a * K + c * K2, eye - c * K + d * K2


def _kin(leg: _Leg, t, r_T, wobble: _Wobble | None = None):
    th, phi, rho, psi, e, g, ph = leg.angles(t)
    R = _ry(psi) @ _rx(phi) @ _rz(th) @ _ry(rho)
    r = np.broadcast_to(r_T, (len(t), 3))
    if wobble is not None:
        r = r + wobble.delta(t)
    q = _mv(_ry(psi), leg.hip_local(t, e, g)) + _mv(R, r)
    V = leg.ground_velocity(t, e, g, psi)
    return dict(th=th, phi=phi, rho=rho, psi=psi, e=e, g=g, ph=ph, R=R, q=q, V=V)


_H_DIFF_S = 5e-4


def _ideal_imu(leg: _Leg, t, r_T, R_TS, wobble: _Wobble | None = None):
    """Ideal specific force (m/s², sensor frame) and angular velocity (rad/s, sensor
    frame) at times ``t``, plus truth angles and the sensor->thigh rotation per sample."""
    h = _H_DIFF_S
    k0 = _kin(leg, t, r_T, wobble)
    km = _kin(leg, t - h, r_T, wobble)
    kp = _kin(leg, t + h, r_T, wobble)
    a_w = (kp["q"] - 2 * k0["q"] + km["q"]) / (h * h) + (kp["V"] - km["V"]) / (2 * h)
    f_w = a_w + np.array([0.0, GRAVITY_MPS2, 0.0])
    d = {n: (kp[n] - km[n]) / (2 * h) for n in ("th", "phi", "rho", "psi")}
    ey = np.array([0.0, 1.0, 0.0])
    n = len(t)
    Rx, Rz, Ry_rho = _rx(k0["phi"]), _rz(k0["th"]), _ry(k0["rho"])
    w = _mtv(Rx, np.broadcast_to(ey, (n, 3)) * d["psi"][:, None])
    w = w + np.array([1.0, 0.0, 0.0]) * d["phi"][:, None]
    w = _mtv(Rz, w) + np.array([0.0, 0.0, 1.0]) * d["th"][:, None]
    w = _mtv(Ry_rho, w) + ey * d["rho"][:, None]
    f_T = _mtv(k0["R"], f_w)
    # rate of the truth (sagittal-projection) angle, see sagittal_angle_deg
    st_, ct_, sp_, cp_ = np.sin(k0["th"]), np.cos(k0["th"]), np.sin(k0["phi"]), np.cos(k0["phi"])
    rate = (d["th"] * cp_ + st_ * ct_ * sp_ * d["phi"]) / (st_ * st_ + ct_ * ct_ * cp_ * cp_)
    if wobble is None:
        k0["R_TS"] = np.broadcast_to(R_TS, (n, 3, 3))
        return f_T @ R_TS, w @ R_TS, k0, rate
    # sensor frame S' = T * Rw(beta) * R_TS: rates add in the wobble frame
    Rw, Jr = _rotvec_matrix_and_jr(wobble.beta(t))
    f_W = _mtv(Rw, f_T)
    w_W = _mtv(Rw, w) + _mv(Jr, wobble.beta_dot(t))
    k0["R_TS"] = Rw @ R_TS
    return f_W @ R_TS, w_W @ R_TS, k0, rate


_CHUNK = 50_000  # samples per evaluation chunk (bounds temporary memory; results are exact)


def _ideal_imu_chunked(leg: _Leg, t, r_T, R_TS, chunk: int = _CHUNK, wobble: _Wobble | None = None):
    """``_ideal_imu`` over ``t`` in chunks; returns specific force, angular velocity and the
    per-sample truth (theta, theta rate, phase, envelope, heading, q_world_sensor)."""
    out: dict[str, list] = {k: [] for k in ("f", "w", "th", "phi", "thd", "ph", "e", "psi", "q")}
    for i in range(0, len(t), chunk):
        f, w, k0, thd = _ideal_imu(leg, t[i:i + chunk], r_T, R_TS, wobble)
        out["f"].append(f)
        out["w"].append(w)
        out["thd"].append(thd)
        for name in ("th", "phi", "ph", "e", "psi"):
            out[name].append(k0[name])
        out["q"].append(_quat_from_matrix(k0["R"] @ k0["R_TS"]))
    return {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in out.items()}


def _impact_kernel(tau, rise_s):
    """Unit-peak, zero-mean damped transient: an alpha function peaking at ``rise_s``
    minus a four-times slower lobe of equal area, so the impact adds no net velocity."""

    def alpha(x):
        x = np.clip(x, 0.0, None)
        return x * np.exp(1.0 - x)

    def k(t):
        return np.where(t >= 0, alpha(t / rise_s) - 0.25 * alpha(t / (4.0 * rise_s)), 0.0)

    peak = float(np.max(k(np.linspace(0.0, 3.0 * rise_s, 601))))
    return k(tau) / peak


# --------------------------------------------------------------------------------------
# Truth events
# --------------------------------------------------------------------------------------
def _crossings(t, y):
    """Times where y crosses 0 upwards (linear interpolation)."""
    idx = np.nonzero((y[:-1] < 0) & (y[1:] >= 0))[0]
    y0, y1 = y[idx], y[idx + 1]
    return t[idx] + (t[idx + 1] - t[idx]) * (-y0) / (y1 - y0)


def _parabolic_peak(t, y, i):
    if 0 < i < len(y) - 1:
        a, b, c = y[i - 1], y[i], y[i + 1]
        den = a - 2 * b + c
        if den != 0:
            p = 0.5 * (a - c) / den
            dt = t[1] - t[0]
            return t[i] + p * dt, b - 0.25 * (a - c) * p
    return t[i], y[i]


def sagittal_angle_deg(theta_rad, phi_rad):
    """The truth thigh angle: the long axis in the sagittal plane of the walking direction,
    the way a gait lab measures it (the thigh's long axis projected on the lab's sagittal
    plane). With ``R = Ry(psi) Rx(phi) Rz(theta) Ry(rho)`` the long axis in the heading frame
    is ``(-sin theta, cos theta cos phi, cos theta sin phi)``; ab/adduction ``phi`` makes this
    a little larger than the flexion Euler angle ``theta``."""
    return np.degrees(np.arctan2(np.sin(theta_rad), np.cos(theta_rad) * np.cos(phi_rad)))


def _truth_strides(leg: _Leg, cfg: SimConfig) -> pd.DataFrame:
    dt = 1e-3
    tg = np.arange(-1.0, cfg.duration_s + 1.0, dt)
    parts = [leg.angles(tg[i:i + 4 * _CHUNK]) for i in range(0, len(tg), 4 * _CHUNK)]
    th_deg = sagittal_angle_deg(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    e = np.concatenate([p[4] for p in parts])
    g = np.concatenate([p[5] for p in parts])
    ph = np.concatenate([p[6] for p in parts])
    del parts
    # IC: integer crossings of the leg phase
    ic = _crossings(tg, np.mod(ph + 0.5, 1.0) - 0.5)  # frac 0 crossing (from -0.5..0.5 wrap)
    # the wrap at +-0.5 also gives upward "crossings"? no: y jumps down there, not up.
    sched = leg.body.sched
    rows: list = []
    for k in range(len(ic) - 1):
        t0, t1 = float(ic[k]), float(ic[k + 1])
        if t0 < 0 or t1 > cfg.duration_s:
            continue
        m = slice(int(np.searchsorted(tg, t0)), int(np.searchsorted(tg, t1)))
        tw, ew = tg[m], e[m]
        if len(tw) < 10 or ew.min() < 0.5:
            continue
        # TO: fractional phase reaches the stance fraction
        frac = np.mod(ph[m], 1.0)
        s = leg.stance_frac(tw)
        to = _crossings(tw, frac - s)
        if len(to) == 0:
            continue
        to_s = float(to[0])
        yw = th_deg[m]
        i_f, i_e = int(np.argmax(yw)), int(np.argmin(yw))
        tf, vf = _parabolic_peak(tw, yw, i_f)
        te, ve = _parabolic_peak(tw, yw, i_e)
        gm = float(np.mean(g[m]))
        bout = next((i for i, (b0, b1) in enumerate(sched.bouts) if b0 - 1e-6 <= t0 <= b1 + 1e-6), -1)
        steady = bool(ew.min() > 0.98 and (gm < 0.02 or gm > 0.98))
        stride = t1 - t0
        rows.append(
            dict(
                side=leg.side, stride_index=len(rows), ic_s=t0, to_s=to_s, next_ic_s=t1, stride_s=stride,
                cadence_spm=120.0 / stride, stance_s=to_s - t0, swing_s=t1 - to_s,
                swing_pct=100.0 * (t1 - to_s) / stride, flex_peak_deg=vf, ext_peak_deg=ve, rom_deg=vf - ve,
                flex_peak_s=tf, ext_peak_s=te, bout_index=bout, gait="run" if gm > 0.5 else "walk",
                steady=steady, speed_mps=float(np.mean(sched.speed(tw))),
                turning=bool(np.ptp(sched.heading(tw)) > math.radians(2.0)),
            )
        )
    cols = ["side", "stride_index", "ic_s", "to_s", "next_ic_s", "stride_s", "cadence_spm", "stance_s", "swing_s",
            "swing_pct", "flex_peak_deg", "ext_peak_deg", "rom_deg", "flex_peak_s", "ext_peak_s", "bout_index",
            "gait", "steady", "speed_mps", "turning"]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------------------
# Sensor model
# --------------------------------------------------------------------------------------
def _small_rotation_matrix(rng, sd_rad):
    """I + skew-ish misalignment (non-orthogonal axes: independent off-diagonals)."""
    M = np.eye(3)
    off = rng.normal(0.0, sd_rad, size=(3, 3))
    M += off - np.diag(np.diag(off))
    return M


def apply_sensor_model(acc_true_mps2: np.ndarray, gyr_true_dps: np.ndarray, cfg: SimConfig, side: Side,
                       rng: np.random.Generator):
    """The sensor model (step 5 of the module docstring), applied to ideal signals in the
    sensor frame: scale errors, axis misalignment, constant bias and random-walk drift, white
    noise, int16 quantisation on ``cfg.acc_range_g``/``cfg.gyr_range_dps`` with clipping.

    Every setting comes from ``cfg`` (``SimConfig``'s sensor fields; ``sensor_seed`` draws the
    static errors from their own stream: "the same physical sensor"); ``rng`` draws drift
    and noise (always, so ``sensor_errors=False`` does not shift the random stream).
    Returns ``(acc_counts, gyr_counts, acc_scale_mps2, gyr_scale_dps, errors)`` with
    ``errors`` the drawn values (empty for an ideal sensor). Also used by the hip-flexor test
    simulator (:mod:`imugait.sim.flexor`), so both simulators share one sensor model."""
    fs = float(cfg.fs_hz)
    n = int(acc_true_mps2.shape[0])
    acc_scale = cfg.acc_range_g * GRAVITY_MPS2 / 32768.0
    gyr_scale = cfg.gyr_range_dps / 32768.0
    params: dict = {}
    static = rng
    if cfg.sensor_seed is not None:
        static = np.random.default_rng([int(cfg.sensor_seed), 1 if side == "left" else 2, 77])
    sc_a = 1.0 + static.normal(0, cfg.scale_error_sd_pct / 100.0, 3)
    sc_g = 1.0 + static.normal(0, cfg.scale_error_sd_pct / 100.0, 3)
    M_a = _small_rotation_matrix(static, math.radians(cfg.misalign_sd_deg))
    M_g = _small_rotation_matrix(static, math.radians(cfg.misalign_sd_deg))
    b_a = static.normal(0, cfg.acc_bias_sd_mps2, 3)
    b_g = static.normal(0, cfg.gyr_bias_sd_dps, 3)
    sqdt = math.sqrt(1.0 / fs)
    rw_a = np.cumsum(rng.standard_normal((n, 3)), axis=0) * (cfg.acc_bias_rw_mps2_rts * sqdt)
    rw_g = np.cumsum(rng.standard_normal((n, 3)), axis=0) * (cfg.gyr_bias_rw_dps_rts * sqdt)
    nz_a = rng.standard_normal((n, 3)) * (cfg.acc_noise_density_mps2_rthz * math.sqrt(fs / 2.0))
    nz_g = rng.standard_normal((n, 3)) * (cfg.gyr_noise_density_dps_rthz * math.sqrt(fs / 2.0))
    if cfg.sensor_errors:
        acc = (acc_true_mps2 @ (M_a * sc_a[:, None]).T) + b_a + rw_a + nz_a
        gyr = (gyr_true_dps @ (M_g * sc_g[:, None]).T) + b_g + rw_g + nz_g
        params.update(acc_bias_mps2=b_a, gyr_bias_dps=b_g, acc_scale_factor=sc_a, gyr_scale_factor=sc_g,
                      acc_misalignment=M_a, gyr_misalignment=M_g,
                      acc_bias_drift_end_mps2=rw_a[-1], gyr_bias_drift_end_dps=rw_g[-1])
    else:
        acc, gyr = acc_true_mps2.copy(), gyr_true_dps.copy()
    acc_counts = np.clip(np.rint(acc / acc_scale), -32768, 32767).astype(np.int16)
    gyr_counts = np.clip(np.rint(gyr / gyr_scale), -32768, 32767).astype(np.int16)
    return acc_counts, gyr_counts, acc_scale, gyr_scale, params


def simulate(cfg: SimConfig | None = None, **kw) -> SimRecording:
    """Simulate one recording. ``simulate(SimConfig(...))`` or ``simulate(gait="run", ...)``."""
    if cfg is None:
        cfg = SimConfig(**kw)
    elif kw:
        cfg = replace(cfg, **kw)
    rng = np.random.default_rng(cfg.seed)
    body = _Body(cfg, rng)
    out = {}
    for side in SIDES:  # always draw both sides (same seed -> same side whatever `sides`)
        srng = np.random.default_rng([cfg.seed, 1 if side == "left" else 2])
        leg = _Leg(side, body, srng)
        if side in cfg.sides:
            out[side] = _simulate_side(cfg, leg, srng)
    return SimRecording(config=cfg, sides=out, segments=list(body.sched.segments), bouts=list(body.sched.bouts))


def _simulate_side(cfg: SimConfig, leg: _Leg, rng: np.random.Generator) -> SimSide:
    side = leg.side
    fs = float(cfg.fs_hz)
    # --- strap
    explicit = cfg.strap_R_left if side == "left" else cfg.strap_R_right
    strap_rot = random_rotation(rng)  # always drawn (reproducibility across strap modes)
    if explicit is not None:
        R_TS = np.asarray(explicit, dtype=float)
        mounting = "explicit strap rotation"
    elif cfg.strap == "random":
        R_TS = strap_rot
        mounting = "random strap rotation"
    else:
        R_TS = default_strap_R(side)
        mounting = "lateral thigh, x up, z out of the skin"
    r_T = np.array([0.0, -cfg.sensor_dist_m, leg.sign * cfg.sensor_lateral_m])
    # --- clock
    drift_ppm = float(cfg.clock_drift_ppm) if cfg.clock_drift_ppm is not None else float(rng.uniform(-30, 30))
    offset_s = float(cfg.clock_offset_s) if cfg.clock_offset_s is not None else float(rng.uniform(1.0, 1000.0))
    t_start = float(rng.uniform(0.0, 1.0 / fs))
    k = 1.0 + drift_ppm * 1e-6
    n = int(math.floor((cfg.duration_s - t_start) * fs * k)) + 1
    idx = np.arange(n, dtype=np.int64)
    t_true = t_start + idx / (fs * k)
    t_dev = offset_s + t_start * k + idx / fs
    # --- ideal signals
    wobble = None
    if cfg.soft_tissue_deg > 0:
        wobble = _Wobble(leg, cfg, np.random.default_rng([cfg.seed, 1 if side == "left" else 2, 99]))
    kin = _ideal_imu_chunked(leg, t_true, r_T, R_TS, wobble=wobble)
    f_S, w_S = kin["f"], kin["w"]
    # --- impacts along the thigh axis (with a small posterior/braking component)
    strides = _truth_strides(leg, cfg)
    imp_rows = []
    if cfg.impacts:
        e_at = leg.body.sched.envelope
        g_at = leg.body.sched.gait_blend
        direction_T = np.array([-0.3, 1.0, 0.0])
        direction_T /= np.linalg.norm(direction_T)
        dir_S = R_TS.T @ direction_T
        # ICs of all phase crossings (also ramps), weighted by the envelope
        dt = 1e-3
        tg = np.arange(0.0, cfg.duration_s, dt)
        ic = _crossings(tg, np.mod(leg.phase(tg) + 0.5, 1.0) - 0.5)
        for t_ic in ic:
            e0 = float(e_at(np.array([t_ic]))[0])
            if e0 < 0.05:
                continue
            g0 = float(g_at(np.array([t_ic]))[0])
            v0 = float(leg.body.sched.speed(np.array([t_ic]))[0])
            lo, hi = cfg.impact_walk_g
            walk_g = rng.uniform(lo, hi)
            if cfg.impact_run_g is not None:
                run_g = rng.uniform(*cfg.impact_run_g)
            else:
                run_g = float(np.clip((3.0 + 1.6 * (v0 - 2.0)) * rng.uniform(0.85, 1.15), 3.0, 8.0))
            amp_g = e0 * ((1 - g0) * walk_g + g0 * run_g)
            rise = rng.uniform(0.010, 0.020)
            sel = slice(int(np.searchsorted(t_true, t_ic)), int(np.searchsorted(t_true, t_ic + 40 * rise)))
            tau = t_true[sel] - t_ic
            f_S[sel] += (amp_g * GRAVITY_MPS2 * _impact_kernel(tau, rise))[:, None] * dir_S[None, :]
            imp_rows.append(dict(t_s=float(t_ic), amplitude_g=float(amp_g), rise_s=float(rise)))
    gyr_true_dps = np.degrees(w_S)
    acc_true = f_S
    # --- sensor errors
    params = dict(clock_drift_ppm=drift_ppm, clock_offset_s=offset_s, t_first_true_s=t_start,
                  sensor_dist_m=cfg.sensor_dist_m, sensor_lateral_m=cfg.sensor_lateral_m,
                  stand_angle_deg=leg.stand_deg)
    acc_counts, gyr_counts, acc_scale, gyr_scale, errs = apply_sensor_model(acc_true, gyr_true_dps, cfg, side, rng)
    params.update(errs)
    info = SensorInfo(
        side=side, kind="simulated", sample_rate_hz=fs, acc_scale_mps2=acc_scale, gyr_scale_dps=gyr_scale,
        acc_range_g=float(cfg.acc_range_g), gyr_range_dps=float(cfg.gyr_range_dps),
        firmware=f"imugait-sim {SIM_VERSION}", mounting=mounting,
        device_id=f"SIM-{side[0].upper()}-{(cfg.seed if cfg.sensor_seed is None else cfg.sensor_seed) & 0xFFFF:04X}", name=f"imugait-sim-{side}",
    )
    return SimSide(
        side=side, info=info, t_true_s=t_true, t_dev_s=t_dev, sample_index=idx,
        acc_counts=acc_counts, gyr_counts=gyr_counts,
        acc_mps2=acc_counts.astype(np.float64) * acc_scale, gyr_dps=gyr_counts.astype(np.float64) * gyr_scale,
        thigh_angle_deg=sagittal_angle_deg(kin["th"], kin["phi"]), strides=strides,
        q_world_sensor=kin["q"], heading_deg=np.degrees(kin["psi"]),
        thigh_rate_dps=np.degrees(kin["thd"]), gait_phase=np.mod(kin["ph"], 1.0), activity=kin["e"],
        acc_true_mps2=acc_true, gyr_true_dps=gyr_true_dps, R_thigh_sensor=R_TS, sensor_params=params,
        impacts=pd.DataFrame(imp_rows, columns=["t_s", "amplitude_g", "rise_s"]),
    )
