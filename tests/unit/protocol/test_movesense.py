"""Movesense GSP codec and decoder on vectors laid out as the firmware source writes them.

Sources (alexisduque/movesense-device-lib @ 22ad815 = release 2.2.1; the same file at 07177ff):
MS-FW samples/gatt_sensordata_app/GATTSensorDataClient.cpp (.h), MS-PY
samples/gatt_sensordata_app/python_client/movesense_sensor_data.py, MS-YAML
MovesenseCoreLib/resources/movesense-api/meas/{imu,acc,gyro}.yaml. No captured notification
bytes are published; each vector below is typed byte by byte from those layouts.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from imugait.events import PacketEvent
from imugait.acquire.kinds.movesense import wire as M
from imugait.acquire.kinds.movesense.session import subscriptions_for
from imugait.acquire.kinds.registry import make_decoder
from imugait.protocol.errors import BadValue, Truncated, UnknownType
from imugait.types import SensorInfo


def imu6_104_notifications(ref=99, t_ms=5000):
    """IMU6 at 104 Hz: 8 samples (MS-PY:152) -> u32 + 8×acc + 8×gyro floats = 196 bytes
    (MS-YAML IMU6Data imu.yaml:215-237), sent as DATA (150 payload bytes, cpp:622) + DATA_PART2."""
    acc = [(0.1 * k, -0.2, 9.81) for k in range(8)]
    gyr = [(1.0, -2.0, 0.5 * k) for k in range(8)]
    payload = struct.pack("<I", t_ms) + b"".join(struct.pack("<3f", *a) for a in acc) + b"".join(
        struct.pack("<3f", *g) for g in gyr)
    assert len(payload) == 196
    return [bytes([0x02, ref]) + payload[:150], bytes([0x03, ref]) + payload[150:]], np.array(acc), np.array(gyr)


def acc_or_gyro_208(ref, t_ms, vec):
    """/Meas/Acc/208 or /Meas/Gyro/208: 16 samples (rate/13) -> 4 + 16×12 = 196 bytes (acc.yaml:116-130)."""
    payload = struct.pack("<I", t_ms) + b"".join(struct.pack("<3f", *v) for v in vec)
    return [bytes([0x02, ref]) + payload[:150], bytes([0x03, ref]) + payload[150:]]


def _dec(rate):
    d = make_decoder("movesense", "right")
    d.set_info(SensorInfo("right", "movesense", float(rate), M.ACC_SCALE_MPS2, M.GYR_SCALE_DPS, 16, 2000))
    return d


def ev(b, ch="gsp"):
    return PacketEvent("right", b, 1.0, ch)


def test_commands_and_nonzero_references():
    assert M.cmd_subscribe(99, "/Meas/IMU6/104") == b"\x01\x63/Meas/IMU6/104"  # MS-PY:186 layout
    assert M.cmd_unsubscribe(99) == b"\x02\x63"
    with pytest.raises(BadValue):
        M.cmd_subscribe(0, "/Meas/Acc/208")  # cpp:127 "not zero!"
    assert subscriptions_for(104) == [(99, "/Meas/IMU6/104")]
    assert [p for _r, p in subscriptions_for(208)] == ["/Meas/Acc/208", "/Meas/Gyro/208"]  # IMU6/208 does not fit
    assert all(r != 0 for r, _p in subscriptions_for(208))


def test_results_in_both_byte_orders_and_hello():
    assert M.parse_result(bytes([1, 7, 0x01, 0xFB])).status == 507  # cpp:235, big-endian
    assert M.parse_result(bytes([1, 7, 0xC8, 0x00])).status == 200  # newer firmware, little-endian
    assert M.parse_result(bytes([1, 7, 0x01, 0x94])).status == 404
    h = M.parse_result(bytes([1, 7]) + b"Hello")  # cpp:220
    assert h.status is None and h.text == "Hello"


def test_imu6_104_data_and_part2():
    parts, acc, gyr = imu6_104_notifications()
    d = _dec(104)
    d.decode(ev(M.cmd_subscribe(99, "/Meas/IMU6/104"), "gsp_cmd"))
    assert d.decode(ev(parts[0])) == []
    (p,) = d.decode(ev(parts[1]))
    np.testing.assert_allclose(p.block.acc_mps2, acc, atol=M.ACC_SCALE_MPS2)
    np.testing.assert_allclose(p.block.gyr_dps, gyr, atol=M.GYR_SCALE_DPS)
    np.testing.assert_allclose(p.block.t_dev_s, 5.0 + np.arange(8) / 104)
    parts2, _a, _g = imu6_104_notifications(t_ms=5000 + 77)  # the length is learnt: decoded at its last part
    assert d.decode(ev(parts2[0])) == []
    assert d.decode(ev(parts2[1]))[0].block.first_index == 8


def test_acc_and_gyro_208_are_paired_by_device_time():
    d = _dec(208)
    d.decode(ev(M.cmd_subscribe(97, "/Meas/Acc/208"), "gsp_cmd"))
    d.decode(ev(M.cmd_subscribe(98, "/Meas/Gyro/208"), "gsp_cmd"))
    out = []
    for k in range(4):
        t_ms = 1000 + round(k * 16 * 1000 / 208)
        a = [(0.0, 0.0, 9.81 + 0.01 * (16 * k + i)) for i in range(16)]
        g = [(float(16 * k + i), 0.0, 0.0) for i in range(16)]
        for part in acc_or_gyro_208(97, t_ms, a) + acc_or_gyro_208(98, t_ms, g):
            out += d.decode(ev(part))
    blocks = [p.block for p in out if hasattr(p, "block")]  # (and one ClockPoint per notification)
    acc = np.concatenate([b.acc_mps2 for b in blocks])
    gyr = np.concatenate([b.gyr_dps for b in blocks])
    assert len(acc) >= 48
    np.testing.assert_allclose((acc[:, 2] - 9.81) / 0.01, gyr[:, 0], atol=0.5)  # sample k with sample k


def test_imu6_208_never_reassembles_on_the_sample_firmware():
    rng = np.random.default_rng(0)
    payload = M.encode_payload(0, rng.normal(size=(16, 3)), rng.normal(size=(16, 3)))
    assert len(payload) == 388 > M.SAMPLE_FW_MAX_PAYLOAD
    parts = M.split_notifications(99, payload)  # the 2.2.1 sample: DATA + one cut DATA_PART2
    assert [p[0] for p in parts] == [2, 3] and len(parts[1]) == 158
    d = _dec(208)
    for p in parts:
        d.decode(ev(p))
    with pytest.raises(Truncated):
        d.decode(ev(parts[0]))  # the next DATA closes the cut payload: not a whole number of samples


def test_any_number_of_parts():
    rng = np.random.default_rng(1)
    acc, gyr = rng.normal(size=(16, 3)), rng.normal(size=(16, 3))
    parts = M.split_notifications(99, M.encode_payload(0, acc, gyr), max_parts=3)  # DATA, PART2, PART3
    assert [p[0] for p in parts] == [2, 3, 4]
    d = _dec(208)
    for p in parts:
        d.decode(ev(p))
    (p,) = d.decode(ev(parts[0]))
    np.testing.assert_allclose(p.block.acc_mps2, acc, atol=M.ACC_SCALE_MPS2)


def test_malformed_notifications():
    d = _dec(104)
    with pytest.raises(UnknownType):
        d.decode(ev(b"\x09\x01abc"))
    with pytest.raises(Truncated):
        d.decode(ev(b"\x03\x05abcd"))  # continuation without a first part
    d.decode(ev(b"\x02\x01" + struct.pack("<I", 0) + struct.pack("<6f", np.nan, 0, 0, 0, 0, 0)))
    with pytest.raises(BadValue):
        d.decode(ev(b"\x02\x01" + struct.pack("<I", 0) + struct.pack("<6f", 0, 0, 0, 0, 0, 0)))


def test_index_across_reconnect_and_epoch_on_restart():
    d = _dec(104)

    def pkt(t_ms):
        return ev(b"\x02\x63" + M.encode_payload(t_ms, np.zeros((8, 3)), np.ones((8, 3))))

    out = []
    for k in range(4):  # the first payload waits for the next DATA; then its length is known
        out += d.decode(pkt(round(50_000 + k * 8000 / 104)))
    assert [p.block.first_index for p in out] == [0, 8, 16, 24]
    d.reset()
    after = d.decode(pkt(round(50_000 + 10 * 8000 / 104)))[0]
    assert after.block.first_index == 80 and after.boot_id == 0
    reboot = d.decode(pkt(200))[0]
    assert reboot.boot_id == 1 and reboot.block.first_index == 0
