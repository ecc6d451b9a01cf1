"""Run the ``imugait`` command line in this process (tests only)."""

from imugait.cli import main


def run_cli(args) -> int:
    """Run ``imugait <args>``; return the exit code (0 when the command returns normally)."""
    try:
        main([str(a) for a in args])
    except SystemExit as e:
        if e.code is None:
            return 0
        return e.code if isinstance(e.code, int) else 1
    return 0
