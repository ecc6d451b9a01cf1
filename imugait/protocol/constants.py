"""Constants of the imugait open sensor protocol (version 1).

This module mirrors ``firmware_protocol/constants.json`` — the machine-readable file that
firmware authors use. Both are written by hand; ``tests/unit/protocol/test_protocol_constants.py``
asserts that :func:`as_json_dict` equals the JSON file, so they cannot drift apart.
The specification is ``firmware_protocol/README.md``.

All multi-byte fields are little-endian.
"""

from __future__ import annotations

PROTOCOL_NAME = "imugait open thigh-IMU protocol"
PROTOCOL_VERSION = 1
BYTE_ORDER = "little"

# --- GATT ---------------------------------------------------------------------------
_UUID_TAIL = "-9c1d-4b7e-a5f3-2d8c1e0b7a90"
SERVICE_UUID = "6a4e0001" + _UUID_TAIL
DATA_UUID = "6a4e0002" + _UUID_TAIL  # notify
INFO_UUID = "6a4e0003" + _UUID_TAIL  # read
CONTROL_UUID = "6a4e0004" + _UUID_TAIL  # write (with response) + notify (responses)
STATUS_UUID = "6a4e0005" + _UUID_TAIL  # read + notify
UUIDS = {
    "service": SERVICE_UUID,
    "data": DATA_UUID,
    "info": INFO_UUID,
    "control": CONTROL_UUID,
    "status": STATUS_UUID,
}

ATT_OVERHEAD_BYTES = 3  # ATT notification payload = MTU - 3

# --- DATA notification ---------------------------------------------------------------
DATA_HEADER_SIZE = 20
SAMPLE_SIZE = 12  # 6 x int16: acc x y z, gyr x y z
MAX_SAMPLES_PER_PACKET = 255  # count is a u8
TARGET_NOTIFICATIONS_PER_S = 50
MIN_MTU = DATA_HEADER_SIZE + SAMPLE_SIZE + ATT_OVERHEAD_BYTES  # 35: one sample per packet

DATA_HEADER_FIELDS = (
    ("version", 0, "u8"),
    ("header_len", 1, "u8"),
    ("flags", 2, "u8"),
    ("count", 3, "u8"),
    ("seq", 4, "u16"),
    ("boot_id", 6, "u16"),
    ("first_index", 8, "u32"),
    ("t_dev_us", 12, "u64"),
)
# Optional v1 header extension (header_len >= 22): u16 tx_delay_us = device time from the
# *last* sample of the packet (t_dev_us + (n-1)/rate) to the moment the packet was handed to
# the BLE stack. Lets the host's clock fit use the hand-off time, which the firmware dithers
# within one packet interval so that it does not lock to the connection-event lattice (README §6).
DATA_HEADER_EXT_SIZE = 22
DATA_HEADER_EXT_FIELDS = (("tx_delay_us", 20, "u16"),)
TX_DELAY_UNKNOWN = 0xFFFF

SAMPLE_FIELDS = (
    ("acc_x", 0, "i16"),
    ("acc_y", 2, "i16"),
    ("acc_z", 4, "i16"),
    ("gyr_x", 6, "i16"),
    ("gyr_y", 8, "i16"),
    ("gyr_z", 10, "i16"),
)
DATA_FLAG_FIRST = 0x01  # first packet after START (or after boot)
DATA_FLAG_BACKLOG = 0x02  # sent late from the device FIFO (link was down / congested)
DATA_FLAG_OVERFLOW_BEFORE = 0x04  # FIFO overflowed: samples before first_index were dropped
DATA_FLAG_SATURATED = 0x08  # at least one sample in this packet is at the range limit
DATA_FLAGS = {
    "first": DATA_FLAG_FIRST,
    "backlog": DATA_FLAG_BACKLOG,
    "overflow_before": DATA_FLAG_OVERFLOW_BEFORE,
    "saturated": DATA_FLAG_SATURATED,
}

SEQ_MODULUS = 1 << 16
INDEX_MODULUS = 1 << 32

