"""Movesense GATT Sensor Data Protocol (GSP), IMU6 stream — pure bytes ⇄ numbers.

The default Movesense firmware ("gatt_sensordata_app") exposes service
``34802252-7185-4d5d-b431-630e7050e8f0`` with a write characteristic ``34800001-…`` (host →
sensor commands) and a notify characteristic ``34800002-…`` (sensor → host).

Commands (host → sensor)::

    [0x00][ref]                      HELLO
    [0x01][ref] + b"/Meas/IMU6/104"  SUBSCRIBE to a resource; ``ref`` (1..255) tags its data
    [0x02][ref]                      UNSUBSCRIBE

Notifications (sensor → host)::

    [0x01][ref][u16 status]          COMMAND_RESULT (HTTP-like status, 200 = OK)
    [0x02][ref][payload …]           DATA (first or only part)
    [0x03][ref][payload …]           DATA_PART2: continuation of the previous DATA with ``ref``

IMU6 payload (``/Meas/IMU6/<rate>``; rates 13, 26, 52, 104, 208, 416, 833, 1666 Hz)::

    u32   timestamp, ms, device clock, of the FIRST sample of the packet
    n × 3 float32  acceleration, m/s²   (x, y, z per sample)
    n × 3 float32  angular rate, deg/s  (x, y, z per sample)

so ``n = (len(payload) − 4) / 24``. A payload longer than one notification is sent as DATA
followed by DATA_PART2 with the rest; :class:`MovesenseDecoder` joins them.

Counts and scales (documented choice)
-------------------------------------
Movesense sends floats; imugait stores integer counts with a scale like every sensor. We
quantise with fixed scales: ``ACC_SCALE_MPS2 = 16 g / 32768`` (= 0.00479 m/s² per count,
the LSB of the sensor at ±16 g) and ``GYR_SCALE_DPS = 2000 / 32768`` (= 0.0610 deg/s per
count, the LSB at ±2000 deg/s); values beyond ±16 g / ±2000 deg/s saturate. The
quantisation error (≤ half a count) is below the sensors' own noise.

Sample index and loss (GSP has no sequence number)
--------------------------------------------------
:class:`MovesenseDecoder` derives the index from timestamps: the first packet after
SUBSCRIBE starts at 0; each next packet is expected ``n_prev / rate`` after the previous
one; a packet whose first sample is later than that by more than half a period advances
the index by ``round(Δt · rate)`` (Δt = how much later) — those samples are gaps the
engine's tracker counts. The ms timestamp resolution is ≤ 0.2 periods up to 208 Hz. Sample times within a packet are ``t0 + k / rate`` (device ms
clock; the u32 wraps after 49.7 days and is unwrapped).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from imugait.conventions import GRAVITY_MPS2
from imugait.protocol.errors import BadValue, TooShort, Truncated, UnknownType
from imugait.types import SampleBlock

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

IMU6_RATES_HZ = (13, 26, 52, 104, 208, 416, 833, 1666)
ACC_SCALE_MPS2 = 16.0 * GRAVITY_MPS2 / 32768.0
GYR_SCALE_DPS = 2000.0 / 32768.0
ACC_RANGE_G = 16.0
GYR_RANGE_DPS = 2000.0
SAMPLE_BYTES = 24  # 6 float32


def _err(cls, reason: str, what: str, data: bytes):
    return cls(reason, protocol=PROTOCOL, what=what, data=data)


def imu6_path(rate_hz: int) -> str:
    if int(rate_hz) not in IMU6_RATES_HZ:
        raise BadValue(f"IMU6 rate {rate_hz} Hz; Movesense offers {IMU6_RATES_HZ}", protocol=PROTOCOL, what="command")
    return f"/Meas/IMU6/{int(rate_hz)}"


def cmd_hello(ref: int = 0) -> bytes:
    return bytes([CMD_HELLO, ref & 0xFF])


def cmd_subscribe(ref: int, path: str) -> bytes:
    if not 1 <= ref <= 255:
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


def encode_result(ref: int, status: int = 200) -> bytes:
    return bytes([RESP_COMMAND_RESULT, ref]) + struct.pack("<H", status)


@dataclass(frozen=True)
class Imu6Packet:
    ref: int
    timestamp_ms: int
    acc_mps2: np.ndarray = field(repr=False)  # (n, 3) float32
    gyr_dps: np.ndarray = field(repr=False)  # (n, 3) float32

    @property
    def n(self) -> int:
        return int(self.acc_mps2.shape[0])


def encode_imu6(ref: int, timestamp_ms: int, acc_mps2, gyr_dps, mtu_payload: int | None = None) -> list[bytes]:
    """IMU6 DATA notification(s). With ``mtu_payload`` (bytes per notification, i.e.
    MTU − 3) a long payload is split into DATA + DATA_PART2."""
    acc = np.asarray(acc_mps2, dtype="<f4")
    gyr = np.asarray(gyr_dps, dtype="<f4")
    if acc.ndim != 2 or acc.shape[1] != 3 or gyr.shape != acc.shape or acc.shape[0] < 1:
        raise BadValue(f"acc and gyr must both be (n >= 1, 3), got {acc.shape} {gyr.shape}", protocol=PROTOCOL, what="data")
    payload = struct.pack("<I", int(timestamp_ms) & 0xFFFFFFFF) + acc.tobytes() + gyr.tobytes()
    if mtu_payload is None or len(payload) + 2 <= mtu_payload:
        return [bytes([RESP_DATA, ref]) + payload]
    cut = mtu_payload - 2
    parts = [bytes([RESP_DATA, ref]) + payload[:cut]]
    rest = payload[cut:]
    if len(rest) + 2 > mtu_payload:
        raise BadValue("payload needs more than two parts; lower the rate or batch", protocol=PROTOCOL, what="data")
    parts.append(bytes([RESP_DATA_PART2, ref]) + rest)
    return parts


def decode_imu6_payload(ref: int, payload: bytes) -> Imu6Packet:
    b = bytes(payload)
    if len(b) < 4 + SAMPLE_BYTES:
        raise _err(TooShort, f"IMU6 payload of {len(b)} bytes; at least {4 + SAMPLE_BYTES} expected", "data", b)
    if (len(b) - 4) % SAMPLE_BYTES:
        raise _err(
            Truncated, f"IMU6 payload of {len(b)} bytes is 4 + a non-whole number of {SAMPLE_BYTES}-byte samples", "data", b
        )
    n = (len(b) - 4) // SAMPLE_BYTES
    (ts,) = struct.unpack_from("<I", b, 0)
    vals = np.frombuffer(b, dtype="<f4", offset=4).reshape(2, n, 3)
    if not np.all(np.isfinite(vals)):
        raise _err(BadValue, "IMU6 payload holds NaN or infinite values", "data", b)
    return Imu6Packet(ref, ts, vals[0].copy(), vals[1].copy())


def _is_complete_imu6(payload: bytes) -> bool:
    return len(payload) >= 4 + SAMPLE_BYTES and (len(payload) - 4) % SAMPLE_BYTES == 0


class MovesenseDecoder:
    """Stateful per-sensor decoder: GSP notifications -> SampleBlocks (see module doc).

    A DATA part that is already a whole IMU6 payload is decoded at once (no waiting for a
    possible continuation); one that is not waits for its DATA_PART2.
    """

    def __init__(self, side, rate_hz: float = 104.0, ref: int = 1):
        self.side = side
        self.rate_hz = float(rate_hz)
        self.ref = ref
        self.reset()

    def reset(self) -> None:
        self._pending: bytes | None = None
        self._last_t_ms: float | None = None  # unwrapped ms of the previous packet's first sample
        self._last_n = 0
        self._wrap = 0
        self._raw_prev = None
        self.next_index = 0
        self.missing_samples = 0
        self.results: list[tuple[int, int]] = []  # (ref, status)

    def feed(self, data, t_arrival_host_s: float = float("nan")) -> list[SampleBlock]:
        b = bytes(data)
        if len(b) < 2:
            raise _err(TooShort, f"{len(b)} bytes, a GSP notification has at least 2", "notification", b)
        kind, ref = b[0], b[1]
        if kind == RESP_COMMAND_RESULT:
            if len(b) < 4:
                raise _err(TooShort, "command result without its 2-byte status", "result", b)
            self.results.append((ref, struct.unpack_from("<H", b, 2)[0]))
            return []
        if kind == RESP_DATA:
            if self._pending is not None:
                self._pending = None  # its continuation never came
            payload = b[2:]
            if _is_complete_imu6(payload):
                return [self._block(decode_imu6_payload(ref, payload), t_arrival_host_s)]
            self._pending = payload
            return []
        if kind == RESP_DATA_PART2:
            if self._pending is None:
                raise _err(Truncated, f"DATA_PART2 for ref {ref} without its first part", "data", b)
            payload = self._pending + b[2:]
            self._pending = None
            return [self._block(decode_imu6_payload(ref, payload), t_arrival_host_s)]
        raise _err(UnknownType, f"notification type 0x{kind:02X}", "notification", b)

    def _block(self, pkt: Imu6Packet, t_arr: float) -> SampleBlock:
        raw = pkt.timestamp_ms
        if self._raw_prev is not None and raw < self._raw_prev and self._raw_prev - raw > (1 << 31):
            self._wrap += 1 << 32
        self._raw_prev = raw
        t_ms = float(raw + self._wrap)
        if self._last_t_ms is not None:
            expected = self._last_t_ms + self._last_n * 1000.0 / self.rate_hz
            late_samples = (t_ms - expected) * self.rate_hz / 1000.0
            if late_samples > 0.5:  # more than half a period later than expected
                skip = int(round(late_samples))
                self.next_index += skip
                self.missing_samples += skip
        first = self.next_index
        self.next_index += pkt.n
        self._last_t_ms, self._last_n = t_ms, pkt.n
        t_dev_s = (t_ms + np.arange(pkt.n) * 1000.0 / self.rate_hz) / 1000.0
        acc = np.clip(np.round(pkt.acc_mps2.astype(np.float64) / ACC_SCALE_MPS2), -32768, 32767).astype(np.int16)
        gyr = np.clip(np.round(pkt.gyr_dps.astype(np.float64) / GYR_SCALE_DPS), -32768, 32767).astype(np.int16)
        return SampleBlock(
            side=self.side,
            first_index=first,
            t_dev_s=t_dev_s,
            acc_counts=acc,
            gyr_counts=gyr,
            acc_scale_mps2=ACC_SCALE_MPS2,
            gyr_scale_dps=GYR_SCALE_DPS,
            seq=-1,
            t_arrival_host_s=t_arr,
            extra={"kind": "movesense"},
        )


# =====================================================================================
# Acquisition-engine decoder (registered as kind "movesense")
# =====================================================================================
def _register() -> None:
    from imugait.acquire.base import StatusEvent
    from imugait.acquire.decode import DecodedPacket, KindDecoder, register_decoder

    class MovesenseKindDecoder(KindDecoder):
        """Engine adapter: channel ``"gsp"`` (or ``"data"``) -> SampleBlocks; ``"battery"``
        -> StatusEvent. The index is derived from timestamps and keeps running across
        reconnects (exact gap for the outage); a timestamp that jumps back by more than a
        second (sensor restarted) starts a new epoch (``boot_id``)."""

        kind = "movesense"
        seq_modulus = None
        index_modulus = None

        def __init__(self, side):
            super().__init__(side)
            self.dec = MovesenseDecoder(side)
            self.epoch = 0

        def set_info(self, info) -> None:
            super().set_info(info)
            if float(info.sample_rate_hz) != self.dec.rate_hz:
                self.dec.rate_hz = float(info.sample_rate_hz)
                self.dec.reset()
                self.epoch += 1

        def reset(self) -> None:
            self.dec._pending = None

        def decode(self, event) -> list:
            if event.channel == "battery":
                return [StatusEvent(self.side, event.t_arrival_host_s, battery_pct=float(event.data[0]) if event.data else None)]
            if event.channel not in ("gsp", "data"):
                return []
            b = bytes(event.data)
            if len(b) >= 6 and b[0] == RESP_DATA and self.dec._last_t_ms is not None:
                (raw,) = struct.unpack_from("<I", b, 2)
                if raw + 1000 < self.dec._raw_prev and self.dec._raw_prev - raw < (1 << 31):
                    self.dec.reset()  # the sensor's clock restarted
                    self.epoch += 1
            return [DecodedPacket(blk, None, self.epoch) for blk in self.dec.feed(b, event.t_arrival_host_s)]

    register_decoder("movesense", MovesenseKindDecoder)


try:  # registration needs the acquisition package; the codec above does not
    _register()
except ImportError:  # pragma: no cover
    pass
