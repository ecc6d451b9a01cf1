"""`imugait live` from the command line: headless screenshot without any Qt settings, and
clear errors for bad input."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.gui


def run(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "imugait", "live", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_headless_screenshot_chooses_offscreen_by_itself(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    shot = tmp_path / "img" / "live.png"
    r = run("--simulate", "--sim-minutes", "0.5", "--screenshot", str(shot), "--duration", "4", env=env)
    assert r.returncode == 0, r.stderr
    assert shot.exists() and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_inputs_are_one_clear_sentence(tmp_path):
    r = run("--replay", str(tmp_path / "nope.h5"))
    assert r.returncode == 1
    assert "nope.h5" in r.stderr and "no such session file" in r.stderr and "Traceback" not in r.stderr
    r = run("--simulate", "--replay", str(tmp_path / "nope.h5"))
    assert r.returncode == 1 and "choose exactly one source" in r.stderr
    r = run()
    assert r.returncode == 1 and "choose exactly one source" in r.stderr
