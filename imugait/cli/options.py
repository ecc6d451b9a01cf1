"""The simulated runner's command-line knobs, defined once for ``imugait simulate`` and
``imugait record --simulate`` (both hand them to :class:`imugait.sim.gait.SimConfig`)."""

from __future__ import annotations

import click


def gait_options(*, speed_alias: bool = False):
    """Decorator adding --gait, --cadence, --speed-mps, --rom, --asym-rom, --asym-swing.

    ``speed_alias`` also accepts ``--speed`` for the running speed (``imugait simulate``;
    in ``imugait record`` ``--speed`` is a time factor instead)."""
    speed_names = ("--speed-mps", "--speed") if speed_alias else ("--speed-mps",)
    opts = [
        click.option("--gait", type=click.Choice(["walk", "run", "mixed"]), default="run", show_default=True,
                     help="Simulated gait."),
        click.option("--cadence", "cadence_spm", type=click.FloatRange(min=30.0, max=260.0), default=None,
                     help="Cadence in steps/min (default: from the speed)."),
        click.option(*speed_names, "speed_mps", type=click.FloatRange(min=0.3, max=8.0), default=None,
                     help="Walking/running speed in m/s (default walk 1.3, run 3.0)."),
        click.option("--rom", "rom_deg", type=click.FloatRange(min=5.0, max=100.0), default=None,
                     help="Thigh range of motion in degrees (default: from the speed)."),
        click.option("--asym-rom", "asym_rom_deg", type=float, default=0.0, show_default=True,
                     help="Degrees added to the left thigh's range."),
        click.option("--asym-swing", "asym_swing_pct", type=float, default=0.0, show_default=True,
                     help="Left swing % minus right swing % (percentage points)."),
    ]

    def deco(f):
        for o in reversed(opts):
            f = o(f)
        return f

    return deco


DEFAULT_SENSOR_SEED = 0
"""The simulated sensor pair used unless ``--sensor-seed`` says otherwise: every simulated
run is then recorded with the *same* two sensors, like one runner's own kit."""


def sensor_option(f):
    """Decorator adding --sensor-seed: which simulated sensor pair records the run."""
    return click.option(
        "--sensor-seed", "sensor_seed", type=int, default=DEFAULT_SENSOR_SEED, show_default=True,
        help="Which simulated sensor pair: its serial numbers and static errors (scale, axis "
             "misalignment, constant bias). Runs with the same number were recorded with the same "
             "sensors (before/after comparisons); give another number for other sensors.")(f)
