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

from imugait.acquire.kinds.pairing import TimePairer
from imugait.acquire.kinds.polar import wire as P
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
    # Polar: previous frame at 100 ns, this frame (2 samples) ends at 101 ns; their rule puts
    # sample i at prev + (i+1)·(ts-prev)/n = 100.5, 101 (PmdTimeStampUtils.kt:27,65-67). Nominal
    # rate 2 GHz (period 0.5 ns) so that our 25 % plausibility check keeps Polar's spacing.
    tl = P.PmdStreamTimeline(rate_hz=2e9)
    tl.prev_ts_ns = 100
    t, first = tl.place(f)
    assert t.tolist() == [100.5, 101.0] and first == 0  # AccDataTest.kt:258-259 (100 after Kotlin's round-half-even)
    np.testing.assert_array_equal(P.frame_units(f, 1.0), [[-15, 20, 1008], [-20, 17, 1008]])  # mG as sent


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


@pytest.mark.parametrize("meas, compressed, ftype", [(P.MEAS_ACC, True, 0), (P.MEAS_ACC, True, 1),
                                                     (P.MEAS_GYRO, True, 0), (P.MEAS_ACC, False, 1)])
def test_encode_decode_round_trip(meas, compressed, ftype):
    rng = np.random.default_rng(3)
    v = np.cumsum(rng.integers(-3000, 3000, size=(40, 3)), axis=0)
    v = np.clip(v, -32768, 32767).astype(np.int16)
    b = P.encode_frame(meas, 123456789, v, compressed=compressed, frame_type=ftype)
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


# ------------------------------------------------------------------------------------------
# Vendor vectors added for issue #11. SDK = polarofficial/polar-ble-sdk @ 8fb5311c;
# test dir T = sources/Android/android-communications/library/src/test/java/com/polar/
# androidcommunications/api/ble/model/gatt/client/pmd/
# ------------------------------------------------------------------------------------------
G = 9.80665

# SPEC = technical_documentation/Polar_Measurement_Data_Specification.pdf at 0d58c747^, page 10
SPEC_START_ACC = hx("02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")
SPEC_START_REPLY = hx("F0 02 02 00 00 05 01 40 DA 7F 39")
# SPEC p10 data frame as quoted (first bytes only); the block count byte 1D (29 samples) is set
# to 02 here: the two delta samples whose bytes the page shows
SPEC_DATA_PREFIX = hx("02 64 6C 76 C4 3C C6 7F 07 80 D0 FF 65 01 E4 0F 08 02 FC 07 FF 0C 13 F2")

# SDK issue #186 (jimmyzumthurm, 2023-09-08): a 228-byte ACC frame from a Verity Sense that was
# already streaming on connect (type 0x80; the SPEC-era FACTOR 2.44e-4 applies)
ISSUE_186 = hx(
    "02 96 5B 06 5D EE AB 7F 09 80 8E F1 B9 FB 34 FB 08 1D 2A 1A 1D 2B EE E5 ED DB F1 99 02 FB A7 F0 D7 EB 0B D7"
    " 04 19 D7 06 38 E7 34 12 10 5B 0C 36 24 07 2F 22 E7 57 DE F3 1B F2 1F 07 E4 05 F4 F4 F4 E7 FC 11 FA 0F FC"
    " F3 1A 12 04 2F FD 14 25 E8 1B 15 17 3C 01 F4 32 BA FF 13 06 FA F6 DB FA E4 AC F8 C0 AE FE BC A0 E1 E0 0A"
    " 0A EB E3 DF 3E F4 ED CB 20 80 FD FA 33 00 81 07 32 E4 FF BE 12 DA 07 91 48 FC EE 47 62 C0 0A 3F C4 AF 42"
    " FE FE A3 00 08 0A EC 1D 06 E7 2A FE E7 20 C3 E3 22 FF D0 0F E9 2B F4 01 0D 17 01 D0 08 34 E7 FA 53 CA BA"
    " 01 0A 0D BD 27 00 41 EB EA BF 6F 77 F7 B4 5F AC FB E7 E1 33 DF 7C 09 ED 5F 3F 0B FC 1B E4 62 BF 02 47 24"
    " 00 02 13 36 D8 4F 01 10 D7 13 F1 02 EE 3F 88 E0 3E")
# SDK issue #443 (giulianosrebuli, 2024-02-23): START with CHANNELS, reply F0 02 02 00 00, then a
# 227-byte 0x81 frame; here its first 48 bytes = header, reference and the first delta block
# (8 bits × 10 samples) — a complete frame on its own
ISSUE_443_FIRST_BLOCK = hx(
    "02 00 41 6F C4 12 45 93 0A 81 EE 02 1F FE 82 FF 08 0A 10 DA 20 D6 A3 0B D9 CB E7 D6 F6 C4 E6 F1 E1 F3 E0 15"
    " 1A FE 28 1B F8 37 2C 25 20 13 19 11")
