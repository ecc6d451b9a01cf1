"""Polar Measurement Data (PMD) — the streaming protocol of the Polar Verity Sense.

Pure bytes ⇄ numbers; no bleak. Written from Polar's public documentation and unit-test
frames (polarofficial/polar-ble-sdk, ``technical_documentation/`` and the Android SDK's
``pmd/model/AccDataTest.kt``, ``GyrDataTest.kt``, ``BlePmdClientControlPointResponseTest.kt``).

GATT
----
Service ``FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8``; control point ``…5C81`` (write with
response + indicate: responses), data ``…5C82`` (notify).

Data frame (one notification)
-----------------------------
::

    [0]     measurement type  (2 = ACC, 5 = GYRO)
    [1:9]   u64 timestamp, ns, of the LAST sample in the frame (Polar epoch 2000-01-01)
    [9]     frame type; bit 7 set = delta-compressed, bits 0..6 = frame type number
    [10:]   payload

Raw frames: samples back to back, 3 channels each, little-endian signed integers
(ACC type 0 int8, type 1 int16, type 2 int24; GYRO type 0 int16) or float32 (GYRO type 1).

Compressed frames: one reference sample (3 × int16, or 3 × float32 for GYRO type 1), then
blocks ``[bit width u8][sample count u8][count × 3 deltas, packed LSB-first, each a signed
integer of bit width]``; every sample is the previous one plus its delta (for float
references the deltas are added to the IEEE-754 bit patterns, as Polar does). Raw values
× the settings' FACTOR give g (ACC) or deg/s (GYRO).

Sample times: the frame timestamp belongs to the last sample. With the previous frame's
timestamp ``prev`` of the same stream, sample ``i`` of ``n`` is at
``prev + (i + 1)·(ts − prev)/n`` (Polar's own rule); for the first frame, or when that
spacing is off the nominal ``1/rate`` by more than 25 % (a lost frame in between), the
nominal spacing backwards from ``ts`` is used.

Sample index and loss (Polar sends no sequence number)
------------------------------------------------------
:class:`PmdStreamTimeline` derives a sample index per stream: the first sample after START
is 0; each frame continues the count; when the first sample of a frame is more than 1.5
nominal periods after the previous frame's last sample, ``round(Δt·rate) − 1`` samples are
counted as missing and the index jumps by that much. :class:`PolarDecoder` pairs each ACC
sample with the GYRO sample nearest in time (within half a period); a sample missing in
either stream is therefore a gap in the ACC-derived index of the emitted
:class:`~imugait.types.SampleBlock` — the engine's tracker counts it like any other gap.

Control point
-------------
Requests ``[op][measurement type][settings…]``; op 1 get settings, 2 start, 3 stop.
Settings are ``[setting type][count][count × value]``: 0 sample rate u16 Hz, 1 resolution
u16 bits, 2 range u16 (g or deg/s), 3 range milli-unit u32, 4 channels u8, 5 factor f32.
Responses ``[0xF0][op][measurement type][status][more][parameters…]``. SDK mode (needed
for ACC/GYRO above 52 Hz on the Verity Sense): start/stop measurement type 9.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from imugait.conventions import GRAVITY_MPS2
from imugait.protocol.errors import BadValue, TooShort, Truncated, UnknownType
from imugait.types import SampleBlock

PROTOCOL = "polar"

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CP_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

MEAS_ECG = 0
MEAS_PPG = 1
MEAS_ACC = 2
MEAS_PPI = 3
MEAS_GYRO = 5
MEAS_MAG = 6
MEAS_SDK_MODE = 9
MEAS_NAMES = {MEAS_ECG: "ECG", MEAS_PPG: "PPG", MEAS_ACC: "ACC", MEAS_PPI: "PPI", MEAS_GYRO: "GYRO", MEAS_MAG: "MAG", MEAS_SDK_MODE: "SDK_MODE"}

OP_GET_SETTINGS = 0x01
OP_START = 0x02
OP_STOP = 0x03
OP_GET_SDK_MODE_SETTINGS = 0x04
OP_GET_STATUS = 0x05
CP_RESPONSE_CODE = 0xF0

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
STATUS_NAMES = {
    0: "success",
    1: "invalid op code",
    2: "invalid measurement type",
    3: "not supported",
    4: "invalid length",
    5: "invalid parameter",
    6: "already in state",
    7: "invalid resolution",
    8: "invalid sample rate",
    9: "invalid range",
    10: "invalid MTU",
}

SET_SAMPLE_RATE = 0
SET_RESOLUTION = 1
SET_RANGE = 2
SET_RANGE_MILLIUNIT = 3
SET_CHANNELS = 4
SET_FACTOR = 5
_SETTING_SIZE = {SET_SAMPLE_RATE: 2, SET_RESOLUTION: 2, SET_RANGE: 2, SET_RANGE_MILLIUNIT: 4, SET_CHANNELS: 1, SET_FACTOR: 4}

NORMAL_MODE_RATES_HZ = (52,)
SDK_MODE_RATES_HZ = (26, 52, 104, 208, 416)
ACC_RANGES_G = (2, 4, 8, 16)
GYR_RANGES_DPS = (250, 500, 1000, 2000)

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
    float32 for float frames — raw values, before FACTOR."""

    measurement: int
    timestamp_ns: int
    frame_type: int  # bits 0..6
    compressed: bool
    values: np.ndarray = field(repr=False)

    @property
    def n(self) -> int:
        return int(self.values.shape[0])


