"""Polar Measurement Data (PMD) — the streaming protocol of the Polar Verity Sense.

Pure bytes ⇄ numbers; no bleak, no clocks. Every rule cites the vendor source it follows.
Abbreviations (full paths in ``docs/sensors.md``, "Primary sources"):

* **SDK**  polarofficial/polar-ble-sdk @ 8fb5311c, Android ``…/gatt/client/pmd/`` (``pmd/``);
* **SPEC** ``technical_documentation/Polar_Measurement_Data_Specification.pdf`` (SDK history,
  0d58c747^), page numbers as ``SPEC p4``;
* **#186 …** issues of polarofficial/polar-ble-sdk.

GATT (SDK ``pmd/BlePMDClient.kt:518-525``)
------------------------------------------
Service ``FB005C80-…``; control point ``…5C81`` (write with response; replies and
device-initiated commands are indicated), data ``…5C82`` (notify).

Data frame (SDK ``pmd/PmdDataFrame.kt:17-33``)::

    [0]     measurement type (low 6 bits: PmdMeasurementType.kt:29-37); 2 ACC, 5 GYRO
    [1:9]   u64 timestamp, ns since 2000-01-01, of the LAST sample (PmdTimeStampUtils.kt:33)
    [9]     frame type; bit 7 = delta-compressed, bits 0..6 = type number (PmdDataFrame.kt:13-14)
    [10:]   payload

Compressed payload: one reference sample (3 × int16, or 3 × IEEE-754 float bit patterns for
GYRO type 1), then blocks ``[bit width u8][count u8][count × 3 packed deltas, LSB first,
two's complement]`` (SDK ``BlePMDClient.kt:527-608``). A frame holds as many samples as
fit: up to ~130 (Polar staff in #439 and #659; a 228-byte frame in #186 holds 63).

Units — from the frame type, never from the START reply (SDK ``model/AccData.kt``,
``model/GyrData.kt``)
------------------------------------------------------------------------------------
* ACC raw types 0, 1, 2 (int8/16/24): **mG** as sent (AccData.kt:49-112; SPEC p4).
* ACC compressed type 0 (``0x80``): value × FACTOR = **g**, × 1000 = mG (AccData.kt:114-127).
* ACC compressed type 1 (``0x81``): value × FACTOR = **mG** — FACTOR is 1.0 unless the START
  reply carried one (AccData.kt:129-140; ``getFactor`` default 1.0, BlePMDClient.kt:75-82).
  Current Verity firmware answers START with ``F0 02 02 00 00`` (no FACTOR) and streams
  ``0x81`` frames already in mG (#331, #443).
* GYRO compressed type 0 (``0x80``): value × FACTOR = **°/s** (GyrData.kt:41-55).
* GYRO compressed type 1 (``0x81``, float): float **×** FACTOR = °/s (GyrData.kt:57-70).
* GYRO raw frames: not decoded by the SDK (GyrData.kt:36-38) and RFU in SPEC p4 — refused.

Control point
-------------
Requests ``[op][measurement type][settings…]`` (op codes ``pmd/PmdControlPointCommand.kt:3-13``);
settings ``[type][count][values]`` with sizes rate 2, resolution 2, range 2, range milli-unit
4, channels 1, factor 4, security 16 bytes (``pmd/PmdSetting.kt:12-20,126-135``). Replies
``[0xF0][op][measurement][status][more][parameters…]``; a reply with ``more`` is continued
by further replies whose parameters are appended (BlePMDClient.kt:209-223). A notification
that does not start with 0xF0 is a command from the device: ``[0x01][types…]`` = the device
stopped those streams (``PmdControlPointCommand.kt:16-17``, BlePMDClient.kt:119-147).
Status codes 0–14 (``pmd/PmdControlPointResponse.kt:15-31``; SPEC p3).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from imugait.protocol.errors import BadValue, TooShort, Truncated, UnknownType

PROTOCOL = "polar"

# BlePMDClient.kt:518-525
PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CP_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

# PmdMeasurementType.kt:3-17
MEAS_ECG = 0
MEAS_PPG = 1
MEAS_ACC = 2
MEAS_PPI = 3
MEAS_GYRO = 5
MEAS_MAG = 6
MEAS_SDK_MODE = 9
MEAS_NAMES = {MEAS_ECG: "ECG", MEAS_PPG: "PPG", MEAS_ACC: "ACC", MEAS_PPI: "PPI", MEAS_GYRO: "GYRO",
              MEAS_MAG: "MAG", MEAS_SDK_MODE: "SDK mode"}
MEAS_TYPE_MASK = 0x3F  # PmdMeasurementType.kt:29 (upper bits: recording type, PmdRecordingType)

# PmdControlPointCommand.kt:3-13 (client to service) and :16-17 (service to client)
OP_GET_SETTINGS = 0x01
OP_START = 0x02
OP_STOP = 0x03
OP_GET_SDK_MODE_SETTINGS = 0x04
OP_GET_STATUS = 0x05
OP_GET_SDK_MODE_STATUS = 0x06
DEVICE_OP_MEASUREMENT_STOPPED = 0x01
CP_RESPONSE_CODE = 0xF0  # PmdControlPointResponse.kt:5

# PmdControlPointResponse.kt:15-31, SPEC p3
ST_SUCCESS = 0
ST_INVALID_OP_CODE = 1
ST_INVALID_MEASUREMENT_TYPE = 2
ST_NOT_SUPPORTED = 3
ST_INVALID_LENGTH = 4
ST_INVALID_PARAMETER = 5
ST_ALREADY_IN_STATE = 6
ST_INVALID_RESOLUTION = 7
ST_INVALID_SAMPLE_RATE = 8
ST_INVALID_RANGE = 9
ST_INVALID_MTU = 10
ST_INVALID_NUMBER_OF_CHANNELS = 11
ST_INVALID_STATE = 12
ST_DEVICE_IN_CHARGER = 13
ST_DISK_FULL = 14
STATUS_NAMES = {
    0: "success", 1: "invalid op code", 2: "invalid measurement type", 3: "not supported",
    4: "invalid length", 5: "invalid parameter", 6: "already in state", 7: "invalid resolution",
    8: "invalid sample rate", 9: "invalid range", 10: "invalid MTU", 11: "invalid number of channels",
    12: "invalid state", 13: "device in charger", 14: "disk full",
}
# What a runner reads: one sentence per status (meaning from SPEC p3 "Usage" column)
STATUS_ADVICE = {
    1: "the sensor does not know this command — update its firmware with Polar Flow",
    2: "the sensor does not know this measurement — update its firmware with Polar Flow",
    3: "the sensor does not support this (SDK mode needs Verity Sense firmware 1.1.5 or newer — update it with Polar Flow)",
    4: "the sensor rejected the length of imugait's request — please report it with the file written by "
       "`imugait check-sensor <name> --save capture.json` (it holds every byte exchanged)",
    5: "the sensor rejected a setting of imugait's request — please report it with the file written by "
       "`imugait check-sensor <name> --save capture.json` (it holds every byte exchanged)",
    6: "the sensor is already in that state",
    7: "the sensor does not offer this resolution",
    8: "the sensor does not offer this sample rate (52 Hz; 26–416 Hz in SDK mode)",
    9: "the sensor does not offer this range",
    10: "the Bluetooth link's packet size (MTU) is too small for the sensor — use a Bluetooth 4.2+ adapter",
    11: "the sensor rejected the number of channels",
    12: "the sensor is busy with another measurement — switch it off and on (hold the button), then try again",
    13: "the sensor is on its charger — take it off the charger and try again",
    14: "the sensor's memory is full — delete its recordings with Polar Flow",
}


def status_name(status: int) -> str:
    return STATUS_NAMES.get(int(status), f"status {int(status)}")


def status_advice(status: int) -> str:
    """One sentence a runner understands for a control-point status (SPEC p3)."""
    return STATUS_ADVICE.get(int(status), f"the sensor answered with unknown status {int(status)}")


# PmdSetting.kt:12-20 and :126-135
SET_SAMPLE_RATE = 0
SET_RESOLUTION = 1
SET_RANGE = 2
SET_RANGE_MILLIUNIT = 3
SET_CHANNELS = 4
SET_FACTOR = 5
SET_SECURITY = 6
_SETTING_SIZE = {SET_SAMPLE_RATE: 2, SET_RESOLUTION: 2, SET_RANGE: 2, SET_RANGE_MILLIUNIT: 4, SET_CHANNELS: 1,
                 SET_FACTOR: 4, SET_SECURITY: 16}

# documentation/products/PolarVeritySense.md:32-40
NORMAL_MODE_RATES_HZ = (52,)
SDK_MODE_RATES_HZ = (26, 52, 104, 208, 416)
ACC_RANGES_G = (2, 4, 8, 16)
GYR_RANGES_DPS = (250, 500, 1000, 2000)
RESOLUTION_BITS = 16
CHANNELS = 3

_HEADER = struct.Struct("<BQB")
HEADER_SIZE = _HEADER.size  # 10


def _err(cls, reason: str, what: str, data: bytes):
    return cls(reason, protocol=PROTOCOL, what=what, data=data)


# =====================================================================================
# Data frames
# =====================================================================================
@dataclass(frozen=True)
class PmdFrame:
    """One decoded PMD data frame. ``values`` is (n, 3): int64 for integer frames,
    float32 for float frames — as on the wire, before any FACTOR (see :func:`frame_units`)."""

    measurement: int
    timestamp_ns: int
    frame_type: int  # bits 0..6
    compressed: bool
    values: np.ndarray = field(repr=False)

    @property
    def n(self) -> int:
        return int(self.values.shape[0])


# (measurement, frame type) -> (bytes per channel, is_float) for RAW frames (AccData.kt:20-30)
_RAW_LAYOUT = {
    (MEAS_ACC, 0): (1, False),
    (MEAS_ACC, 1): (2, False),
    (MEAS_ACC, 2): (3, False),
}
# (measurement, frame type) -> (reference bytes per channel, is_float) for COMPRESSED frames
# (AccData.kt:118,131 resolution 16; GyrData.kt:42 16 bit, :58 float IEEE-754)
_COMP_LAYOUT = {
    (MEAS_ACC, 0): (2, False),
    (MEAS_ACC, 1): (2, False),
    (MEAS_GYRO, 0): (2, False),
    (MEAS_GYRO, 1): (4, True),
}


def _read_signed(buf: np.ndarray, width_bytes: int) -> np.ndarray:
    """(m, width) uint8 little-endian rows -> int64 signed values."""
    v = np.zeros(buf.shape[0], dtype=np.int64)
    for k in range(width_bytes):
        v |= buf[:, k].astype(np.int64) << (8 * k)
    sign = np.int64(1) << (8 * width_bytes - 1)
    return (v ^ sign) - sign


def _unpack_deltas(b: bytes, offset: int, width_bits: int, count: int, what: str, data: bytes) -> tuple[np.ndarray, int]:
    # BlePMDClient.kt:527-555: bits LSB first, each value sign-extended from its bit width
    n_vals = count * CHANNELS
    n_bits = n_vals * width_bits
    n_bytes = (n_bits + 7) // 8
    if offset + n_bytes > len(b):
        raise _err(Truncated, f"delta block of {count} samples × {width_bits} bits needs {n_bytes} bytes at offset "
                              f"{offset}, only {len(b) - offset} left", what, data)
    raw = np.frombuffer(b, dtype=np.uint8, count=n_bytes, offset=offset)
    bits = np.unpackbits(raw, bitorder="little")[:n_bits].reshape(n_vals, width_bits).astype(np.int64)
    weights = np.int64(1) << np.arange(width_bits, dtype=np.int64)
    vals = bits @ weights
    sign = np.int64(1) << (width_bits - 1)
    vals = (vals ^ sign) - sign
    return vals.reshape(count, CHANNELS), offset + n_bytes


def decode_frame(data) -> PmdFrame:
    """Decode one PMD data notification (ACC or GYRO), any size; raise a ``PacketError``
    subclass for anything malformed or unsupported."""
    b = bytes(data)
    what = "data"
    if len(b) < HEADER_SIZE:
        raise _err(TooShort, f"{len(b)} bytes, a PMD frame header is {HEADER_SIZE}", what, b)
    meas_byte, ts, ftype_byte = _HEADER.unpack_from(b, 0)
    meas = meas_byte & MEAS_TYPE_MASK  # PmdMeasurementType.kt:31-37
    compressed = bool(ftype_byte & 0x80)  # PmdDataFrame.kt:40-42
    ftype = ftype_byte & 0x7F
    key = (meas, ftype)
    if meas not in (MEAS_ACC, MEAS_GYRO):
        raise _err(UnknownType, f"measurement type {meas} ({MEAS_NAMES.get(meas, 'unknown')}) is not ACC or GYRO", what, b)
    if not compressed:
        if key not in _RAW_LAYOUT:
            raise _err(UnknownType, f"raw {MEAS_NAMES[meas]} frame type {ftype} is not defined (SPEC p4; GyrData.kt:36)",
                       what, b)
        width, _is_float = _RAW_LAYOUT[key]
        body = b[HEADER_SIZE:]
        step = width * CHANNELS
        if len(body) == 0 or len(body) % step:
            raise _err(Truncated, f"raw payload of {len(body)} bytes is not a whole number of {step}-byte samples", what, b)
        n = len(body) // step
        arr = np.frombuffer(body, dtype=np.uint8).reshape(n * CHANNELS, width)
        return PmdFrame(meas, ts, ftype, False, _read_signed(arr, width).reshape(n, CHANNELS))

    if key not in _COMP_LAYOUT:
        raise _err(UnknownType, f"compressed {MEAS_NAMES[meas]} frame type {ftype} is not supported", what, b)
    width, is_float = _COMP_LAYOUT[key]
    ref_size = width * CHANNELS
    if len(b) < HEADER_SIZE + ref_size:
        raise _err(Truncated, f"compressed frame ends inside its {ref_size}-byte reference sample", what, b)
    ref_bytes = b[HEADER_SIZE:HEADER_SIZE + ref_size]
    if is_float:
        ref = np.frombuffer(ref_bytes, dtype="<u4").astype(np.int64)
    else:
        ref = _read_signed(np.frombuffer(ref_bytes, dtype=np.uint8).reshape(CHANNELS, width), width)
    off = HEADER_SIZE + ref_size
    blocks = [ref.reshape(1, CHANNELS)]
    while off < len(b):  # BlePMDClient.kt:586-606
        if off + 2 > len(b):
            raise _err(Truncated, f"delta block header cut at offset {off}", what, b)
        width_bits, count = b[off], b[off + 1]
        off += 2
        if width_bits == 0 or width_bits > 32:
            raise _err(BadValue, f"delta bit width {width_bits} at offset {off - 2} (1..32 allowed)", what, b)
        if count == 0:
            raise _err(BadValue, f"delta block with 0 samples at offset {off - 2}", what, b)
        deltas, off = _unpack_deltas(b, off, width_bits, count, what, b)
        blocks.append(deltas)
    vals: np.ndarray = np.cumsum(np.concatenate(blocks, axis=0), axis=0)
    if is_float:  # deltas are added to the IEEE-754 bit patterns (GyrData.kt:58-66), 32-bit wrap
        vals = (vals & 0xFFFFFFFF).astype(np.uint32).view(np.float32).reshape(-1, CHANNELS).copy()
    return PmdFrame(meas, ts, ftype, True, vals)


def frame_units(frame: PmdFrame, factor: float = 1.0) -> np.ndarray:
    """Physical values (n, 3) float64: ACC in **mG**, GYRO in **°/s**, from the frame type
    and the FACTOR of the START reply (1.0 when the reply carried none). Rules and
    citations: module docstring."""
    v = frame.values.astype(np.float64)
    f = float(factor)
    if frame.measurement == MEAS_ACC:
        if not frame.compressed:
            return v  # AccData.kt:49-112: raw types are mG, no factor
        if frame.frame_type == 0:
            return v * f * 1000.0  # AccData.kt:117: "type 0 data arrives in G units, convert to milliG"
        return v * f if f != 1.0 else v  # AccData.kt:134-136
    if f != 1.0:  # GyrData.kt:48-50 and :64-66 (multiplied, also for float frames)
        return v * float(np.float32(f))
    return v


def _signed_width(v: np.ndarray) -> int:
    """Smallest bit width holding every value of ``v`` as a signed integer (≥ 1)."""
    if v.size == 0:
        return 1
    lo, hi = int(v.min()), int(v.max())
    w = 1
    while not (-(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1):
        w += 1
    return w


def encode_frame(measurement: int, timestamp_ns: int, values, *, compressed: bool = True, frame_type: int = 0,
                 block_samples: int = 255) -> bytes:
    """Build a PMD data frame from integer samples (n, 3) — what a Verity Sense sends
    (``imugait.sim.virtual_commercial`` and tests). Compressed frames: int16 reference, deltas
    in blocks of at most ``block_samples`` (≤ 255) samples, each with the smallest bit width
    that holds it — real frames carry several blocks of different widths (#187: 27 samples
    of 8 bits, then 10 of 6 bits)."""
    v = np.asarray(values)
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < 1:
        raise BadValue(f"values must be (n >= 1, 3), got {v.shape}", protocol=PROTOCOL, what="data")
    key = (measurement, frame_type)
    if compressed:
        if key not in _COMP_LAYOUT or _COMP_LAYOUT[key][1]:
            raise BadValue(f"cannot encode compressed frame {key}", protocol=PROTOCOL, what="data")
        v = v.astype(np.int64)
        out = bytearray(_HEADER.pack(measurement, int(timestamp_ns), 0x80 | frame_type))
        out += v[0].astype("<i2").tobytes()
        d = np.diff(v, axis=0)
        step = max(1, min(255, int(block_samples)))
        for s in range(0, d.shape[0], step):
            blk = d[s:s + step]
            w = _signed_width(blk)
            flat = (blk.reshape(-1) & ((1 << w) - 1)).astype(np.int64)
            bits = ((flat[:, None] >> np.arange(w, dtype=np.int64)) & 1).astype(np.uint8).reshape(-1)
            out += bytes([w, blk.shape[0]])
            out += np.packbits(bits, bitorder="little").tobytes()
        return bytes(out)
    if key not in _RAW_LAYOUT:
        raise BadValue(f"cannot encode raw frame {key}", protocol=PROTOCOL, what="data")
    width, _is_float = _RAW_LAYOUT[key]
    iv = v.astype(np.int64).reshape(-1)
    u = (iv & ((1 << (8 * width)) - 1)).astype(np.uint64)
    by = ((u[:, None] >> (8 * np.arange(width, dtype=np.uint64))) & 0xFF).astype(np.uint8)
    return _HEADER.pack(measurement, int(timestamp_ns), frame_type) + by.tobytes()


# =====================================================================================
# Control point
# =====================================================================================
def encode_settings(settings: dict[int, float]) -> bytes:
    """``{SET_SAMPLE_RATE: 416, …}`` -> TLV bytes, count 1 each, in the given order
    (PmdSetting.kt:85-102)."""
    out = bytearray()
    for typ, val in settings.items():
        out += bytes([typ, 1])
        if typ == SET_FACTOR:
            out += struct.pack("<f", float(val))
        else:
            out += int(val).to_bytes(_SETTING_SIZE[typ], "little")
    return bytes(out)


def decode_settings(data) -> dict[int, list]:
    """TLV settings (a get-settings reply, a START request or reply) -> ``{type: [values]}``
    (PmdSetting.kt:40-67; FACTOR is an IEEE-754 float, BlePMDClient.kt:75-79)."""
    b = bytes(data)
    out: dict[int, list] = {}
    i = 0
    while i < len(b):
        if i + 2 > len(b):
            raise _err(Truncated, f"setting header cut at offset {i}", "settings", b)
        typ, count = b[i], b[i + 1]
        i += 2
        size = _SETTING_SIZE.get(typ)
        if size is None:
            raise _err(UnknownType, f"setting type {typ} at offset {i - 2}", "settings", b)
        if i + size * count > len(b):
            raise _err(Truncated, f"setting {typ} needs {size * count} bytes at offset {i}", "settings", b)
        vals = []
        for _ in range(count):
            chunk = b[i:i + size]
            vals.append(struct.unpack("<f", chunk)[0] if typ == SET_FACTOR else int.from_bytes(chunk, "little"))
            i += size
        out.setdefault(typ, []).extend(vals)
    return out


def cmd_get_settings(measurement: int) -> bytes:
    return bytes([OP_GET_SETTINGS, measurement])


def cmd_start(measurement: int, sample_rate_hz: int, range_units: int, resolution_bits: int = RESOLUTION_BITS,
              channels: int = CHANNELS) -> bytes:
    """START with every setting a known-good Verity START carries, in their order: rate,
    resolution, range, channels (SPEC p10 ``02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03``;
    #331, #443; Polar staff in #438: ACC needs rate, range, channels and resolution)."""
    s: dict[int, float] = {SET_SAMPLE_RATE: int(sample_rate_hz), SET_RESOLUTION: int(resolution_bits), SET_RANGE: int(range_units),
         SET_CHANNELS: int(channels)}
    return bytes([OP_START, measurement]) + encode_settings(s)


def cmd_stop(measurement: int) -> bytes:
    return bytes([OP_STOP, measurement])  # BlePMDClient.kt:452-455


def cmd_sdk_mode(enable: bool) -> bytes:
    """SDK mode on = START of measurement type 9, off = STOP (BlePMDClient.kt:421-434)."""
    return bytes([OP_START if enable else OP_STOP, MEAS_SDK_MODE])


@dataclass(frozen=True)
class CpRequest:
    op: int
    measurement: int
    settings: dict


def decode_cp_request(data) -> CpRequest:
    b = bytes(data)
    if len(b) < 2:
        raise _err(TooShort, f"{len(b)} bytes, a control-point request has at least 2", "control", b)
    if not 1 <= b[0] <= 9:
        raise _err(UnknownType, f"op code {b[0]}", "control", b)
    return CpRequest(b[0], b[1] & MEAS_TYPE_MASK, decode_settings(b[2:]) if b[0] == OP_START else {})


@dataclass(frozen=True)
class CpResponse:
    """A control-point reply (``PmdControlPointResponse.kt:3-44``)."""

    op: int
    measurement: int
    status: int
    more: bool
    parameters: bytes

    @property
    def ok(self) -> bool:
        return self.status == ST_SUCCESS

    @property
    def status_name(self) -> str:
        return status_name(self.status)

    def settings(self) -> dict[int, list]:
        return decode_settings(self.parameters) if self.parameters else {}

    def factor(self) -> float:
        """FACTOR of a START reply, or 1.0 when it carries none (BlePMDClient.kt:75-82)."""
        return float(self.settings().get(SET_FACTOR, [1.0])[0])


@dataclass(frozen=True)
class DeviceStop:
    """The device stopped these streams by itself (BlePMDClient.kt:119-142)."""

    measurements: tuple[int, ...]


def encode_cp_response(op: int, measurement: int, status: int = ST_SUCCESS, parameters: bytes = b"",
                       more: bool = False) -> bytes:
    return bytes([CP_RESPONSE_CODE, op, measurement, status, 1 if more else 0]) + bytes(parameters)


def encode_device_stop(measurements) -> bytes:
    return bytes([DEVICE_OP_MEASUREMENT_STOPPED, *measurements])


def decode_cp_response(data) -> CpResponse:
    """A reply of 4 bytes or more; parameters only on success (PmdControlPointResponse.kt:33-44)."""
    b = bytes(data)
    if len(b) < 4:
        raise _err(TooShort, f"{len(b)} bytes, a control-point reply has at least 4", "control", b)
    if b[0] != CP_RESPONSE_CODE:
        raise _err(UnknownType, f"reply code 0x{b[0]:02X}, expected 0xF0", "control", b)
    ok = b[3] == ST_SUCCESS
    more = ok and len(b) > 4 and b[4] != 0
    return CpResponse(b[1], b[2] & MEAS_TYPE_MASK, b[3], more, b[5:] if ok else b"")


def decode_cp_notification(data) -> CpResponse | DeviceStop:
    """Anything indicated on the control point: a reply (``0xF0 …``) or a device command
    (BlePMDClient.kt:119-149)."""
    b = bytes(data)
    if not b:
        raise _err(TooShort, "empty control-point notification", "control", b)
    if b[0] == CP_RESPONSE_CODE:
        return decode_cp_response(b)
    if b[0] == DEVICE_OP_MEASUREMENT_STOPPED:
        return DeviceStop(tuple(x & MEAS_TYPE_MASK for x in b[1:]))
    raise _err(UnknownType, f"control-point command 0x{b[0]:02X} from the device", "control", b)


class CpReplyAssembler:
    """Joins chained replies: a reply with ``more`` set is continued by further replies to
    the same op whose parameters (from byte 5) are appended (BlePMDClient.kt:209-223)."""

    def __init__(self):
        self._head: CpResponse | None = None

    def feed(self, reply: CpResponse) -> CpResponse | None:
        """The complete reply once its last part arrived, else None."""
        if self._head is not None and reply.op == self._head.op:
            self._head = CpResponse(self._head.op, self._head.measurement, self._head.status, reply.more,
                                    self._head.parameters + reply.parameters)
        else:
            self._head = reply
        if self._head.more:
            return None
        done, self._head = self._head, None
        return done


# =====================================================================================
# Sample times and indices
# =====================================================================================
class PmdStreamTimeline:
    """Sample times (ns) and a derived sample index for one stream.

    Times: Polar's rule (``model/PmdTimeStampUtils.kt:11-35``) — the frame timestamp is the
    last sample's; with a previous frame the samples are spread evenly back to it, without
    one they go back at the nominal period. Deliberate difference: when the spread step is
    off the nominal period by more than 25 % (a lost frame in between, or a clock jump) the
    nominal period is used — the SDK would stretch the samples over the hole.

    Index (PMD has no sequence number): the first sample after START is 0; when a frame's
    first sample is more than 1.5 periods after the previous frame's last, ``round(Δt·rate) − 1``
    samples are counted missing.
    """

    def __init__(self, rate_hz: float):
        self.rate_hz = float(rate_hz)
        self.reset()

    def reset(self) -> None:
        self.prev_ts_ns: int | None = None
        self.next_index = 0
        self.missing_samples = 0

    def place(self, frame: PmdFrame) -> tuple[np.ndarray, int]:
        """Return (sample times in ns as float64, index of the first sample)."""
        n = frame.n
        period = 1e9 / self.rate_hz
        ts = float(frame.timestamp_ns)
        k = np.arange(1, n + 1, dtype=np.float64)
        if self.prev_ts_ns is not None and ts > self.prev_ts_ns:
            step = (ts - self.prev_ts_ns) / n  # PmdTimeStampUtils.kt:56-63
            if abs(step - period) <= 0.25 * period:
                t = self.prev_ts_ns + k * step  # PmdTimeStampUtils.kt:27,65-67
            else:
                t = ts - (n - k) * period
            gap = (t[0] - self.prev_ts_ns) / period
            missing = int(round(gap)) - 1
            if gap > 1.5 and missing > 0:
                self.next_index += missing
                self.missing_samples += missing
        else:
            t = ts - (n - k) * period  # PmdTimeStampUtils.kt:24-25,69-71
        first = self.next_index
        self.next_index += n
        self.prev_ts_ns = frame.timestamp_ns
        return t, first
