"""`imugait check-sensor` against emulated sensors through the emulated BlueZ and unmodified
bleak: a good Polar and Movesense pass; an accelerometer 4× too small, a sensor on its charger
fail with a sentence; `--save` writes a raw capture that decodes again."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

pytest.importorskip("dbus_fast", reason="the emulated BlueZ needs dbus-fast (Linux only)")

from ble_fixtures import requires_bluez  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from imugait.acquire.check import analyse_still, check_sensor, load_capture  # noqa: E402
from imugait.cli.sensors import check_sensor as check_cmd  # noqa: E402
from imugait.acquire.decode import DecodedPacket  # noqa: E402
from imugait.acquire.kinds.registry import make_decoder  # noqa: E402
from imugait.sim.bluez import EmulatedBluez  # noqa: E402
from imugait.sim.virtual_commercial import MotionSource, VirtualMovesense, VirtualPolarVeritySense  # noqa: E402
from imugait.types import SensorInfo  # noqa: E402

pytestmark = [pytest.mark.ble, requires_bluez]

POLAR = "A0:9E:1A:B3:6E:4C"
MOVE = "0C:8C:DC:31:22:07"


def _check(periph, ident, **kw):
    with EmulatedBluez([periph]):
        return asyncio.run(check_sensor(ident, say=lambda s: None, **kw))


def test_good_polar_passes_and_save_writes_a_capture_that_decodes(tmp_path):
    polar = VirtualPolarVeritySense(POLAR, motion=MotionSource.still())
    out = tmp_path / "polar.json"
    with EmulatedBluez([polar]):
        r = CliRunner().invoke(check_cmd, [POLAR, "--save", str(out)])
    assert r.exit_code == 0, r.output
    assert "VERDICT: ready to record." in r.output and "PROBLEM" not in r.output
    assert "gravity reads 9.8" in r.output and "will record at 208 Hz" in r.output
    sensor, events = load_capture(out)
    assert sensor["kind"] == "polar" and json.loads(out.read_text())["format"] == "imugait-raw-capture"
    dec = make_decoder("polar", "left")
    dec.set_info(SensorInfo(**sensor))
    acc = np.concatenate([p.block.acc_mps2 for e in events for p in dec.decode(e) if isinstance(p, DecodedPacket)])
    assert len(acc) > 208 and abs(np.linalg.norm(acc, axis=1).mean() - 9.81) < 0.05


def test_good_movesense_passes():
    res = _check(VirtualMovesense(MOVE, motion=MotionSource.still()), "Movesense 220330000123")
    assert res.passed, [f.line() for f in res.findings]


def test_accelerometer_four_times_too_small_fails_in_words():
    res = _check(VirtualPolarVeritySense(POLAR, motion=MotionSource.still(), acc_gain=0.25), POLAR)
    assert not res.passed
    bad = [f.text for f in res.findings if not f.ok]
    assert any("about 4× too small" in t and "2.4" in t for t in bad), bad


def test_sensor_on_its_charger_fails_in_words():
    with EmulatedBluez([VirtualPolarVeritySense(POLAR, motion=MotionSource.still(), on_charger=True)]):
        r = CliRunner().invoke(check_cmd, [POLAR])
    assert r.exit_code == 1
    assert "on its charger" in r.output and "not ready" in r.output


def test_analyse_still_flags_motion_bias_and_rate():
    rng = np.random.default_rng(1)
    t = np.arange(600) / 200.0
    acc = np.tile([0, 0, 9.81], (600, 1)) + rng.normal(0, 0.02, (600, 3))
    gyr = np.tile([4.0, 0, 0], (600, 1))
    f = {x.text.split()[0]: x.ok for x in analyse_still(t, acc, gyr, 208.0)}
    assert f["gravity"] and not f["gyro"] and not f["real"]  # 200 Hz measured, 208 nominal: > 3 %
    moving = analyse_still(t, acc + rng.normal(0, 2, (600, 3)), gyr * 0, 200.0)
    assert not moving[0].ok and "moved" in moving[0].text
