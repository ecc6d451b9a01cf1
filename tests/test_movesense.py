"""Movesense GSP / IMU6 codec, with frames built by hand from the protocol description
(Movesense "gatt_sensordata_app": command [op][ref][path], data [0x02][ref][u32 ms][floats],
continuation [0x03][ref][rest])."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from imugait.protocol import movesense as M
from imugait.protocol.errors import BadValue, TooShort, Truncated, UnknownType


def test_subscribe_command_bytes():
    assert M.cmd_subscribe(1, M.imu6_path(104)) == b"\x01\x01/Meas/IMU6/104"
    assert M.cmd_unsubscribe(1) == b"\x02\x01"
    c = M.decode_command(b"\x01\x07/Meas/IMU6/208")
    assert (c.op, c.ref, c.path) == (1, 7, "/Meas/IMU6/208")
    with pytest.raises(BadValue):
        M.imu6_path(100)


def hand_built_packet():
    # ref 1, timestamp 1000 ms, 2 samples: acc (1, 2, 9.81) and (-1.5, 0, 9.5) m/s²;
    # gyro (10, -20, 0.5) and (0, 0, -2000) deg/s
    ts = struct.pack("<I", 1000)
    acc = struct.pack("<6f", 1.0, 2.0, 9.81, -1.5, 0.0, 9.5)
    gyr = struct.pack("<6f", 10.0, -20.0, 0.5, 0.0, 0.0, -2000.0)
    return b"\x02\x01" + ts + acc + gyr


def test_hand_built_imu6_packet_decodes():
    d = M.MovesenseDecoder("right", rate_hz=104)
    (blk,) = d.feed(hand_built_packet(), t_arrival_host_s=5.0)
    assert blk.n == 2 and blk.first_index == 0 and blk.side == "right" and blk.seq == -1
    np.testing.assert_allclose(blk.acc_mps2, [[1, 2, 9.81], [-1.5, 0, 9.5]], atol=M.ACC_SCALE_MPS2 / 2 + 1e-6)
    np.testing.assert_allclose(blk.gyr_dps, [[10, -20, 0.5], [0, 0, -2000]], atol=M.GYR_SCALE_DPS / 2 + 1e-6)
    np.testing.assert_allclose(blk.t_dev_s, [1.0, 1.0 + 1 / 104])
    assert blk.t_arrival_host_s == 5.0


def test_continuation_parts_are_joined():
    rng = np.random.default_rng(1)
    acc = rng.normal(0, 20, (16, 3))
    gyr = rng.normal(0, 300, (16, 3))
    parts = M.encode_imu6(3, 77, acc, gyr, mtu_payload=244)
    assert len(parts) == 2 and parts[0][0] == 0x02 and parts[1][0] == 0x03
    d = M.MovesenseDecoder("left", rate_hz=208, ref=3)
    assert d.feed(parts[0]) == []
    (blk,) = d.feed(parts[1])
    assert blk.n == 16
    np.testing.assert_allclose(blk.acc_mps2, acc.astype(np.float32), atol=M.ACC_SCALE_MPS2)


def test_lost_packet_counted_from_timestamps():
    rate = 104
    d = M.MovesenseDecoder("left", rate_hz=rate)
    firsts = []
    for k in range(6):
        if k == 3:
            continue  # lost on the link
        t_ms = int(round(500 + k * 8 * 1000 / rate))
        (b,) = d.feed(M.encode_imu6(1, t_ms, np.zeros((8, 3)), np.zeros((8, 3)))[0])
        firsts.append(b.first_index)
    assert firsts == [0, 8, 16, 32, 40]
    assert d.missing_samples == 8


def test_result_and_errors():
    d = M.MovesenseDecoder("left")
    assert d.feed(M.encode_result(1, 200)) == []
    assert d.results == [(1, 200)]
    with pytest.raises(TooShort):
        d.feed(b"\x02")
    with pytest.raises(UnknownType):
        d.feed(b"\x09\x01abc")
    with pytest.raises(Truncated):
        d.feed(b"\x03\x01abcd")  # continuation without a first part
    with pytest.raises(BadValue):
        d.feed(b"\x02\x01" + struct.pack("<I", 0) + struct.pack("<6f", np.nan, 0, 0, 0, 0, 0))
    # a first part that is not a whole payload waits; a new DATA replaces it
    assert d.feed(b"\x02\x01" + b"\x00" * 30) == []
    (blk,) = d.feed(hand_built_packet())
    assert blk.n == 2


def test_saturation_at_documented_range():
    d = M.MovesenseDecoder("left")
    (blk,) = d.feed(M.encode_imu6(1, 0, [[400.0, 0, 0]], [[5000.0, 0, 0]])[0])
    assert blk.acc_counts[0, 0] == 32767 and blk.gyr_counts[0, 0] == 32767


def test_engine_decoder_epochs_and_reconnect():
    from imugait.acquire.base import PacketEvent
    from imugait.acquire.decode import make_decoder
    from imugait.types import SensorInfo

    dec = make_decoder("movesense", "right")
    dec.set_info(SensorInfo("right", "movesense", 104.0, M.ACC_SCALE_MPS2, M.GYR_SCALE_DPS, 16, 2000))

    def pkt(t_ms):
        return PacketEvent("right", M.encode_imu6(99, t_ms, np.zeros((8, 3)), np.ones((8, 3)))[0], 1.0, "gsp")

    firsts = [dec.decode(pkt(int(round(50_000 + k * 8000 / 104))))[0].block.first_index for k in (0, 1, 2)]
    dec.reset()
    after = dec.decode(pkt(int(round(50_000 + 10 * 8000 / 104))))[0]
    assert firsts == [0, 8, 16] and after.block.first_index == 80 and after.boot_id == 0
    reboot = dec.decode(pkt(200))[0]  # the sensor's ms clock restarted
    assert reboot.boot_id == 1 and reboot.block.first_index == 0
    assert dec.decode(PacketEvent("right", M.encode_result(99, 200), 1.0, "gsp")) == []