# (measurement, frame type) -> (bytes per channel, is_float) for RAW frames
_RAW_LAYOUT = {
    (MEAS_ACC, 0): (1, False),
    (MEAS_ACC, 1): (2, False),
    (MEAS_ACC, 2): (3, False),
    (MEAS_GYRO, 0): (2, False),
    (MEAS_GYRO, 1): (4, True),
}
# (measurement, frame type) -> (reference bytes per channel, is_float) for COMPRESSED frames
_COMP_LAYOUT = {
    (MEAS_ACC, 0): (2, False),
    (MEAS_ACC, 1): (2, False),
    (MEAS_GYRO, 0): (2, False),
    (MEAS_GYRO, 1): (4, True),
}
CHANNELS = 3


def _read_signed(buf: np.ndarray, width_bytes: int) -> np.ndarray:
    """(m, width) uint8 little-endian rows -> int64 signed values."""
    v = np.zeros(buf.shape[0], dtype=np.int64)
    for k in range(width_bytes):
        v |= buf[:, k].astype(np.int64) << (8 * k)
    sign = np.int64(1) << (8 * width_bytes - 1)
    return (v ^ sign) - sign


def _unpack_deltas(b: bytes, offset: int, width_bits: int, count: int, what: str, data: bytes) -> tuple[np.ndarray, int]:
    n_vals = count * CHANNELS
    n_bits = n_vals * width_bits
    n_bytes = (n_bits + 7) // 8
    if offset + n_bytes > len(b):
        raise _err(
            Truncated,
            f"delta block of {count} samples × {width_bits} bits needs {n_bytes} bytes at offset {offset}, "
            f"only {len(b) - offset} left",
            what,
            data,
        )
    raw = np.frombuffer(b, dtype=np.uint8, count=n_bytes, offset=offset)
    bits = np.unpackbits(raw, bitorder="little")[:n_bits].reshape(n_vals, width_bits).astype(np.int64)
    weights = np.int64(1) << np.arange(width_bits, dtype=np.int64)
    vals = bits @ weights
    sign = np.int64(1) << (width_bits - 1)
    vals = (vals ^ sign) - sign
    return vals.reshape(count, CHANNELS), offset + n_bytes


