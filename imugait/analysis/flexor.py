"""The modified Thomas test (hip-flexor length) from the two thigh sensors — pure numpy.

The test (Harvey 1998, Br J Sports Med 32:68–70): lying on the back at the end of a table,
one knee hugged to the chest (this tilts the pelvis back and flattens the lower back), the
other leg hangs relaxed over the edge. The hanging thigh's angle to the horizontal measures
how long its hip flexors are: **``thigh_below_horizontal_deg``**, positive when the knee
hangs below the hip (hip extended), negative when the thigh stays above the horizontal
(tight hip flexors). Harvey's 117 elite athletes averaged 11.9° below the horizontal.

A calibrated thigh sensor is an inclinometer on exactly that segment. Steps (numbered as
in ``docs/flexor-test.md``):

1. **Standing calibration** — the gait analysis' :func:`~imugait.analysis.calibrate.find_still`
   and :func:`~imugait.analysis.calibrate.long_axis_from_standing` on each thigh (through
   :func:`standing_axis`): the first period of ≥ 1 s standing still gives the thigh's long
   axis ``y`` in sensor coordinates (the gravity direction, from the knee up to the hip). Both
   thighs must be still at the same time. Without it the test is refused
   (:class:`FlexorTestRefused`): a static sensor cannot know which of its axes is the thigh.
2. **Blocks** — samples are averaged in ``block_s`` (0.1 s) blocks on the common time axis
   (any rate, gaps allowed; both files on one clock). Per block and thigh: the gravity
   direction ``u`` (unit mean accelerometer) and the **elevation** ``asin(y·u)`` — the long
   axis' angle to the horizontal, positive with the knee below the hip. It does not depend
   on how the strap is turned about the thigh, nor on where the body faces (a dot product
   with the vertical), and the sign comes from ``y`` (knee→hip), not from a mounting.
3. **Stillness** — a block is moving when its bias-corrected gyro RMS exceeds
   ``still_gyr_dps`` or the gravity direction turned more than ``still_tilt_deg`` within
   ``tilt_window_s`` (``hugged_tilt_deg`` for the hugged thigh, held by the arms), or the
   accelerometer magnitude is off 1 g by ``still_acc_mps2``.
4. **Hold candidates** — both thighs still, one (tested) with elevation in
   [``tested_min_deg``, ``tested_max_deg``], the other (hugged) with its knee at least
   ``hug_min_elev_deg`` above the hip and ``min_gap_deg`` higher than the tested knee. Runs of
   such blocks with the same tested side (interruptions ≤ ``max_interrupt_s``) lasting
   ≥ ``min_hold_s`` are holds.
5. **Which way the hugged knee points** — elevation alone cannot tell a knee pulled to the
   chest (140° from the table) from a knee bent with the foot on the table (40°). Every thigh
   lying still near horizontal (sitting, lying, being the tested leg) shows its front —
   ``u`` without its ``y`` component — facing up: that direction, in sensor coordinates, is
   the thigh's anterior axis. With it a hugged thigh's knee points to the head (front facing
   down: flexion 180° − elevation) or to the feet (flexion = elevation; below
   ``hug_detect_deg`` the candidate is rejected: lying with a bent knee, a leg raise).
   Candidates whose hugged thigh was never seen near horizontal are rejected too (the
   direction cannot be verified). Done when the result is made (:meth:`FlexorAnalyzer.result`),
   so every hold is checked with everything the recording shows.
6. **Value per hold** — the median elevation of the tested thigh over the hold (minus
   ``trim_start_s``/``trim_end_s``), its SD (``steadiness``, degrees) and the hugged thigh's
   flexion from the table; flags ``hug_shallow`` (< ``hug_ok_deg``: the lower back was
   probably arched, the value reads too far below the horizontal), ``unsteady``,
   ``short_hold``, ``interrupted``. Per side: the median of its holds and their spread.

One implementation for live and batch: :class:`FlexorAnalyzer` takes samples in chunks of
any size (``push``), ``update()`` gives the live state and ``result()`` the final result;
:func:`analyze_flexor` is one push per side plus ``result()``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from imugait.analysis.calibrate import find_still, long_axis_from_standing
from imugait.analysis.params import AnalysisParams, CalibrationSettings
from imugait.conventions import GRAVITY_MPS2, SIDES, Side, other_side
from imugait.errors import ImugaitError

FLEXOR_ALGORITHM_VERSION = "1.0.0"
"""Bumped whenever the numbers the test produces can change for the same input."""

SCHEMA = "imugait.flexor_test/1"

#: Harvey D. Assessment of the flexibility of elite athletes using the modified Thomas test.
#: Br J Sports Med 1998;32:68–70: 117 elite athletes (tennis, basketball, rowing, running);
#: iliopsoas (hip flexion) angle, grand mean −11.9° in the paper's sign (below horizontal
#: negative) = 11.9° below the horizontal here; trials repeated with ICC 0.91–0.94.
HARVEY_1998_MEAN_BELOW_DEG = 11.9
HARVEY_1998 = "Harvey 1998, Br J Sports Med 32:68–70"


class FlexorTestRefused(ImugaitError):
    """The recording cannot give a hip-flexor test result (the message says why)."""


@dataclass(frozen=True)
class FlexorParams:
    """Settings of the hip-flexor test detection (units in the names; docs/flexor-test.md)."""

    block_s: float = 0.1
    """Averaging block on the common time axis."""
    still_gyr_dps: float = 25.0
    """Bias-corrected gyro RMS within a block above this: moving (tremor of a relaxed leg
    stays well below, lowering a leg is far above)."""
    still_tilt_deg: float = 2.0
    still_tilt_window_s: float = 0.5
    """The gravity direction turning more than ``still_tilt_deg`` within this window: moving
    (a leg that settles by 0.2°/s stays still)."""
    hugged_tilt_deg: float = 4.0
    """The hugged thigh (held by the arms) may turn up to this within the window."""
    still_acc_mps2: float = 1.0
    """Accelerometer magnitude this far from 1 g: moving (or not a sensor at rest)."""
    min_hold_s: float = 2.5
    """A hold lasts at least this long (the stillness test shortens a 3 s hold by up to 0.5 s
    at its start, see docs). Holds shorter than ``short_hold_s`` are flagged."""
    short_hold_s: float = 3.0
    max_interrupt_s: float = 1.5
    """A hold survives brief movements (a twitch: the accelerometer feels it for up to a
    second with the tilt window) up to this long; those blocks are left out. Two holds of
    one leg are always further apart (the knee goes back to the chest between them)."""
    interrupted_frac: float = 0.25
    """More than this fraction of a hold left out for movement: flagged ``interrupted``."""
    tested_min_deg: float = -40.0
    tested_max_deg: float = 45.0
    """The tested thigh's elevation (+ = knee below the hip) during a hold."""
    hug_min_elev_deg: float = 20.0
    """The hugged knee is at least this far above the hip (elevation ≤ −this)."""
    min_gap_deg: float = 6.0
    """... and at least this much higher than the tested knee."""
    hug_detect_deg: float = 80.0
    """Hugged thigh's flexion from the table below this: not a test hold (rejected)."""
    hug_ok_deg: float = 100.0
    """Hugged thigh's flexion below this (less than 10° past vertical toward the chest): the
    hold is flagged ``hug_shallow`` — the pelvis was probably not tilted back."""
    ref_max_elev_deg: float = 35.0
    """A still thigh within this of horizontal, while the other thigh is not vertical (not
    standing), shows its front facing up: the reference for the hugged-knee direction."""
    ref_min_consistency: float = 0.5
    """Mean resultant length of those front directions below this: reference unusable
    (e.g. lying prone and supine in one recording)."""
    trim_start_s: float = 0.3
    trim_end_s: float = 0.2
    unsteady_deg: float = 1.0
    """Steadiness (SD of the tested thigh's angle during the hold) above this: ``unsteady``."""
    holds_disagree_deg: float = 5.5
    """Spread (max − min) of one side's holds above this (the published smallest real change,
    see :data:`PUBLISHED_TEST_RETEST`): the side is flagged ``holds_disagree``."""
    standing_search_s: float = 600.0
    """The standing period must begin within this many seconds of data (bounded memory live)."""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["algorithm_version"] = FLEXOR_ALGORITHM_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FlexorParams":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def replace(self, **kw) -> "FlexorParams":
        return replace(self, **kw)


