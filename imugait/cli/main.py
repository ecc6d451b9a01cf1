"""The ``imugait`` command line — one entry point.

Each command lives in this package (``imugait/cli/<job>.py``, see :mod:`imugait.cli`) and is
listed in ``COMMANDS`` below. Command modules import only click and light helpers at the top; the
work (numpy, h5py, Qt …) is imported when a command runs, so ``imugait --help`` is fast and
``imugait info`` never loads Qt. Optional parts (Qt, Dask, matplotlib, pyarrow) are checked
with :mod:`imugait.extras`, which names the ``pip install "imugait[extra]"`` line.
User errors (:class:`imugait.errors.ImugaitError`) print one sentence and exit non-zero;
``imugait --debug <command>`` shows the traceback as well.
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings

import click

from imugait._version import __version__
from imugait.cli.sensors import check_sensor, scan
from imugait.cli.analyze import analyze
from imugait.cli.compare import compare, group, report, reprocess
from imugait.cli.flexor_test import flexor_test
from imugait.demo import demo
from imugait.errors import ImugaitError, describe_os_error, file_write_error
from imugait.inputcheck import InputWarning
from imugait.cli.live import live
from imugait.cli.simulate import simulate
from imugait.cli.sessions import import_cmd, info, record

# name -> (command, one-line help), in the order `imugait --help` lists them.
COMMANDS: dict[str, tuple[click.Command, str]] = {
    "demo": (demo, "Two simulated runs (before/after stretching) end to end."),
    "simulate": (simulate, "Write simulated thigh IMU CSVs with ground truth."),
    "scan": (scan, "List nearby supported BLE sensors."),
    "check-sensor": (check_sensor, "Check one sensor before a run (gravity, gyro, rate)."),
    "record": (record, "Record a session to HDF5 (BLE or simulated)."),
    "import": (import_cmd, "Import CSV or HuGaDB files into a session."),
    "info": (info, "Summarise a session file."),
    "analyze": (analyze, "Analyse a session or CSV files: strides and summary."),
    "live": (live, "Open the live dashboard (needs the [live] extra)."),
    "compare": (compare, "Compare sessions before and after (e.g. stretching)."),
    "reprocess": (reprocess, "Re-analyse many sessions in parallel."),
    "report": (report, "One-page runner report for a session."),
    "group": (group, "Group study: paired before/after statistics across runners."),
    "flexor-test": (flexor_test, "Hip-flexor length (modified Thomas test): guided, or on a recording."),
}


class _Group(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        entry = COMMANDS.get(name)
        return entry[0] if entry else None

    def format_commands(self, ctx, formatter):
        with formatter.section("Commands"):
            formatter.write_dl([(n, h) for n, (_c, h) in COMMANDS.items()])


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
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


def _format_warning(message, category, filename, lineno, line=None):
    """Input warnings are sentences for the user: one plain line, no source location."""
    if issubclass(category, InputWarning):
        return f"warning: {message}\n"
    return _plain_format(message, category, filename, lineno, line)


_plain_format = warnings.formatwarning


def main(argv: list[str] | None = None) -> None:
    warnings.formatwarning = _format_warning
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
            traceback.print_exc()
        click.echo(f"imugait: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except OSError as e:  # a full disk, a read-only folder ... anywhere: one sentence, exit 1
        if debug:
            traceback.print_exc()
        if e.filename:
            click.echo(f"imugait: {file_write_error(e.filename, 'be accessed', e)}", err=True)
        else:
            what, fix = describe_os_error(e)
            click.echo(f"imugait: cannot write or read a file — {what} ({fix})", err=True)
        sys.exit(1)
