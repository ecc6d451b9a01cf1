"""``imugait scan`` — list nearby supported BLE sensors."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click


@click.command("scan")
@click.option("--timeout", "timeout_s", type=float, default=5.0, show_default=True, help="How long to listen (s).")
@click.option("--all", "show_all", is_flag=True, help="Also list devices imugait cannot read.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def scan(timeout_s: float, show_all: bool, as_json: bool) -> None:
    """List nearby supported BLE sensors (imugait, Polar Verity Sense, Movesense).

    Wake the sensors first (Polar Verity Sense: press the button; Movesense: tap it), and make
    sure no phone app is connected to them. Pass a sensor's ADDRESS or exact NAME to
    `imugait record --left ... --right ...`.
    """
    from imugait.acquire.scan import scan as do_scan

    found = asyncio.run(do_scan(timeout_s, show_all=show_all))
    if as_json:
        click.echo(json.dumps([
            {"name": f.name, "address": f.address, "rssi_dbm": f.rssi_dbm, "kind": f.kind} for f in found
        ], indent=2))
        return
    if not found:
        click.echo(f"No supported sensors found in {timeout_s:g} s. Wake the sensor (press its button or tap it), "
                   "keep it within a few metres, and disconnect it from any phone app.")
        return
    click.echo(f"{'NAME':28} {'ADDRESS':19} {'RSSI':>6}  KIND")
    for f in found:
        click.echo(f"{f.name[:28]:28} {f.address:19} {f.rssi_dbm:>4}dB  {f.label}")
    click.echo(f"{len(found)} sensor(s). Record with e.g.: imugait record --left {found[0].address} [--right ADDRESS]")


@click.command("check-sensor")
@click.argument("ident", metavar="ADDRESS_OR_NAME")
@click.option("--rate", "rate_hz", type=float, default=None, help="Check at this sample rate (Hz; default: as record).")
@click.option("--still", "still_s", type=click.FloatRange(min=1.0, max=30.0), default=3.0, show_default=True,
              help="How long to hold the sensor still (s).")
@click.option("--save", "save", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write every notification with its arrival time to FILE (JSON raw capture).")
def check_sensor(ident: str, rate_hz: float | None, still_s: float, save: Path | None) -> None:
    """Connect to one sensor and check it before a run: model, firmware, battery, rates,
    then gravity (9.81 ± 0.3 m/s²), gyro bias and the real sample rate while you hold it
    still. One line per finding, then a verdict; exit code 0 ready, 1 not ready.

    \b
    imugait check-sensor "Polar Sense B36E4C2A"
    imugait check-sensor 0C:8C:DC:31:22:07 --save movesense-capture.json
    """
    from imugait.acquire.check import check_sensor as run_check
    from imugait.acquire.check import save_capture

    res = asyncio.run(run_check(ident, rate_hz=rate_hz, still_s=still_s, say=click.echo))
    for f in res.findings:
        click.echo(f.line())
    click.echo(res.verdict())
    if save is not None:
        save_capture(save, res)
        click.echo(f"raw capture: {len(res.capture)} notifications -> {save}")
    if not res.passed:
        sys.exit(1)