def decode_frame(data) -> PmdFrame:
    """Decode one PMD data notification (ACC or GYRO); raise a ``PacketError`` subclass
    for anything malformed or unsupported."""
    b = bytes(data)
    what = "data"
    if len(b) < HEADER_SIZE:
        raise _err(TooShort, f"{len(b)} bytes, a PMD frame header is {HEADER_SIZE}", what, b)
    meas, ts, ftype_byte = _HEADER.unpack_from(b, 0)
    compressed = bool(ftype_byte & 0x80)
    ftype = ftype_byte & 0x7F
    key = (meas, ftype)
    payload_off = HEADER_SIZE
    if meas not in (MEAS_ACC, MEAS_GYRO):
        raise _err(UnknownType, f"measurement type {meas} ({MEAS_NAMES.get(meas, 'unknown')}) is not ACC or GYRO", what, b)
    if not compressed:
        if key not in _RAW_LAYOUT:
            raise _err(UnknownType, f"raw {MEAS_NAMES[meas]} frame type {ftype} is not supported", what, b)
        width, is_float = _RAW_LAYOUT[key]
        body = b[payload_off:]
        step = width * CHANNELS
        if len(body) == 0 or len(body) % step:
            raise _err(Truncated, f"raw payload of {len(body)} bytes is not a whole number of {step}-byte samples", what, b)
        n = len(body) // step
        if is_float:
            vals = np.frombuffer(body, dtype="<f4").reshape(n, CHANNELS).copy()
        else:
            arr = np.frombuffer(body, dtype=np.uint8).reshape(n * CHANNELS, width)
            vals = _read_signed(arr, width).reshape(n, CHANNELS)
        return PmdFrame(meas, ts, ftype, False, vals)

    if key not in _COMP_LAYOUT:
        raise _err(UnknownType, f"compressed {MEAS_NAMES[meas]} frame type {ftype} is not supported", what, b)
    width, is_float = _COMP_LAYOUT[key]
    ref_size = width * CHANNELS
    if len(b) < payload_off + ref_size:
        raise _err(Truncated, f"compressed frame ends inside its {ref_size}-byte reference sample", what, b)
    ref_bytes = b[payload_off : payload_off + ref_size]
    if is_float:
        ref = np.frombuffer(ref_bytes, dtype="<u4").astype(np.int64)
    else:
        ref = _read_signed(np.frombuffer(ref_bytes, dtype=np.uint8).reshape(CHANNELS, width), width)
    off = payload_off + ref_size
    blocks = [ref.reshape(1, CHANNELS)]
    while off < len(b):
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
    allv = np.concatenate(blocks, axis=0)
    vals = np.cumsum(allv, axis=0)
    if is_float:
        vals = (vals & 0xFFFFFFFF).astype(np.uint32).view(np.float32).reshape(-1, CHANNELS).copy()
    return PmdFrame(meas, ts, ftype, True, vals)


