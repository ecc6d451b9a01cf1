"""The ``imugait`` command line — one entry point, commands loaded lazily.

Each command lives next to the code it drives (``imugait/<area>/cli.py``) and is listed
in ``COMMANDS`` below, so ``imugait info`` does not import Qt and ``imugait --help`` is fast.
User errors (:class:`imugait.errors.ImugaitError`) print one sentence and exit non-zero;
``imugait --debug <command>`` shows the traceback as well.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from imugait import __version__
from imugait.errors import ImugaitError

# name -> (module, attribute, one-line help). Keep alphabetical within each group.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("imugait.demo", "demo", "Two simulated runs (before/after stretching) end to end."),
    "simulate": ("imugait.sim.cli", "simulate", "Write simulated thigh IMU CSVs with ground truth."),
    "scan": ("imugait.acquire.cli", "scan", "List nearby supported BLE sensors."),
    "check-sensor": ("imugait.acquire.cli", "check_sensor", "Check one sensor before a run (gravity, gyro, rate)."),
    "record": ("imugait.store.cli", "record", "Record a session to HDF5 (BLE or simulated)."),
    "import": ("imugait.store.cli", "import_cmd", "Import CSV or HuGaDB files into a session."),
    "info": ("imugait.store.cli", "info", "Summarise a session file."),
    "analyze": ("imugait.analysis.cli", "analyze", "Analyse a session or CSV files: strides and summary."),
    "live": ("imugait.live.cli", "live", "Open the live dashboard."),
    "compare": ("imugait.compare.cli", "compare", "Compare sessions before and after (e.g. stretching)."),
    "reprocess": ("imugait.compare.cli", "reprocess", "Re-analyse many sessions in parallel."),
    "report": ("imugait.compare.cli", "report", "One-page runner report for a session."),
    "group": ("imugait.compare.cli", "group", "Group study: paired before/after statistics across runners."),
    "flexor-test": ("imugait.compare.flexor_cli", "flexor_test",
                    "Hip-flexor length (modified Thomas test): guided, or on a recording."),
}


def _available(name: str) -> bool:
    mod, _attr, _help = COMMANDS[name]
    try:
        return importlib.util.find_spec(mod) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return [n for n in COMMANDS if _available(n)]

    def get_command(self, ctx, name):
        if name not in COMMANDS or not _available(name):
            return None
        mod, attr, _help = COMMANDS[name]
        return getattr(importlib.import_module(mod), attr)

    def format_commands(self, ctx, formatter):
        rows = [(n, COMMANDS[n][2]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="imugait")
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """imugait — gait analysis from thigh-worn inertial sensors.

    Start with `imugait demo`. Every command has --help.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if debug:
        os.environ["IMUGAIT_DEBUG"] = "1"


def main(argv: list[str] | None = None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:]) or os.environ.get("IMUGAIT_DEBUG") == "1"
    try:
        rv = cli.main(args=argv, prog_name="imugait", standalone_mode=False)
        if isinstance(rv, int) and rv != 0:
            sys.exit(rv)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except ImugaitError as e:
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"imugait: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
