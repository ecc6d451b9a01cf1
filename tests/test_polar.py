"""Polar PMD codec: Polar's published test frames, hand-built frames, round trips.

Test frames re-typed (as data) from polarofficial/polar-ble-sdk, Android SDK unit tests:
  sources/Android/android-communications/library/src/test/java/com/polar/androidcommunications/
  api/ble/model/gatt/client/pmd/model/AccDataTest.kt  (commit 0aabf34a84cd3760ed5de52350a91340659ace95)
  api/ble/model/gatt/client/pmd/model/GyrDataTest.kt  (commit 1a53f05fdc78b157243760c3aebca277d9dfe8ee)
  api/ble/model/gatt/client/pmd/BlePmdClientControlPointResponseTest.kt (commit 2692dc448e7cc8bdaac65d7f6ac4f48c1aef748f)
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from imugait.protocol import polar as P
from imugait.protocol.errors import PacketError, TooShort, Truncated, UnknownType


def hx(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", ""))


# AccDataTest "process acc raw data frame type 1": header 02 | 00 94 35 77 00 00 00 00 | 01
ACC_RAW_T1 = hx(
    "02 00 94 35 77 00 00 00 00 01"
    "F7 FF FF FF E7 03 F8 FF FE FF E5 03 F9 FF FF FF E5 03 FA FF FF FF E6 03 FA FF FE FF E6 03"
    "F9 FF FF FF E5 03 F8 FF FF FF E6 03 F8 FF FE FF E6 03 FA FF FF FF E5 03 FA FF FF FF E7 03"
    "FA FF FF FF E5 03 F8 FF FF FF E6 03 F7 FF FF FF E6 03 F8 FF FE FF E6 03 F9 FF FE FF E7 03"
    "F9 FF 00 00 E6 03 F9 FF FF FF E6 03 F7 FF FE FF E5 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03"
    "FA FF 00 00 E6 03 F9 FF FE FF E6 03 F8 FF FF FF E6 03 F8 FF FF FF E5 03 F9 FF FF FF E6 03"
    "F9 FF FF FF E5 03 FA FF FF FF E6 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03 F8 FF FE FF E6 03"
    "F9 FF FF FF E6 03 F9 FF FF FF E6 03 F9 FF 00 00 E5 03 F9 FF FE FF E6 03 F8 FF FE FF E6 03"
    "F7 FF FE FF E6 03"
)

# AccDataTest "process acc compressed data type 0": header 02 | ts 2 000 000 000 | 80
ACC_COMP_T0 = hx(
    "02 00 94 35 77 00 00 00 00 80"
    "71 07 F0 6A 9E 8D 0A 38 BE 5C BE BA 2F 96 B3 EE 4B E5 AD FB 42 B9 EB BE 4C FE BA 2F 92 BF"
    "EE 4B E4 B1 FB 12 B9 EC BD 3C 3E BB 2F 8F D3 DE 4B E3 B5 F7 D2 B8 ED BD 30 7E 7B 2F 8B E3"
    "CE 8B E2 BA F7 A2 B8 EE BC 20 BE 7B 2F 88 F3 CE CB E1 BD EF 52 F8 EF BC 18 FE 3B 2F 84 03"
    "BF CB E0 C2 EF 32 B8 F0 BB 04 4E BC 2E 81 13 AF 0B E0 C6 EF F2 F7 F1 B9 FC 7D BC 2E 7D 27"
    "9F 4B DF CA EB C2 F7 F2 B8 EC CD 7C 2E 7B 37 8F 4B DE CE E3 92 F7 F3 B8 E0 0D FD 2D 77 4B"
    "7F CB DD D2 DF 62 37 F5 B7 D4 4D BD 2D 74 5B 6F CB DC D7 D7 32 37 F6 B5 C8 8D 7D 2D 71 6B"
    "4F 4B DC DC D3 F2 36 F7 B4 BC DD FD 2C 6F 7B 3F 4B DB E0 CF D2 36 F8 B2 B0 2D BE 2C 6C 8F"
    "1F CB DA E3 C7 A2 76 F9"
)

# AccDataTest "process acc compressed data type 1": ts 0x65 = 101 ns, frame type 81
ACC_COMP_T1 = hx("02 65 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 01 7B 0F 08")

# GyrDataTest "process gyro compressed data type 0": ts 0x7FFF_FFFF_FFFF_FFFF, frame type 80
GYR_COMP_T0 = hx("05 FF FF FF FF FF FF FF 7F 80 EA FF 08 00 0D 00 03 01 DF 00")

# GyrDataTest "process gyro compressed data type 1": float reference, 28-bit deltas
GYR_COMP_T1 = hx("05 00 94 35 77 00 00 00 00 81 00 00 80 3F 00 00 20 41 00 00 A0 41 1C 01 00 00 A0 01 00 00 08 CD CC EC 0D")


def f32_bits(u: int) -> float:
    return struct.unpack("<f", struct.pack("<I", u & 0xFFFFFFFF))[0]


def test_acc_raw_type1_published_frame():
    f = P.decode_frame(ACC_RAW_T1)
    assert f.measurement == P.MEAS_ACC and not f.compressed and f.frame_type == 1
    assert f.timestamp_ns == 2_000_000_000
    assert f.n == 36  # 216 payload bytes / 2 bytes / 3 channels
    assert f.values[0].tolist() == [-9, -1, 999]
    assert f.values[1].tolist() == [-8, -2, 997]
    assert f.values[-1].tolist() == [-9, -2, 998]


def test_acc_compressed_type0_published_frame():
    f = P.decode_frame(ACC_COMP_T0)
    assert f.compressed and f.frame_type == 0 and f.timestamp_ns == 2_000_000_000
    assert f.n == 1 + 56
    assert f.values[0].tolist() == [1905, 27376, -29282]
    assert f.values[1].tolist() == [1905 + 190, 27376 - 105, -29282 - 85]
    # Polar's test: factor 2.44e-4 g per count keeps every sample within the 8 g range
    assert np.all(np.abs(f.values * 2.44e-4 * 1000).astype(int) <= 8000)


def test_acc_compressed_type1_published_frame_and_timestamps():
    f = P.decode_frame(ACC_COMP_T1)
    assert f.values.tolist() == [[-15, 20, 1008], [-20, 17, 1008]]
    # Polar: previous frame at 100 ns, this frame (2 samples) ends at 101 ns -> 100, 101 ... their
    # rule puts sample i at prev + (i+1)·(ts-prev)/n: with the 25 % plausibility check against a
    # 1 GHz nominal rate (period 1 ns) we get 100.5 and 101 ns.
    tl = P.PmdStreamTimeline(rate_hz=1e9)
    tl.prev_ts_ns = 100
    t, first = tl.place(f)
    assert t[-1] == 101 and first == 0


def test_gyro_compressed_type0_published_frame():
    f = P.decode_frame(GYR_COMP_T0)
    assert f.timestamp_ns == 9223372036854775807
    assert f.values.tolist() == [[-22, 8, 13], [-23, 11, 16]]


def test_gyro_compressed_type1_float_published_frame():
    f = P.decode_frame(GYR_COMP_T1)
    assert f.values.dtype == np.float32 and f.n == 2
    assert f.values[0].tolist() == [1.0, 10.0, 20.0]
    exp1 = [f32_bits(0x3F800000 + 0x01A00000), f32_bits(0x41200000 + 0x00800000), f32_bits(0x41A00000 + 0xFDECCCCD)]
    assert f.values[1].tolist() == pytest.approx(exp1, rel=0, abs=0)


def test_control_point_response_published():
    r = P.decode_cp_response(hx("F0 01 02 00 00 FF FF FF"))
    assert (r.op, r.measurement, r.status, r.more, r.parameters) == (1, 2, 0, False, b"\xff\xff\xff")
    assert r.ok
    r = P.decode_cp_response(hx("F0 01 06 07 00"))
    assert r.measurement == 6 and r.status == P.ST_INVALID_RESOLUTION and not r.ok and r.parameters == b""
    assert r.status_name == "invalid resolution"


def test_hand_built_delta_frame_bit_packing():
    # Reference (1, -1, 300); one block of width 4 with two samples:
    # deltas (+1, -2, +7) then (-8, 0, +3); 4-bit two's complement LSB-first:
    # values 1,E,7,8,0,3 -> nibbles packed low first: 0xE1, 0x87, 0x30
    frame = hx("05 10 00 00 00 00 00 00 00 80 01 00 FF FF 2C 01 04 02 E1 87 30")
    f = P.decode_frame(frame)
    assert f.values.tolist() == [[1, -1, 300], [2, -3, 307], [-6, -3, 310]]


@pytest.mark.parametrize("meas", [P.MEAS_ACC, P.MEAS_GYRO])
@pytest.mark.parametrize("compressed", [True, False])
def test_encode_decode_round_trip(meas, compressed):
    rng = np.random.default_rng(3)
    v = np.cumsum(rng.integers(-3000, 3000, size=(40, 3)), axis=0)
    v = np.clip(v, -32768, 32767).astype(np.int16)
    b = P.encode_frame(meas, 123456789, v, compressed=compressed)
    f = P.decode_frame(b)
    assert f.compressed == compressed and f.measurement == meas and f.timestamp_ns == 123456789
    np.testing.assert_array_equal(f.values, v)


def test_encode_long_frame_splits_delta_blocks():
    v = np.zeros((600, 3), dtype=np.int16)
    v[:, 0] = np.arange(600) % 50
    f = P.decode_frame(P.encode_frame(P.MEAS_ACC, 1, v))
    np.testing.assert_array_equal(f.values, v)


@pytest.mark.parametrize(
    "data, err",
    [
        (b"", TooShort),
        (hx("02 00 00 00 00 00 00 00"), TooShort),
        (hx("07 00 00 00 00 00 00 00 00 00 01 02"), UnknownType),  # unknown measurement
        (hx("02 00 00 00 00 00 00 00 00 09 01 02 03"), UnknownType),  # unknown frame type
        (hx("02 00 00 00 00 00 00 00 00 01 01 02 03"), Truncated),  # raw: 3 bytes, sample = 6
        (hx("02 00 00 00 00 00 00 00 00 81 01 00 02"), Truncated),  # cut reference
        (hx("02 00 00 00 00 00 00 00 00 81 01 00 02 00 03 00 08 04 FF"), Truncated),  # cut deltas
        (hx("02 00 00 00 00 00 00 00 00 81 01 00 02 00 03 00 00 01"), PacketError),  # width 0
    ],
)
def test_malformed_frames_raise_typed_errors(data, err):
    with pytest.raises(err) as ei:
        P.decode_frame(data)
    assert ei.value.protocol == "polar" and ei.value.reason


def test_settings_and_commands():
    cmd = P.cmd_start(P.MEAS_ACC, sample_rate_hz=416, range_units=8)
    req = P.decode_cp_request(cmd)
    assert req.op == P.OP_START and req.measurement == P.MEAS_ACC
    assert req.settings == {P.SET_SAMPLE_RATE: [416], P.SET_RESOLUTION: [16], P.SET_RANGE: [8]}
    assert P.cmd_sdk_mode(True) == bytes([2, 9]) and P.cmd_sdk_mode(False) == bytes([3, 9])
    s = P.decode_settings(hx("00 02 34 00 A0 01 05 01") + struct.pack("<f", 2.44e-4))
    assert s[P.SET_SAMPLE_RATE] == [52, 416] and s[P.SET_FACTOR][0] == pytest.approx(2.44e-4)


def _frames(meas, t0_ns, n_frames, per, rate, vals, phase_ns=0):
    out = []
    period = 1e9 / rate
    for k in range(n_frames):
        last = (k + 1) * per - 1
        ts = int(round(t0_ns + phase_ns + last * period))
        out.append(P.encode_frame(meas, ts, vals[k * per : (k + 1) * per]))
    return out


def test_decoder_pairs_acc_gyro_and_counts_lost_frame_as_gap():
    rate, per, nf = 208.0, 10, 12
    rng = np.random.default_rng(0)
    acc = rng.integers(-2000, 2000, size=(per * nf, 3)).astype(np.int16)
    gyr = rng.integers(-2000, 2000, size=(per * nf, 3)).astype(np.int16)
    fa = _frames(P.MEAS_ACC, 10**12, nf, per, rate, acc)
    fg = _frames(P.MEAS_GYRO, 10**12, nf, per, rate, gyr, phase_ns=700_000)  # 0.7 ms later
    del fa[5]  # one ACC frame lost on the link
    dec = P.PolarDecoder("left", P.PolarSettings(rate_hz=rate))
    blocks = []
    for a, g in zip(fa + [None], fg):
        if a is not None:
            blocks += dec.feed(a)
        blocks += dec.feed(g)
    idx = np.concatenate([b.sample_index for b in blocks])
    got_acc = np.concatenate([b.acc_counts for b in blocks])
    got_gyr = np.concatenate([b.gyr_counts for b in blocks])
    expected = np.array([i for i in range(per * nf) if not (50 <= i < 60)])
    np.testing.assert_array_equal(idx, expected)  # exact gap of 10 samples at 50..59
    np.testing.assert_array_equal(got_acc, acc[expected])
    np.testing.assert_array_equal(got_gyr, gyr[expected])
    assert dec.tl[P.MEAS_ACC].missing_samples == 10
    assert blocks[0].acc_scale_mps2 == pytest.approx(2.44e-4 * 9.80665)
    t = np.concatenate([b.t_dev_s for b in blocks])
    np.testing.assert_allclose(np.diff(t)[:40], 1 / rate, rtol=1e-6)


def test_engine_decoder_keeps_index_across_reconnect_and_new_epoch_on_clock_reset():
    from imugait.acquire.base import PacketEvent
    from imugait.acquire.decode import make_decoder
    from imugait.types import SensorInfo

    rate, per = 52.0, 4
    dec = make_decoder("polar", "left")
    dec.set_info(SensorInfo("left", "polar", rate, 2.44e-4 * 9.80665, 0.061, 8, 2000))
    v = np.arange(per * 3 * 20, dtype=np.int16).reshape(-1, 3)

    def frames(t0_ns, k0, n_frames):
        out = []
        for k in range(k0, k0 + n_frames):
            ts = int(t0_ns + ((k + 1) * per - 1) * 1e9 / rate)
            chunk = v[(k % 20) * per:(k % 20 + 1) * per]
            out += [P.encode_frame(P.MEAS_ACC, ts, chunk), P.encode_frame(P.MEAS_GYRO, ts + 100_000, chunk)]
        return out

    def feed(fr):
        out = []
        for b in fr:
            out += dec.decode(PacketEvent("left", b, 0.0, "pmd_data"))
        return out

    a = feed(frames(10**12, 0, 5))
    dec.reset()  # reconnect: 3 frames (12 samples) were never measured/sent
    b = feed(frames(10**12, 8, 3))
    idx_a = np.concatenate([p.block.sample_index for p in a])
    idx_b = np.concatenate([p.block.sample_index for p in b])
    assert idx_b[0] - idx_a[-1] - 1 == 3 * per  # the outage is one exact gap
    assert {p.boot_id for p in a + b} == {0} and all(p.seq is None for p in a + b)
    c = feed(frames(10**10, 0, 2))  # device clock restarted far in the past
    assert {p.boot_id for p in c} == {1} and c[0].block.first_index == 0
