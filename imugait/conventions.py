"""Units, sides, frames and sign conventions — written down once, used everywhere.

Units (in memory and in every name)
-----------------------------------
``_s`` seconds (float64) · ``_ms`` milliseconds · ``_hz`` hertz · ``_deg`` degrees ·
``_dps`` degrees per second · ``_mps2`` metres per second squared · ``_g`` standard gravity ·
``_pct`` percent · ``_spm`` steps per minute (cadence counts *steps*, i.e. two per stride).

Clocks
------
``t_dev_s``   device time: the sensor's own crystal, starts anywhere, drifts (20–50 ppm).
``t_host_s``  host time: ``time.monotonic()`` of the computer that received the packet.
``t_s``       session time: host time after device->host clock mapping, minus the session
              start. Both legs share it. Arrival time is never used as sample time.

Frames
------
Sensor frame ``S``: the axes printed on the sensor; arbitrary with respect to the body.

Thigh frame ``T`` (ISB convention, Wu et al. 2002, J Biomech 35:543), the same for both
legs after calibration::

    x_T  anterior (forward)
    y_T  superior, along the thigh's long axis from knee to hip
    z_T  to the subject's right  (x_T × y_T)

Flexion is a positive rotation about ``z_T`` on **both** legs: the knee moves forward.
The sagittal thigh angle ``thigh_angle_deg`` is the angle of ``y_T`` from the vertical,
measured in the sagittal plane, flexion positive (knee ahead of the hip). Relative to the
standing neutral: ``thigh_angle_deg - neutral_deg``.

Mirroring: a left-leg sensor mounted like a right-leg one sees flexion with the opposite
sign about its lateral axis. Calibration (``imugait.analysis.calibrate``) finds the flexion
axis in sensor coordinates and its sign from physiology, so the mirror is handled there,
once, and never by an assumed mounting.
"""

from __future__ import annotations

from typing import Literal

GRAVITY_MPS2 = 9.80665
"""Standard gravity (m/s²) — conversions from g."""

DEG_PER_RAD = 57.29577951308232
RAD_PER_DEG = 0.017453292519943295

Side = Literal["left", "right"]
SIDES: tuple[Side, Side] = ("left", "right")


def parse_side(value: str) -> Side:
    """Accept ``left/right/l/r`` in any case; raise ``ValueError`` otherwise."""
    v = str(value).strip().lower()
    if v in ("left", "l"):
        return "left"
    if v in ("right", "r"):
        return "right"
    raise ValueError(f"side must be 'left' or 'right', got {value!r}")


def other_side(side: Side) -> Side:
    return "right" if side == "left" else "left"


STEPS_PER_STRIDE = 2
"""Cadence in steps/min = 2 × 60 / stride time."""
