"""`imugait scan` through unmodified bleak and the emulated BlueZ; Bluetooth-unavailable cases."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

pytest.importorskip("dbus_fast", reason="the emulated BlueZ needs dbus-fast (Linux only)")

from ble_fixtures import PlainPeripheral, requires_bluez

from imugait.acquire.scan import classify, find_sensors, scan
from imugait.errors import BluetoothUnavailableError, DeviceNotFoundError
from imugait.protocol import constants as IMU
from imugait.sim.bluez import EmulatedBluez
from imugait.sim.virtual_commercial import VirtualMovesense, VirtualPolarVeritySense

pytestmark = pytest.mark.ble

POLAR = "A0:9E:1A:B3:6E:4C"
MOVE = "0C:8C:DC:31:22:07"
HRM = "F1:22:33:44:55:66"
OURS = "C0:FF:EE:00:00:AA"


def run_cli(args, env_addr, timeout=60):
    env = dict(os.environ)
    env["DBUS_SYSTEM_BUS_ADDRESS"] = env_addr
    return subprocess.run([sys.executable, "-m", "imugait", *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_classify_from_advertisements():
    assert classify("x", [IMU.SERVICE_UUID.upper()]) == "imugait"
    assert classify("Polar Sense B36E4C2A", []) == "polar"
    assert classify("Movesense 220330000123", []) == "movesense"
    assert classify("", ["34802252-7185-4d5d-b431-630e7050e8f0"]) == "movesense"
    assert classify("Polar H10 1234", [], {0x006B: b""}) == "other-polar"
    assert classify("HRM-Pro", ["0000180d-0000-1000-8000-00805f9b34fb"]) is None


@requires_bluez
def test_scan_lists_supported_sensors_with_kind_and_rssi():
    from imugait.sim.bluez_imugait import ImugaitPeripheral
    from imugait.sim.firmware import VirtualSensor, synthetic_side

    ours = ImugaitPeripheral(VirtualSensor(synthetic_side("left", duration_s=2)), OURS, rssi_dbm=-90)
    devs = [VirtualPolarVeritySense(POLAR, rssi_dbm=-55), VirtualMovesense(MOVE, rssi_dbm=-75), PlainPeripheral(HRM), ours]
    with EmulatedBluez(devs):
        found = asyncio.run(scan(1.0))
        every = asyncio.run(scan(1.0, show_all=True))
        named = asyncio.run(find_sensors([MOVE.lower(), "Polar Sense B36E4C2A"], timeout_s=3.0))
        with pytest.raises(DeviceNotFoundError, match="not found"):
            asyncio.run(find_sensors(["AA:AA:AA:AA:AA:AA"], timeout_s=0.5))
    assert [(f.address, f.kind) for f in found] == [(POLAR, "polar"), (MOVE, "movesense"), (OURS, "imugait")]  # strongest first
    assert -60 <= found[0].rssi_dbm <= -50 and found[0].name == "Polar Sense B36E4C2A"
    assert {f.address for f in every} == {POLAR, MOVE, HRM, OURS}
    assert [n.address for n in named] == [MOVE, POLAR] and named[0].device is not None


@requires_bluez
def test_scan_command_output():
    with EmulatedBluez([VirtualPolarVeritySense(POLAR), VirtualMovesense(MOVE)]) as bz:
        r = run_cli(["scan", "--timeout", "1"], bz.address)
        j = run_cli(["scan", "--timeout", "1", "--json"], bz.address)
    assert r.returncode == 0, r.stderr
    assert POLAR in r.stdout and "Polar Verity Sense" in r.stdout and "Movesense" in r.stdout
    import json

    rows = json.loads(j.stdout)
    assert {(x["address"], x["kind"]) for x in rows} == {(POLAR, "polar"), (MOVE, "movesense")}
    assert all(isinstance(x["rssi_dbm"], int) for x in rows)


def test_scan_without_system_bus_says_so(tmp_path):
    r = run_cli(["scan", "--timeout", "0.5"], f"unix:path={tmp_path}/no-such-socket")
    assert r.returncode == BluetoothUnavailableError.exit_code
    assert "Bluetooth" in r.stderr and "Traceback" not in r.stderr


@requires_bluez
@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"powered": False}, "switched off"),
        ({"adapter": False}, "no Bluetooth adapter"),
        ({"serve_bluez": False}, "service is not running"),
    ],
)
def test_scan_bluetooth_unavailable(kwargs, words):
    with EmulatedBluez([], **kwargs):
        with pytest.raises(BluetoothUnavailableError, match=words):
            asyncio.run(scan(0.5))


def test_ble_source_names_only_what_the_user_gave():
    from imugait.acquire.ble import BleSource, SensorSpec
    from imugait.errors import ImugaitError

    src = BleSource(left="a0:9e:1a:b3:6e:4c", right="Movesense 220330000123", rate_hz=208, acc_range_g=16)
    assert [(s.side, s.ident, s.rate_hz, s.acc_range_g) for s in src.specs] == [
        ("left", "a0:9e:1a:b3:6e:4c", 208, 16), ("right", "Movesense 220330000123", 208, 16)]
    one = BleSource([SensorSpec("R", "X", rate_hz=104)], rate_hz=208)
    assert one.sides == ("right",) and one.specs[0].rate_hz == 104
    with pytest.raises(ImugaitError, match="one or two sensors"):
        BleSource()
    with pytest.raises(ImugaitError, match="its own side"):
        BleSource([SensorSpec("left", "A"), SensorSpec("l", "B")])


@requires_bluez
def test_two_emulators_one_after_the_other_in_one_event_loop():
    """bleak keeps one BlueZ connection per loop; ``async with`` lets it move to the next bus."""

    async def main():
        out = []
        for k in range(2):
            async with EmulatedBluez([VirtualPolarVeritySense(f"A0:9E:1A:B3:6E:4{k}")]):
                out.append([f.address for f in await scan(0.6)])
        return out

    assert asyncio.run(main()) == [["A0:9E:1A:B3:6E:40"], ["A0:9E:1A:B3:6E:41"]]


@requires_bluez
def test_two_sensors_with_the_same_name_are_listed_not_guessed(tmp_path):
    """An impostor (or a second sensor at its factory name) seen first must not win: two
    devices with the name the user gave -> one sentence listing both addresses, non-zero exit."""
    twin = "A0:9E:1A:B3:6E:4D"
    name = "Polar Sense B36E4C2A"
    devs = [VirtualPolarVeritySense(twin, name=name, rssi_dbm=-80), VirtualPolarVeritySense(POLAR, name=name, rssi_dbm=-50)]
    with EmulatedBluez(devs) as bz:
        bz.drop_link(POLAR, duration_s=1.0)  # the genuine sensor comes into range after the impostor
        with pytest.raises(DeviceNotFoundError) as ei:
            asyncio.run(find_sensors([name], timeout_s=4.0))
        by_address = asyncio.run(find_sensors([POLAR.lower()], timeout_s=4.0))
        r = run_cli(["record", "--left", name, "--out", str(tmp_path / "x.h5"), "--duration", "2"], bz.address, timeout=120)
    msg = str(ei.value)
    assert twin in msg and POLAR in msg and "2 devices are called" in msg and "address" in msg
    assert [f.address for f in by_address] == [POLAR]
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert twin in r.stderr and POLAR in r.stderr
    assert not (tmp_path / "x.h5").exists()
