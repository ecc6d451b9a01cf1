"""Commands ``imugait compare``, ``imugait reprocess`` and ``imugait report``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

import imugait.extras as extras
import imugait.outputs as outputs
from imugait.errors import ImugaitError


def _default_out(before: list[Path], after: list[Path]) -> Path:
    b = before[0].stem if before else "before"
    a = after[0].stem if after else "after"
    return Path(f"comparison_{b}_vs_{a}")


@click.command("compare")
@click.argument("sessions", nargs=-1, type=click.Path(path_type=Path))
@click.option("--before", "before_opt", multiple=True, type=click.Path(path_type=Path),
              help="Session (or folder of sessions) before the intervention; repeatable.")
@click.option("--after", "after_opt", multiple=True, type=click.Path(path_type=Path),
              help="Session (or folder) after the intervention; repeatable.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: ./comparison_<before>_vs_<after>).")
@click.option("--params", "params_file", type=click.Path(path_type=Path), default=None,
              help="JSON file of analysis parameters (AnalysisParams names), used for both conditions.")
@click.option("--n-boot", type=click.IntRange(min=200), default=2000, show_default=True,
              help="Bootstrap replicates (at least 200: with fewer, the interval's ends rest on a handful of replicates).")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap random seed (results are reproducible).")
@click.option("--no-figures", is_flag=True, help="Skip figures (faster; report.html without plots).")
@click.option("--exact-ci", is_flag=True,
              help="Plain 95 % percentile interval, without the guard band that keeps its coverage at "
                   "or above 95 % (see docs/compare.md).")
@click.option("--assume-kept-on", is_flag=True,
              help="The sensors stayed on between the runs: use the kept-on error budget where the sessions cannot "
                   "show it (no device id, e.g. CSV imports). Never overrides a turned calibration or different "
                   "device ids.")
def compare(sessions, before_opt, after_opt, out_dir, params_file, n_boot, seed, no_figures, exact_ci, assume_kept_on):
    """Compare sessions before vs after an intervention (e.g. stretching).

    \b
    Simple case:      imugait compare BEFORE.h5 AFTER.h5
    Several sessions: imugait compare B1.h5 B2.h5 --after A1.h5 [--after A2.h5]
                      imugait compare --before B1.h5 --before B2.h5 --after A.h5
    With two or more BEFORE sessions (test-retest) the day-to-day change (MDC95) comes
    from them; with one, from its bouts or halves (a lower bound).

    Writes comparison.json, comparison.csv, report.html (phone-readable, figures embedded)
    and the figures as PNG into --out.
    """
    from imugait.compare import api
    from imugait.compare.comparison import CompareParams
    from imugait.compare.flexor import verdict_lines as flexor_verdict_lines

    if not no_figures:
        extras.require("reports", "imugait compare (its figures)", "or add --no-figures")
    sessions = list(sessions)
    before = list(before_opt)
    after = list(after_opt)
    if after:
        before += sessions
    elif len(sessions) == 2 and not before:
        before, after = [sessions[0]], [sessions[1]]
    elif before and sessions:
        after = sessions
    else:
        raise click.UsageError("give BEFORE AFTER, or sessions with --before/--after "
                               "(e.g. imugait compare B1.h5 B2.h5 --after A.h5)")
    if not before:
        raise click.UsageError("no BEFORE session given")
    before_files = api.expand_paths(before)
    after_files = api.expand_paths(after)
    if not before_files or not after_files:
        raise ImugaitError("no .h5 session found " + ("before" if not before_files else "after")
                           + " — give session files or folders containing them")
    out = out_dir or _default_out(before_files, after_files)
    click.echo(f"Analysing {len(before_files)} session(s) before and {len(after_files)} after ...", err=True)
    cmp = api.compare_sessions(before_files, after_files, out_dir=out, params=params_file,
                               compare_params=CompareParams(n_boot=n_boot, seed=seed,
                                                            guard_level=None if exact_ci else CompareParams.guard_level,
                                                            assume_kept_on=assume_kept_on),
                               figures=not no_figures)
    for w in cmp.warnings:
        if w.get("severity") != "info":
            click.echo("WARNING: " + w["message"])
    for side, reg in cmp.regimes.items():
        click.echo(f"{side} leg: {reg.regime.replace('_', ' ')} — {reg.reason}")
    for r in cmp.metrics:
        if r["metric"] in ("rom_deg", "asym_rom_pct") or r.get("significant"):
            click.echo(r["verdict"])
    for line in flexor_verdict_lines(cmp.flexor):
        click.echo(line)
    click.echo(f"Report: {cmp.report_path}")
    click.echo(f"Table:  {Path(out) / 'comparison.json'}")


@click.command("reprocess")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--params", "params_file", type=click.Path(path_type=Path), default=None,
              help="JSON file of analysis parameters (AnalysisParams names).")
@click.option("--jobs", "-j", type=click.IntRange(min=1, max=1024), default=None,
              help="Worker processes (default: all cores).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("reprocessed"), show_default=True,
              help="Folder for the combined table, per-session CSVs and provenance.json.")
@click.option("--replace", is_flag=True, help="Delete earlier derived runs in the sessions and recompute all.")
@click.option("--no-write", is_flag=True, help="Do not modify the session files (analyse and write CSVs only).")
@click.option("--scheduler", default=None,
              help="Run on Dask distributed (needs the [dask] extra): a scheduler address (tcp://host:8786) or "
                   "'local' to start a local cluster. Dask sends pickles (which can run code) over plain, "
                   "unauthenticated TCP: use a tcp:// scheduler only on a network and cluster you control, or tls:// "
                   "(docs/compare.md).")
@click.option("--redecode", is_flag=True,
              help="Polar/Movesense sessions: decode them again from their raw notifications into "
                   "OUT/redecoded/<name>.h5 first (the originals are not modified), then analyse those.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def reprocess(paths, params_file, jobs, out_dir, replace, no_write, scheduler, quiet, redecode):
    """Re-analyse many sessions in parallel (files or folders, *.h5 recursively).

    Results go into each session (a new derived run with provenance; sessions already
    up to date with these parameters are reused unless --replace) and into OUT:
    strides.csv + strides.parquet (all strides, session metadata columns first),
    sessions.csv (status per file), sessions/<name>.strides.csv, provenance.json.

    A failing file is reported and skipped. Exit code: 0 all processed, 2 some files
    failed (the rest is written), 1 nothing could be processed.
    """
    from imugait.compare.reprocess import reprocess as run

    if scheduler:
        extras.require("dask", "imugait reprocess --scheduler", "or leave out --scheduler (local processes)")
    res = run(paths, params=params_file, jobs=jobs, out_dir=out_dir, replace=replace, write=not no_write,
              scheduler=scheduler, progress=not quiet, command="imugait reprocess " + " ".join(sys.argv[2:]),
              redecode=redecode)
    n = len(res.sessions)
    nf = len(res.failed)
    out = res.out_dir or Path(out_dir)
    click.echo(f"{n - nf}/{n} sessions processed in {res.seconds:.1f} s "
               f"({60.0 * n / res.seconds if res.seconds > 0 else float('nan'):.1f} sessions/min); "
               f"{res.n_strides} strides -> {out / 'strides.csv'}"
               + (" (+ .parquet)" if not res.provenance.get("parquet_error") else ""))
    if res.provenance.get("parquet_error"):
        click.echo(f"note: strides.parquet not written: {res.provenance['parquet_error']}", err=True)
    if nf:
        click.echo(f"WARNING: {nf} file(s) failed and were skipped (see {out / 'sessions.csv'}):", err=True)
        for r in res.failed.itertuples():
            click.echo("  " + (r.error if str(r.file) in str(r.error) else f"{r.file}: {r.error}"), err=True)
    return res.exit_code


@click.command("report")
@click.argument("session", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: <session>_report next to the file).")
@click.option("--params", "params_file", type=click.Path(path_type=Path), default=None,
              help="JSON file of analysis parameters.")
def report(session, out_dir, params_file):
    """One-page runner report: key numbers, drift over the run, left/right balance."""
    from imugait.compare import api

    extras.require("reports", "imugait report (its figures)")

    path = api.runner_report(session, out_dir=out_dir, params=params_file)
    click.echo(f"Report: {path}")


@click.command("group")
@click.argument("table", type=click.Path(path_type=Path))
@click.option("--before", "before", required=True, help="Condition label before (e.g. pre).")
@click.option("--after", "after", required=True, help="Condition label after (e.g. post).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for group.csv and group.json (default: next to the table).")
def group(table, before, after, out_dir):
    """Group study: paired before/after statistics across runners.

    TABLE is the output of `imugait reprocess` (its folder, strides.parquet or strides.csv);
    sessions need subject_id and condition (`imugait import/record --subject --condition`).
    Each runner gives one value per condition (median of the valid strides); the per-runner
    differences get a mean with 95 % t-interval, a Wilcoxon signed-rank p and Cohen's d_z.
    """
    from imugait.compare.group import group_compare, read_stride_table, source_provenance, write_group

    df = read_stride_table(table)
    res, info = group_compare(df, before, after)
    alone = "".join(f"; {k.replace('_', ' ')}: {', '.join(v)}" for k, v in info["left_out"].items() if v)
    if len(info["runners"]) < 2:
        from imugait.errors import ImugaitError

        raise ImugaitError(f"a group comparison needs at least 2 runners with both {before!r} and {after!r}; "
                           f"found {len(info['runners'])} ({', '.join(info['runners']) or 'none'}{alone}) — check "
                           "the sessions' subject ids and conditions (`imugait info FILE`), or use `imugait compare` "
                           "for one runner")
    out = out_dir or (Path(table) if Path(table).is_dir() else Path(table).parent) / (
        f"group_{outputs.safe_name(before)}_vs_{outputs.safe_name(after)}")
    write_group(res, info, out, source=source_provenance(table))
    click.echo(f"{len(info['runners'])} runner(s) with both {before!r} and {after!r}{alone}")
    for v in res["verdict"]:
        click.echo(v)
    click.echo(f"Table: {out / 'group.csv'}  ({out / 'group.json'})")
