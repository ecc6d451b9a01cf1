"""``imugait record``, ``imugait import`` and ``imugait info``."""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import click

from imugait.sim.options import gait_options, sensor_option

from imugait.errors import ImugaitError

_OUT = click.Path(dir_okay=False, path_type=Path)


# --------------------------------------------------------------------------- record
@click.command()
@click.option("--left", metavar="ADDR", help="BLE address or name of the left-thigh sensor.")
@click.option("--right", metavar="ADDR", help="BLE address or name of the right-thigh sensor.")
@click.option("--simulate", is_flag=True, help="Record in-process simulated sensors instead of BLE.")
@click.option("--out", "out", type=_OUT, required=True, help="Session file to write (.h5).")
@click.option("--duration", "duration_s", type=click.FloatRange(min=0.1), default=None,
              help="Stop after this many seconds of data (default: until Ctrl-C; simulated: 60 s).")
@click.option("--subject", "subject_id", default="", help="Subject / runner id.")
@click.option("--condition", default="", help="Condition label, e.g. pre-stretch or post-stretch.")
@click.option("--activity", default="", help="Activity or protocol, e.g. 'treadmill run 10 km/h'.")
@click.option("--notes", default="", help="Free notes stored with the session.")
@click.option("--rate", "rate_hz", type=click.FloatRange(min=10, max=2000), default=None,
              help="Ask the sensors for this sample rate (Hz).")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--analyze/--no-analyze", "analyze_after", default=True, show_default=True,
              help="Analyse the session when the recording ends (stores strides in the file).")
@click.option("--quiet", is_flag=True, help="No live status line.")
@click.option("--speed", "speed", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="Simulated sources: run at this many times real time.")
@gait_options()
@sensor_option
@click.option("--seed", type=int, default=1, show_default=True, help="Simulated: random seed.")
@click.option("--stand-before", "stand_before_s", type=click.FloatRange(min=0), default=4.0, show_default=True,
              help="Simulated: standing still before moving (s) — the calibration period.")
@click.option("--sides", default="left,right", show_default=True, help="Simulated: which thighs.")
@click.option("--loss-pct", type=click.FloatRange(min=0, max=50), default=0.0, show_default=True,
              help="Simulated: percentage of packets lost on the radio link.")
def record(left, right, simulate, out, duration_s, subject_id, condition, activity, notes, rate_hz, overwrite,
           analyze_after, quiet, speed, gait, cadence_spm, speed_mps, rom_deg, asym_rom_deg, asym_swing_pct,
           sensor_seed, seed, stand_before_s, sides, loss_pct):
    """Record a session to HDF5 from BLE sensors or simulated ones.

    \b
    imugait record --left ADDR --right ADDR --out run.h5 --subject R01 --condition pre-stretch
    imugait record --simulate --gait run --duration 120 --speed 10 --out sim.h5

    Shows one status line (time, strides, packet loss, battery). Type a note and press
    Enter to add a marker (e.g. "start stretching"). Ctrl-C stops cleanly.
    Data is flushed to disk at least once a second: if the computer dies, at most the
    last second is lost and the file still opens.
    """
    from imugait.store.recorder import RecordOptions, run_record

    if simulate and (left or right):
        raise click.UsageError("give either --simulate or --left/--right addresses, not both")
    if not simulate and not (left or right):
        raise click.UsageError("give --left and/or --right sensor addresses, or --simulate")
    if out.exists() and not overwrite:
        raise ImugaitError(f"{out}: file exists — choose another --out name, or add --overwrite")
    if out.exists() and overwrite:
        out.unlink()
    opts = RecordOptions(
        out=out, left=left, right=right, simulate=simulate, duration_s=duration_s,
        meta=dict(subject_id=subject_id, condition=condition, activity=activity, notes=notes),
        rate_hz=rate_hz, quiet=quiet, speed=speed, analyze_after=analyze_after,
        sim=dict(gait=gait, cadence_spm=cadence_spm, speed_mps=speed_mps, rom_deg=rom_deg,
                 asym_rom_deg=asym_rom_deg, asym_swing_pct=asym_swing_pct, seed=seed, sensor_seed=sensor_seed,
                 stand_before_s=stand_before_s, sides=tuple(s.strip() for s in sides.split(",") if s.strip())),
        loss_pct=loss_pct,
    )
    code = run_record(opts)
    if code:
        sys.exit(code)


