"""``imugait analyze`` — strides.csv + summary.json from a session, CSV files or the shipped
real recording."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from imugait.conventions import SIDES
from imugait.errors import InputFileError
from imugait.inputcheck import ImuData, InputWarning, check_fs_value, check_imu

DEFAULT_RECORDING = Path(__file__).resolve().parents[1] / "data" / "hugadb_walking_06"
"""The real recording shipped as package data (HuGaDB walking, both thighs)."""


def _fs_option(ctx, param, value):
    return None if value is None else check_fs_value(value, "--fs")


def _read_csv(path, acc_unit, gyr_unit):
    from imugait.store.csvio import read_imu_csv

    try:
        return read_imu_csv(path, acc_unit=acc_unit, gyr_unit=gyr_unit)
    except ValueError as e:  # a unit option outside the table
        raise click.BadParameter(str(e)) from None


def _is_hugadb(path) -> bool:
    from imugait.store.hugadb import is_hugadb_file

    return is_hugadb_file(path)


@click.command("analyze")
@click.argument("session", required=False, type=click.Path(dir_okay=True, path_type=Path))
@click.option("--left", "left", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Left-thigh CSV (documented import format).")
@click.option("--right", "right", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Right-thigh CSV.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("imugait-analysis"), show_default=True,
              help="Folder for strides.csv and summary.json.")
@click.option("--fs", "fs_hz", type=str, default=None, callback=_fs_option,
              help="Nominal sample rate in Hz (10–2000). Sets the time of files without time stamps (HuGaDB); "
                   "with time stamps it must agree with them within 10 % (default: from the time stamps).")
@click.option("--acc-unit", type=click.Choice(["mps2", "g", "mg"]), default=None,
              help="CSV: accelerometer unit when the header does not say (overrides the header).")
@click.option("--gyr-unit", type=click.Choice(["dps", "rps", "mdps"]), default=None,
              help="CSV: gyroscope unit when the header does not say (overrides the header).")
@click.option("--params", "params_file", type=click.Path(path_type=Path), default=None,
              help="JSON file of analysis parameters (AnalysisParams names; a summary.json's \"params\" works too).")
@click.option("--quiet", is_flag=True, help="Do not print the summary.")
def analyze(session, left, right, out_dir, fs_hz, acc_unit, gyr_unit, params_file, quiet):
    """Analyse a session file (.h5), a HuGaDB .txt file, a folder with left.csv/right.csv, or
    --left/--right CSV files.

    Without input, analyses the real recording shipped with imugait (imugait/data/hugadb_walking_06:
    HuGaDB, Chereshnev & Kertész-Farkas, AIST 2017). Writes strides.csv (one row per stride
    and leg; times in the input's clock) and summary.json (per-leg summaries, asymmetry,
    and per leg what the input checks found: units, time base, warnings).
    Inputs are checked for physics (gravity ≈ 9.81 m/s², plausible angular rates, a time
    base that matches the sample count); coarse or batched clocks are re-fitted with a warning.
    A session file (.h5) also gets the results stored in it as a new run (atomically; earlier
    runs kept) — unless it is still being recorded (the results are then partial and say so)
    or cannot be written (read-only, disk full: a warning, the output folder still gets
    everything).
    """
    from imugait.analysis.api import analyze as run, format_summary
    from imugait.analysis.params import load_params

    params = load_params(params_file)  # before reading data: a bad parameter file fails fast
    inputs: dict[str, ImuData] = {}
    sa = None  # the analysis of a session file (stored back into it)
    source = ""
    if session is not None and (left or right):
        raise click.UsageError("give either a session/folder or --left/--right, not both")
    if session is None and not left and not right:
        session = DEFAULT_RECORDING
        if not quiet:
            click.echo(f"no input given: analysing the shipped real recording {session}")
    if session is not None:
        if not session.exists():
            raise InputFileError(session, None, "not found", "give a session .h5 file or a folder with left.csv/right.csv")
        if session.is_dir():
            for side in ("left", "right"):
                f = session / f"{side}.csv"
                if f.exists():
                    inputs[side] = _read_csv(f, acc_unit, gyr_unit)
            if not inputs:
                raise InputFileError(session, None, "folder holds neither left.csv nor right.csv",
                                     "name the files left.csv / right.csv or use --left/--right")
            source = str(session)
        elif _is_hugadb(session):
            from imugait.store.hugadb import HUGADB_FS_HZ, read_hugadb

            rec = read_hugadb(session, fs_hz=fs_hz or HUGADB_FS_HZ)
            for side in SIDES:
                t, acc, gyr = rec.imu(side, "thigh")
                inputs[side] = ImuData(t, acc, gyr, fs_hz=rec.fs_hz, source=f"{session} ({side} thigh)",
                                       origin="hugadb", time_from_index=True)
            fs_hz = None  # it set the time; nothing to cross-check
            source = f"{session} (HuGaDB thighs)"
        else:
            # a session file: the store's one session -> inputs path (partial or damaged files
            # named), the same input checks, and the results stored in the file (atomically)
            from imugait.app.session_analysis import analyze_session

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", InputWarning)  # printed below, once, as plain lines
                sa = analyze_session(session, params=params, fs_hz=fs_hz, fs_typed=bool(fs_hz))
            for note in sa.notes:
                click.echo(f"warning: {note}", err=True)
            source = str(session)
    else:
        if left:
            inputs["left"] = _read_csv(left, acc_unit, gyr_unit)
        if right:
            inputs["right"] = _read_csv(right, acc_unit, gyr_unit)
        source = ", ".join(str(p) for p in (left, right) if p)
    if sa is not None:
        res = sa.result
    else:
        # a typed --fs must agree with the time stamps (refused otherwise)
        for side, data in list(inputs.items()):
            inputs[side] = check_imu(data, fs_hz=fs_hz, fs_typed=True) if fs_hz else check_imu(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InputWarning)  # printed below, once, as plain lines
            res = run(inputs.get("left"), inputs.get("right"), params=params, fs_hz=None)
    res.summary["source"] = source
    for _side, s in res.summary["sides"].items():
        for w in s.get("input", {}).get("warnings", []):
            click.echo(f"warning: {w}", err=True)
    paths = res.write(out_dir)
    if not quiet:
        click.echo(format_summary(res))
        click.echo(f"wrote {paths['strides']} and {paths['summary']}")
    if sa is not None:
        from imugait.app.session_analysis import try_store_analysis

        run_id, why = try_store_analysis(session, sa)
        if run_id:
            click.echo(f"stored in {session} as {run_id} (see `imugait info {session}`)")
        else:
            click.echo(f"warning: {why}", err=True)
