"""Simulated modified Thomas tests (and other still postures) with ground truth.

A recording is a sequence of :class:`Pose` s — standing, sitting, lying, Thomas-test holds,
knees bent, leg raises — each reached by a smooth transition and then held, with realistic
small movements. Both thighs' orientation is rigid-body kinematics; the sensors see it
through any strap orientation and the **same sensor model as the gait simulator**
(:func:`imugait.sim.gait.apply_sensor_model`: scale, misalignment, bias, drift, noise,
int16 quantisation).

Frames (as in :mod:`imugait.sim.gait`): world ``W`` with ``y`` up; thigh ``T`` ISB (``x``
anterior, ``y`` knee→hip, ``z`` right). One thigh's orientation::

    R_WT = Ry(heading) · Rz(alpha) · Rx(abduction) · Ry(rotation)

``alpha`` is the angle of the hip→knee line from straight down, toward the body's facing
direction: 0 standing, 90 sitting or lying flat (thigh horizontal, front up), 90 − β for a
thigh hanging β below the horizontal, 90 + θ for a thigh lifted θ from the table (θ > 90:
knee toward the chest). The long axis' angle to the horizontal is
``asin(y_T · up) = asin(cos(alpha) · cos(abduction))``.

Small movements (per thigh, in every held pose, scaled by ``movement_scale``): breathing
(0.1–0.4°, 0.2–0.33 Hz), slow sway (smooth noise, SD 0.15° sagittal, 0.3° rotation),
physiological tremor (0.003–0.01°, 8–12 Hz; at 0.2 m below the hip 0.003–0.08 m/s²), twitches (0.1 per second, ±0.7°, 0.3 s) and, for
the hanging leg of a Thomas hold, settling as it relaxes (starts 0–2° higher, τ 0.5–1.5 s);
the hugged thigh sways twice as much. Standing, each thigh is tilted by a random sagittal
angle (``stand_tilt_sd_deg``) that the standing calibration takes for vertical.

Ground truth per Thomas hold (:attr:`FlexorSimRecording.holds`): the nominal angle, the
true median over the held part of the anatomical long axis' angle to the horizontal, and the
same for the axis the standing calibration defines (the thigh's standing direction) —
what an error-free instrument would read.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy.interpolate import CubicSpline

from imugait.conventions import GRAVITY_MPS2, SIDES, Side
from imugait.sim.gait import SimConfig, apply_sensor_model, default_strap_R, random_rotation
from imugait.sim.gait import _rx, _ry, _rz, _smoothstep  # the one set of rotation/blend helpers of the simulators
from imugait.types import SensorInfo
from imugait.outputs import jsonable

FLEXOR_SIM_VERSION = "1.0"
TABLE_HIP_HEIGHT_M = 0.78
STAND_HIP_HEIGHT_M = 0.90


@dataclass(frozen=True)
class Pose:
    """Both thighs held still for ``duration_s`` after a ``transition_s`` movement into it.

    Angles in degrees: ``alpha_*`` as in the module docstring; ``abd_*`` abduction (+ knee
    away from the midline on both legs), ``rot_*`` axial rotation. ``tested``: the hanging leg
    of a Thomas hold (None: not a test hold)."""

    name: str
    duration_s: float
    alpha_left_deg: float
    alpha_right_deg: float
    transition_s: float = 1.5
    abd_left_deg: float = 0.0
    abd_right_deg: float = 0.0
    rot_left_deg: float = 0.0
    rot_right_deg: float = 0.0
    heading_deg: float = 0.0
    hip_height_m: float = TABLE_HIP_HEIGHT_M
    tested: str | None = None
    nominal_below_deg: float | None = None
    hug_flexion_deg: float | None = None

    def alpha(self, side: Side) -> float:
        return self.alpha_left_deg if side == "left" else self.alpha_right_deg

    def abd(self, side: Side) -> float:
        return self.abd_left_deg if side == "left" else self.abd_right_deg

    def rot(self, side: Side) -> float:
        return self.rot_left_deg if side == "left" else self.rot_right_deg


# ---------------------------------------------------------------------- pose builders
def stand(duration_s: float = 5.0, heading_deg: float = 0.0, transition_s: float = 1.5) -> Pose:
    return Pose("stand", duration_s, 0.0, 0.0, transition_s, heading_deg=heading_deg, hip_height_m=STAND_HIP_HEIGHT_M)


def sit(duration_s: float = 3.0, heading_deg: float = 0.0, transition_s: float = 2.5, thigh_deg: float = 0.0,
        name: str = "sit") -> Pose:
    """Sitting (on a chair or the end of the table): thighs horizontal (+ ``thigh_deg`` with
    the knees higher), front up."""
    a = 90.0 + thigh_deg
    return Pose(name, duration_s, a, a, transition_s, heading_deg=heading_deg)


def supine(name: str, duration_s: float, left_table_deg: float, right_table_deg: float,
           heading_deg: float = 0.0, transition_s: float = 2.0, **kw) -> Pose:
    """Lying on the back; each thigh ``table_deg`` from the table toward the head (0 flat,
    90 vertical, 130 knee hugged to the chest, negative: hanging below the table)."""
    return Pose(name, duration_s, 90.0 + left_table_deg, 90.0 + right_table_deg, transition_s,
                heading_deg=heading_deg, **kw)


def thomas_hold(tested: Side, below_deg: float, hug_deg: float = 125.0, duration_s: float = 8.0,
                heading_deg: float = 0.0, transition_s: float = 2.0, abd_tested_deg: float = 0.0,
                rot_tested_deg: float = 0.0, abd_hugged_deg: float = 0.0) -> Pose:
    """A modified Thomas test hold: ``tested`` thigh hangs ``below_deg`` below the horizontal
    (negative: above), the other knee is hugged ``hug_deg`` from the table."""
    tab = {tested: -below_deg, ("right" if tested == "left" else "left"): hug_deg}
    abd = {tested: abd_tested_deg, ("right" if tested == "left" else "left"): abd_hugged_deg}
    rot = {tested: rot_tested_deg, ("right" if tested == "left" else "left"): 0.0}
    return supine(f"thomas_{tested}", duration_s, tab["left"], tab["right"], heading_deg, transition_s,
                  abd_left_deg=abd["left"], abd_right_deg=abd["right"], rot_left_deg=rot["left"],
                  rot_right_deg=rot["right"], tested=tested, nominal_below_deg=float(below_deg),
                  hug_flexion_deg=float(hug_deg))


def thomas_protocol(left_deg, right_deg, *, repeats: int = 3, rng: np.random.Generator | None = None,
                    hold_s: tuple = (6.0, 10.0), hug_deg: tuple = (115.0, 135.0), first: Side = "left",
                    hold_jitter_deg: float = 0.7, stand_s: float = 5.0, sit_s: float = 3.0, lie_flat_s: float = 0.0,
                    rests: bool = True, heading_deg: float | None = None, stand_up_after: bool = True,
                    transition_s: tuple = (1.5, 3.0), abd_tested_deg: float = 6.0, rot_tested_deg: float = 15.0,
                    abd_hugged_deg: float = 10.0) -> tuple:
    """The protocol of ``imugait flexor-test``: stand, sit on the end of the table, lie back
    hugging both knees, then ``repeats`` × (lower the ``first`` leg and hold, back to both
    knees, lower the other leg and hold, back). ``left_deg``/``right_deg``: the side's angle
    below the horizontal (one value, or one per repeat; each hold varies by
    ``hold_jitter_deg`` SD). ``rests=False``: from one hold straight into the next (no
    both-knees pose in between). Random parts come from ``rng``."""
    rng = rng if rng is not None else np.random.default_rng(0)
    head_stand = float(rng.uniform(-180, 180)) if heading_deg is None else float(heading_deg)
    head = float(rng.uniform(-180, 180)) if heading_deg is None else float(heading_deg)

    def tr():
        return float(rng.uniform(*transition_s))

    def per(v, i):
        return float(v[i]) if np.ndim(v) else float(v)

    poses = [stand(stand_s, head_stand)]
    if sit_s > 0:
        poses.append(sit(sit_s, head, transition_s=3.0))
    if lie_flat_s > 0:
        poses.append(supine("lie_flat", lie_flat_s, float(rng.normal(0, 1.5)), float(rng.normal(0, 1.5)), head, tr()))
    both = float(rng.uniform(*hug_deg))
    poses.append(supine("hug_both", 2.0, both, both + float(rng.normal(0, 3)), head, tr()))
    order: tuple[Side, Side] = (first, "right" if first == "left" else "left")
    for i in range(repeats):
        for side in order:
            base = per(left_deg if side == "left" else right_deg, i)
            poses.append(thomas_hold(side, base + float(rng.normal(0, hold_jitter_deg)),
                                     hug_deg=float(rng.uniform(*hug_deg)), duration_s=float(rng.uniform(*hold_s)),
                                     heading_deg=head, transition_s=tr(),
                                     abd_tested_deg=float(rng.uniform(-abd_tested_deg, abd_tested_deg)),
                                     rot_tested_deg=float(rng.uniform(-rot_tested_deg, rot_tested_deg)),
                                     abd_hugged_deg=float(rng.uniform(0, abd_hugged_deg))))
            if rests:
                b = float(rng.uniform(*hug_deg))
                poses.append(supine("hug_both", float(rng.uniform(1.0, 2.5)), b, b + float(rng.normal(0, 3)), head, tr()))
    if stand_up_after:
        poses.append(sit(3.0, head, transition_s=3.0))
        poses.append(stand(3.0, head_stand, transition_s=2.5))
    return tuple(poses)


NON_TEST_POSES = ("stand", "sit_chair", "sit_table", "lie_flat", "hook_lying", "hook_asym", "one_knee_bent",
                  "hug_both", "leg_raise", "sit_hug_one_knee")


def non_test_protocol(rng: np.random.Generator | None = None, names: tuple = NON_TEST_POSES,
                      duration_s: tuple = (4.0, 9.0), heading_deg: float | None = None) -> tuple:
    """Still postures that are *not* test holds, in the given order after a standing start:
    standing, sitting on a chair or the table, lying flat (both thighs horizontal), lying with
    both knees bent (symmetric and not), one knee bent with the other leg flat, both knees
    hugged, a straight-leg raise (one thigh 55–75° up), sitting with one knee pulled up."""
    rng = rng if rng is not None else np.random.default_rng(0)
    head = float(rng.uniform(-180, 180)) if heading_deg is None else float(heading_deg)

    def d():
        return float(rng.uniform(*duration_s))

    out = [stand(5.0, head)]
    for nm in names:
        if nm == "stand":
            out.append(stand(d(), head))
        elif nm == "sit_chair":
            out.append(sit(d(), head, thigh_deg=float(rng.uniform(-8, 8)), name="sit_chair"))
        elif nm == "sit_table":
            out.append(sit(d(), head, thigh_deg=float(rng.uniform(-3, 3)), name="sit_table"))
        elif nm == "lie_flat":
            out.append(supine("lie_flat", d(), float(rng.normal(0, 2)), float(rng.normal(0, 2)), head))
        elif nm == "hook_lying":
            a = float(rng.uniform(35, 55))
            out.append(supine("hook_lying", d(), a, a + float(rng.normal(0, 3)), head))
        elif nm == "hook_asym":
            a, b = float(rng.uniform(25, 35)), float(rng.uniform(55, 65))
            la, ra = (a, b) if rng.random() < 0.5 else (b, a)
            out.append(supine("hook_asym", d(), la, ra, head))
        elif nm == "one_knee_bent":
            a = float(rng.uniform(35, 60))
            la, ra = (0.0, a) if rng.random() < 0.5 else (a, 0.0)
            out.append(supine("one_knee_bent", d(), la, ra, head))
        elif nm == "hug_both":
            a = float(rng.uniform(115, 135))
            out.append(supine("hug_both", d(), a, a + float(rng.normal(0, 3)), head))
        elif nm == "leg_raise":
            a = float(rng.uniform(55, 75))
            la, ra = (0.0, a) if rng.random() < 0.5 else (a, 0.0)
            out.append(supine("leg_raise", d(), la, ra, head))
        elif nm == "sit_hug_one_knee":
            a = float(rng.uniform(20, 40))
            la, ra = (90.0, 90.0 + a) if rng.random() < 0.5 else (90.0 + a, 90.0)
            out.append(Pose("sit_hug_one_knee", d(), la, ra, 2.0, heading_deg=head))
        else:
            raise ValueError(f"unknown pose {nm!r}; known: {', '.join(NON_TEST_POSES)}")
    return tuple(out)


# ---------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class FlexorSimConfig:
    """One simulated recording. ``poses``: the sequence (see the builders). Sensor settings
    are the gait simulator's (``sensor``: a :class:`~imugait.sim.gait.SimConfig` whose
    sensor fields — ranges, noise, bias, drift, scale, misalignment, ``sensor_errors``,
    ``sensor_seed`` — are used; its gait fields are ignored)."""

    poses: tuple
    fs_hz: float = 200.0
    seed: int = 0
    strap: str = "random"            # "random" (any orientation) | "default" (lateral, x up the thigh)
    strap_R_left: tuple | None = None
    strap_R_right: tuple | None = None
    sensor_errors: bool = True
    sensor_seed: int | None = None
    movement_scale: float = 1.0      # 0: perfectly still holds
    stand_tilt_sd_deg: float = 1.0   # sagittal tilt of each standing thigh (taken for vertical)
    sensor_dist_m: float = 0.20
    sensor_lateral_m: float = 0.07
    sensor: SimConfig | None = None  # sensor settings other than the defaults (its fs_hz/seed are replaced)

    def __post_init__(self):
        if not 10.0 <= float(self.fs_hz) <= 5000.0:
            raise ValueError("fs_hz must be within 10..5000")
        if self.strap not in ("random", "default"):
            raise ValueError("strap must be 'random' or 'default'")
        if not self.poses:
            raise ValueError("poses must not be empty")
        object.__setattr__(self, "poses", tuple(self.poses))

    def sensor_config(self) -> SimConfig:
        if self.sensor is not None:
            return replace(self.sensor, fs_hz=float(self.fs_hz), seed=int(self.seed))
        return SimConfig(fs_hz=float(self.fs_hz), seed=int(self.seed), sensor_errors=self.sensor_errors,
                         sensor_seed=self.sensor_seed)

    @property
    def duration_s(self) -> float:
        return float(sum(p.transition_s + p.duration_s for p in self.poses))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["poses"] = [asdict(p) for p in self.poses]
        d["sensor"] = self.sensor_config().to_dict()
        return jsonable(d)




# ---------------------------------------------------------------------- kinematics
class _Timeline:
    """Pose parameters of one thigh as smooth functions of time (transitions blended with a
    quintic smoothstep), plus its small movements."""

    def __init__(self, cfg: FlexorSimConfig, side: Side, rng: np.random.Generator, stand_tilt_deg: float):
        self.side = side
        poses = cfg.poses
        t, starts, ends = 0.0, [], []
        for p in poses:
            starts.append(t)                    # transition begins
            t += p.transition_s
            ends.append(t)                      # held from here ...
            t += p.duration_s                   # ... to here
        self.t_tr = np.array(starts)
        self.t_hold = np.array(ends)
        self.t_end = t
        sgn = 1.0 if side == "right" else -1.0  # abduction: knee away from the midline
        head = np.unwrap(np.radians([p.heading_deg for p in poses]))
        alpha = np.array([p.alpha(side) + (stand_tilt_deg if p.name == "stand" else 0.0) for p in poses])
        self.vals = {
            "alpha": np.radians(alpha),
            "abd": np.radians([sgn * p.abd(side) for p in poses]),
            "rot": np.radians([p.rot(side) for p in poses]),
            "head": head,
            "hip_y": np.array([p.hip_height_m for p in poses]),
        }
        self.poses = poses
        # small movements
        s = cfg.movement_scale
        dur = self.t_end + 2.0
        self.breath_amp = np.radians(rng.uniform(0.1, 0.4)) * s
        self.breath_f = rng.uniform(0.2, 0.33)
        self.breath_ph = rng.uniform(0, 2 * np.pi)
        self.trem_amp = np.radians(rng.uniform(0.003, 0.01)) * s
        self.trem_f = rng.uniform(8.0, 12.0)
        self.trem_ph = rng.uniform(0, 2 * np.pi)
        knots = np.arange(-2.0, dur + 2.0, 1.0)
        self.sway = CubicSpline(knots, rng.normal(0, 1, (knots.size, 3)) * np.radians([0.15, 0.15, 0.3]) * s, axis=0)
        n_tw = rng.poisson(0.1 * dur)
        self.twitch_t = rng.uniform(0, dur, n_tw)
        self.twitch_a = np.radians(rng.normal(0, 0.7, n_tw)) * s
        self.twitch_w = 0.3
        # settling of the hanging leg at the start of each Thomas hold, and more sway when hugged
        self.settle = []
        self.hugged = []
        for i, p in enumerate(poses):
            if p.tested == side:
                self.settle.append((self.t_hold[i], np.radians(rng.uniform(0.0, 2.0)) * s, rng.uniform(0.5, 1.5)))
            elif p.tested is not None:
                self.hugged.append((self.t_tr[i], self.t_hold[i] + p.duration_s))

    def params(self, t: np.ndarray) -> dict:
        i = np.clip(np.searchsorted(self.t_tr, t, side="right") - 1, 0, len(self.poses) - 1)
        prev = np.maximum(i - 1, 0)
        tr = np.array([p.transition_s for p in self.poses])[i]
        w = np.where(tr > 0, _smoothstep((t - self.t_tr[i]) / np.where(tr > 0, tr, 1.0)), 1.0)
        w = np.where(i == 0, 1.0, w)
        out = {k: v[prev] + w * (v[i] - v[prev]) for k, v in self.vals.items()}
        # small movements: full while held, fading in and out with the transitions
        held = np.where(i == 0, 1.0, np.clip(1.0 - 2.0 * np.minimum(w, 1.0 - w) * 2.0, 0.0, 1.0))
        sway = self.sway(t)
        d_alpha = (self.breath_amp * np.sin(2 * np.pi * self.breath_f * t + self.breath_ph)
                   + self.trem_amp * np.sin(2 * np.pi * self.trem_f * t + self.trem_ph) + sway[:, 0])
        for t0, a in zip(self.twitch_t, self.twitch_a):
            x = (t - t0) / self.twitch_w
            d_alpha = d_alpha + np.where(np.abs(x) < 0.5, a * np.cos(np.pi * x) ** 2, 0.0)
        for t0, a, tau in self.settle:
            d_alpha = d_alpha + np.where(t >= t0, a * np.exp(-(t - t0) / tau), a * _smoothstep((t - t0 + 1.0)))
        gain = np.ones_like(t)
        for a0, a1 in self.hugged:
            gain = np.where((t >= a0) & (t < a1), 2.0, gain)
        out["alpha"] = out["alpha"] + held * gain * d_alpha
        out["abd"] = out["abd"] + held * gain * sway[:, 1]
        out["rot"] = out["rot"] + held * sway[:, 2]
        return out

    def R_WT(self, t: np.ndarray, q: dict | None = None) -> np.ndarray:
        q = q or self.params(t)
        return _ry(q["head"]) @ _rz(q["alpha"]) @ _rx(q["abd"]) @ _ry(q["rot"])

    def hip(self, t: np.ndarray, q: dict | None = None) -> np.ndarray:
        q = q or self.params(t)
        lateral = 0.09 if self.side == "right" else -0.09
        local = np.stack([np.zeros_like(t), q["hip_y"], np.full_like(t, lateral)], -1)
        return np.einsum("nij,nj->ni", _ry(q["head"]), local)


_H_S = 5e-4


def _ideal(tl: _Timeline, t: np.ndarray, R_TS: np.ndarray, r_T: np.ndarray):
    """Specific force (m/s²) and angular velocity (deg/s) in the sensor frame, and R_WT."""
    def pose(tt):
        q = tl.params(tt)
        R = tl.R_WT(tt, q)
        return R, tl.hip(tt, q) + np.einsum("nij,j->ni", R, r_T)

    R0, p0 = pose(t)
    Rm, pm = pose(t - _H_S)
    Rp, pp = pose(t + _H_S)
    a_W = (pp - 2 * p0 + pm) / (_H_S * _H_S)
    f_W = a_W + np.array([0.0, GRAVITY_MPS2, 0.0])
    RS0, RSm, RSp = R0 @ R_TS, Rm @ R_TS, Rp @ R_TS
    f_S = np.einsum("nji,nj->ni", RS0, f_W)
    D = np.einsum("nji,njk->nik", RSm, RSp)  # R(t-h)^T R(t+h) = exp([w]x 2h) (sensor frame)
    W = 0.5 * (D - np.swapaxes(D, 1, 2))
    w = np.stack([W[:, 2, 1], W[:, 0, 2], W[:, 1, 0]], -1) / (2 * _H_S)
    return f_S, np.degrees(w), R0


# ---------------------------------------------------------------------- results
@dataclass
class FlexorSimSide:
    """One simulated thigh sensor (quacks like :class:`imugait.sim.gait.SimSide` for
    :class:`~imugait.sim.firmware.VirtualSensor` and :class:`~imugait.sim.source.SimulatedSource`)."""

    side: Side
    info: SensorInfo
    t_true_s: np.ndarray
    t_dev_s: np.ndarray
    sample_index: np.ndarray
    acc_counts: np.ndarray
    gyr_counts: np.ndarray
    acc_mps2: np.ndarray
    gyr_dps: np.ndarray
    below_horizontal_deg: np.ndarray            # truth: anatomical long axis, + knee below hip
    below_horizontal_standing_ref_deg: np.ndarray  # truth: the axis standing defines
    R_thigh_sensor: np.ndarray
    stand_tilt_deg: float
    sensor_params: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.t_true_s.shape[0])


@dataclass
class FlexorSimRecording:
    config: FlexorSimConfig
    sides: dict                  # Side -> FlexorSimSide
    timeline: list               # [{"name", "t_transition_s", "t_hold_s", "t_end_s", ...}]
    holds: list                  # truth per Thomas hold (see module docstring)

    def truth_dict(self) -> dict:
        return jsonable({
            "generator": f"imugait.sim.flexor {FLEXOR_SIM_VERSION}",
            "config": self.config.to_dict(),
            "time": "seconds of true session time (the CSV time_s)",
            "timeline": self.timeline,
            "holds": self.holds,
            "sides": {s: {"R_thigh_sensor": v.R_thigh_sensor, "stand_tilt_deg": v.stand_tilt_deg,
                          "sensor_params": v.sensor_params, "sensor_info": v.info.to_dict()}
                      for s, v in self.sides.items()},
            "per_side_truth": self.side_truth(),
        })

    def side_truth(self) -> dict:
        """Per tested side: the median over its holds of each truth."""
        out = {}
        for s in SIDES:
            hs = [h for h in self.holds if h["side"] == s]
            out[s] = {k: (float(np.median([h[k] for h in hs])) if hs else None)
                      for k in ("nominal_deg", "thigh_below_horizontal_deg", "thigh_below_horizontal_standing_ref_deg")}
            out[s]["n_holds"] = len(hs)
        return out


def simulate_flexor(cfg: FlexorSimConfig) -> FlexorSimRecording:
    """Simulate both thighs through ``cfg.poses`` (see the module docstring)."""
    fs = float(cfg.fs_hz)
    sensor_cfg = cfg.sensor_config()
    sides = {}
    timelines = {}
    for side in SIDES:
        rng = np.random.default_rng([cfg.seed, 1 if side == "left" else 2, 15])
        tilt = float(rng.normal(0, cfg.stand_tilt_sd_deg)) if cfg.stand_tilt_sd_deg > 0 else 0.0
        tl = _Timeline(cfg, side, rng, tilt)
        timelines[side] = tl
        explicit = cfg.strap_R_left if side == "left" else cfg.strap_R_right
        strap_rot = random_rotation(rng)
        if explicit is not None:
            R_TS = np.asarray(explicit, dtype=float).reshape(3, 3)
        elif cfg.strap == "random":
            R_TS = strap_rot
        else:
            R_TS = default_strap_R(side)
        r_T = np.array([0.0, -cfg.sensor_dist_m, (1.0 if side == "right" else -1.0) * cfg.sensor_lateral_m])
        # device clock (as the gait simulator's: drift ±30 ppm, offset 1–1000 s)
        drift_ppm = float(rng.uniform(-30, 30))
        offset_s = float(rng.uniform(1.0, 1000.0))
        t_start = float(rng.uniform(0.0, 1.0 / fs))
        k = 1.0 + drift_ppm * 1e-6
        n = int(math.floor((tl.t_end - t_start) * fs * k)) + 1
        idx = np.arange(n, dtype=np.int64)
        t_true = t_start + idx / (fs * k)
        t_dev = offset_s + t_start * k + idx / fs
        f_S, w_S, R_WT = _ideal(tl, t_true, R_TS, r_T)
        acc_counts, gyr_counts, acc_scale, gyr_scale, errs = apply_sensor_model(f_S, w_S, sensor_cfg, side, rng)
        # truth: the anatomical long axis, and the axis that standing defines
        y_T = R_WT[:, :, 1]
        below = np.degrees(np.arcsin(np.clip(y_T[:, 1], -1, 1)))
        i_stand = [i for i, p in enumerate(cfg.poses) if p.name == "stand"]
        if i_stand:
            p0 = i_stand[0]
            t_mid = np.array([tl.t_hold[p0] + 0.5 * cfg.poses[p0].duration_s])
            q = tl.params(t_mid)
            q = {**q, "alpha": np.array([tl.vals["alpha"][p0]]), "abd": np.array([tl.vals["abd"][p0]]),
                 "rot": np.array([tl.vals["rot"][p0]])}
            R_stand = tl.R_WT(t_mid, q)[0]
            y_cal_T = R_stand.T @ np.array([0.0, 1.0, 0.0])  # thigh-frame direction vertical while standing
        else:
            y_cal_T = np.array([0.0, 1.0, 0.0])
        below_ref = np.degrees(np.arcsin(np.clip(np.einsum("nij,j->ni", R_WT, y_cal_T)[:, 1], -1, 1)))
        info = SensorInfo(side=side, kind="simulated", sample_rate_hz=fs, acc_scale_mps2=acc_scale,
                          gyr_scale_dps=gyr_scale, acc_range_g=float(sensor_cfg.acc_range_g),
                          gyr_range_dps=float(sensor_cfg.gyr_range_dps), firmware=f"imugait-sim-flexor {FLEXOR_SIM_VERSION}",
                          mounting="random strap rotation" if explicit is None and cfg.strap == "random"
                          else "explicit strap rotation" if explicit is not None else "lateral thigh, x up",
                          device_id=f"SIMF-{side[0].upper()}-{(cfg.seed if cfg.sensor_seed is None else cfg.sensor_seed) & 0xFFFF:04X}",
                          name=f"imugait-sim-{side}")
        sides[side] = FlexorSimSide(
            side=side, info=info, t_true_s=t_true, t_dev_s=t_dev, sample_index=idx, acc_counts=acc_counts,
            gyr_counts=gyr_counts, acc_mps2=acc_counts.astype(np.float64) * acc_scale,
            gyr_dps=gyr_counts.astype(np.float64) * gyr_scale, below_horizontal_deg=below,
            below_horizontal_standing_ref_deg=below_ref, R_thigh_sensor=R_TS, stand_tilt_deg=tilt,
            sensor_params={**errs, "clock_drift_ppm": drift_ppm, "clock_offset_s": offset_s, "t_first_true_s": t_start})
    tl = timelines["left"]
    timeline = [{"name": p.name, "t_transition_s": float(tl.t_tr[i]), "t_hold_s": float(tl.t_hold[i]),
                 "t_end_s": float(tl.t_hold[i] + p.duration_s), "tested": p.tested}
                for i, p in enumerate(cfg.poses)]
    holds = []
    for i, p in enumerate(cfg.poses):
        if p.tested is None:
            continue
        s = sides[p.tested]
        a, b = tl.t_hold[i], tl.t_hold[i] + p.duration_s
        m = (s.t_true_s >= a) & (s.t_true_s < b)
        hug = sides["right" if p.tested == "left" else "left"]
        mh = (hug.t_true_s >= a) & (hug.t_true_s < b)
        holds.append({"side": p.tested, "start_s": float(a), "end_s": float(b), "nominal_deg": p.nominal_below_deg,
                      "thigh_below_horizontal_deg": float(np.median(s.below_horizontal_deg[m])),
                      "thigh_below_horizontal_standing_ref_deg": float(np.median(s.below_horizontal_standing_ref_deg[m])),
                      "hugged_thigh_flexion_deg": float(180.0 + np.median(hug.below_horizontal_deg[mh])),
                      "hug_nominal_deg": p.hug_flexion_deg})
    return FlexorSimRecording(config=cfg, sides=sides, timeline=timeline, holds=holds)


def random_test(seed: int, *, fs_hz: float | None = None, angles_deg: tuple = (-30.0, 20.0), repeats: int = 3,
                rests: bool | None = None, **kw) -> FlexorSimRecording:
    """A random modified Thomas test (validation and tests): per side an angle uniform in
    ``angles_deg``, a random strap on each thigh, sample rate uniform 50–400 Hz unless given,
    with or without rests between holds, with the sensor model and small movements."""
    rng = np.random.default_rng([seed, 4242])
    fs = float(fs_hz) if fs_hz is not None else float(rng.uniform(50.0, 400.0))
    left, right = (float(rng.uniform(*angles_deg)) for _ in range(2))
    poses = thomas_protocol(left, right, repeats=repeats, rng=rng,
                            first="left" if rng.random() < 0.5 else "right",
                            rests=bool(rng.random() < 0.7) if rests is None else rests,
                            lie_flat_s=float(rng.choice([0.0, 3.0])), sit_s=float(rng.choice([0.0, 3.0])))
    return simulate_flexor(FlexorSimConfig(poses=poses, fs_hz=fs, seed=seed, **kw))



def follow_protocol(steps, left_deg: float, right_deg: float, seed: int = 1, fs_hz: float = 200.0) -> FlexorSimRecording:
    """A simulated runner who follows the guided protocol's ``steps``
    (:func:`imugait.analysis.flexor.protocol_steps`) with the prompts' timing: his left and
    right thighs hang ``left_deg``/``right_deg`` below the horizontal (± 0.5° per hold)."""
    rng = np.random.default_rng([seed, 15])
    head = float(rng.uniform(-180, 180))
    poses: list = []
    for st in steps:
        tr = min(2.5, 0.4 * st.duration_s)
        if st.kind == "stand":
            poses.append(stand(st.duration_s, head, transition_s=0.0 if not poses else tr))
        elif st.kind == "sit":
            poses.append(sit(st.duration_s - 3.0, head, transition_s=3.0))
        elif st.kind in ("lie", "rest"):
            a = float(rng.uniform(115, 130))
            poses.append(supine("hug_both", st.duration_s - 2.0, a, a + float(rng.normal(0, 3)), head, 2.0))
        elif st.kind == "hold":
            v = left_deg if st.side == "left" else right_deg
            poses.append(thomas_hold(st.side, v + float(rng.normal(0, 0.5)), float(rng.uniform(115, 135)),
                                     st.duration_s - 2.5, head, 2.5, rot_tested_deg=float(rng.uniform(-10, 10))))
        elif st.kind == "done":
            poses.append(sit(st.duration_s - 2.0, head, transition_s=2.0))
    poses.append(stand(3.0, head, transition_s=2.0))  # the recording outlasts the last prompt
    return simulate_flexor(FlexorSimConfig(poses=tuple(poses), fs_hz=fs_hz, seed=seed))


__all__ = ["FLEXOR_SIM_VERSION", "follow_protocol", "FlexorSimConfig", "FlexorSimRecording", "FlexorSimSide", "NON_TEST_POSES", "Pose",
           "non_test_protocol", "random_test", "simulate_flexor", "sit", "stand", "supine", "thomas_hold",
           "thomas_protocol"]
