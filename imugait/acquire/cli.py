"""``imugait scan`` — list nearby supported BLE sensors."""

from __future__ import annotations

import asyncio
import json

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