@dataclass(frozen=True)
class StandingAxis:
    """What the standing period gives one thigh: sample indices ``start``/``stop`` of the
    still period, the long axis ``y`` (knee → hip, unit, sensor frame), the gyro bias."""

    start: int
    stop: int
    long_axis: tuple
    gyro_bias_dps: tuple


def standing_axis(gyr_dps: np.ndarray, acc_mps2: np.ndarray, fs_hz: float,
                  params: AnalysisParams | None = None) -> StandingAxis | None:
    """The standing calibration of one thigh with the gait analysis' own functions
    (:func:`~imugait.analysis.calibrate.find_still`,
    :func:`~imugait.analysis.calibrate.long_axis_from_standing`); None without a still period."""
    still = find_still(gyr_dps, acc_mps2, fs_hz, CalibrationSettings.from_params(params or STANDING_PARAMS))
    if still is None:
        return None
    s0, s1 = still
    try:
        y = long_axis_from_standing(acc_mps2[s0:s1])
    except ValueError:
        return None
    return StandingAxis(start=int(s0), stop=int(s1), long_axis=tuple(float(v) for v in y),
                        gyro_bias_dps=tuple(float(v) for v in gyr_dps[s0:s1].mean(axis=0)))


STANDING_PARAMS = AnalysisParams(still_gyr_std_dps=8.0, still_acc_std_mps2=0.6)
"""The standing calibration's still-period rule (:func:`imugait.analysis.calibrate.find_still`)
with more room for postural sway and tremor than the gait analysis needs (gyro SD 8 °/s,
accelerometer SD 0.6 m/s² per 0.5 s block instead of 4 and 0.25): the test uses the standing
period only for the mean gravity direction over ≥ 1 s, and the runner is told to stand still;
walking exceeds both limits many times over."""

#: The modified Thomas test's published test–retest error that the before/after comparison
#: uses. Peeler J, Anderson JE. Reliability of the Thomas test for assessing range of motion
#: about the hip. Phys Ther Sport 2007;8:14–21 (doi:10.1016/j.ptsp.2006.09.023): 54 adults,
#: three athletic therapists, goniometer, retest 7–10 days later; abstract: SEM = 1°,
#: method error (ME) = 2°, CV = 15 %, intra-rater ICC 0.52. We use the larger figure (ME, the
#: SD of one measurement's test–retest error) for the smallest real change
#: 1.96 · √2 · ME = 5.5°; the full text (how SEM and ME were computed) was not available to us.
PUBLISHED_TEST_RETEST: dict[str, Any] = {
    "source": "Peeler & Anderson 2007, Phys Ther Sport 8:14–21 (goniometer, retest after 7–10 days)",
    "sem_deg": 1.0,
    "method_error_deg": 2.0,
    "error_sd_deg": 2.0,
    "mdc95_deg": 1.96 * math.sqrt(2.0) * 2.0,
}