# SDK issue #331 (ghup1, 2023-02-17): the first 0x81 frame after START (reply F0 02 02 00 00),
# as far as quoted (111 delta bytes); the block count 3B (59) is set to 31 (49 samples, the
# whole samples those bytes hold)
ISSUE_331_PREFIX = hx(
    "02 9c 58 29 13 84 57 73 07 81 fa ff 21 00 f4 03 06 31 83 d0 eb c6 f1 ef 3a f2 1b fd ef 07 bf 1f 00 77 0f 24 7e"
    " 30 10 41 ef 0f 3f e0 0b ff ef 0f 42 e1 03 80 00 e0 c2 50 f4 bd 0f 00 03 e0 f7 7e 40 08 42 2f 00 c0 af 17 3b"
    " a1 27 c0 b0 03 3d 30 f4 7c 6e 10 83 fe 03 bf e0 1b 43 81 f3 3e 22 00 3c 30 00 3e 20 10 7e cf ff ca ef e3 81"
    " 60 00 3f 3f 00 05 0f e8 c2 0f 0c be df 1f 80 ef 13 04 7f f7")


def test_spec_start_reply_and_data_sequence():
    assert P.cmd_start(P.MEAS_ACC, 52, 8) == SPEC_START_ACC  # rate, resolution, range, CHANNELS
    r = P.decode_cp_response(SPEC_START_REPLY)
    assert r.ok and r.op == P.OP_START and r.measurement == P.MEAS_ACC and not r.more
    assert r.factor() == pytest.approx(2.44e-4, rel=1e-3)
    f = P.decode_frame(SPEC_DATA_PREFIX)
    assert f.compressed and f.frame_type == 0
    assert f.values.tolist() == [[-48, 357, 4068], [-52, 364, 4067], [-40, 383, 4053]]  # SPEC p10
    mg = P.frame_units(f, r.factor())
    assert np.linalg.norm(mg, axis=1) == pytest.approx([996.5, 996.4, 993.4], abs=0.1)  # still: ≈ 1 g
    with pytest.raises(Truncated):  # the page's frame as quoted is a prefix, not a frame
        P.decode_frame(SPEC_DATA_PREFIX[:17] + b"\x1d" + SPEC_DATA_PREFIX[18:])


def test_acc_type0_with_factor_is_g_times_1000():
    f = P.decode_frame(ACC_COMP_T0)
    mg = P.frame_units(f, 2.44e-4)  # AccDataTest.kt:172-189: (factor × value × 1000).toInt()
    assert int(mg[0, 0]) == int(np.float32(2.44e-4) * 1905 * 1000) == 464
    assert int(mg[1, 2]) == int(2.44e-4 * (-29282 - 85) * 1000)


def test_acc_raw_type1_is_mg_without_factor():
    f = P.decode_frame(ACC_RAW_T1)
    np.testing.assert_array_equal(P.frame_units(f, 2.44e-4)[0], [-9, -1, 999])  # AccData.kt:70-89: no factor


def test_gyro_float_frame_is_multiplied_by_the_factor():
    f = P.decode_frame(GYR_COMP_T1)
    dps = P.frame_units(f, 0.5)  # GyrDataTest.kt:149-215 "with factor" 0.5
    assert dps[0].tolist() == [0.5, 5.0, 10.0]
    np.testing.assert_array_equal(P.frame_units(P.decode_frame(GYR_COMP_T0), 1.0), [[-22, 8, 13], [-23, 11, 16]])


def test_raw_gyro_frames_are_refused():
    with pytest.raises(UnknownType):  # GyrData.kt:36-38; SPEC p4 (RFU)
        P.decode_frame(hx("05 00 00 00 00 00 00 00 00 00 01 00 02 00 03 00"))


def test_timestamp_rules_of_the_sdk():
    # PmdTimeStampUtilsTest.kt:59-86 "samples time stamps based on frequency": 10 samples, 1 Hz, ts 10 s
    f = P.PmdFrame(P.MEAS_ACC, 10_000_000_000, 1, True, np.zeros((10, 3), np.int64))
    t, _ = P.PmdStreamTimeline(1.0).place(f)
    assert t.tolist() == [k * 1e9 for k in range(1, 11)]
    # PmdTimeStampUtilsTest.kt:108-140 "based on previous time stamp test 1": prev 1 s, ts 11 s
    tl = P.PmdStreamTimeline(1.0)
    tl.prev_ts_ns = 1_000_000_000
    t, _ = tl.place(P.PmdFrame(P.MEAS_ACC, 11_000_000_000, 1, True, np.zeros((10, 3), np.int64)))
    assert t.tolist() == [k * 1e9 for k in range(2, 12)]


def test_start_reply_with_factor_and_already_in_state():
    # BlePmdClientTest.kt:897-945: START reply carrying FACTOR 2.5 (IEEE-754 0x40200000)
    r = P.decode_cp_response(hx("F0 02 01 00 00 05 01") + struct.pack("<I", 0x40200000))
    assert r.ok and r.factor() == 2.5
    # BlePmdClientTest.kt:979-1008: ALREADY_IN_STATE for START ACC
    r = P.decode_cp_response(hx("F0 02 02 06 00"))
    assert r.status == P.ST_ALREADY_IN_STATE and not r.ok and r.parameters == b"" and r.factor() == 1.0
    # current Verity firmware: no FACTOR in the START reply (#331, #443) -> 1.0 (BlePMDClient.kt:75-82)
    assert P.decode_cp_response(hx("F0 02 02 00 00")).factor() == 1.0


