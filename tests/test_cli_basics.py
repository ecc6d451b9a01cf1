"""The command line starts, lists its commands and turns user errors into one sentence."""

import subprocess
import sys

import pytest

from imugait.cli import COMMANDS, main
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


def test_every_registered_command_points_at_a_module_path():
    for name, (mod, attr, help_) in COMMANDS.items():
        assert mod.startswith("imugait."), name
        assert help_.endswith("."), name
