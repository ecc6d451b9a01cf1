"""``imugait record``, ``imugait import`` and ``imugait info``."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click

from imugait.cli.options import gait_options, sensor_option

from imugait.errors import ImugaitError
from imugait.protocol.constants import SUPPORTED_RATES_HZ

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
    from imugait.app.record import RecordOptions, run_record

    if simulate and (left or right):
        raise click.UsageError("give either --simulate or --left/--right addresses, not both")
    if not simulate and not (left or right):
        raise click.UsageError("give --left and/or --right sensor addresses, or --simulate")
    if out.exists() and not overwrite:
        raise ImugaitError(f"{out}: file exists — choose another --out name, or add --overwrite")
    # --overwrite: the old file stays until the new one replaces it (never one another program writes)
    sim_fs = {}
    if simulate and rate_hz is not None:
        # the simulated sensors speak the open protocol: they run at its rates, and the
        # simulation is generated at the asked rate (a sensor cannot up-sample)
        if not any(abs(rate_hz - r) < 0.5 for r in SUPPORTED_RATES_HZ):
            raise click.BadParameter(f"the simulated sensors (imugait open protocol) run at "
                                     f"{', '.join(f'{r:g}' for r in SUPPORTED_RATES_HZ)} Hz — choose one of these",
                                     param_hint="--rate")
        sim_fs = {"fs_hz": float(rate_hz)}
    opts = RecordOptions(
        out=out, left=left, right=right, simulate=simulate, duration_s=duration_s,
        meta=dict(subject_id=subject_id, condition=condition, activity=activity, notes=notes),
        rate_hz=rate_hz, quiet=quiet, speed=speed, analyze_after=analyze_after,
        sim=dict(gait=gait, cadence_spm=cadence_spm, speed_mps=speed_mps, rom_deg=rom_deg,
                 asym_rom_deg=asym_rom_deg, asym_swing_pct=asym_swing_pct, seed=seed, sensor_seed=sensor_seed,
                 stand_before_s=stand_before_s, sides=tuple(s.strip() for s in sides.split(",") if s.strip()),
                 **sim_fs),
        loss_pct=loss_pct, overwrite=overwrite,
    )
    code = run_record(opts)
    for line in _record_notes(out, rate_hz):
        click.echo(line, err=True)
    if code:
        sys.exit(code)


def _record_notes(out: Path, rate_hz) -> list[str]:
    """After a recording: samples lost (a visible count, not only in `imugait info`) and a
    sensor that runs at another rate than --rate asked for."""
    if not out.exists():
        return []
    from imugait.store.reader import open_session

    notes = []
    try:
        with open_session(out) as s:
            for side in s.sides:
                st = s.stats(side)
                expected = st["n_samples"] / (1 - st["gap_pct"] / 100) if 0 < st["gap_pct"] < 100 else st["n_samples"]
                lost = int(round(expected - st["n_samples"]))
                if lost > 0:
                    notes.append(f"{out}: {side} sensor lost {lost} sample(s) ({st['gap_pct']:.2f} %) in "
                                 f"{len(s.gaps(side))} gap(s) — see `imugait info {out}`")
                rate = float(s.sensor_info(side).sample_rate_hz)
                if rate_hz is not None and abs(rate - rate_hz) > 0.01 * rate_hz:
                    notes.append(f"{out}: asked for {rate_hz:g} Hz, the {side} sensor recorded at {rate:g} Hz "
                                 "(the nearest rate it supports)")
    except ImugaitError:
        return notes
    return notes


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
@click.option("--acc-unit", type=click.Choice(["mps2", "g", "mg"]), default=None,
              help="CSV: accelerometer unit when the header does not say.")
@click.option("--gyr-unit", type=click.Choice(["dps", "rps", "mdps"]), default=None,
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
        from imugait.app.session_analysis import process_session

        run_id = process_session(out)
        click.echo(f"{out}: analysed ({run_id})")


# --------------------------------------------------------------------------- info
def _fmt_s(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    m, s = divmod(x, 60)
    h, m = divmod(int(m), 60)
    return f"{h:d}:{m:02d}:{s:04.1f}" if h else f"{m:d}:{s:04.1f}"


def _side_lines(s, side) -> list[str]:
    info = s.sensor_info(side)
    st = s.stats(side)
    gaps = s.gaps(side)
    dev = f" {info.device_id}" if info.device_id else ""
    fw = f" fw {info.firmware}" if info.firmware else ""
    est = st["estimated_rate_hz"]
    lines = [f"  {side:<5}     {info.kind}{dev}{fw} · {st['n_samples']} samples · rate "
             f"{info.sample_rate_hz:g} Hz configured, " + (f"{est:.2f} Hz estimated" if math.isfinite(est) else "not estimated")
             + f" · gaps {st['gap_pct']:.2f} % ({len(gaps)} gap{'s' if len(gaps) != 1 else ''})"]
    if st["damaged_packets"] or st["damaged_samples"]:
        lines.append(f"            DAMAGED: {st['damaged_packets']} packet(s) left out, {st['damaged_samples']} samples "
                     "unreadable — the file was changed or corrupted after recording; restore it from a backup copy")
    if st["cut_samples"] and s.cut_is_damage(side):
        lines.append(f"            DAMAGED: the last {st['cut_samples']} stored samples are unreadable (the file ends "
                     "early or its tables disagree) — restore it from a backup copy")
    elif st["cut_samples"] and not s.being_recorded:
        lines.append(f"            {st['cut_samples']} samples at the end cut off by an interrupted write")
    if math.isfinite(est) and est > 0 and abs(info.sample_rate_hz / est - 1) > 0.05:
        lines.append(f"            the configured rate disagrees with the time stamps ({est:.2f} Hz): the analysis "
                     "uses the time stamps")
    links = s.link_events(side)
    # a drop is a "reconnecting" right after "connected"; further attempts of the same
    # outage ("reconnecting" again, each retry) are not new drops
    states = list(links.state) if len(links) else []
    drops = sum(1 for a, b in zip(states, states[1:]) if a == "connected" and b == "reconnecting")
    if drops:
        lines.append(f"            {drops} link drop(s)")
    status = s.status(side)
    if len(status) and status.battery_pct.notna().any():
        lines.append(f"            battery {status.battery_pct.dropna().iloc[-1]:.0f} % at the end")
    return lines


def _flexor_lines(s, path) -> list[str]:
    fx = s.flexor_test
    if fx is None:
        return []
    per = []
    for side, d in (fx.get("sides") or {}).items():
        v = d.get("thigh_below_horizontal_deg")
        if v is not None:
            per.append(f"{side} {abs(v):.1f}° {'below' if v >= 0 else 'above'} horizontal ({d.get('n_holds')} holds)")
    return [f"  flexor    {'; '.join(per) or 'no test hold'} · {fx.get('run_id')} · "
            + ("current" if fx.get("current") else "OUT OF DATE — re-run `imugait flexor-test " + str(path) + "`")]


def _result_lines(s, path) -> list[str]:
    runs = s.derived_runs
    if s.current_run is None:
        return ["  strides   not analysed yet — run `imugait analyze " + str(path) + "`"]
    lines = []
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
    return lines


def session_info_text(path) -> str:
    """What ``imugait info`` prints. A damaged part of the file is named on its own line
    (the rest is still shown); a file being recorded is named as such."""
    from imugait.store.reader import open_session

    lines = []
    with open_session(path) as s:
        m = s.meta
        lines.append(f"{path}")
        lines.append(f"  schema v{m.get('schema_version')} · written by imugait {m.get('imugait_version')} · "
                     f"created {m.get('created_utc')}")
        lines.append(f"  state     {s.state_text()}")
        if s.being_recorded:
            lines.append("            (still growing: the figures below cover what was flushed so far)")
        for k, label in (("subject_id", "subject"), ("condition", "condition"), ("activity", "activity"),
                         ("notes", "notes"), ("source", "source")):
            if m.get(k):
                lines.append(f"  {label:<9} {m[k]}")
        try:
            lines.append(f"  duration  {_fmt_s(s.duration_s)}")
        except ImugaitError as e:
            lines.append(f"  duration  unknown — {e}")
        for side in s.sides:
            try:
                lines.extend(_side_lines(s, side))
            except ImugaitError as e:
                lines.append(f"  {side:<5}     DAMAGED: {e}")
        try:
            mk = s.markers
            lines.append(f"  markers   {len(mk)}" + ("".join(f"\n            {_fmt_s(t)}  {x}" for t, x in
                                                              zip(mk.t_s, mk.text)) if len(mk) else ""))
        except ImugaitError as e:
            lines.append(f"  markers   DAMAGED: {e}")
        try:
            lines.extend(_flexor_lines(s, path))
        except ImugaitError as e:
            lines.append(f"  flexor    DAMAGED: {e}")
        try:
            lines.extend(_result_lines(s, path))
        except ImugaitError as e:
            lines.append(f"  results   DAMAGED: {e}")
    return "\n".join(lines)


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
def info(file):
    """Summarise a session: duration, sensors, rates, gaps, strides, markers, result status."""
    click.echo(session_info_text(file))
