"""Movesense GATT Sensor Data protocol (GSP) — pure bytes ⇄ numbers.

Sources (full paths in ``docs/sensors.md``, "Primary sources"):

* **MS-FW**  ``samples/gatt_sensordata_app/GATTSensorDataClient.cpp`` / ``.h`` of the Movesense
  device library 2.2.1 (copy alexisduque/movesense-device-lib @ 22ad815; the same file at
  07177ff);
* **MS-PY**  ``samples/gatt_sensordata_app/python_client/movesense_sensor_data.py`` (same copy);
* **MS-YAML** ``MovesenseCoreLib/resources/movesense-api/meas/{imu,acc,gyro}.yaml`` (same copy).

GATT: service ``34802252-7185-4d5d-b431-630e7050e8f0``, command (write) ``34800001-…``, data
(notify) ``34800002-…`` (MS-FW cpp:23-28, MS-PY:20-26). The service UUID is not advertised:
a Movesense is recognised by its name ``Movesense <serial>``.

Commands (host → sensor; MS-FW cpp:125-140)::

    [0x00][ref]            HELLO         -> [0x01][ref]"Hello"          (cpp:217-225)
    [0x01][ref] + path     SUBSCRIBE     -> nothing on success (cpp:227-258); a full table of 4
                                            subscriptions -> [0x01][ref][0x01 0xFB] = 507,
                                            BIG-endian (cpp:229-240); a bad path -> nothing
    [0x02][ref]            UNSUBSCRIBE   -> nothing (cpp:273-285)

``ref`` is one byte, "not zero!" (cpp:127). Newer (datalogger) firmware answers SUBSCRIBE with
``[0x01][ref][u16 status]`` little-endian; :func:`parse_result` reads both byte orders.
"Delivery of responses is not guaranteed": a client must not wait for one (MS-PY never does).

Notifications (sensor → host; cpp:616-644)::

    [0x02][ref][first ≤ 150 payload bytes]   DATA        (cpp:618-622)
    [0x03][ref][the rest]                    DATA_PART2  (cpp:634-643)

The 2.2.1 sample builds each notification in a 158-byte buffer (``.h:78``; the Movesense
MTU is 161, cpp:246), so a payload reassembles only if it is at most 150 + 156 = 306 bytes.
Other firmware variants declare a DATA_PART3 (``0x04``): :class:`PartAssembler` accepts any
number of continuation parts.

Payloads (MS-YAML ``IMU6Data`` imu.yaml:215-237, ``AccData`` acc.yaml:116-130, ``GyroData``
gyro.yaml:114-129; MS-PY:151-168)::

    u32 Timestamp (ms, device clock) of the FIRST sample
    then each array in turn: n × (x, y, z) float32 — acceleration in m/s², angular rate in °/s

IMU6 = timestamp, all acc triplets, then all gyro triplets. Samples per notification are
rate/13 (MS-PY: 8 at 104 Hz) — so IMU6 at 208 Hz (16 samples, 388 bytes) does not fit the
2.2.1 sample's two parts, while ``/Meas/Acc/208`` and ``/Meas/Gyro/208`` (196 bytes each) do.
Rates: 13, 26, 52, 104, 208, 416, 833, 1666 Hz.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from imugait.conventions import GRAVITY_MPS2
from imugait.protocol.errors import BadValue, TooShort, Truncated, UnknownType

PROTOCOL = "movesense"

GSP_SERVICE_UUID = "34802252-7185-4d5d-b431-630e7050e8f0"
GSP_WRITE_UUID = "34800001-7185-4d5d-b431-630e7050e8f0"
GSP_NOTIFY_UUID = "34800002-7185-4d5d-b431-630e7050e8f0"

CMD_HELLO = 0x00
CMD_SUBSCRIBE = 0x01
CMD_UNSUBSCRIBE = 0x02

RESP_COMMAND_RESULT = 0x01
RESP_DATA = 0x02
RESP_DATA_PART2 = 0x03
RESP_DATA_PART3 = 0x04
CONTINUATION_TYPES = (RESP_DATA_PART2, RESP_DATA_PART3)

RATES_HZ = (13, 26, 52, 104, 208, 416, 833, 1666)
IMU6_RATES_HZ = RATES_HZ
SAMPLE_FW_FIRST_PART = 150  # MS-FW cpp:622
SAMPLE_FW_BUFFER = 158  # MS-FW .h:78 (2 header bytes + 156)
SAMPLE_FW_MAX_PAYLOAD = SAMPLE_FW_FIRST_PART + SAMPLE_FW_BUFFER - 2  # 306
MAX_SUBSCRIPTIONS = 4  # MS-FW .h:72

RES_IMU6 = "IMU6"
RES_ACC = "Acc"
RES_GYRO = "Gyro"
_ARRAYS = {RES_IMU6: 2, RES_ACC: 1, RES_GYRO: 1}

# storage: Movesense sends floats; imugait keeps int16 counts at fixed scales (the sensor's
# LSB at ±16 g and ±2000 °/s); values beyond saturate
ACC_SCALE_MPS2 = 16.0 * GRAVITY_MPS2 / 32768.0
GYR_SCALE_DPS = 2000.0 / 32768.0
ACC_RANGE_G = 16.0
GYR_RANGE_DPS = 2000.0


def _err(cls, reason: str, what: str, data: bytes):
    return cls(reason, protocol=PROTOCOL, what=what, data=data)


def samples_per_notification(rate_hz: int) -> int:
    """rate/13 samples per notification (MS-PY:124,152: 16 at 200 Hz ECG, 8 at 104 Hz IMU9)."""
    return max(1, int(rate_hz) // 13)


def payload_bytes(resource: str, rate_hz: int) -> int:
    return 4 + samples_per_notification(rate_hz) * 12 * _ARRAYS[resource]


def resource_path(resource: str, rate_hz: int) -> str:
    if int(rate_hz) not in RATES_HZ:
        raise BadValue(f"rate {rate_hz} Hz; Movesense offers {RATES_HZ}", protocol=PROTOCOL, what="command")
    return f"/Meas/{resource}/{int(rate_hz)}"


def imu6_path(rate_hz: int) -> str:
    return resource_path(RES_IMU6, rate_hz)


def parse_path(path: str) -> tuple[str, int] | None:
    """``"/Meas/Acc/208"`` -> ``("Acc", 208)``; None for anything else."""
    parts = path.strip("\x00").strip("/").split("/")
    if len(parts) == 3 and parts[0] == "Meas" and parts[1] in _ARRAYS and parts[2].isdigit():
        return parts[1], int(parts[2])
    return None


def cmd_hello(ref: int) -> bytes:
    return bytes([CMD_HELLO, ref & 0xFF])


def cmd_subscribe(ref: int, path: str) -> bytes:
    if not 1 <= ref <= 255:  # MS-FW cpp:127 "not zero!"
        raise BadValue(f"subscription reference {ref} outside 1..255", protocol=PROTOCOL, what="command")
    return bytes([CMD_SUBSCRIBE, ref]) + path.encode("ascii")


def cmd_unsubscribe(ref: int) -> bytes:
    return bytes([CMD_UNSUBSCRIBE, ref & 0xFF])


@dataclass(frozen=True)
class GspCommand:
    op: int
    ref: int
    path: str = ""


def decode_command(data) -> GspCommand:
    b = bytes(data)
    if len(b) < 2:
        raise _err(TooShort, f"{len(b)} bytes, a command has at least 2", "command", b)
    if b[0] not in (CMD_HELLO, CMD_SUBSCRIBE, CMD_UNSUBSCRIBE):
        raise _err(UnknownType, f"command 0x{b[0]:02X}", "command", b)
    path = ""
    if b[0] == CMD_SUBSCRIBE:
        try:
            path = b[2:].decode("ascii")
        except UnicodeDecodeError:
            raise _err(BadValue, "resource path is not ASCII", "command", b) from None
    return GspCommand(b[0], b[1], path)


@dataclass(frozen=True)
class CommandResult:
    """A COMMAND_RESULT: ``status`` (HTTP-like) or ``text`` (the HELLO answer)."""

    ref: int
    status: int | None = None
    text: str = ""

    @property
    def is_error(self) -> bool:
        return self.status is not None and self.status >= 400


def _plausible(code: int) -> bool:
    return 100 <= code <= 599


def parse_result(data) -> CommandResult:
    """COMMAND_RESULT in either byte order: big-endian in the 2.2.1 sample (cpp:235, 507 ->
    ``01 FB``), little-endian in newer firmware — whichever reads as an HTTP code."""
    b = bytes(data)
    if len(b) < 2 or b[0] != RESP_COMMAND_RESULT:
        raise _err(TooShort if len(b) < 2 else UnknownType, "not a command result", "result", b)
    ref, body = b[1], b[2:]
    if len(body) == 2:
        be, le = int.from_bytes(body, "big"), int.from_bytes(body, "little")
        if _plausible(be) and not _plausible(le):
            return CommandResult(ref, be)
        if _plausible(le):
            return CommandResult(ref, le)
    return CommandResult(ref, None, body.decode("ascii", "replace"))


def encode_result(ref: int, status: int, big_endian: bool = True) -> bytes:
    return bytes([RESP_COMMAND_RESULT, ref]) + int(status).to_bytes(2, "big" if big_endian else "little")


@dataclass(frozen=True)
class VectorPayload:
    """One decoded payload: ``timestamp_ms`` of the first sample; ``acc_mps2`` / ``gyr_dps``
    (n, 3) float32, either may be None (Acc-only or Gyro-only resources)."""

    timestamp_ms: int
    acc_mps2: np.ndarray | None = field(default=None, repr=False)
    gyr_dps: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        a = self.acc_mps2 if self.acc_mps2 is not None else self.gyr_dps
        return int(a.shape[0]) if a is not None else 0


def decode_payload(resource: str, payload) -> VectorPayload:
    """``u32 timestamp`` + the resource's float32 triplet arrays (MS-YAML; MS-PY:151-168)."""
    b = bytes(payload)
    arrays = _ARRAYS[resource]
    step = 12 * arrays
    if len(b) < 4 + step:
        raise _err(TooShort, f"{resource} payload of {len(b)} bytes; at least {4 + step} expected", "data", b)
    if (len(b) - 4) % step:
        raise _err(Truncated, f"{resource} payload of {len(b)} bytes is 4 + a non-whole number of {step}-byte samples",
                   "data", b)
    n = (len(b) - 4) // step
    (ts,) = struct.unpack_from("<I", b, 0)
    vals = np.frombuffer(b, dtype="<f4", offset=4).reshape(arrays, n, 3)
    if not np.all(np.isfinite(vals)):
        raise _err(BadValue, f"{resource} payload holds NaN or infinite values", "data", b)
    if resource == RES_IMU6:
        return VectorPayload(ts, vals[0].copy(), vals[1].copy())
    if resource == RES_ACC:
        return VectorPayload(ts, vals[0].copy(), None)
    return VectorPayload(ts, None, vals[0].copy())