def _signed_width(v: np.ndarray) -> int:
    """Smallest bit width holding every value of ``v`` as a signed integer (≥ 1)."""
    if v.size == 0:
        return 1
    lo, hi = int(v.min()), int(v.max())
    w = 1
    while not (-(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1):
        w += 1
    return w


def encode_frame(measurement: int, timestamp_ns: int, values, *, compressed: bool = True, frame_type: int | None = None) -> bytes:
    """Build a PMD data frame from integer samples (n, 3) (what a Verity Sense sends).

    Default frame types: compressed ACC type 1 / GYRO type 0 (int16 reference), raw ACC
    type 1 / GYRO type 0 (int16). Deltas go in blocks of at most 255 samples, each with the
    smallest bit width that holds its deltas.
    """
    v = np.asarray(values)
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < 1:
        raise BadValue(f"values must be (n >= 1, 3), got {v.shape}", protocol=PROTOCOL, what="data")
    if frame_type is None:
        frame_type = 1 if measurement == MEAS_ACC else 0
    key = (measurement, frame_type)
    if compressed:
        if key not in _COMP_LAYOUT or _COMP_LAYOUT[key][1]:
            raise BadValue(f"cannot encode compressed frame {key}", protocol=PROTOCOL, what="data")
        v = v.astype(np.int64)
        out = bytearray(_HEADER.pack(measurement, int(timestamp_ns), 0x80 | frame_type))
        out += v[0].astype("<i2").tobytes()
        d = np.diff(v, axis=0)
        for s in range(0, d.shape[0], 255):
            blk = d[s : s + 255]
            w = _signed_width(blk)
            flat = (blk.reshape(-1) & ((1 << w) - 1)).astype(np.int64)
            bits = ((flat[:, None] >> np.arange(w, dtype=np.int64)) & 1).astype(np.uint8).reshape(-1)
            out += bytes([w, blk.shape[0]])
            out += np.packbits(bits, bitorder="little").tobytes()
        return bytes(out)
    if key not in _RAW_LAYOUT:
        raise BadValue(f"cannot encode raw frame {key}", protocol=PROTOCOL, what="data")
    width, is_float = _RAW_LAYOUT[key]
    head = _HEADER.pack(measurement, int(timestamp_ns), frame_type)
    if is_float:
        return head + v.astype("<f4").tobytes()
    iv = v.astype(np.int64).reshape(-1)
    mask = (1 << (8 * width)) - 1
    u = (iv & mask).astype(np.uint64)
    by = ((u[:, None] >> (8 * np.arange(width, dtype=np.uint64))) & 0xFF).astype(np.uint8)
    return head + by.tobytes()


# =====================================================================================
# Control point
# =====================================================================================
def encode_settings(settings: dict[int, float]) -> bytes:
    """``{SET_SAMPLE_RATE: 416, SET_RANGE: 8, SET_RESOLUTION: 16}`` -> TLV bytes (count 1)."""
    out = bytearray()
    for typ, val in settings.items():
        out += bytes([typ, 1])
        if typ == SET_FACTOR:
            out += struct.pack("<f", float(val))
        elif typ == SET_RANGE_MILLIUNIT:
            out += struct.pack("<I", int(val))
        elif typ == SET_CHANNELS:
            out += bytes([int(val)])
        else:
            out += struct.pack("<H", int(val))
    return bytes(out)


def decode_settings(data) -> dict[int, list]:
    """TLV settings (from a get-settings response or a start request) -> {type: [values]}."""
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
            chunk = b[i : i + size]
            if typ == SET_FACTOR:
                vals.append(struct.unpack("<f", chunk)[0])
            else:
                vals.append(int.from_bytes(chunk, "little"))
            i += size
        out.setdefault(typ, []).extend(vals)
    return out


def cmd_get_settings(measurement: int) -> bytes:
    return bytes([OP_GET_SETTINGS, measurement])


def cmd_start(measurement: int, sample_rate_hz: int | None = None, range_units: int | None = None, resolution_bits: int | None = 16) -> bytes:
    s: dict[int, float] = {}
    if sample_rate_hz is not None:
        s[SET_SAMPLE_RATE] = int(sample_rate_hz)
    if resolution_bits is not None:
        s[SET_RESOLUTION] = int(resolution_bits)
    if range_units is not None:
        s[SET_RANGE] = int(range_units)
    return bytes([OP_START, measurement]) + encode_settings(s)


def cmd_stop(measurement: int) -> bytes:
    return bytes([OP_STOP, measurement])


def cmd_sdk_mode(enable: bool) -> bytes:
    """SDK mode on (start measurement type 9) or off (stop measurement type 9)."""
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
    if b[0] not in (OP_GET_SETTINGS, OP_START, OP_STOP, OP_GET_SDK_MODE_SETTINGS, OP_GET_STATUS):
        raise _err(UnknownType, f"op code {b[0]}", "control", b)
    return CpRequest(b[0], b[1], decode_settings(b[2:]) if b[0] == OP_START else {})


@dataclass(frozen=True)
class CpResponse:
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
        return STATUS_NAMES.get(self.status, f"status {self.status}")


def encode_cp_response(op: int, measurement: int, status: int = ST_SUCCESS, parameters: bytes = b"", more: bool = False) -> bytes:
    return bytes([CP_RESPONSE_CODE, op, measurement, status, 1 if more else 0]) + bytes(parameters)


def decode_cp_response(data) -> CpResponse:
    b = bytes(data)
    if len(b) < 4:
        raise _err(TooShort, f"{len(b)} bytes, a control-point response has at least 4", "control", b)
    if b[0] != CP_RESPONSE_CODE:
        raise _err(UnknownType, f"response code 0x{b[0]:02X}, expected 0xF0", "control", b)
    more = bool(b[4]) if len(b) > 4 else False
    return CpResponse(b[1], b[2], b[3], more, b[5:])


# =====================================================================================
# Timelines, pairing, SampleBlocks
# =====================================================================================
class PmdStreamTimeline:
    """Per-stream sample times (ns) and derived sample indices (see module docstring)."""

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
            step = (ts - self.prev_ts_ns) / n
            if abs(step - period) <= 0.25 * period:
                t = self.prev_ts_ns + k * step
            else:
                t = ts - (n - k) * period
            gap_s = (t[0] - self.prev_ts_ns) / 1e9
            missing = int(round(gap_s * self.rate_hz)) - 1
            if gap_s * self.rate_hz > 1.5 and missing > 0:
                self.next_index += missing
                self.missing_samples += missing
        else:
            t = ts - (n - k) * period
        first = self.next_index
        self.next_index += n
        self.prev_ts_ns = frame.timestamp_ns
        return t, first


@dataclass
class PolarSettings:
    """What the host set / the device reported for one Verity Sense."""

    rate_hz: float = 52.0
    acc_factor_g: float = 2.44e-4  # g per count (±8 g, 16 bit)
    gyr_factor_dps: float = 0.0610  # deg/s per count (±2000 deg/s, 16 bit)
    acc_range_g: float = 8.0
    gyr_range_dps: float = 2000.0

    @property
    def acc_scale_mps2(self) -> float:
        return self.acc_factor_g * GRAVITY_MPS2

    @property
    def gyr_scale_dps(self) -> float:
        return self.gyr_factor_dps


class PolarDecoder:
    """Stateful per-sensor decoder: PMD ACC and GYRO frames -> paired SampleBlocks.

    ``feed(data, t_arrival_host_s)`` returns the blocks that became complete. ACC and GYRO
    samples are paired by time (nearest within half a period); unpaired samples are
    dropped once the other stream has moved past them and are then gaps in the index.
    ``reset()`` after a reconnect / restart of the measurements.
    """

    def __init__(self, side, settings: PolarSettings | None = None):
        self.side = side
        self.settings = settings or PolarSettings()
        self.reset()

    def reset(self) -> None:
        r = self.settings.rate_hz
        self.tl = {MEAS_ACC: PmdStreamTimeline(r), MEAS_GYRO: PmdStreamTimeline(r)}
        e = (np.empty(0), np.empty(0, np.int64), np.empty((0, 3), np.int16))
        self._buf = {MEAS_ACC: e, MEAS_GYRO: e}  # (t_ns, index, counts) not yet paired
        self.unpaired_samples = {MEAS_ACC: 0, MEAS_GYRO: 0}

    def _to_counts(self, meas: int, frame: PmdFrame) -> np.ndarray:
        v = frame.values
        if v.dtype.kind == "f":
            # float GYRO frames carry deg/s (× FACTOR); store as counts of the gyro scale
            scale = self.settings.gyr_scale_dps
            v = np.round(v.astype(np.float64) / scale)
        return np.clip(v, -32768, 32767).astype(np.int16)

    def feed(self, data, t_arrival_host_s: float = float("nan")) -> list[SampleBlock]:
        frame = decode_frame(data)
        t_ns, first = self.tl[frame.measurement].place(frame)
        t0, i0, v0 = self._buf[frame.measurement]
        self._buf[frame.measurement] = (
            np.concatenate([t0, t_ns]),
            np.concatenate([i0, first + np.arange(frame.n, dtype=np.int64)]),
            np.concatenate([v0, self._to_counts(frame.measurement, frame)]),
        )
        return self._pair(t_arrival_host_s)

    def _pair(self, t_arr: float) -> list[SampleBlock]:
        ta, ia, va = self._buf[MEAS_ACC]
        tg, ig, vg = self._buf[MEAS_GYRO]
        if len(ta) == 0 or len(tg) == 0:
            return []
        half = 0.5e9 / self.settings.rate_hz
        j = np.searchsorted(tg, ta)
        jl = np.clip(j - 1, 0, len(tg) - 1)
        jr = np.clip(j, 0, len(tg) - 1)
        pick = np.where(np.abs(tg[jl] - ta) <= np.abs(tg[jr] - ta), jl, jr)
        matched = np.abs(tg[pick] - ta) <= half
        # an ACC sample is final once GYRO has data beyond it (or it is matched)
        horizon = min(ta[-1], tg[-1])
        final_a = ta <= horizon + half
        use = matched & final_a
        drop_a = (~matched) & (ta < tg[-1] - half)
        keep_a = ~(use | drop_a)
        used_g = np.zeros(len(tg), dtype=bool)
        used_g[pick[use]] = True
        # gyro samples older than the last used/dropped acc sample and unused are lost
        last_done_t = ta[use | drop_a].max() if np.any(use | drop_a) else -np.inf
        drop_g = (~used_g) & (tg < last_done_t - half)
        keep_g = ~(used_g | drop_g)
        self.unpaired_samples[MEAS_ACC] += int(drop_a.sum())
        self.unpaired_samples[MEAS_GYRO] += int(drop_g.sum())
        blocks: list[SampleBlock] = []
        if np.any(use):
            ui = np.nonzero(use)[0]
            # split into runs of consecutive ACC indices -> one block per run
            idx = ia[ui]
            cuts = np.nonzero(np.diff(idx) != 1)[0] + 1
            for run in np.split(np.arange(len(ui)), cuts):
                sel = ui[run]
                blocks.append(
                    SampleBlock(
                        side=self.side,
                        first_index=int(ia[sel[0]]),
                        t_dev_s=ta[sel] / 1e9,
                        acc_counts=va[sel],
                        gyr_counts=vg[pick[sel]],
                        acc_scale_mps2=self.settings.acc_scale_mps2,
                        gyr_scale_dps=self.settings.gyr_scale_dps,
                        seq=-1,
                        t_arrival_host_s=t_arr,
                        extra={"kind": "polar"},
                    )
                )
        self._buf[MEAS_ACC] = (ta[keep_a], ia[keep_a], va[keep_a])
        self._buf[MEAS_GYRO] = (tg[keep_g], ig[keep_g], vg[keep_g])
        return blocks


# =====================================================================================
# Acquisition-engine decoder (registered as kind "polar")
# =====================================================================================
def _register() -> None:
    from imugait.acquire.base import StatusEvent
    from imugait.acquire.decode import DecodedPacket, KindDecoder, register_decoder

    class PolarKindDecoder(KindDecoder):
        """Engine adapter: channel ``"pmd_data"`` (or ``"data"``) PMD frames -> paired
        SampleBlocks; ``"battery"`` -> StatusEvent. No sequence numbers: the tracker counts
        loss from the timestamp-derived sample index. Reconnects keep the index running
        (the Verity Sense clock keeps running), so the outage shows as one exact gap; a
        clock that jumps backwards (device reset) starts a new epoch (``boot_id``)."""

        kind = "polar"
        seq_modulus = None
        index_modulus = None

        def __init__(self, side):
            super().__init__(side)
            self.dec = PolarDecoder(side)
            self.epoch = 0

        def set_info(self, info) -> None:
            super().set_info(info)
            s = self.dec.settings
            changed = (s.rate_hz != info.sample_rate_hz)
            s.rate_hz = float(info.sample_rate_hz)
            s.acc_factor_g = float(info.acc_scale_mps2) / GRAVITY_MPS2
            s.gyr_factor_dps = float(info.gyr_scale_dps)
            s.acc_range_g = float(info.acc_range_g)
            s.gyr_range_dps = float(info.gyr_range_dps)
            for tl in self.dec.tl.values():
                tl.rate_hz = s.rate_hz
            if changed:
                self.dec.reset()
                self.epoch += 1

        def reset(self) -> None:
            # drop half-paired samples; keep the timelines (index continues across the outage)
            e = (np.empty(0), np.empty(0, np.int64), np.empty((0, 3), np.int16))
            self.dec._buf = {MEAS_ACC: e, MEAS_GYRO: e}

        def decode(self, event) -> list:
            if event.channel == "battery":
                return [StatusEvent(self.side, event.t_arrival_host_s, battery_pct=float(event.data[0]) if event.data else None)]
            if event.channel not in ("pmd_data", "data"):
                return []
            frame_ts = _HEADER.unpack_from(bytes(event.data), 0)[1] if len(event.data) >= HEADER_SIZE else None
            if frame_ts is not None:
                tl = self.dec.tl.get(bytes(event.data)[0])
                if tl is not None and tl.prev_ts_ns is not None and frame_ts + 1e9 < tl.prev_ts_ns:
                    self.dec.reset()  # device clock went back: reset
                    self.epoch += 1
            blocks = self.dec.feed(event.data, event.t_arrival_host_s)
            return [DecodedPacket(b, None, self.epoch) for b in blocks]

    register_decoder("polar", PolarKindDecoder)


try:  # registration needs the acquisition package; the codec above does not
    _register()
except ImportError:  # pragma: no cover
    pass
