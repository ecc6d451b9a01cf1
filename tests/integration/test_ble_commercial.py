"""Polar Verity Sense and Movesense end to end: virtual devices behind the emulated BlueZ,
unmodified bleak, :class:`BleSource`, and the registered engine decoders. Decoded samples
are compared with what the virtual devices measured."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

pytest.importorskip("dbus_fast", reason="the emulated BlueZ needs dbus-fast (Linux only)")

from ble_fixtures import requires_bluez
from imugait.events import InfoEvent, LinkEvent, PacketEvent
from imugait.acquire.ble import BleSource, SensorSetupError, SensorSpec
from imugait.acquire.decode import DecodedPacket
from imugait.acquire.kinds.polar import wire as P
from imugait.acquire.kinds.registry import make_decoder
from imugait.sim.bluez import EmulatedBluez, LinkProfile
from imugait.sim.virtual_commercial import VirtualMovesense, VirtualPolarVeritySense

pytestmark = [pytest.mark.ble, requires_bluez]

POLAR = "A0:9E:1A:B3:6E:4C"
MOVE = "0C:8C:DC:31:22:07"


async def _run(specs, bz, seconds, actions=()):
    events = []
    src = BleSource(specs, backoff_max_s=0.5)
    task = asyncio.create_task(src.run(events.append))
    t = 0.0
    for at, fn in sorted(actions, key=lambda a: a[0]):
        await asyncio.sleep(at - t)
        t = at
        fn()
    await asyncio.sleep(seconds - t)
    await src.stop()
    await task
    return events, src


def _decode(events, side):
    dec = None
    blocks = []
    for e in events:
        if isinstance(e, InfoEvent) and e.side == side:
            if dec is None:
                dec = make_decoder(e.info.kind, side)
            dec.set_info(e.info)
        elif isinstance(e, LinkEvent) and e.side == side and e.state == "connected" and dec is not None:
            dec.reset()
        elif isinstance(e, PacketEvent) and e.side == side:
            for item in dec.decode(e):
                if isinstance(item, DecodedPacket):
                    blocks.append(item.block)
    return blocks


def test_polar_and_movesense_stream_through_bleak():
    polar = VirtualPolarVeritySense(POLAR)
    move = VirtualMovesense(MOVE)
    with EmulatedBluez([(polar, LinkProfile(conn_interval_s=0.030, extra_latency_s=0.02)),
                        (move, LinkProfile(conn_interval_s=0.0225))]) as bz:
        events, src = asyncio.run(
            # a sensor named by name costs up to 1 s more to find (scan.NAME_SETTLE_S: two devices
            # with one name are refused, not guessed), so the link drop comes at 3 s
            _run([SensorSpec("left", POLAR, rate_hz=208), SensorSpec("right", "Movesense 220330000123", rate_hz=104)], bz, 7.0,
                 actions=[(3.0, lambda: bz.drop_link(POLAR, 0.6))])
        )
        sent_polar = [d for (_t, u, d) in bz.device_log(POLAR).sent if u == P.PMD_DATA_UUID]
    # SDK mode was needed for 208 Hz: asked for on both connections; it persists across the
    # reconnect (SdkModeExplained.md:17-19), so the second answer is "already in state"
    assert sum(r == bytes([2, 9]) for r in polar.requests) == 2
    assert [r[:4] for r in polar.responses if r[1:3] == bytes([2, 9])] == [bytes([0xF0, 2, 9, 0]), bytes([0xF0, 2, 9, 6])]
    infos = {e.side: e.info for e in events if isinstance(e, InfoEvent)}
    assert infos["left"].kind == "polar" and infos["left"].sample_rate_hz == 208
    assert infos["left"].acc_scale_mps2 == pytest.approx(8 * 9.80665 / 32768, rel=1e-9)  # range / int16
    assert infos["right"].kind == "movesense" and infos["right"].sample_rate_hz == 104
    got_polar = [e.data for e in events if isinstance(e, PacketEvent) and e.side == "left" and e.channel == "pmd_data"]
    assert got_polar == sent_polar[:len(got_polar)] and len(sent_polar) - len(got_polar) <= 1  # in order, once (the last may be cut by the stop)
    states = [e.state for e in events if isinstance(e, LinkEvent) and e.side == "left"]
    assert states[:2] == ["connecting", "connected"] and "reconnecting" in states and states[-1] == "stopped"
    assert states.count("connected") == 2

    # Polar: decoded ACC/GYRO pairs equal what the device measured
    blocks = _decode(events, "left")
    assert sum(len(b) for b in blocks) > 208  # > 1 s of pairs
    ta = np.concatenate([t for t, _c in polar.truth[P.MEAS_ACC]])
    ca = np.concatenate([c for _t, c in polar.truth[P.MEAS_ACC]])  # m/s²
    tg = np.concatenate([t for t, _c in polar.truth[P.MEAS_GYRO]])
    cg = np.concatenate([c for _t, c in polar.truth[P.MEAS_GYRO]])  # °/s
    t = np.concatenate([b.t_dev_s for b in blocks])
    i = np.searchsorted(ta, t).clip(1, len(ta) - 1)
    i = np.where(np.abs(ta[i - 1] - t) < np.abs(ta[i] - t), i - 1, i)
    assert np.max(np.abs(ta[i] - t)) < 0.05 / 208  # timestamps reconstructed to < 5 % of a period
    # 0x81 frames carry whole mG (± 0.5 mG), stored at 0.24 mG per count
    np.testing.assert_allclose(np.concatenate([b.acc_mps2 for b in blocks]), ca[i], atol=0.0075)
    j = np.abs(tg[None, :] - t[:, None]).argmin(axis=1)
    np.testing.assert_allclose(np.concatenate([b.gyr_dps for b in blocks]), cg[j], atol=0.065)
    idx = np.concatenate([b.sample_index for b in blocks])
    assert np.all(np.diff(idx) >= 1)  # index keeps running across the reconnect
    assert np.max(np.diff(idx)) > 1  # ... with the outage as a gap

    # Movesense: floats -> counts within half a count of what the device measured
    mb = _decode(events, "right")
    assert sum(len(b) for b in mb) > 104 * 3
    mt = np.concatenate([t for t, _a, _g in move.truth["IMU6"]])
    ma = np.concatenate([a for _t, a, _g in move.truth["IMU6"]])
    mg = np.concatenate([g for _t, _a, g in move.truth["IMU6"]])
    tt = np.concatenate([b.t_dev_s for b in mb])
    k = np.abs(mt[None, :] - tt[:, None]).argmin(axis=1)
    assert np.max(np.abs(mt[k] - tt)) < 0.002
    np.testing.assert_allclose(np.concatenate([b.acc_mps2 for b in mb]), ma[k], atol=0.0025)
    np.testing.assert_allclose(np.concatenate([b.gyr_dps for b in mb]), mg[k], atol=0.031)
    assert np.all(np.diff(np.concatenate([b.sample_index for b in mb])) == 1)  # nothing lost


def test_polar_refuses_unsupported_rate_in_words():
    with EmulatedBluez([VirtualPolarVeritySense(POLAR)]) as bz:
        with pytest.raises(SensorSetupError, match="Polar Verity Sense streams at"):
            asyncio.run(_run([SensorSpec("left", POLAR, rate_hz=100)], bz, 2.0))


def test_movesense_faster_than_real_time():
    """The emulator's time scale (here 3×) for paths that need no clock mapping."""
    move = VirtualMovesense(MOVE)
    with EmulatedBluez([move], time_scale=3.0) as bz:
        events, _src = asyncio.run(_run([SensorSpec("right", MOVE, rate_hz=208)], bz, 2.5))
    blocks = _decode(events, "right")
    n = sum(len(b) for b in blocks)
    t = np.concatenate([b.t_dev_s for b in blocks])
    assert n > 208 * 3  # more than 3 s of device time in < 2.5 s of wall time (minus connect)
    assert t[-1] - t[0] > 3.0
    assert np.all(np.diff(np.concatenate([b.sample_index for b in blocks])) == 1)
    mt = np.concatenate([tt for tt, _a, _g in move.truth["Acc"]])
    ma = np.concatenate([a for _t, a, _g in move.truth["Acc"]])
    k = np.abs(mt[None, :] - t[:, None]).argmin(axis=1)
    np.testing.assert_allclose(np.concatenate([b.acc_mps2 for b in blocks]), ma[k], atol=0.0025)


