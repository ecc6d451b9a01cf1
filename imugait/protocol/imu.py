"""Encoder and decoder of the imugait open sensor protocol (version 1).

Pure bytes <-> values; no I/O, no clocks. The specification is
``firmware_protocol/README.md``; the constants live in :mod:`imugait.protocol.constants`.

Messages
--------
* DATA notification   :func:`encode_data` / :func:`decode_data` -> :class:`DataPacket`
* INFO read           :func:`encode_info` / :func:`decode_info` -> :class:`InfoRecord`
* STATUS read/notify  :func:`encode_status` / :func:`decode_status` -> :class:`StatusRecord`
* CONTROL write       ``cmd_*`` builders, :func:`decode_control_request` -> :class:`ControlRequest`
* CONTROL response    :func:`encode_control_response` / :func:`decode_control_response`
                      -> :class:`ControlResponse`

Every ``decode_*`` raises a :class:`~imugait.protocol.errors.PacketError` subclass for
malformed bytes (and nothing else). Forward compatibility: DATA headers may grow
(``header_len``), INFO/STATUS/CONTROL responses may grow (trailing bytes ignored), unknown
flag bits are ignored; a different major ``version`` is rejected with ``BadVersion``.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import numpy as np

from imugait.protocol import constants as C
from imugait.protocol.errors import BadHeader, BadValue, BadVersion, CountMismatch, TooShort, UnknownType
from imugait.conventions import Side
from imugait.types import SensorInfo

_HDR = struct.Struct("<BBBBHHIQ")  # 20 bytes
_INFO = struct.Struct("<BBHIffHHHBB16s16s32s")  # 88 bytes
_STATUS = struct.Struct("<BBBBHHIQ")  # 20 bytes
assert _HDR.size == C.DATA_HEADER_SIZE and _INFO.size == C.INFO_SIZE and _STATUS.size == C.STATUS_SIZE

_SAMPLE_DTYPE = np.dtype("<i2")
PROTOCOL = "imugait"


def _as_bytes(data) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"packet must be bytes-like, got {type(data).__name__}")


# =====================================================================================
# DATA
# =====================================================================================
@dataclass(frozen=True)
class DataPacket:
    """One decoded DATA notification.

    ``t_dev_us`` is the device time of the *first* sample (device crystal, µs since boot);
    sample ``k`` was taken at ``t_dev_us + k / rate`` in device time (rate from INFO).
    """

    version: int
    header_len: int
    flags: int
    seq: int
    boot_id: int
    first_index: int
    t_dev_us: int
    acc_counts: np.ndarray = field(repr=False)  # (n, 3) int16
    gyr_counts: np.ndarray = field(repr=False)  # (n, 3) int16
    tx_delay_us: int | None = None  # header extension: last sample -> hand-off to the BLE stack

    @property
    def n(self) -> int:
        return int(self.acc_counts.shape[0])

    def t_handoff_dev_s(self, sample_rate_hz: float) -> float | None:
        """Device time at which the packet was handed to the radio (None if not reported):
        last sample ``t_dev_us + (n-1)/rate`` plus ``tx_delay_us``."""
        if self.tx_delay_us is None:
            return None
        return (self.t_dev_us + self.tx_delay_us) * 1e-6 + (self.n - 1) / float(sample_rate_hz)

    def __len__(self) -> int:
        return self.n

    @property
    def t_dev_s(self) -> float:
        """Device time of the first sample in seconds."""
        return self.t_dev_us * 1e-6

    @property
    def is_first(self) -> bool:
        return bool(self.flags & C.DATA_FLAG_FIRST)

    @property
    def is_backlog(self) -> bool:
        return bool(self.flags & C.DATA_FLAG_BACKLOG)

    @property
    def overflow_before(self) -> bool:
        return bool(self.flags & C.DATA_FLAG_OVERFLOW_BEFORE)

    @property
    def saturated(self) -> bool:
        return bool(self.flags & C.DATA_FLAG_SATURATED)

    def sample_index(self) -> np.ndarray:
        return self.first_index + np.arange(self.n, dtype=np.int64)


def encode_data(
    seq: int,
    first_index: int,
    t_dev_us: int,
    acc_counts,
    gyr_counts,
    *,
    boot_id: int = 1,
    flags: int = 0,
    version: int = C.PROTOCOL_VERSION,
    tx_delay_us: int | None = None,
    header_extra: bytes = b"",
) -> bytes:
    """Build a DATA notification.

    ``seq`` is taken modulo 2**16 and ``first_index`` modulo 2**32 (they wrap on the wire).
    ``tx_delay_us`` (optional header extension, 0..65534) is the device time from the last
    sample (``t_dev_us + (n-1)/rate``) to the hand-off to the BLE stack. ``header_extra`` appends further bytes to the
    header (used to test forward compatibility).
    """
    if tx_delay_us is not None:
        if not 0 <= int(tx_delay_us) < C.TX_DELAY_UNKNOWN:
            raise BadValue(f"tx_delay_us {tx_delay_us} outside 0..65534", what="data")
        header_extra = struct.pack("<H", int(tx_delay_us)) + bytes(header_extra)
    acc = np.asarray(acc_counts)
    gyr = np.asarray(gyr_counts)
    if acc.ndim != 2 or acc.shape[1] != 3 or gyr.shape != acc.shape:
        raise BadValue(f"acc and gyr must both be (n, 3); got {acc.shape} and {gyr.shape}", what="data")
    n = acc.shape[0]
    if not 1 <= n <= C.MAX_SAMPLES_PER_PACKET:
        raise BadValue(f"sample count {n} outside 1..{C.MAX_SAMPLES_PER_PACKET}", what="data")
    for name, arr in (("acc", acc), ("gyr", gyr)):
        if arr.dtype != np.int16:
            if np.any(arr < -32768) or np.any(arr > 32767) or (arr.dtype.kind == "f" and np.any(arr != np.round(arr))):
                raise BadValue(f"{name} counts must be int16 values", what="data")
    if not (0 <= t_dev_us < 1 << 64):
        raise BadValue(f"t_dev_us {t_dev_us} outside u64", what="data")
    if not (0 <= boot_id <= 0xFFFF) or not (0 <= flags <= 0xFF) or not (0 <= version <= 0xFF):
        raise BadValue("boot_id u16, flags u8, version u8 expected", what="data")
    header_len = C.DATA_HEADER_SIZE + len(header_extra)
    if header_len > 255:
        raise BadValue("header too long", what="data")
    samples = np.empty((n, 6), dtype=_SAMPLE_DTYPE)
    samples[:, :3] = acc
    samples[:, 3:] = gyr
    head = _HDR.pack(
        version, header_len, flags, n, int(seq) % C.SEQ_MODULUS, boot_id, int(first_index) % C.INDEX_MODULUS, int(t_dev_us)
    )
    return head + bytes(header_extra) + samples.tobytes()


def decode_data(data) -> DataPacket:
    """Decode a DATA notification; raise a ``PacketError`` subclass if malformed."""
    b = _as_bytes(data)
    if len(b) < 1:
        raise TooShort("empty notification", what="data", data=b)
    if b[0] != C.PROTOCOL_VERSION:
        raise BadVersion(f"protocol version {b[0]}, this decoder reads version {C.PROTOCOL_VERSION}", what="data", data=b)
    if len(b) < C.DATA_HEADER_SIZE:
        raise TooShort(f"{len(b)} bytes, the DATA header alone is {C.DATA_HEADER_SIZE}", what="data", data=b)
    version, header_len, flags, n, seq, boot_id, first_index, t_dev_us = _HDR.unpack_from(b, 0)
    if header_len < C.DATA_HEADER_SIZE:
        raise BadHeader(f"header_len {header_len} below the minimum {C.DATA_HEADER_SIZE}", what="data", data=b)
    if n == 0:
        raise CountMismatch("sample count 0 (a DATA packet carries at least one sample)", what="data", data=b)
    expected = header_len + n * C.SAMPLE_SIZE
    if len(b) != expected:
        raise CountMismatch(
            f"header says {n} samples (+{header_len}-byte header) = {expected} bytes, packet has {len(b)}",
            what="data",
            data=b,
        )
    tx = None
    if header_len >= C.DATA_HEADER_EXT_SIZE:
        (tx,) = struct.unpack_from("<H", b, C.DATA_HEADER_SIZE)
        if tx == C.TX_DELAY_UNKNOWN:
            tx = None
    s = np.frombuffer(b, dtype=_SAMPLE_DTYPE, count=6 * n, offset=header_len).reshape(n, 6)
    return DataPacket(version, header_len, flags, seq, boot_id, first_index, t_dev_us, s[:, :3], s[:, 3:], tx)


# =====================================================================================
# INFO
# =====================================================================================
@dataclass(frozen=True)
class InfoRecord:
    """Contents of the INFO characteristic (re-read after every (re)connect)."""

    version: int
    side: str  # "left" | "right" | "unknown"
    boot_id: int
    sample_rate_hz: float
    acc_scale_mps2: float
    gyr_scale_dps: float
    acc_range_g: int
    gyr_range_dps: int
    fifo_capacity_samples: int
    samples_per_packet: int
    firmware: str = ""
    serial: str = ""
    mounting: str = ""

    @property
    def rate_mhz(self) -> int:
        return int(round(self.sample_rate_hz * 1000))

    @property
    def fifo_capacity_s(self) -> float:
        return self.fifo_capacity_samples / self.sample_rate_hz

    def to_sensor_info(self, side: Side | None = None, device_id: str | None = None, name: str = "") -> SensorInfo:
        """As a :class:`~imugait.types.SensorInfo` (``kind="imugait"``). ``side`` given by
        the user wins over the side stored in the device."""
        sd: Side | None = side or (self.side if self.side in ("left", "right") else None)  # type: ignore[assignment]
        if sd is None:
            raise BadValue("device does not know its side and none was given", what="info")
        return SensorInfo(
            side=sd,
            kind="imugait",
            sample_rate_hz=float(self.sample_rate_hz),
            acc_scale_mps2=float(self.acc_scale_mps2),
            gyr_scale_dps=float(self.gyr_scale_dps),
            acc_range_g=float(self.acc_range_g),
            gyr_range_dps=float(self.gyr_range_dps),
            firmware=self.firmware,
            mounting=self.mounting,
            device_id=device_id if device_id is not None else self.serial,
            name=name,
        )


def _fixed_str(s: str, size: int, what: str) -> bytes:
    raw = str(s).encode("utf-8")
    if len(raw) > size:
        raise BadValue(f"{what} {s!r} longer than {size} bytes UTF-8", what="info")
    return raw.ljust(size, b"\0")


def _read_str(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def encode_info(
    *,
    side: str,
    sample_rate_hz: float,
    acc_scale_mps2: float,
    gyr_scale_dps: float,
    acc_range_g: int,
    gyr_range_dps: int,
    fifo_capacity_samples: int,
    samples_per_packet: int,
    boot_id: int = 1,
    firmware: str = "",
    serial: str = "",
    mounting: str = "",
    version: int = C.PROTOCOL_VERSION,
) -> bytes:
    if side not in C.SIDE_CODES:
        raise BadValue(f"side {side!r} not one of {sorted(C.SIDE_CODES)}", what="info")
    rate_mhz = int(round(float(sample_rate_hz) * 1000))
    if not 0 < rate_mhz < 1 << 32:
        raise BadValue(f"sample rate {sample_rate_hz} Hz out of range", what="info")
    return _INFO.pack(
        version,
        C.SIDE_CODES[side],
        boot_id,
        rate_mhz,
        acc_scale_mps2,
        gyr_scale_dps,
        int(acc_range_g),
        int(gyr_range_dps),
        int(fifo_capacity_samples),
        int(samples_per_packet),
        0,
        _fixed_str(firmware, 16, "firmware"),
        _fixed_str(serial, 16, "serial"),
        _fixed_str(mounting, 32, "mounting"),
    )


def decode_info(data) -> InfoRecord:
    b = _as_bytes(data)
    if len(b) < 1:
        raise TooShort("empty INFO value", what="info", data=b)
    if b[0] != C.PROTOCOL_VERSION:
        raise BadVersion(f"protocol version {b[0]}, this decoder reads version {C.PROTOCOL_VERSION}", what="info", data=b)
    if len(b) < C.INFO_SIZE:
        raise TooShort(f"{len(b)} bytes, INFO is at least {C.INFO_SIZE}", what="info", data=b)
    (ver, side, boot_id, rate_mhz, acc_s, gyr_s, acc_r, gyr_r, fifo, spp, _res, fw, serial, mount) = _INFO.unpack_from(b, 0)
    if side not in C.SIDE_NAMES:
        raise BadValue(f"side code {side} (0 unknown, 1 left, 2 right)", what="info", data=b)
    if rate_mhz == 0:
        raise BadValue("sample rate 0", what="info", data=b)
    for nm, v in (("acc scale", acc_s), ("gyro scale", gyr_s)):
        if not (math.isfinite(v) and v > 0):
            raise BadValue(f"{nm} {v} must be a positive finite number", what="info", data=b)
    if spp == 0:
        raise BadValue("samples_per_packet 0", what="info", data=b)
    return InfoRecord(
        version=ver,
        side=C.SIDE_NAMES[side],
        boot_id=boot_id,
        sample_rate_hz=rate_mhz / 1000.0,
        acc_scale_mps2=float(acc_s),
        gyr_scale_dps=float(gyr_s),
        acc_range_g=acc_r,
        gyr_range_dps=gyr_r,
        fifo_capacity_samples=fifo,
        samples_per_packet=spp,
        firmware=_read_str(fw),
        serial=_read_str(serial),
        mounting=_read_str(mount),
    )


# =====================================================================================
# STATUS
# =====================================================================================
@dataclass(frozen=True)
class StatusRecord:
    version: int
    flags: int
    battery_pct: float | None  # None = unknown
    boot_id: int
    fifo_fill_samples: int
    dropped_samples: int  # total since boot (FIFO overflow)
    t_dev_us: int  # device time when the status was produced

    @property
    def streaming(self) -> bool:
        return bool(self.flags & C.STATUS_FLAG_STREAMING)

    @property
    def charging(self) -> bool:
        return bool(self.flags & C.STATUS_FLAG_CHARGING)

    @property
    def fifo_overflow(self) -> bool:
        return bool(self.flags & C.STATUS_FLAG_FIFO_OVERFLOW)

    @property
    def low_battery(self) -> bool:
        return bool(self.flags & C.STATUS_FLAG_LOW_BATTERY)

    @property
    def link_backlog(self) -> bool:
        return bool(self.flags & C.STATUS_FLAG_LINK_BACKLOG)


def encode_status(
    *,
    flags: int,
    battery_pct: float | None,
    boot_id: int,
    fifo_fill_samples: int,
    dropped_samples: int,
    t_dev_us: int,
    version: int = C.PROTOCOL_VERSION,
) -> bytes:
    batt = C.BATTERY_UNKNOWN if battery_pct is None else int(round(battery_pct))
    if batt != C.BATTERY_UNKNOWN and not 0 <= batt <= 100:
        raise BadValue(f"battery {battery_pct} % outside 0..100", what="status")
    return _STATUS.pack(
        version, flags, batt, 0, boot_id, min(int(fifo_fill_samples), 0xFFFF), int(dropped_samples) % (1 << 32), int(t_dev_us)
    )


def decode_status(data) -> StatusRecord:
    b = _as_bytes(data)
    if len(b) < 1:
        raise TooShort("empty STATUS value", what="status", data=b)
    if b[0] != C.PROTOCOL_VERSION:
        raise BadVersion(f"protocol version {b[0]}, this decoder reads version {C.PROTOCOL_VERSION}", what="status", data=b)
    if len(b) < C.STATUS_SIZE:
        raise TooShort(f"{len(b)} bytes, STATUS is at least {C.STATUS_SIZE}", what="status", data=b)
    ver, flags, batt, _res, boot_id, fill, dropped, t_us = _STATUS.unpack_from(b, 0)
    if batt != C.BATTERY_UNKNOWN and batt > 100:
        raise BadValue(f"battery {batt} % (0..100, 255 = unknown)", what="status", data=b)
    return StatusRecord(ver, flags, None if batt == C.BATTERY_UNKNOWN else float(batt), boot_id, fill, dropped, t_us)


# =====================================================================================
# CONTROL
# =====================================================================================
@dataclass(frozen=True)
class ControlRequest:
    opcode: int
    token: int
    payload: bytes
    fields: dict

    @property
    def name(self) -> str:
        return C.OPCODE_NAMES[self.opcode]


@dataclass(frozen=True)
class ControlResponse:
    opcode: int
    token: int
    status: int
    payload: bytes
    fields: dict

    @property
    def name(self) -> str:
        return C.OPCODE_NAMES[self.opcode]

    @property
    def status_name(self) -> str:
        return C.STATUS_CODE_NAMES.get(self.status, f"unknown({self.status})")

    @property
    def ok(self) -> bool:
        return self.status == C.ST_OK


def _req(op: str, token: int, payload: bytes = b"") -> bytes:
    if not 0 <= token <= 255:
        raise BadValue(f"token {token} must be 0..255", what="control")
    return bytes((C.OPCODES[op], token)) + payload


def cmd_start(token: int = 0) -> bytes:
    return _req("start", token)


def cmd_stop(token: int = 0) -> bytes:
    return _req("stop", token)


def cmd_set_rate(rate_hz: float, token: int = 0) -> bytes:
    mhz = int(round(float(rate_hz) * 1000))
    if not 0 < mhz < 1 << 32:
        raise BadValue(f"rate {rate_hz} Hz out of range", what="control")
    return _req("set_rate", token, struct.pack("<I", mhz))


def cmd_set_range(acc_range_g: int, gyr_range_dps: int, token: int = 0) -> bytes:
    return _req("set_range", token, struct.pack("<HH", int(acc_range_g), int(gyr_range_dps)))


def cmd_time_sync(nonce: int, token: int = 0) -> bytes:
    return _req("time_sync", token, struct.pack("<I", int(nonce) % (1 << 32)))


def cmd_identify(seconds: int = 3, token: int = 0) -> bytes:
    return _req("identify", token, struct.pack("<B", int(seconds)))


def cmd_set_side(side: str, token: int = 0) -> bytes:
    if side not in C.SIDE_CODES:
        raise BadValue(f"side {side!r} not one of {sorted(C.SIDE_CODES)}", what="control")
    return _req("set_side", token, struct.pack("<B", C.SIDE_CODES[side]))


def _parse_request_payload(name: str, p: bytes) -> dict:
    if name == "set_rate":
        (mhz,) = struct.unpack("<I", p)
        return {"rate_hz": mhz / 1000.0}
    if name == "set_range":
        a, g = struct.unpack("<HH", p)
        return {"acc_range_g": a, "gyr_range_dps": g}
    if name == "time_sync":
        return {"nonce": struct.unpack("<I", p)[0]}
    if name == "identify":
        return {"seconds": p[0]}
    if name == "set_side":
        if p[0] not in C.SIDE_NAMES:
            raise BadValue(f"side code {p[0]}", what="control", data=p)
        return {"side": C.SIDE_NAMES[p[0]]}
    return {}


def decode_control_request(data) -> ControlRequest:
    """Decode a CONTROL write (what the device does). ``UnknownType`` for an unknown
    opcode, ``CountMismatch`` for a wrong payload length, ``BadValue`` for a bad value."""
    b = _as_bytes(data)
    if len(b) < C.CONTROL_REQUEST_HEADER_SIZE:
        raise TooShort(f"{len(b)} bytes, a CONTROL request is at least 2 (opcode, token)", what="control", data=b)
    op, token = b[0], b[1]
    if op not in C.OPCODE_NAMES:
        raise UnknownType(f"opcode 0x{op:02x}", what="control", data=b)
    name = C.OPCODE_NAMES[op]
    p = b[2:]
    if len(p) != C.REQUEST_PAYLOAD_SIZE[name]:
        raise CountMismatch(f"{name} takes {C.REQUEST_PAYLOAD_SIZE[name]} payload bytes, got {len(p)}", what="control", data=b)
    return ControlRequest(op, token, p, _parse_request_payload(name, p))


def encode_control_response(opcode: int, token: int, status: int = C.ST_OK, **fields) -> bytes:
    """Build a CONTROL response. With ``status`` ok, ``fields`` give the payload:
    start(boot_id, next_index), set_rate(rate_hz), set_range(acc_range_g, gyr_range_dps),
    time_sync(nonce, t_dev_us), set_side(side)."""
    name = C.OPCODE_NAMES.get(opcode)
    head = bytes((C.CONTROL_RESPONSE_MARKER, opcode & 0xFF, token & 0xFF, status & 0xFF))
    if status != C.ST_OK or name is None:
        return head
    if name == "start":
        p = struct.pack("<HI", fields["boot_id"], int(fields["next_index"]) % C.INDEX_MODULUS)
    elif name == "set_rate":
        p = struct.pack("<I", int(round(fields["rate_hz"] * 1000)))
    elif name == "set_range":
        p = struct.pack("<HH", fields["acc_range_g"], fields["gyr_range_dps"])
    elif name == "time_sync":
        p = struct.pack("<IQ", int(fields["nonce"]) % (1 << 32), int(fields["t_dev_us"]))
    elif name == "set_side":
        p = struct.pack("<B", C.SIDE_CODES[fields["side"]])
    else:
        p = b""
    return head + p


def decode_control_response(data) -> ControlResponse:
    b = _as_bytes(data)
    if len(b) < C.CONTROL_RESPONSE_HEADER_SIZE:
        raise TooShort(f"{len(b)} bytes, a CONTROL response is at least 4", what="control", data=b)
    marker, op, token, status = b[0], b[1], b[2], b[3]
    if marker != C.CONTROL_RESPONSE_MARKER:
        raise UnknownType(f"first byte 0x{marker:02x}, a CONTROL response starts with 0xF0", what="control", data=b)
    p = b[4:]
    name = C.OPCODE_NAMES.get(op)
    if name is None:
        # the device echoes an opcode we never send: only an error reply is meaningful
        if status == C.ST_OK:
            raise UnknownType(f"response to unknown opcode 0x{op:02x}", what="control", data=b)
        return ControlResponse(op, token, status, p, {})
    fields: dict = {}
    if status == C.ST_OK:
        need = C.RESPONSE_PAYLOAD_SIZE[name]
        if len(p) < need:
            raise CountMismatch(f"{name} response needs {need} payload bytes, got {len(p)}", what="control", data=b)
        if name == "start":
            bid, nxt = struct.unpack_from("<HI", p)
            fields = {"boot_id": bid, "next_index": nxt}
        elif name == "set_rate":
            fields = {"rate_hz": struct.unpack_from("<I", p)[0] / 1000.0}
        elif name == "set_range":
            a, g = struct.unpack_from("<HH", p)
            fields = {"acc_range_g": a, "gyr_range_dps": g}
        elif name == "time_sync":
            nonce, t_us = struct.unpack_from("<IQ", p)
            fields = {"nonce": nonce, "t_dev_us": t_us}
        elif name == "set_side":
            if p[0] not in C.SIDE_NAMES:
                raise BadValue(f"side code {p[0]}", what="control", data=b)
            fields = {"side": C.SIDE_NAMES[p[0]]}
    return ControlResponse(op, token, status, p, fields)


__all__ = [
    "PROTOCOL",
    "DataPacket",
    "InfoRecord",
    "StatusRecord",
    "ControlRequest",
    "ControlResponse",
    "encode_data",
    "decode_data",
    "encode_info",
    "decode_info",
    "encode_status",
    "decode_status",
    "cmd_start",
    "cmd_stop",
    "cmd_set_rate",
    "cmd_set_range",
    "cmd_time_sync",
    "cmd_identify",
    "cmd_set_side",
    "decode_control_request",
    "encode_control_response",
    "decode_control_response",
]