def encode_payload(timestamp_ms: int, *arrays) -> bytes:
    out = struct.pack("<I", int(timestamp_ms) & 0xFFFFFFFF)
    for a in arrays:
        out += np.asarray(a, dtype="<f4").reshape(-1, 3).tobytes()
    return out


def split_notifications(ref: int, payload: bytes, first_part: int = SAMPLE_FW_FIRST_PART,
                        later_part: int = SAMPLE_FW_BUFFER - 2, max_parts: int = 2) -> list[bytes]:
    """What a firmware sends for one payload: DATA with the first ``first_part`` bytes, then
    continuation parts of at most ``later_part`` bytes, at most ``max_parts`` in all. The 2.2.1
    sample (defaults) sends only DATA + DATA_PART2 and its second part holds at most 156 bytes
    (cpp:622-643, .h:78): a longer payload arrives cut and never reassembles."""
    parts = [bytes([RESP_DATA, ref]) + payload[:first_part]]
    rest = payload[first_part:]
    kind = RESP_DATA_PART2
    while rest and len(parts) < max_parts:
        parts.append(bytes([kind, ref]) + rest[:later_part])
        rest = rest[later_part:]
        kind += 1
    return parts


class PartAssembler:
    """Joins DATA + any number of continuation parts per reference.

    The payload length is not on the wire. A payload is complete when it reaches the expected
    length of that reference (the nominal size from the subscribed resource, then the last
    payload that decoded), or when the next DATA of that reference arrives. ``feed`` returns ``(ref, payload)`` pairs that became complete.
    """

    def __init__(self):
        self._pending: dict[int, bytearray] = {}
        self._length: dict[int, int] = {}

    def clear(self) -> None:
        self._pending.clear()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        b = bytes(data)
        kind, ref = b[0], b[1]
        out = []
        if kind == RESP_DATA:
            if ref in self._pending:
                out.append((ref, bytes(self._pending.pop(ref))))
            self._pending[ref] = bytearray(b[2:])
        elif kind in CONTINUATION_TYPES:
            if ref not in self._pending:
                raise _err(Truncated, f"continuation part 0x{kind:02X} for ref {ref} without its first part", "data", b)
            self._pending[ref] += b[2:]
        else:
            raise _err(UnknownType, f"notification type 0x{kind:02X}", "notification", b)
        want = self._length.get(ref)
        if want is not None and ref in self._pending and len(self._pending[ref]) >= want:
            out.append((ref, bytes(self._pending.pop(ref))))
        return out

    def learnt(self, ref: int, length: int) -> None:
        """Expect payloads of ``length`` bytes for ``ref`` (the nominal size of its resource,
        then whatever decoded fine)."""
        self._length[ref] = int(length)

    def forget(self, ref: int) -> None:
        """The expected length was wrong: complete payloads at the next DATA again."""
        self._length.pop(ref, None)

    def flush(self) -> list[tuple[int, bytes]]:
        out = [(r, bytes(p)) for r, p in self._pending.items()]
        self._pending.clear()
        return out