def test_sensor_without_its_service_is_refused_in_words():
    from ble_fixtures import PlainPeripheral

    fake = PlainPeripheral("0C:8C:DC:31:22:99", name="Movesense 000000000001")  # right name, wrong firmware
    with EmulatedBluez([fake]) as bz:
        with pytest.raises(SensorSetupError, match="GATT Sensor Data app"):
            asyncio.run(_run([SensorSpec("left", "Movesense 000000000001")], bz, 2.0))


def test_bluetooth_switched_off_mid_run_and_back():
    move = VirtualMovesense(MOVE)
    with EmulatedBluez([move]) as bz:
        events, _src = asyncio.run(_run([SensorSpec("right", MOVE, rate_hz=104)], bz, 3.6, actions=[
            (1.6, lambda: bz.set_powered(False)),
            (2.2, lambda: bz.set_powered(True)),
        ]))
    links = [e for e in events if isinstance(e, LinkEvent)]
    reasons = " | ".join(e.reason for e in links if e.state == "reconnecting")
    assert "switched off" in reasons  # said in words while waiting
    assert [e.state for e in links].count("connected") == 2 and links[-1].state == "stopped"
    t_back = [e.t_host_s for e in links if e.state == "connected"][1]
    assert any(isinstance(e, PacketEvent) and e.t_arrival_host_s > t_back for e in events)  # streaming again
