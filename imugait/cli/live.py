"""``imugait live`` — open the live dashboard."""

from __future__ import annotations

from pathlib import Path

import click

from imugait.acquire.scan import bluetooth_preflight
from imugait.extras import require


@click.command()
@click.option("--simulate", is_flag=True, help="Two simulated thigh sensors (no hardware needed).")
@click.option("--left", metavar="ADDR", help="BLE address (or name) of the left-thigh sensor.")
@click.option("--right", metavar="ADDR", help="BLE address (or name) of the right-thigh sensor.")
@click.option("--replay", type=click.Path(dir_okay=False, path_type=Path), help="Replay a recorded session (.h5).")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="Replay / simulation speed (× real time).")
@click.option("--gait", type=click.Choice(["walk", "run", "mixed"]), default="run", show_default=True,
              help="With --simulate: walking, running or both.")
@click.option("--seed", type=int, default=1, show_default=True, help="With --simulate: random seed.")
@click.option("--sim-minutes", type=float, default=5.0, show_default=True,
              help="With --simulate: length of the simulated session.")
@click.option("--sim-asym", "sim_asym_deg", type=float, default=3.0, show_default=True,
              help="With --simulate: extra thigh range (deg) of the simulated left leg.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("recordings"),
              show_default=True, help="Folder for sessions recorded from the window.")
@click.option("--subject", default="", help="Subject id to prefill.")
@click.option("--condition", default="", help="Condition to prefill (e.g. before, after).")
@click.option("--record", is_flag=True, help="Start recording immediately.")
@click.option("--screenshot", type=click.Path(dir_okay=False, path_type=Path),
              help="Save the window as PNG at the end (with --duration: after that many seconds).")
@click.option("--duration", "duration_s", type=float, default=None,
              help="Close after this many seconds (runs headless when there is no display).")
@click.option("--fps", type=float, default=30.0, show_default=True, help="Redraw rate.")
@click.option("--flexor-test", "flexor_test", is_flag=True,
              help="Start in the hip-flexor (Thomas) test mode; with --simulate a simulated runner follows its prompts.")
@click.option("--sim-left-deg", type=float, default=8.0, show_default=True,
              help="With --simulate --flexor-test: the runner's left thigh, degrees below the horizontal.")
@click.option("--sim-right-deg", type=float, default=3.0, show_default=True,
              help="With --simulate --flexor-test: the right thigh, degrees below the horizontal.")
def live(simulate, left, right, replay, speed, gait, seed, sim_minutes, sim_asym_deg, out_dir, subject, condition, record, screenshot,
         duration_s, fps, flexor_test, sim_left_deg, sim_right_deg):
    """Open the live dashboard: thigh angles, strides, asymmetry, sensor health, recording.

    \b
    Examples:
      imugait live --simulate
      imugait live --left AA:BB:CC:DD:EE:01 --right AA:BB:CC:DD:EE:02
      imugait live --replay recordings/R01_after.h5 --speed 2
      imugait live --simulate --screenshot docs/img/live.png --duration 20
    """
    require("live", "imugait live")
    from imugait.live.sources import default_sim_config, source_factory

    # check the source choice before Qt starts (fast, clear errors)
    source_factory(simulate=simulate, left=left, right=right, replay=replay, speed=speed)
    if left or right:
        bluetooth_preflight()
    from imugait.live.app import run_live

    if simulate and not sim_minutes > 0.1:
        raise click.BadParameter("must be more than 0.1 minutes", param_hint="--sim-minutes")
    sim_config = (default_sim_config(gait=gait, seed=seed, asym_rom_deg=sim_asym_deg, duration_s=60.0 * sim_minutes)
                  if simulate else None)
    if simulate and flexor_test:
        from imugait.analysis.flexor import protocol_steps
        from imugait.sim.flexor import follow_protocol

        sim_config = follow_protocol(protocol_steps(), sim_left_deg, sim_right_deg, seed=seed)
    run_live(simulate=simulate, left=left, right=right, replay=replay, speed=speed, duration_s=duration_s,
             screenshot=screenshot, out_dir=out_dir, sim_config=sim_config, fps=fps, subject=subject,
             condition=condition, record=record, flexor_test=flexor_test)