def test_device_initiated_stop_and_chained_replies():
    # BlePmdClientTest.kt:158-218: "01" (no content) and "01 01 02" (PPG and ACC stopped)
    assert P.decode_cp_notification(hx("01")) == P.DeviceStop(())
    assert P.decode_cp_notification(hx("01 01 02")) == P.DeviceStop((1, 2))
    # BlePMDClient.kt:209-223: a reply with "more" is continued by the next one
    asm = P.CpReplyAssembler()
    assert asm.feed(P.decode_cp_response(hx("F0 01 02 00 01 00 01 34 00"))) is None
    done = asm.feed(P.decode_cp_response(hx("F0 01 02 00 00 04 01 03")))
    assert done.settings() == {P.SET_SAMPLE_RATE: [52], P.SET_CHANNELS: [3]}


def test_every_status_code_has_a_sentence():
    assert sorted(P.STATUS_NAMES) == list(range(15))  # PmdControlPointResponse.kt:15-31
    assert "charger" in P.status_advice(P.ST_DEVICE_IN_CHARGER)
    assert "busy" in P.status_advice(P.ST_INVALID_STATE)


def test_settings_security_and_measurement_type_bits():
    s = P.decode_settings(hx("00 02 34 00 A0 01 06 01") + bytes(16) + hx("05 01") + struct.pack("<f", 2.44e-4))
    assert s[P.SET_SAMPLE_RATE] == [52, 416] and s[P.SET_FACTOR][0] == pytest.approx(2.44e-4)
    f = P.decode_frame(bytes([0x82]) + ACC_COMP_T1[1:])  # recording-type bits set (PmdMeasurementType.kt:29)
    assert f.measurement == P.MEAS_ACC


@pytest.mark.parametrize("frame, n, factor, still_g", [
    (ISSUE_186, 63, 2.44e-4, True),
    (ISSUE_331_PREFIX, 50, 1.0, True),
    (ISSUE_443_FIRST_BLOCK, 11, 1.0, False),
])
def test_real_captured_frames(frame, n, factor, still_g):
    f = P.decode_frame(frame)
    assert f.n == n
    g = np.linalg.norm(P.frame_units(f, factor), axis=1) / 1000.0
    if still_g:
        assert abs(g.mean() - 1.0) < 0.05, g.mean()
    else:  # #443's sensor was moving: still about one g, not a quarter of it
        assert 0.8 < g.mean() < 1.2, g.mean()


def test_331_reference_sample_is_in_mg():
    f = P.decode_frame(ISSUE_331_PREFIX)
    assert f.values[0].tolist() == [-6, 33, 1012]  # #331: the reference of a 0x81 frame, mG


def test_decoder_uses_frame_type_units_and_pairs_by_time():
    from imugait.events import PacketEvent
    from imugait.acquire.kinds.registry import make_decoder
    from imugait.types import SensorInfo

    dec = make_decoder("polar", "left")
    dec.set_info(SensorInfo("left", "polar", 52.0, 8 * G / 32768, 2000 / 32768, 8, 2000))

    def ev(b, ch="pmd_data"):
        return PacketEvent("left", b, 1.0, ch)

    acc = np.tile([0, 0, 1000], (20, 1))  # 1000 mG
    gyr = np.tile([0, 0, 100], (20, 1))  # counts; × FACTOR 0.061 -> 6.1 °/s
    fa = P.encode_frame(P.MEAS_ACC, 10**12, acc, frame_type=1)
    fg = P.encode_frame(P.MEAS_GYRO, 10**12 + 100_000, gyr, frame_type=0)
    assert dec.decode(ev(fa)) == [] and dec.unstarted_frames == 1  # not started on this connection: dropped
    dec.decode(ev(hx("F0 02 02 00 00"), "pmd_cp"))
    dec.decode(ev(P.encode_cp_response(2, 5, 0, P.encode_settings({P.SET_FACTOR: 0.061})), "pmd_cp"))
    out = dec.decode(ev(fa)) + dec.decode(ev(fg))
    blocks = [p.block for p in out if hasattr(p, "block")]  # (and one ClockPoint per frame)
    a = np.concatenate([b.acc_mps2 for b in blocks])
    w = np.concatenate([b.gyr_dps for b in blocks])
    assert len(a) >= 19 and np.allclose(a[:, 2], G, atol=0.003) and np.allclose(w[:, 2], 6.1, atol=0.07)


def test_pairer_counts_a_lost_frame_as_a_gap():
    p = TimePairer(100.0)
    t = np.arange(50) / 100.0
    p.add_acc(np.delete(t, range(20, 30)), np.delete(np.arange(50), range(20, 30)), np.zeros((40, 3)))
    p.add_gyr(t + 0.0007, np.arange(50), np.ones((50, 3)))
    idx = np.concatenate([r.first_index + np.arange(len(r.t_dev_s)) for r in p.pop()])
    assert 20 not in idx and 30 in idx and idx[0] == 0