# --- INFO characteristic -------------------------------------------------------------
INFO_SIZE = 88
INFO_FIELDS = (
    ("version", 0, "u8"),
    ("side", 1, "u8"),
    ("boot_id", 2, "u16"),
    ("rate_mhz", 4, "u32"),
    ("acc_scale_mps2", 8, "f32"),
    ("gyr_scale_dps", 12, "f32"),
    ("acc_range_g", 16, "u16"),
    ("gyr_range_dps", 18, "u16"),
    ("fifo_capacity_samples", 20, "u16"),
    ("samples_per_packet", 22, "u8"),
    ("reserved", 23, "u8"),
    ("firmware", 24, "char16"),
    ("serial", 40, "char16"),
    ("mounting", 56, "char32"),
)
SIDE_CODES = {"unknown": 0, "left": 1, "right": 2}
SIDE_NAMES = {v: k for k, v in SIDE_CODES.items()}

# --- STATUS characteristic -----------------------------------------------------------
STATUS_SIZE = 20
STATUS_FIELDS = (
    ("version", 0, "u8"),
    ("flags", 1, "u8"),
    ("battery_pct", 2, "u8"),
    ("reserved", 3, "u8"),
    ("boot_id", 4, "u16"),
    ("fifo_fill_samples", 6, "u16"),
    ("dropped_samples", 8, "u32"),
    ("t_dev_us", 12, "u64"),
)
STATUS_FLAG_STREAMING = 0x01
STATUS_FLAG_CHARGING = 0x02
STATUS_FLAG_FIFO_OVERFLOW = 0x04
STATUS_FLAG_LOW_BATTERY = 0x08
STATUS_FLAG_LINK_BACKLOG = 0x10
STATUS_FLAGS = {
    "streaming": STATUS_FLAG_STREAMING,
    "charging": STATUS_FLAG_CHARGING,
    "fifo_overflow": STATUS_FLAG_FIFO_OVERFLOW,
    "low_battery": STATUS_FLAG_LOW_BATTERY,
    "link_backlog": STATUS_FLAG_LINK_BACKLOG,
}
BATTERY_UNKNOWN = 255

# --- CONTROL characteristic ----------------------------------------------------------
CONTROL_REQUEST_HEADER_SIZE = 2  # opcode u8, token u8
CONTROL_RESPONSE_MARKER = 0xF0
CONTROL_RESPONSE_HEADER_SIZE = 4  # marker u8, opcode u8, token u8, status u8

OP_START = 0x01
OP_STOP = 0x02
OP_SET_RATE = 0x03
OP_SET_RANGE = 0x04
OP_TIME_SYNC = 0x05
OP_IDENTIFY = 0x06
OP_SET_SIDE = 0x07
OPCODES = {
    "start": OP_START,
    "stop": OP_STOP,
    "set_rate": OP_SET_RATE,
    "set_range": OP_SET_RANGE,
    "time_sync": OP_TIME_SYNC,
    "identify": OP_IDENTIFY,
    "set_side": OP_SET_SIDE,
}
OPCODE_NAMES = {v: k for k, v in OPCODES.items()}
# request payload: start -, stop -, set_rate u32 rate_mhz, set_range u16 acc_g + u16 gyr_dps,
# time_sync u32 nonce, identify u8 seconds, set_side u8 side code
REQUEST_PAYLOAD_SIZE = {
    "start": 0,
    "stop": 0,
    "set_rate": 4,
    "set_range": 4,
    "time_sync": 4,
    "identify": 1,
    "set_side": 1,
}
# response payload (status ok only; errors carry no payload): start u16 boot_id + u32
# next sample index, set_rate u32 applied rate_mhz, set_range applied u16 + u16,
# time_sync u32 nonce + u64 t_dev_us, set_side u8 side code
RESPONSE_PAYLOAD_SIZE = {
    "start": 6,
    "stop": 0,
    "set_rate": 4,
    "set_range": 4,
    "time_sync": 12,
    "identify": 0,
    "set_side": 1,
}
ST_OK = 0
ST_UNKNOWN_OPCODE = 1
ST_BAD_LENGTH = 2
ST_BAD_VALUE = 3
ST_INVALID_STATE = 4
ST_MTU_TOO_SMALL = 5
ST_INTERNAL = 6
STATUS_CODES = {
    "ok": ST_OK,
    "unknown_opcode": ST_UNKNOWN_OPCODE,
    "bad_length": ST_BAD_LENGTH,
    "bad_value": ST_BAD_VALUE,
    "invalid_state": ST_INVALID_STATE,
    "mtu_too_small": ST_MTU_TOO_SMALL,
    "internal": ST_INTERNAL,
}
STATUS_CODE_NAMES = {v: k for k, v in STATUS_CODES.items()}

