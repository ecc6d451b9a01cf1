#!/usr/bin/env python3
"""Regenerate ``golden_vectors.json`` (run from the repository root).

The vectors are frozen in git: tests decode every ``hex`` and compare with ``expected``
(or the expected error class), and re-encode the valid ones. Regenerate only when the
protocol version changes — a diff in this file is a wire-format change.

    .venv/bin/python firmware_protocol/make_golden_vectors.py
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imugait.protocol import constants as C  # noqa: E402
from imugait.protocol import imu  # noqa: E402
from imugait.protocol.errors import PacketError  # noqa: E402

OUT = Path(__file__).with_name("golden_vectors.json")
DECODERS = {
    "data": imu.decode_data,
    "info": imu.decode_info,
    "status": imu.decode_status,
    "control_request": imu.decode_control_request,
    "control_response": imu.decode_control_response,
}


def expected_of(message: str, obj) -> dict:
    if message == "data":
        return {
            "version": obj.version,
            "header_len": obj.header_len,
            "flags": obj.flags,
            "count": obj.n,
            "seq": obj.seq,
            "boot_id": obj.boot_id,
            "first_index": obj.first_index,
            "t_dev_us": obj.t_dev_us,
            "tx_delay_us": obj.tx_delay_us,
            "acc_counts": obj.acc_counts.tolist(),
            "gyr_counts": obj.gyr_counts.tolist(),
        }
    if message in ("info", "status"):
        from dataclasses import asdict

        return asdict(obj)
    if message == "control_request":
        return {"opcode": obj.opcode, "name": obj.name, "token": obj.token, "fields": obj.fields}
    return {"opcode": obj.opcode, "token": obj.token, "status": obj.status, "status_name": obj.status_name, "fields": obj.fields}


def main() -> None:
    V: list[tuple[str, str, bytes, str]] = []  # name, message, bytes, note

    def add(name, message, b, note=""):
        V.append((name, message, bytes(b), note))

    # ---------------- DATA ----------------
    # 1 sample laid out by hand, field by field (independent of the encoder)
    hand = (
        bytes([1, 20, C.DATA_FLAG_FIRST, 1])
        + struct.pack("<H", 0)
        + struct.pack("<H", 0x1234)
        + struct.pack("<I", 0)
        + struct.pack("<Q", 0)
        + struct.pack("<6h", 100, -200, 16384, -1, 0, 32767)
    )
    add("data_1_sample_by_hand", "data", hand, "first packet after START, one sample")
    acc = np.array([[1, 2, 3], [-4, -5, -6], [32767, -32768, 0], [10, 20, 30]], dtype=np.int16)
    gyr = np.array([[-7, 8, -9], [0, 0, 0], [-32768, 32767, 1], [40, 50, 60]], dtype=np.int16)
    add(
        "data_4_samples_wrap_points",
        "data",
        imu.encode_data(65535, 4294967290, 4_000_000_000_123, acc, gyr, boot_id=0xBEEF, flags=C.DATA_FLAG_BACKLOG),
        "seq at 65535 and first_index 6 below 2**32 (both about to wrap), timestamp above 2**32 µs, backlog flag",
    )
    rng = np.random.default_rng(20261124)
    for n, note in ((13, "full packet at MTU 185"), (18, "full packet at MTU 247")):
        a = rng.integers(-32768, 32768, size=(n, 3)).astype(np.int16)
        g = rng.integers(-32768, 32768, size=(n, 3)).astype(np.int16)
        add(f"data_{n}_samples", "data", imu.encode_data(n * 7, 1000 * n, 5_000_000 + n, a, g, boot_id=42), note)
    add(
        "data_extended_header",
        "data",
        imu.encode_data(5, 10, 20, acc[:2], gyr[:2], boot_id=1, header_extra=b"\xaa\xbb\xcc\xdd"),
        "header_len 24: tx_delay_us extension (0xBBAA = 48042 µs) plus 2 bytes of a future minor version that a v1 decoder skips",
    )
    add(
        "data_tx_delay_extension",
        "data",
        imu.encode_data(900, 3600, 18_000_000, acc[:4], gyr[:4], boot_id=77, tx_delay_us=17_321),
        "v1 header extension: header_len 22, u16 tx_delay_us at offset 20 (last sample -> hand-off to the stack)",
    )
    add(
        "data_tx_delay_unknown",
        "data",
        imu.encode_data(901, 3604, 18_020_000, acc[:4], gyr[:4], boot_id=77, header_extra=b"\xff\xff"),
        "tx_delay_us 0xFFFF = unknown (decodes as null)",
    )
    add(
        "data_reserved_flags",
        "data",
        imu.encode_data(6, 12, 30, acc[:1], gyr[:1], boot_id=1, flags=0xF0 | C.DATA_FLAG_SATURATED),
        "reserved flag bits set by a newer device are ignored",
    )

    # ---------------- INFO ----------------
    add(
        "info_left_200hz",
        "info",
        imu.encode_info(
            side="left", sample_rate_hz=200, acc_scale_mps2=16 * 9.80665 / 32768, gyr_scale_dps=2000 / 32768,
            acc_range_g=16, gyr_range_dps=2000, fifo_capacity_samples=1024, samples_per_packet=4, boot_id=0x1234,
            firmware="imugait-fw 1.0.0", serial="IG-000123", mounting="lateral thigh, 10 cm above knee",
        ),
    )
    add(
        "info_unknown_side_52_083hz",
        "info",
        imu.encode_info(
            side="unknown", sample_rate_hz=52.083, acc_scale_mps2=0.000598, gyr_scale_dps=0.00875,
            acc_range_g=2, gyr_range_dps=250, fifo_capacity_samples=512, samples_per_packet=2, boot_id=7,
            firmware="0.9", serial="", mounting="",
        ),
        "fractional rate (Hz x 1000 on the wire), empty strings",
    )
    add(
        "info_right_trailing_bytes",
        "info",
        imu.encode_info(
            side="right", sample_rate_hz=400, acc_scale_mps2=8 * 9.80665 / 32768, gyr_scale_dps=1000 / 32768,
            acc_range_g=8, gyr_range_dps=1000, fifo_capacity_samples=2048, samples_per_packet=8, boot_id=65535,
            firmware="esp32 2.1", serial="AB:CD", mounting="anterior",
        )
        + b"\x01\x02\x03",
        "trailing bytes from a newer minor version are ignored",
    )

    # ---------------- STATUS ----------------
    add(
        "status_streaming_charging",
        "status",
        imu.encode_status(flags=C.STATUS_FLAG_STREAMING | C.STATUS_FLAG_CHARGING, battery_pct=87, boot_id=0x1234,
                          fifo_fill_samples=12, dropped_samples=0, t_dev_us=123_456_789),
    )
    add(
        "status_overflow_unknown_battery",
        "status",
        imu.encode_status(flags=C.STATUS_FLAG_STREAMING | C.STATUS_FLAG_FIFO_OVERFLOW | C.STATUS_FLAG_LINK_BACKLOG,
                          battery_pct=None, boot_id=3, fifo_fill_samples=400, dropped_samples=1234, t_dev_us=2**40),
    )

    # ---------------- CONTROL ----------------
    add("control_start", "control_request", imu.cmd_start(token=1))
    add("control_stop", "control_request", imu.cmd_stop(token=2))
    add("control_set_rate_416", "control_request", imu.cmd_set_rate(416, token=3))
    add("control_set_range", "control_request", imu.cmd_set_range(8, 1000, token=4))
    add("control_time_sync", "control_request", imu.cmd_time_sync(0xDEADBEEF, token=5))
    add("control_identify", "control_request", imu.cmd_identify(3, token=6))
    add("control_set_side", "control_request", imu.cmd_set_side("right", token=7))
    add("response_start_ok", "control_response", imu.encode_control_response(C.OP_START, 1, boot_id=0x1234, next_index=0))
    add("response_time_sync_ok", "control_response",
        imu.encode_control_response(C.OP_TIME_SYNC, 5, nonce=0xDEADBEEF, t_dev_us=98_765_432_100))
    add("response_set_rate_ok", "control_response", imu.encode_control_response(C.OP_SET_RATE, 3, rate_hz=416.0))
    add("response_set_rate_bad_value", "control_response", imu.encode_control_response(C.OP_SET_RATE, 3, C.ST_BAD_VALUE),
        "error responses carry no payload")
    add("response_set_rate_invalid_state", "control_response",
        imu.encode_control_response(C.OP_SET_RATE, 9, C.ST_INVALID_STATE), "rate change while streaming")
    add("response_unknown_opcode", "control_response", bytes([0xF0, 0x7F, 8, C.ST_UNKNOWN_OPCODE]))
    add("response_start_mtu_too_small", "control_response", imu.encode_control_response(C.OP_START, 1, C.ST_MTU_TOO_SMALL))

    # ---------------- malformed ----------------
    good = imu.encode_data(1, 2, 3, acc[:2], gyr[:2])
    bad = [
        ("bad_data_empty", "data", b""),
        ("bad_data_19_bytes", "data", good[:19]),
        ("bad_data_version_2", "data", bytes([2]) + good[1:]),
        ("bad_data_version_0", "data", bytes([0]) + good[1:]),
        ("bad_data_count_says_3_has_2", "data", good[:3] + bytes([3]) + good[4:]),
        ("bad_data_one_byte_missing", "data", good[:-1]),
        ("bad_data_one_byte_extra", "data", good + b"\x00"),
        ("bad_data_count_0", "data", good[:3] + bytes([0]) + good[4:20]),
        ("bad_data_header_len_10", "data", good[:1] + bytes([10]) + good[2:]),
        ("bad_data_header_len_beyond_end", "data", good[:1] + bytes([200]) + good[2:]),
        ("bad_info_short", "info", imu.encode_info(side="left", sample_rate_hz=100, acc_scale_mps2=1e-3, gyr_scale_dps=0.06,
                                                  acc_range_g=16, gyr_range_dps=2000, fifo_capacity_samples=256,
                                                  samples_per_packet=2)[:87]),
        ("bad_info_version_9", "info", bytes([9]) + bytes(87)),
        ("bad_info_side_9", "info", bytes([1, 9]) + bytes(86)),
        ("bad_info_rate_0", "info", bytes([1, 1]) + bytes(86)),
        ("bad_info_nan_scale", "info", bytes([1, 1, 0, 0]) + struct.pack("<Iff", 100000, float("nan"), 0.06) + bytes(76)),
        ("bad_status_battery_150", "status", bytes([1, 1, 150]) + bytes(17)),
        ("bad_status_short", "status", bytes([1, 1, 50])),
        ("bad_request_unknown_opcode", "control_request", bytes([0x7F, 1])),
        ("bad_request_set_rate_2_bytes", "control_request", bytes([C.OP_SET_RATE, 1, 0x10, 0x27])),
        ("bad_request_empty", "control_request", b""),
        ("bad_response_marker", "control_response", bytes([0x01, C.OP_START, 1, 0])),
        ("bad_response_time_sync_truncated", "control_response", bytes([0xF0, C.OP_TIME_SYNC, 5, 0, 1, 2, 3])),
    ]
    for name, msg, b in bad:
        add(name, msg, b)

    vectors = []
    for name, message, b, note in V:
        entry = {"name": name, "message": message, "hex": b.hex()}
        if note:
            entry["note"] = note
        try:
            obj = DECODERS[message](b)
        except PacketError as e:
            entry["error"] = type(e).__name__
            entry["reason"] = e.reason
        else:
            if name.startswith("bad_"):
                raise SystemExit(f"{name} decoded without error")
            entry["expected"] = expected_of(message, obj)
        vectors.append(entry)
    doc = {
        "about": "Golden vectors of the imugait open protocol v1: packet bytes (hex) -> decoded values, "
        "or the PacketError class a decoder must raise. Regenerate with firmware_protocol/make_golden_vectors.py "
        "only for a protocol change. 'message' names the characteristic/direction. Floats are the float32 "
        "values actually on the wire.",
        "protocol_version": C.PROTOCOL_VERSION,
        "vectors": vectors,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(vectors)} vectors to {OUT}")


if __name__ == "__main__":
    main()
