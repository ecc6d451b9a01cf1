"""``imugait simulate``: write simulated thigh IMU CSVs (import format) plus truth.json."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

import imugait.outputs as outputs

from imugait.cli.options import gait_options, sensor_option


def _sides(value: str) -> tuple:
    from imugait.conventions import parse_side

    try:
        return tuple(dict.fromkeys(parse_side(v) for v in value.split(",") if v.strip()))
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _numbers(values, opt, lo, hi) -> tuple:
    out = []
    for v in values:
        parts = str(v).split(":")
        try:
            nums = tuple(float(x) for x in parts)
        except ValueError:
            nums = ()
        if not lo <= len(nums) <= hi:
            raise click.BadParameter(f"{v!r}: expected {lo}{'-' + str(hi) if hi != lo else ''} numbers separated by ':'",
                                     param_hint=opt)
        out.append(nums)
    return tuple(out)


def _turns(values) -> tuple:
    return tuple(t if len(t) == 3 else (t[0], t[1], 2.0) for t in _numbers(values, "--turn", 2, 3))


@click.command("simulate")
@click.option("--duration", "duration_s", type=click.FloatRange(min=1.0), default=60.0, show_default=True,
              help="Recording length in seconds, standing before/after included.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder (created).")
@click.option("--fs", "fs_hz", type=click.FloatRange(min=10.0, max=5000.0), default=200.0, show_default=True,
              help="Sample rate (Hz).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same data).")
@gait_options(speed_alias=True)
@sensor_option
@click.option("--strap", type=click.Choice(["default", "random"]), default="default", show_default=True,
              help="Sensor orientation on the thigh: lateral default or a random rotation.")
@click.option("--sides", "sides", default="left,right", show_default=True, help="Sides to simulate.")
@click.option("--stand-before", "stand_before_s", type=click.FloatRange(min=0.0), default=5.0, show_default=True,
              help="Standing still at the start (s).")
@click.option("--stand-after", "stand_after_s", type=click.FloatRange(min=0.0), default=3.0, show_default=True,
              help="Standing still at the end (s).")
@click.option("--stop", "stops", multiple=True, metavar="START:DURATION",
              help="Stand still from START for DURATION seconds (repeatable), e.g. --stop 30:5.")
@click.option("--turn", "turns", multiple=True, metavar="TIME:ANGLE[:DURATION]",
              help="Turn the whole body by ANGLE degrees (+ = left) at TIME, over DURATION s (default 2).")
@click.option("--speed-change", "speed_changes", multiple=True, metavar="TIME:SPEED",
              help="Change the speed to SPEED m/s at TIME (repeatable).")
@click.option("--soft-tissue", "soft_tissue_deg", type=click.FloatRange(min=0.0, max=10.0), default=0.0,
              show_default=True, help="Soft-tissue wobble of the sensor, RMS degrees while walking (x2 running); "
                                      "1.0 matches HuGaDB's front-of-thigh sensors.")
@click.option("--ideal", is_flag=True, help="Ideal sensor: no noise, bias, drift, scale or axis errors.")
@click.option("--acc-unit", type=click.Choice(["mps2", "g"]), default="mps2", show_default=True,
              help="Acceleration unit written to the CSVs.")
@click.option("--gyr-unit", type=click.Choice(["dps", "rps"]), default="dps", show_default=True,
              help="Angular-rate unit written to the CSVs.")
def simulate(gait, duration_s, out_dir, fs_hz, seed, cadence_spm, speed_mps, rom_deg, asym_rom_deg,
             asym_swing_pct, sensor_seed, strap, sides, stand_before_s, stand_after_s, stops, turns, speed_changes,
             soft_tissue_deg, ideal,
             acc_unit, gyr_unit):
    """Simulate thigh IMU recordings with ground truth.

    Writes one CSV per thigh (left.csv / right.csv, the documented import format;
    time_s is the true session time, values are the quantised sensor output in the
    sensor frame) and truth.json (the configuration and per-stride truth per side).

    Example: imugait simulate --gait run --duration 60 --out sim_run
    """
    from imugait.sim.gait import SimConfig
    from imugait.sim.gait import simulate as run_sim
    from imugait.store.csvio import write_imu_csv

    try:
        cfg = SimConfig(gait=gait, duration_s=duration_s, fs_hz=fs_hz, seed=seed, sides=_sides(sides),
                        cadence_spm=cadence_spm, speed_mps=speed_mps, rom_deg=rom_deg, asym_rom_deg=asym_rom_deg,
                        asym_swing_pct=asym_swing_pct, strap=strap, stand_before_s=stand_before_s,
                        stand_after_s=stand_after_s,
                        stops=_numbers(stops, "--stop", 2, 2), turns=_turns(turns),
                        speed_changes=_numbers(speed_changes, "--speed-change", 2, 2),
                        sensor_errors=not ideal, soft_tissue_deg=soft_tissue_deg, sensor_seed=sensor_seed)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    t0 = time.perf_counter()
    rec = run_sim(cfg)
    outputs.out_dir(out_dir)
    written = []
    for side, s in rec.sides.items():
        path = out_dir / f"{side}.csv"
        write_imu_csv(path, s.t_true_s, s.acc_mps2, s.gyr_dps, acc_unit=acc_unit, gyr_unit=gyr_unit,
                      comments=[f"imugait simulate: {side} thigh, {gait}, seed {seed}, {fs_hz:g} Hz, "
                                f"strap {strap}; truth in truth.json"])
        st = s.strides[s.strides["steady"]]
        written.append((path, f"{s.n} samples, {len(s.strides)} strides "
                              f"(median ROM {st['rom_deg'].median():.1f} deg, "
                              f"cadence {st['cadence_spm'].median():.0f} spm, "
                              f"swing {st['swing_pct'].median():.1f} %)" if len(st) else f"{s.n} samples, 0 strides"))
    truth = out_dir / "truth.json"
    outputs.write_text(truth, json.dumps(rec.truth_dict(), indent=1, allow_nan=False))
    written.append((truth, "configuration and per-stride truth"))
    for p, what in written:
        click.echo(f"wrote {p}  ({what})")
    if not rec.bouts:
        click.echo(f"note: no gait in this recording — --duration {duration_s:g} s leaves no time after "
                   f"--stand-before {stand_before_s:g} s and --stand-after {stand_after_s:g} s", err=True)
    click.echo(f"simulated {duration_s:g} s of {gait} in {time.perf_counter() - t0:.2f} s")