# --- what a conforming device provides -----------------------------------------------
MIN_FIFO_S = 2.0
SUPPORTED_RATES_HZ = (52, 104, 200, 208, 400, 416, 800, 833, 1600)
ACC_RANGES_G = (2, 4, 8, 16)
GYR_RANGES_DPS = (125, 250, 500, 1000, 2000)


def samples_per_packet(mtu: int, rate_hz: float, header_size: int = DATA_HEADER_SIZE) -> int:
    """Batch size a device uses for a negotiated ``mtu`` and sample rate.

    ``n_max = floor((mtu - 3 - 20) / 12)`` samples fit one notification; the device sends
    ``n = min(n_max, max(1, ceil(rate_hz / 50)))`` so that it sends at most ~50
    notifications/s when the MTU allows (fewer packets = less radio time, less host load),
    but never waits longer than needed. Returns 0 when the MTU cannot carry one sample
    (MTU < 35): the device then answers START with ``mtu_too_small``. ``header_size`` is 22
    for a device that sends the ``tx_delay_us`` header extension (same n at MTU 185 and 247).
    """
    import math

    n_max = min(MAX_SAMPLES_PER_PACKET, (int(mtu) - ATT_OVERHEAD_BYTES - int(header_size)) // SAMPLE_SIZE)
    if n_max <= 0:
        return 0
    return int(min(n_max, max(1, math.ceil(float(rate_hz) / TARGET_NOTIFICATIONS_PER_S - 1e-9))))


def _fields(rows) -> list[dict]:
    return [{"name": n, "offset": o, "type": t} for n, o, t in rows]


def as_json_dict() -> dict:
    """The constants in the structure of ``firmware_protocol/constants.json``."""
    return {
        "protocol": PROTOCOL_NAME,
        "protocol_version": PROTOCOL_VERSION,
        "byte_order": BYTE_ORDER,
        "uuids": dict(UUIDS),
        "att_overhead_bytes": ATT_OVERHEAD_BYTES,
        "min_mtu": MIN_MTU,
        "data": {
            "header_size": DATA_HEADER_SIZE,
            "sample_size": SAMPLE_SIZE,
            "max_samples_per_packet": MAX_SAMPLES_PER_PACKET,
            "target_notifications_per_s": TARGET_NOTIFICATIONS_PER_S,
            "header": _fields(DATA_HEADER_FIELDS),
            "header_ext_size": DATA_HEADER_EXT_SIZE,
            "header_ext": _fields(DATA_HEADER_EXT_FIELDS),
            "tx_delay_unknown": TX_DELAY_UNKNOWN,
            "sample": _fields(SAMPLE_FIELDS),
            "flags": dict(DATA_FLAGS),
        },
        "info": {"size": INFO_SIZE, "fields": _fields(INFO_FIELDS), "sides": dict(SIDE_CODES)},
        "status": {
            "size": STATUS_SIZE,
            "fields": _fields(STATUS_FIELDS),
            "flags": dict(STATUS_FLAGS),
            "battery_unknown": BATTERY_UNKNOWN,
        },
        "control": {
            "request_header_size": CONTROL_REQUEST_HEADER_SIZE,
            "response_marker": CONTROL_RESPONSE_MARKER,
            "response_header_size": CONTROL_RESPONSE_HEADER_SIZE,
            "opcodes": dict(OPCODES),
            "request_payload_size": dict(REQUEST_PAYLOAD_SIZE),
            "response_payload_size": dict(RESPONSE_PAYLOAD_SIZE),
            "status_codes": dict(STATUS_CODES),
        },
        "device_requirements": {
            "min_fifo_s": MIN_FIFO_S,
            "supported_rates_hz": list(SUPPORTED_RATES_HZ),
            "acc_ranges_g": list(ACC_RANGES_G),
            "gyr_ranges_dps": list(GYR_RANGES_DPS),
        },
    }
