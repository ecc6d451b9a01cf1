"""``imugait analyze`` — strides.csv + summary.json from a session, CSV files or the shipped
real recording."""

from __future__ import annotations

from pathlib import Path

import click

from imugait.errors import InputFileError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RECORDING = ROOT / "recordings" / "hugadb_walking_06"


def _read_csv(path):
    from imugait.store.csvio import read_imu_csv

    tab = read_imu_csv(path)
    return (tab.t_s, tab.acc_mps2, tab.gyr_dps), tab.fs_hz


def _is_hugadb(path) -> bool:
    from imugait.store.hugadb import is_hugadb_file

    return is_hugadb_file(path)


@click.command("analyze")
@click.argument("session", required=False, type=click.Path(dir_okay=True, path_type=Path))
@click.option("--left", "left", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Left-thigh CSV (documented import format).")
@click.option("--right", "right", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Right-thigh CSV.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("imugait-analysis"), show_default=True,
              help="Folder for strides.csv and summary.json.")
@click.option("--fs", "fs_hz", type=float, default=None, help="Nominal sample rate in Hz (default: estimated from time stamps).")
@click.option("--params", "params_file", type=click.Path(path_type=Path), default=None,
              help="JSON file of analysis parameters (AnalysisParams names; a summary.json's \"params\" works too).")
@click.option("--quiet", is_flag=True, help="Do not print the summary.")
def analyze(session, left, right, out_dir, fs_hz, params_file, quiet):
    """Analyse a session file (.h5), a HuGaDB .txt file, a folder with left.csv/right.csv, or
    --left/--right CSV files.

    Without input, analyses the real recording shipped in recordings/hugadb_walking_06
    (HuGaDB, Chereshnev & Kertész-Farkas, AIST 2017). Writes strides.csv (one row per stride
    and leg; times in the input's clock) and summary.json (per-leg summaries, asymmetry).
    """
    from imugait.analysis.api import analyze as run, format_summary
    from imugait.analysis.params import load_params

    params = load_params(params_file)  # before reading data: a bad parameter file fails fast
    inputs, fs = {}, {}
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
                    inputs[side], fs[side] = _read_csv(f)
            if not inputs:
                raise InputFileError(session, None, "folder holds neither left.csv nor right.csv",
                                     "name the files left.csv / right.csv or use --left/--right")
            source = str(session)
        elif _is_hugadb(session):
            from imugait.store.hugadb import read_hugadb

            rec = read_hugadb(session)
            for side in ("left", "right"):
                inputs[side], fs[side] = rec.imu(side, "thigh"), rec.fs_hz
            source = f"{session} (HuGaDB thighs)"
        else:
            try:
                from imugait import open_session
            except ImportError as e:  # pragma: no cover - store not installed
                raise InputFileError(session, None, f"cannot read sessions ({e})", "use --left/--right CSV files") from None
            with open_session(session) as s:
                for side in s.sides:
                    inputs[side] = s.imu(side)
                    try:
                        fs[side] = float(s.sensor_info(side).sample_rate_hz)
                    except Exception:
                        fs[side] = None
            source = str(session)
    else:
        if left:
            inputs["left"], fs["left"] = _read_csv(left)
        if right:
            inputs["right"], fs["right"] = _read_csv(right)
        source = ", ".join(str(p) for p in (left, right) if p)
    if fs_hz:
        fs = {k: fs_hz for k in inputs}
    fs = {k: v for k, v in fs.items() if v}
    res = run(inputs.get("left"), inputs.get("right"), params=params, fs_hz=fs or None)
    res.summary["source"] = source
    paths = res.write(out_dir)
    if not quiet:
        click.echo(format_summary(res))
        click.echo(f"wrote {paths['strides']} and {paths['summary']}")
