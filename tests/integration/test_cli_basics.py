"""The command line starts, lists its commands and turns user errors into one sentence."""

import subprocess
import sys

from imugait.cli import COMMANDS
from imugait.errors import InputFileError


def run(*args):
    return subprocess.run([sys.executable, "-m", "imugait", *args], capture_output=True, text=True, timeout=120)


def test_version_and_help():
    r = run("--version")
    assert r.returncode == 0 and "imugait" in r.stdout
    r = run("--help")
    assert r.returncode == 0
    assert "Usage" in r.stdout


def test_unknown_command_fails():
    r = run("no-such-command")
    assert r.returncode != 0


def test_input_file_error_message_names_file_place_and_fix():
    e = InputFileError("left.csv", "line 14", "6 columns expected, found 4", "is this the documented CSV layout?")
    assert str(e) == "left.csv line 14: 6 columns expected, found 4 — is this the documented CSV layout?"


def test_every_registered_command_has_a_one_line_help_and_its_name():
    for name, (cmd, help_) in COMMANDS.items():
        assert cmd.name == name, name
        assert help_.endswith("."), name


def test_help_lists_every_command_without_loading_heavy_packages():
    code = ("import sys; from imugait.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('PySide6', 'matplotlib', 'dask', 'distributed', 'h5py') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for name in COMMANDS:
        assert name in r.stdout
    assert r.stdout.strip().endswith("[]"), r.stdout