# --------------------------------------------------------------------------------------
# the guided protocol (prompts; pure data, used by `imugait flexor-test`, the live view and
# the simulated runner that follows it)
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One prompt of the guided protocol: shown for ``duration_s`` of session time."""

    kind: str            # stand | sit | lie | hold | rest | done
    prompt: str
    duration_s: float
    side: Side | None = None   # hold / rest: the tested (hanging) leg
    settle_s: float = 0.0      # hold: time to get into position before the countdown


def protocol_steps(repeats: int = 3, hold_s: float = 10.0, first: Side = "left") -> list[Step]:
    """The guided protocol (docs/flexor-test.md): stand, sit on the end of the table, lie back
    hugging both knees, then ``repeats`` × (each leg hangs for ``hold_s``, back to both knees)."""
    steps = [
        Step("stand", "Stand still on both legs, thighs relaxed (calibration)", 6.0),
        Step("sit", "Sit on the end of the treatment table, thighs resting on it", 8.0),
        Step("lie", "Lie back and hug BOTH knees to your chest", 6.0),
    ]
    order = (first, other_side(first))
    for r in range(repeats):
        for side in order:
            hug = other_side(side)
            steps.append(Step("hold", f"Hold the {hug.upper()} knee to your chest; let the {side.upper()} leg hang "
                                      f"over the edge, relaxed ({r + 1}/{repeats})", hold_s + 4.0, side, settle_s=4.0))
            steps.append(Step("rest", f"Bring the {side.upper()} knee back to your chest (both knees hugged)", 4.0, side))
    steps.append(Step("done", "Sit up and stand — done", 4.0))
    return steps


class ProtocolRunner:
    """Which prompt of ``steps`` is due, on session time — one implementation for the
    terminal (``imugait flexor-test``) and the live view.

    Steps follow each other by their durations; the standing step waits (up to
    ``max_stand_s``) until the standing calibration is found when ``wait_for_calibration``
    (a real runner; a simulated one follows the script and never waits). :meth:`next_step`
    moves on at once (a "Next" button)."""

    def __init__(self, steps: list[Step], wait_for_calibration: bool = True, max_stand_s: float = 30.0):
        self.steps = list(steps)
        self.wait_for_calibration = bool(wait_for_calibration)
        self.max_stand_s = float(max_stand_s)
        self.index = -1
        self.t0 = math.nan
        self._skip = False

    @property
    def step(self) -> Step | None:
        return self.steps[self.index] if 0 <= self.index < len(self.steps) else None

    @property
    def finished(self) -> bool:
        return self.index >= len(self.steps)

    def time_left(self, t_s: float) -> float:
        st = self.step
        return math.nan if st is None else self.t0 + st.duration_s - t_s

    def next_step(self) -> None:
        self._skip = True

    def advance(self, t_s: float, calibrated: bool, t_first_s: float | None = None) -> list[tuple[int, Step, float]]:
        """Move to the step due at session time ``t_s``; returns the steps started now as
        ``(index, step, start time)``. ``t_first_s``: session time the protocol began."""
        started = []
        while not self.finished:
            if self.index >= 0 and not self._skip:
                st = self.steps[self.index]
                if t_s - self.t0 < st.duration_s:
                    break
                if (self.wait_for_calibration and st.kind == "stand" and not calibrated
                        and t_s - self.t0 < self.max_stand_s):
                    break
            if self.index < 0:
                due = t_s if t_first_s is None or not math.isfinite(t_first_s) else t_first_s
            else:
                due = self.t0 + self.steps[self.index].duration_s
            self.t0 = t_s if (self._skip or t_s - due >= 0.5) else due  # on time, or after waiting
            self._skip = False
            self.index += 1
            if not self.finished:
                started.append((self.index, self.steps[self.index], self.t0))
        return started


# --------------------------------------------------------------------------------------
# per-side block statistics (streaming)
# --------------------------------------------------------------------------------------
class _SideBlocks:
    """Samples of one thigh -> 0.1 s block sums on the global grid ``k = floor(t / block_s)``.
    A block is complete once a later sample arrives (or at the end)."""

    WIDTH = 13  # n, sum acc (3), sum acc² (3), sum gyr (3), sum gyr² (3)

    def __init__(self, block_s: float):
        self.block_s = float(block_s)
        self.k = np.empty(0, np.int64)
        self.s = np.empty((0, self.WIDTH))
        self._open_k: int | None = None
        self._open = np.zeros(self.WIDTH)
        self.t_last = -math.inf
        self.n_samples = 0
        self.n_dropped = 0

    def push(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> None:
        ok = np.isfinite(t) & np.isfinite(acc).all(axis=1) & np.isfinite(gyr).all(axis=1)
        t, acc, gyr = t[ok], acc[ok], gyr[ok]
        if t.size:  # time must increase (duplicates / backward stamps are dropped)
            runmax = np.maximum.accumulate(np.concatenate([[self.t_last], t]))
            keep = t > runmax[:-1]
            self.n_dropped += int((~keep).sum()) + int((~ok).sum())
            t, acc, gyr = t[keep], acc[keep], gyr[keep]
        if t.size == 0:
            return
        self.t_last = float(t[-1])
        self.n_samples += int(t.size)
        kk = np.floor(t / self.block_s).astype(np.int64)
        rows = np.column_stack([np.ones(t.size), acc, acc * acc, gyr, gyr * gyr])
        starts = np.concatenate([[0], np.nonzero(np.diff(kk))[0] + 1])
        sums = np.add.reduceat(rows, starts, axis=0)
        ks = kk[starts]
        if self._open_k is not None and ks[0] == self._open_k:
            sums[0] += self._open
        elif self._open_k is not None:
            self._append(np.array([self._open_k]), self._open[None, :])
        self._append(ks[:-1], sums[:-1])
        self._open_k, self._open = int(ks[-1]), sums[-1].copy()

    def close(self) -> None:
        if self._open_k is not None:
            self._append(np.array([self._open_k]), self._open[None, :])
            self._open_k = None

    def _append(self, k, s) -> None:
        if len(k):
            self.k = np.concatenate([self.k, k])
            self.s = np.concatenate([self.s, s])

    @property
    def last_complete_k(self) -> int | None:
        return int(self.k[-1]) if self.k.size else None


def _unit_rows(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > 0, n, 1.0)


@dataclass(frozen=True)
class BlockFeatures:
    """Per joint block (arrays over blocks ``k``): what the detection uses."""

    k: np.ndarray                 # block index (time = k · block_s)
    present: np.ndarray           # (n, 2) bool: the side has samples in the block
    elev_deg: np.ndarray          # (n, 2) long axis' angle to the horizontal, + knee below hip
    up: np.ndarray                # (n, 2, 3) gravity direction in sensor coordinates (unit)
    gyr_rms_dps: np.ndarray       # (n, 2) bias-corrected gyro RMS within the block
    acc_norm_mps2: np.ndarray     # (n, 2)


# --------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hold:
    """One test hold: ``side`` is the tested (hanging) leg."""

    side: Side
    start_s: float
    end_s: float
    value: float                  # thigh_below_horizontal_deg of this hold (median)
    steadiness: float             # deg: SD of the tested thigh's angle during the hold
    hugged_thigh_flexion_deg: float
    flags: tuple = ()
    n_blocks: int = 0

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict:
        return {"side": self.side, "start_s": _r(self.start_s, 3), "end_s": _r(self.end_s, 3),
                "duration_s": _r(self.duration_s, 3), "value": _r(self.value, 3),
                "steadiness": _r(self.steadiness, 3),
                "hugged_thigh_flexion_deg": _r(self.hugged_thigh_flexion_deg, 2), "flags": list(self.flags)}


@dataclass(frozen=True)
class RejectedHold:
    side: Side
    start_s: float
    end_s: float
    reason: str

    def to_dict(self) -> dict:
        return {"side": self.side, "start_s": _r(self.start_s, 3), "end_s": _r(self.end_s, 3), "reason": self.reason}


def _r(x, nd):
    return None if x is None or not math.isfinite(float(x)) else round(float(x), nd)


@dataclass
class FlexorResult:
    """The test result: per tested side its holds, their median and a verdict."""

    holds: list                       # [Hold] accepted, in time order
    rejected: list                    # [RejectedHold]
    standing: dict                    # side -> {"start_s", "end_s", "long_axis", "gyro_bias_dps"}
    anterior_reference: dict          # side -> {"axis": [3], "consistency", "seconds"} or None
    params: FlexorParams
    source: str = ""
    refused: str | None = None

    def side_holds(self, side: Side) -> list:
        return [h for h in self.holds if h.side == side]

    def side_value(self, side: Side) -> float | None:
        v = [h.value for h in self.side_holds(side)]
        return float(np.median(v)) if v else None

    def side_summary(self, side: Side) -> dict:
        hs = self.side_holds(side)
        vals = np.array([h.value for h in hs])
        flags = []
        if hs and len(hs) < 2:
            flags.append("single_hold")
        spread = float(vals.max() - vals.min()) if len(vals) > 1 else None
        if spread is not None and spread > self.params.holds_disagree_deg:
            flags.append("holds_disagree")
        if hs and all("hug_shallow" in h.flags for h in hs):
            flags.append("hug_shallow")
        return {"thigh_below_horizontal_deg": _r(self.side_value(side), 2) if hs else None,
                "n_holds": len(hs), "spread_deg": _r(spread, 2) if spread is not None else None,
                "values_deg": [_r(v, 2) for v in vals],
                "holds": [h.to_dict() for h in hs], "flags": flags, "verdict": side_verdict(side, self)}

    def verdict(self) -> str:
        return overall_verdict(self)

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "test": "modified Thomas test (hip-flexor length)",
            "algorithm_version": FLEXOR_ALGORITHM_VERSION,
            "source": self.source,
            "refused": self.refused,
            "verdict": self.verdict(),
            "sides": {s: self.side_summary(s) for s in SIDES},
            "rejected_holds": [r.to_dict() for r in self.rejected],
            "standing": self.standing,
            "anterior_reference": self.anterior_reference,
            "reference_values": {"athletes_mean_below_horizontal_deg": HARVEY_1998_MEAN_BELOW_DEG,
                                 "athletes_source": HARVEY_1998,
                                 "test_retest": dict(PUBLISHED_TEST_RETEST)},
            "units": {"thigh_below_horizontal_deg": "deg, + = knee below the hip (hip extended), "
                                                    "- = thigh above the horizontal (tight hip flexors)",
                      "value": "deg (thigh_below_horizontal_deg of the hold)",
                      "steadiness": "deg (SD of the tested thigh's angle during the hold)",
                      "hugged_thigh_flexion_deg": "deg from the table toward the head (90 = vertical)",
                      "start_s": "s, on the input's clock"},
            "params": self.params.to_dict(),
        }

    @classmethod
    def refusal(cls, reason: str, params: FlexorParams, source: str = "") -> "FlexorResult":
        return cls(holds=[], rejected=[], standing={}, anterior_reference={}, params=params, source=source,
                   refused=reason)


def _angle_words(v: float) -> str:
    return f"{abs(v):.1f}° {'below' if v >= 0 else 'above'} horizontal"


def side_verdict(side: Side, res: FlexorResult) -> str:
    hs = res.side_holds(side)
    name = side.capitalize()
    if res.refused:
        return f"{name}: no result — {res.refused}"
    if not hs:
        return f"{name}: no test hold found"
    v = res.side_value(side)
    assert v is not None  # a side with holds has a value
    n = len(hs)
    vals = [h.value for h in hs]
    spread = f", spread {max(vals) - min(vals):.1f}°" if n > 1 else ""
    text = f"{name} thigh {_angle_words(v)} ({n} hold{'s' if n != 1 else ''}{spread})"
    if v < 0:
        text += ": tight hip flexors (the thigh stays above the horizontal)"
    else:
        text += ": reaches below the horizontal"
    if any("hug_shallow" in h.flags for h in hs):
        text += "; knee not hugged far enough in some holds (value may read too low)"
    return text


def overall_verdict(res: FlexorResult) -> str:
    """One line for the terminal."""
    if res.refused:
        return f"Thomas test: no result — {res.refused}"
    parts, tight = [], []
    for s in SIDES:
        hs = res.side_holds(s)
        if not hs:
            parts.append(f"{s} no hold found")
            continue
        v = res.side_value(s)
        assert v is not None  # a side with holds has a value
        parts.append(f"{s} {_angle_words(v)} ({len(hs)} hold{'s' if len(hs) != 1 else ''})")
        if v < 0:
            tight.append(s)
    line = "Thomas test: " + ", ".join(parts)
    if not res.holds:
        return line + " — no test hold found (both thighs still ≥ 3 s, one hanging near horizontal, " \
                      "the other knee hugged to the chest)"
    if tight:
        line += f" — {' and '.join(tight)} hip flexors tight"
    else:
        line += " — no side tight"
    lv, rv = res.side_value("left"), res.side_value("right")
    if lv is not None and rv is not None:
        line += f"; left − right {lv - rv:+.1f}°"
    return line + f" (athletes average {HARVEY_1998_MEAN_BELOW_DEG:.1f}° below, {HARVEY_1998})."


# --------------------------------------------------------------------------------------
# live state
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FlexorLiveState:
    """What the live view shows (from :meth:`FlexorAnalyzer.update`)."""

    phase: str                   # "waiting_for_standing" | "calibrated" | "hold" | "refused"
    message: str
    t_s: float                   # time of the newest joint block (nan before)
    elev_deg: dict               # side -> latest elevation (+ below horizontal) or None
    hold_side: Side | None = None
    hold_elapsed_s: float = 0.0
    hold_value_deg: float | None = None
    holds: tuple = ()            # finished holds (provisional until result())
    standing_found: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# the analyzer
# --------------------------------------------------------------------------------------
class FlexorAnalyzer:
    """Streaming hip-flexor test for two thighs (see the module docstring).

    ``push(side, t_s, acc_mps2, gyr_dps)`` any number of times (chunks of any size, sides in
    any order); ``update()`` processes what both sides have covered and returns the live
    state; ``result()`` ends the stream and returns the :class:`FlexorResult`.
    """

    FS_SAMPLES = 256
    """The sample rate for the standing search comes from a thigh's first this-many samples."""

    def __init__(self, params: FlexorParams | None = None, analysis_params: AnalysisParams | None = None,
                 source: str = ""):
        self.p = params or FlexorParams()
        self.ap = analysis_params or STANDING_PARAMS
        self.source = source
        self._blocks = {s: _SideBlocks(self.p.block_s) for s in SIDES}
        self._raw: dict[str, list] = {s: [] for s in SIDES}   # held until the standing calibration is found
        self._raw_n = {s: 0 for s in SIDES}
        self._raw_t0: dict[str, float | None] = {s: None for s in SIDES}
        self._fs: dict[Side, float | None] = {}
        self._standing: dict[Side, StandingAxis] = {}
        self._standing_t: dict[Side, tuple] = {}
        self._cal_done = False
        self._refused: str | None = None
        self._finished = False
        # joint processing
        self._next_k: int | None = None
        self._hist_up: dict[str, list] = {s: [] for s in SIDES}  # recent (k, up) for the tilt test
        self._ref_sum = {s: np.zeros(3) for s in SIDES}
        self._ref_abs = {s: 0.0 for s in SIDES}
        self._ref_n = {s: 0 for s in SIDES}
        self._run: dict | None = None
        self._candidates: list[dict] = []
        self._last: dict[str, Any] = {"t": float("nan"), "elev": {s: None for s in SIDES}}

    # ---------------------------------------------------------------- input
    def push(self, side: Side, t_s, acc_mps2, gyr_dps) -> None:
        if self._finished:
            raise RuntimeError("push() after result()")
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        acc = np.asarray(acc_mps2, dtype=np.float64).reshape(-1, 3)
        gyr = np.asarray(gyr_dps, dtype=np.float64).reshape(-1, 3)
        if not (t.shape[0] == acc.shape[0] == gyr.shape[0]):
            raise ValueError(f"t_s, acc_mps2, gyr_dps lengths differ: {t.shape[0]}, {acc.shape[0]}, {gyr.shape[0]}")
        if t.shape[0] == 0:
            return
        b = self._blocks[side]
        n0 = b.n_samples
        t_prev = b.t_last
        b.push(t, acc, gyr)
        if not self._cal_done and b.n_samples > n0:
            # the same samples the blocks kept (finite, increasing time)
            ok = np.isfinite(t) & np.isfinite(acc).all(axis=1) & np.isfinite(gyr).all(axis=1)
            t, acc, gyr = t[ok], acc[ok], gyr[ok]
            runmax = np.maximum.accumulate(np.concatenate([[t_prev], t]))
            keep = t > runmax[:-1]
            t, acc, gyr = t[keep], acc[keep], gyr[keep]
            if self._raw_t0[side] is None:
                self._raw_t0[side] = float(t[0])
            self._raw[side].append((t, acc, gyr))
            self._raw_n[side] += t.shape[0]

    # ---------------------------------------------------------------- 1. standing calibration
    def _try_calibrate(self, final: bool) -> None:
        for _attempt in range(50):
            if self._cal_done or self._refused or not self._try_calibrate_once(final):
                break

    def _try_calibrate_once(self, final: bool) -> bool:
        """One search; True when it cut the held data and the search should run again."""
        found = {}
        for s in SIDES:
            if not self._raw[s]:
                continue
            if len(self._raw[s]) > 1:
                self._raw[s] = [tuple(np.concatenate(x) for x in zip(*self._raw[s]))]
            t, acc, gyr = self._raw[s][0]
            if self._fs.get(s) is None and (t.shape[0] >= self.FS_SAMPLES or final):
                # the rate from the first samples, once: live and batch use the same value
                self._fs[s] = _rate_hz(t[: self.FS_SAMPLES])
            fs = self._fs.get(s)
            if fs is None:
                continue
            st = standing_axis(gyr, acc, fs, self.ap)
            if st is None:
                continue
            # final only when the still period ended before the data did (or hit find_still's
            # 5 s cap): a live prefix then gives exactly what the whole recording gives
            nb = max(1, int(round(self.ap.still_block_s * fs)))
            ended = st.stop + nb <= t.shape[0] or (st.stop - st.start) >= 5 * fs or final
            if ended:
                found[s] = (st, float(t[st.start]), float(t[min(st.stop, t.shape[0]) - 1]))
        if len(found) == 2:
            (sl, a0, a1), (sr, b0, b1) = found["left"], found["right"]
            if min(a1, b1) - max(a0, b0) >= 0.5 * self.ap.still_min_s:
                self._standing = {"left": sl, "right": sr}
                self._standing_t = {"left": (a0, a1), "right": (b0, b1)}
                self._cal_done = True
                self._raw = {s: [] for s in SIDES}
                return False
            # still at different times: look again from the later of the two
            later = max(a0, b0)
            for s in SIDES:
                t, acc, gyr = self._raw[s][0]
                i = int(np.searchsorted(t, later))
                if i > 0:
                    self._raw[s] = [(t[i:], acc[i:], gyr[i:])]
                    self._raw_n[s] = t.shape[0] - i
            return True
        for s in SIDES:
            t0 = self._raw_t0[s]
            if self._raw[s] and t0 is not None:
                t_end = self._raw[s][-1][0][-1]
                if t_end - t0 > self.p.standing_search_s:
                    self._refuse(f"no standing period: both thighs were not still together for "
                                 f"{self.ap.still_min_s:g} s within the first {self.p.standing_search_s:.0f} s, so "
                                 "the thigh's long axis is unknown — stand still for 5 s at the start and record again")
                    return False
        if final and not self._cal_done:
            missing = [s for s in SIDES if self._blocks[s].n_samples == 0]
            if missing:
                self._refuse(f"the test needs both thighs; the {' and '.join(missing)} thigh has no data "
                             "(the hugged thigh shows which posture is a test hold)")
            else:
                self._refuse("no standing period: both thighs are never still together for "
                             f"{self.ap.still_min_s:g} s while standing, so the thigh's long axis is unknown "
                             "(a still sensor cannot tell which of its axes is the thigh) — stand still for 5 s "
                             "at the start of the recording and record again")
        return False

    def _refuse(self, reason: str) -> None:
        self._refused = reason
        self._raw = {s: [] for s in SIDES}

    # ---------------------------------------------------------------- 2.–4. blocks and holds
    def update(self, final: bool = False) -> FlexorLiveState:
        """Process everything both thighs have covered; returns the live state."""
        self._try_calibrate(final)
        if self._refused:
            return FlexorLiveState("refused", self._refused, self._last["t"], dict(self._last["elev"]))
        if not self._cal_done:
            have = {s: s in self._standing for s in SIDES}
            return FlexorLiveState("waiting_for_standing", "stand still: calibrating the thigh axes",
                                   float("nan"), {s: None for s in SIDES}, standing_found=have)
        self._process_blocks(final)
        run = self._run
        state = FlexorLiveState(
            phase="hold" if run is not None and run["n_ok"] * self.p.block_s >= 1.0 else "calibrated",
            message="", t_s=self._last["t"], elev_deg=dict(self._last["elev"]),
            holds=tuple(self._provisional_holds()), standing_found={s: True for s in SIDES})
        if run is not None:
            vals = np.array(run["elev_t"])
            state = replace(state, hold_side=run["side"],
                            hold_elapsed_s=(run["k_last"] + 1 - run["k0"]) * self.p.block_s,
                            hold_value_deg=float(np.median(vals)) if vals.size else None)
        return state

    def features(self, side: Side, k: np.ndarray) -> tuple:
        """Block features of one side at block indices ``k`` (needs the calibration):
        present, elevation (deg), up (unit, sensor frame), gyro RMS (dps), |acc| (m/s²)."""
        b = self._blocks[side]
        st = self._standing[side]
        idx = np.searchsorted(b.k, k)
        idx_c = np.clip(idx, 0, max(b.k.size - 1, 0))
        present = (idx < b.k.size) & (b.k[idx_c] == k) if b.k.size else np.zeros(k.shape, bool)
        s = b.s[idx_c] if b.k.size else np.zeros((k.size, _SideBlocks.WIDTH))
        n = np.where(present, s[:, 0], 1.0)[:, None]
        ma = s[:, 1:4] / n
        mg = s[:, 7:10] / n
        vg = np.maximum(s[:, 10:13] / n - mg * mg, 0.0)
        bias = np.asarray(st.gyro_bias_dps)
        gyr_rms = np.sqrt(((mg - bias) ** 2).sum(axis=1) + vg.sum(axis=1))
        return present, thigh_elevation_deg(st.long_axis, ma), _unit_rows(ma), gyr_rms, np.linalg.norm(ma, axis=1)

    def _process_blocks(self, final: bool) -> None:
        p = self.p
        if final:
            for s in SIDES:
                self._blocks[s].close()
        ends = [self._blocks[s].last_complete_k for s in SIDES]
        if any(e is None for e in ends):
            return
        k_end = min(e for e in ends if e is not None)
        if self._next_k is None:
            starts = [int(self._blocks[s].k[0]) for s in SIDES]
            self._next_k = max(starts)
        if k_end < self._next_k:
            return
        k = np.arange(self._next_k, k_end + 1, dtype=np.int64)
        self._next_k = k_end + 1
        F = {s: self.features(s, k) for s in SIDES}
        m = max(1, int(round(p.still_tilt_window_s / p.block_s)))
        still, held = {}, {}
        for s in SIDES:
            present, elev, up, gyr_rms, accn = F[s]
            # tilt test against the blocks up to m before (kept across calls)
            hist = self._hist_up[s]
            hk = np.array([h[0] for h in hist], dtype=np.int64) if hist else np.empty(0, np.int64)
            hu = np.array([h[1] for h in hist]) if hist else np.empty((0, 3))
            allk = np.concatenate([hk, k[present]])
            allu = np.concatenate([hu, up[present]])
            tilt = np.zeros(k.size)
            for j in range(1, m + 1):
                # the block j before each block, if it had samples
                pos = np.searchsorted(allk, k - j)
                posc = np.clip(pos, 0, max(allk.size - 1, 0))
                has = (pos < allk.size) & (allk[posc] == k - j) if allk.size else np.zeros(k.size, bool)
                if has.any():
                    c = np.clip((allu[posc] * up).sum(axis=1), -1.0, 1.0)
                    tilt = np.maximum(tilt, np.where(has, np.degrees(np.arccos(c)), 0.0))
            keep = allk > k_end - m - 1
            self._hist_up[s] = list(zip(allk[keep].tolist(), allu[keep]))
            base = present & (gyr_rms <= p.still_gyr_dps) & (np.abs(accn - GRAVITY_MPS2) <= p.still_acc_mps2)
            still[s] = base & (tilt <= p.still_tilt_deg)
            held[s] = base & (tilt <= p.hugged_tilt_deg)
        eL, eR = F["left"][1], F["right"][1]
        both = still["left"] & still["right"]
        # 5. references: a still thigh near horizontal while the other is not vertical (not
        # standing); not a hugged thigh, not one of two knees raised alike (both hugged)
        perp, in_ref = {}, {}
        for s, e_s, e_o in (("left", eL, eR), ("right", eR, eL)):
            up = F[s][2]
            y = np.asarray(self._standing[s].long_axis)
            perp[s] = _unit_rows(up - np.outer(up @ y, y))
            raised, o_raised = e_s <= -p.hug_min_elev_deg, e_o <= -p.hug_min_elev_deg
            sel = (both & (np.abs(e_s) <= p.ref_max_elev_deg) & (e_o < 60.0)
                   & ~(raised & o_raised & (np.abs(e_s - e_o) < p.min_gap_deg))
                   & ~(raised & (e_s <= e_o - p.min_gap_deg)))
            in_ref[s] = sel
            if sel.any():
                self._ref_sum[s] += perp[s][sel].sum(axis=0)
                self._ref_n[s] += int(sel.sum())
        F = {s: F[s] + (perp[s], in_ref[s]) for s in SIDES}
        # 4. candidates per block: label 0 none, 1 left tested, 2 right tested
        def cand(e_t, e_h):
            return ((e_t >= p.tested_min_deg) & (e_t <= p.tested_max_deg) & (e_h <= -p.hug_min_elev_deg)
                    & (e_h <= e_t - p.min_gap_deg))
        # the hanging thigh still; the hugged one, held by the arms, may sway a little more
        cl = still["left"] & held["right"] & cand(eL, eR)
        cr = still["right"] & held["left"] & cand(eR, eL)
        lab = np.where(cl & cr, np.where(eR < eL, 1, 2), np.where(cl, 1, np.where(cr, 2, 0)))
        for i in range(k.size):
            self._step(int(k[i]), int(lab[i]), F, i)
        last_present = F["left"][0] & F["right"][0]
        if last_present.any():
            j = int(np.nonzero(last_present)[0][-1])
            self._last = {"t": float((k[j] + 1) * p.block_s), "elev": {"left": float(eL[j]), "right": float(eR[j])}}
        if final:
            self._close_run()

    def _step(self, k: int, lab: int, F: dict, i: int) -> None:
        p = self.p
        gap_blocks = int(round(p.max_interrupt_s / p.block_s))
        run = self._run
        if lab:
            side: Side = "left" if lab == 1 else "right"
            if run is not None and run["side"] == side and k - run["k_last"] - 1 <= gap_blocks:
                pass
            else:
                self._close_run()
                run = self._run = {"side": side, "k0": k, "k_last": k, "ks": [], "elev_t": [], "elev_h": [],
                                   "perp_h": np.zeros(3), "perp_t": np.zeros(3), "own_ref_t": np.zeros(3),
                                   "own_ref_n": 0, "n_ok": 0}
            hug = other_side(side)
            run["k_last"] = k
            run["ks"].append(k)
            run["elev_t"].append(float(F[side][1][i]))
            run["elev_h"].append(float(F[hug][1][i]))
            run["perp_h"] = run["perp_h"] + F[hug][5][i]
            run["perp_t"] = run["perp_t"] + F[side][5][i]
            if F[side][6][i]:  # this block also went into the tested thigh's reference
                run["own_ref_t"] = run["own_ref_t"] + F[side][5][i]
                run["own_ref_n"] += 1
            run["n_ok"] += 1
        elif run is not None and k - run["k_last"] > gap_blocks:
            self._close_run()

    def _close_run(self) -> None:
        run, self._run = self._run, None
        if run is None:
            return
        dur = (run["k_last"] + 1 - run["k0"]) * self.p.block_s
        if dur + 1e-9 < self.p.min_hold_s:
            return
        self._candidates.append(run)

    # ---------------------------------------------------------------- 5.–6. holds
    def reference(self, side: Side, exclude: tuple | None = None) -> tuple[np.ndarray | None, float, float]:
        """Anterior axis of ``side`` in sensor coordinates (unit, ⟂ long axis), its
        consistency (mean resultant length) and the seconds it rests on. ``exclude``:
        ``(sum, n)`` of blocks to leave out (a hold is not checked against itself)."""
        tot, n = self._ref_sum[side], self._ref_n[side]
        if exclude is not None:
            tot, n = tot - exclude[0], n - exclude[1]
        if n <= 0:
            return None, 0.0, 0.0
        v = tot / n
        cons = float(np.linalg.norm(v))
        if cons < self.p.ref_min_consistency:
            return None, cons, n * self.p.block_s
        return v / cons, cons, n * self.p.block_s

    def _evaluate(self, run: dict) -> Hold | RejectedHold:
        p = self.p
        side = run["side"]
        hug = other_side(side)
        ks = np.asarray(run["ks"])
        t0, t1 = run["k0"] * p.block_s, (run["k_last"] + 1) * p.block_s
        ref, _cons, _sec = self.reference(hug)
        eh = float(np.median(run["elev_h"]))
        if ref is None:
            return RejectedHold(side, t0, t1, f"cannot tell whether the {hug} knee was hugged to the chest or bent "
                                              f"with the foot on the table: the {hug} thigh was never seen lying "
                                              "still near horizontal (lie flat or sit for 3 s, or test both sides)")
        c = float(run["perp_h"] @ ref) / max(len(ks), 1)
        toward_head = c < 0
        flex = 180.0 + eh if toward_head else -eh  # eh < 0: knee above the hip
        if flex < p.hug_detect_deg:
            return RejectedHold(side, t0, t1, f"the {hug} knee points toward the feet ({flex:.0f}° from the table): "
                                              "a bent knee or a leg raise, not a knee hugged to the chest")
        # the hanging thigh must face up (knee toward the feet) — checked against what the
        # rest of the recording shows of that thigh, when it shows enough
        ref_t, _c, sec_t = self.reference(side, exclude=(run["own_ref_t"], run["own_ref_n"]))
        if ref_t is not None and sec_t >= 1.0 and float(run["perp_t"] @ ref_t) < 0:
            return RejectedHold(side, t0, t1, f"the {side} knee points toward the head as well: both knees raised "
                                              "(e.g. both hugged), not a hanging leg")
        keep = (ks * p.block_s >= t0 + p.trim_start_s) & ((ks + 1) * p.block_s <= t1 - p.trim_end_s)
        if keep.sum() * p.block_s < 1.0:
            keep = np.ones(ks.size, bool)
        et = np.asarray(run["elev_t"])[keep]
        value = float(np.median(et))
        steadiness = float(np.std(et))
        flags = []
        if flex < p.hug_ok_deg:
            flags.append("hug_shallow")
        if steadiness > p.unsteady_deg:
            flags.append("unsteady")
        if t1 - t0 < p.short_hold_s:
            flags.append("short_hold")
        if 1.0 - len(ks) * p.block_s / (t1 - t0) > p.interrupted_frac:
            flags.append("interrupted")
        return Hold(side=side, start_s=t0, end_s=t1, value=value, steadiness=steadiness,
                    hugged_thigh_flexion_deg=float(np.median(180.0 + np.asarray(run["elev_h"])) if toward_head
                                                   else np.median(-np.asarray(run["elev_h"]))),
                    flags=tuple(flags), n_blocks=int(keep.sum()))

    def _provisional_holds(self) -> list:
        return [h for h in (self._evaluate(r) for r in self._candidates) if isinstance(h, Hold)]

    def result(self) -> FlexorResult:
        """End of the stream: the final result (raises nothing; a refusal is in ``refused``)."""
        self.update(final=True)
        self._finished = True
        if self._refused:
            return FlexorResult.refusal(self._refused, self.p, self.source)
        holds: list = []
        rejected: list = []
        for r in self._candidates:
            h = self._evaluate(r)
            (holds if isinstance(h, Hold) else rejected).append(h)
        standing = {s: {"start_s": _r(self._standing_t[s][0], 3), "end_s": _r(self._standing_t[s][1], 3),
                        "long_axis": [round(float(v), 6) for v in self._standing[s].long_axis],
                        "gyro_bias_dps": [round(float(v), 4) for v in self._standing[s].gyro_bias_dps]}
                    for s in SIDES}
        refs = {}
        for s in SIDES:
            ax, cons, sec = self.reference(s)
            refs[s] = {"axis": None if ax is None else [round(float(v), 6) for v in ax],
                       "consistency": round(cons, 3), "seconds": round(sec, 1)}
        return FlexorResult(holds=holds, rejected=rejected, standing=standing, anterior_reference=refs,
                            params=self.p, source=self.source)