# --------------------------------------------------------------------------- import
@click.command("import")
@click.option("--left", "left_csv", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV file of the left thigh (documented CSV layout).")
@click.option("--right", "right_csv", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV file of the right thigh.")
@click.option("--hugadb", "hugadb", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A HuGaDB v1 text file (both thighs).")
@click.option("--out", "out", type=_OUT, required=True, help="Session file to write (.h5).")
@click.option("--subject", "subject_id", default="", help="Subject / runner id.")
@click.option("--condition", default="", help="Condition label, e.g. pre-stretch.")
@click.option("--activity", default="", help="Activity or protocol.")
@click.option("--notes", default="", help="Free notes.")
@click.option("--acc-unit", type=click.Choice(["mps2", "g"]), default=None,
              help="CSV: accelerometer unit when the header does not say.")
@click.option("--gyr-unit", type=click.Choice(["dps", "rps"]), default=None,
              help="CSV: gyroscope unit when the header does not say.")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--analyze/--no-analyze", "analyze_after", default=False, show_default=True,
              help="Analyse right away and store the results in the session.")
def import_cmd(left_csv, right_csv, hugadb, out, subject_id, condition, activity, notes, acc_unit, gyr_unit,
               overwrite, analyze_after):
    """Import CSV files (one per thigh) or a HuGaDB file into a session.

    \b
    imugait import --left L.csv --right R.csv --out s.h5 --subject R01 --condition pre
    imugait import --hugadb HuGaDB_v1_walking_01_00.txt --out hugadb01.h5
    """
    from imugait.store.importers import import_csv, import_hugadb

    meta = dict(subject_id=subject_id, condition=condition, activity=activity, notes=notes)
    if hugadb and (left_csv or right_csv):
        raise click.UsageError("give either --hugadb or --left/--right CSV files, not both")
    if not hugadb and not (left_csv or right_csv):
        raise click.UsageError("give --left and/or --right CSV files, or --hugadb FILE")
    if hugadb:
        rep = import_hugadb(hugadb, out, meta=meta, overwrite=overwrite)
    else:
        rep = import_csv(left=left_csv, right=right_csv, out=out, meta=meta, overwrite=overwrite,
                         acc_unit=acc_unit, gyr_unit=gyr_unit)
    for w in rep.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(f"{out}: imported {', '.join(f'{s} {n} samples' for s, n in rep.samples.items())}")
    if analyze_after:
        from imugait.store.process import process_session

        run_id = process_session(out)
        click.echo(f"{out}: analysed ({run_id})")


# --------------------------------------------------------------------------- info
def _fmt_s(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    m, s = divmod(x, 60)
    h, m = divmod(int(m), 60)
    return f"{h:d}:{m:02d}:{s:04.1f}" if h else f"{m:d}:{s:04.1f}"


def session_info_text(path) -> str:
    from imugait.store.reader import open_session

    lines = []
    with open_session(path) as s:
        m = s.meta
        lines.append(f"{path}")
        lines.append(f"  schema v{m.get('schema_version')} · written by imugait {m.get('imugait_version')} · "
                     f"created {m.get('created_utc')}")
        state = ("closed cleanly" if s.closed_cleanly else
                 "recording interrupted (recovered)" if "recovered_utc" in m else
                 "being recorded, or the recording was interrupted")
        lines.append(f"  state     {state}" + (f" — {m['stop_reason']}" if m.get("stop_reason") else ""))
        for k, label in (("subject_id", "subject"), ("condition", "condition"), ("activity", "activity"),
                         ("notes", "notes"), ("source", "source")):
            if m.get(k):
                lines.append(f"  {label:<9} {m[k]}")
        lines.append(f"  duration  {_fmt_s(s.duration_s)}")
        for side in s.sides:
            info = s.sensor_info(side)
            st = s.stats(side)
            gaps = s.gaps(side)
            dev = f" {info.device_id}" if info.device_id else ""
            fw = f" fw {info.firmware}" if info.firmware else ""
            lines.append(
                f"  {side:<5}     {info.kind}{dev}{fw} · {st['n_samples']} samples · rate "
                f"{info.sample_rate_hz:g} Hz configured, {st['estimated_rate_hz']:.2f} Hz estimated · "
                f"gaps {st['gap_pct']:.2f} % ({len(gaps)} gap{'s' if len(gaps) != 1 else ''})")
            links = s.link_events(side)
            drops = int((links.state == "reconnecting").sum()) if len(links) else 0
            if drops:
                lines.append(f"            {drops} link drop(s)")
            status = s.status(side)
            if len(status) and status.battery_pct.notna().any():
                lines.append(f"            battery {status.battery_pct.dropna().iloc[-1]:.0f} % at the end")
        mk = s.markers
        lines.append(f"  markers   {len(mk)}" + ("".join(f"\n            {_fmt_s(t)}  {x}" for t, x in
                                                          zip(mk.t_s, mk.text)) if len(mk) else ""))
        fx = s.flexor_test
        if fx is not None:
            per = []
            for side, d in (fx.get("sides") or {}).items():
                v = d.get("thigh_below_horizontal_deg")
                if v is not None:
                    per.append(f"{side} {abs(v):.1f}° {'below' if v >= 0 else 'above'} horizontal ({d.get('n_holds')} holds)")
            lines.append(f"  flexor    {'; '.join(per) or 'no test hold'} · {fx.get('run_id')} · "
                         + ("current" if fx.get("current") else "OUT OF DATE — re-run `imugait flexor-test " + str(path) + "`"))
        runs = s.derived_runs
        if s.current_run is None:
            lines.append("  strides   not analysed yet — run `imugait analyze " + str(path) + "`")
        else:
            st = s.strides
            cur = s.derived_current
            a = s.run_attrs()
            if st is not None and len(st):
                valid = st[st["valid"]] if "valid" in st else st
                per = ", ".join(f"{side} {int((valid.side == side).sum())}" for side in s.sides) if "side" in st else ""
                lines.append(f"  strides   {len(valid)} valid of {len(st)} ({per})")
            else:
                lines.append("  strides   none found")
            lines.append(f"  results   {s.current_run} · algorithm {a.get('algorithm_version')} · "
                         f"{a.get('created_utc')} · " + ("current" if cur else
                                                         "OUT OF DATE (raw data or algorithm changed) — re-run `imugait analyze`")
                         + (f" · {len(runs)} runs kept" if len(runs) > 1 else ""))
    return "\n".join(lines)


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
def info(file):
    """Summarise a session: duration, sensors, rates, gaps, strides, markers, result status."""
    click.echo(session_info_text(file))
