"""The emulated sensors behave as the vendors' sources say (no BLE needed for most), and the
host copes: silent sensor reported and retried, device-initiated stop restarted, a recording
with a silent named sensor does not end with exit 0."""

from __future__ import annotations

import asyncio

import pytest

from imugait.acquire.kinds.movesense import wire as M
from imugait.acquire.kinds.polar import wire as P
from imugait.sim.virtual_commercial import MotionSource, VirtualMovesense, VirtualPolarVeritySense

POLAR = "A0:9E:1A:B3:6E:4C"
MOVE = "0C:8C:DC:31:22:07"


def _cp(v, cmd, t):
    return P.decode_cp_response(v.write(P.PMD_CP_UUID, cmd, t)[0][1])


def test_polar_emulator_refuses_start_without_channels_and_orders_sdk_mode():
    v = VirtualPolarVeritySense(POLAR)
    no_channels = bytes([2, 2]) + P.encode_settings({P.SET_SAMPLE_RATE: 52, P.SET_RESOLUTION: 16, P.SET_RANGE: 8})
    assert _cp(v, no_channels, 0.0).status == P.ST_INVALID_PARAMETER
    assert _cp(v, P.cmd_start(P.MEAS_ACC, 52, 8), 0.0).ok
    assert _cp(v, P.cmd_sdk_mode(True), 0.1).status == P.ST_INVALID_STATE  # a stream runs
    assert _cp(v, P.cmd_stop(P.MEAS_ACC), 0.2).ok
    assert _cp(v, P.cmd_sdk_mode(True), 0.3).ok
    r = _cp(v, P.cmd_start(P.MEAS_ACC, 208, 8), 0.35)  # 50 ms after SDK mode: accepted ...
    assert r.ok and r.parameters == b""  # 0x81 firmware: no FACTOR
    assert v.poll(2.0) == []  # ... but nothing streams (#395)
    v.streams.clear()
    assert _cp(v, P.cmd_start(P.MEAS_ACC, 208, 8), 2.5).ok
    frames = [d for _u, d in v.poll(5.0)]
    assert frames and all(len(f) <= 229 and f[9] == 0x81 for f in frames)
    v.on_disconnect(5.0)  # the stream keeps running on the next connection (#186)
    assert v.streams and v.sdk_mode


def test_polar_emulator_on_charger_and_device_stop():
    v = VirtualPolarVeritySense(POLAR, on_charger=True)
    assert _cp(v, P.cmd_start(P.MEAS_ACC, 52, 8), 0.0).status == P.ST_DEVICE_IN_CHARGER
    v = VirtualPolarVeritySense(POLAR)
    _cp(v, P.cmd_start(P.MEAS_ACC, 52, 8), 0.0)
    v.device_stop()
    out = v.poll(0.5)
    assert (P.PMD_CP_UUID, bytes([1, 2, 5])) in out and not v.streams


def test_movesense_emulator_is_silent_on_subscribe_and_says_507_big_endian():
    v = VirtualMovesense(MOVE)
    assert v.write(M.GSP_WRITE_UUID, M.cmd_hello(5), 0.0) == [(M.GSP_NOTIFY_UUID, b"\x01\x05Hello")]
    for ref in (1, 2, 3, 4):
        assert v.write(M.GSP_WRITE_UUID, M.cmd_subscribe(ref, "/Meas/Acc/52"), 0.0) == []
    assert v.write(M.GSP_WRITE_UUID, M.cmd_subscribe(9, "/Meas/Gyro/52"), 0.0) == [(M.GSP_NOTIFY_UUID, b"\x01\x09\x01\xfb")]
    assert v.write(M.GSP_WRITE_UUID, M.cmd_subscribe(9, "/Nope"), 0.0) == [(M.GSP_NOTIFY_UUID, b"\x01\x09\x01\xfb")]
    v.on_disconnect(1.0)
    assert v.write(M.GSP_WRITE_UUID, M.cmd_subscribe(9, "/Nope"), 1.0) == []  # a bad path: silent


pytest.importorskip("dbus_fast", reason="the emulated BlueZ needs dbus-fast (Linux only)")

from ble_fixtures import requires_bluez  # noqa: E402

from imugait.events import LinkEvent  # noqa: E402
from imugait.acquire.ble import BleSource, SensorSpec  # noqa: E402
from imugait.sim.bluez import EmulatedBluez  # noqa: E402
from imugait.app.record import RecordOptions, run_record  # noqa: E402


@requires_bluez
@pytest.mark.ble
def test_device_initiated_stop_is_restarted():
    polar = VirtualPolarVeritySense(POLAR, motion=MotionSource.still())
    events = []
    with EmulatedBluez([polar]):
        async def main():
            src = BleSource([SensorSpec("left", POLAR, rate_hz=208)], backoff_max_s=0.5)
            task = asyncio.create_task(src.run(events.append))
            await asyncio.sleep(3.0)
            polar.device_stop()
            await asyncio.sleep(4.0)
            await src.stop()
            await task
        asyncio.run(main())
    links = [e for e in events if isinstance(e, LinkEvent)]
    assert any("stopped its ACC and GYRO stream by itself" in e.reason for e in links if e.state == "reconnecting")
    assert [e.state for e in links].count("connected") == 2
    assert sum(r == P.cmd_start(P.MEAS_ACC, 208, 8) for r in polar.requests) == 2


@requires_bluez
@pytest.mark.ble
@pytest.mark.slow
def test_a_silent_named_sensor_is_reported_and_the_recording_does_not_end_with_exit_0(tmp_path, capsys):
    polar = VirtualPolarVeritySense(POLAR, motion=MotionSource.still())
    polar.SDK_SETTLE_S = 1e9  # every START is "accepted" and never streams
    move = VirtualMovesense(MOVE, motion=MotionSource.still())
    out = tmp_path / "silent.h5"
    with EmulatedBluez([polar, move]):
        src = BleSource([SensorSpec("left", POLAR, rate_hz=208), SensorSpec("right", MOVE, rate_hz=104)],
                        backoff_max_s=0.5)
        code = run_record(RecordOptions(out=out, duration_s=9.0, quiet=True, analyze_after=False), source=src)
    err = capsys.readouterr().err
    assert code == 1
    assert "no data within" in err and "left sensor delivered no samples" in err
    assert sum(r == P.cmd_start(P.MEAS_ACC, 208, 8) for r in polar.requests) >= 2  # retried