def _rate_hz(t: np.ndarray) -> float | None:
    d = np.diff(t)
    d = d[np.isfinite(d) & (d > 0)]
    if d.size == 0:
        return None
    return float(1.0 / np.median(d))


def analyze_flexor(left, right, params: FlexorParams | None = None, analysis_params: AnalysisParams | None = None,
                   source: str = "") -> FlexorResult:
    """Batch: ``left``/``right`` = ``(t_s, acc_mps2, gyr_dps)`` (or ``None``), both on one clock.
    Returns the :class:`FlexorResult`; a recording that cannot give a result (one thigh only,
    thighs on different clocks, no standing period) comes back with ``refused`` set to the
    sentence that says why."""
    a = FlexorAnalyzer(params, analysis_params, source=source)
    try:
        check_inputs(left, right)
    except FlexorTestRefused as e:
        return FlexorResult.refusal(str(e), a.p, source)
    for side, v in zip(SIDES, (left, right)):
        if v is not None:
            a.push(side, *v)
    return a.result()


def check_inputs(left, right) -> None:
    """Refuse inputs that cannot hold a test: one thigh only, or thighs on different clocks."""
    missing = [s for s, v in (("left", left), ("right", right)) if v is None or len(v[0]) == 0]
    if missing:
        raise FlexorTestRefused(
            f"the hip-flexor test needs both thighs; the {' and '.join(missing)} thigh has no data — the hugged "
            "thigh shows which posture is a test hold (give --left and --right)")
    tl, tr = np.asarray(left[0], float), np.asarray(right[0], float)
    lo, hi = max(np.nanmin(tl), np.nanmin(tr)), min(np.nanmax(tl), np.nanmax(tr))
    if not hi > lo:
        raise FlexorTestRefused(
            f"the left ({np.nanmin(tl):.1f}–{np.nanmax(tl):.1f} s) and right ({np.nanmin(tr):.1f}–{np.nanmax(tr):.1f} s) "
            "recordings do not overlap in time — both thighs must be on one clock (time_s of the same session)")


def thigh_elevation_deg(long_axis, acc_mps2) -> np.ndarray:
    """The measure itself, for any samples: the angle of the thigh's long axis (``long_axis``,
    sensor frame, knee→hip) to the horizontal, + when the knee is below the hip.
    ``asin(y · a/|a|)`` with ``a`` the accelerometer (gravity at rest)."""
    y = np.asarray(long_axis, dtype=float)
    y = y / np.linalg.norm(y)
    u = _unit_rows(np.atleast_2d(np.asarray(acc_mps2, dtype=float)))
    return np.degrees(np.arcsin(np.clip(u @ y, -1.0, 1.0)))


__all__ = ["FLEXOR_ALGORITHM_VERSION", "STANDING_PARAMS", "StandingAxis", "standing_axis", "FlexorAnalyzer", "ProtocolRunner", "Step", "protocol_steps", "FlexorLiveState", "FlexorParams", "FlexorResult",
           "FlexorTestRefused", "HARVEY_1998", "HARVEY_1998_MEAN_BELOW_DEG", "Hold", "PUBLISHED_TEST_RETEST",
           "RejectedHold", "analyze_flexor", "check_inputs", "thigh_elevation_deg"]
