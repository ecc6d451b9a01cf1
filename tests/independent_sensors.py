"""Independent emulators of a Polar Verity Sense (PMD) and a Movesense (GATT Sensor Data app).

Written for the review of issue #11 by the reviewer, NOT by the engineer who wrote imugait's
Polar/Movesense clients or ``imugait/sim/virtual_commercial.py``, from the vendors' primary
sources only (read before any of imugait's code):

* Polar: polarofficial/polar-ble-sdk @8fb5311c — Android ``pmd/PmdControlPointCommand.kt``
  (op codes; ``ONLINE_MEASUREMENT_STOPPED = 1`` from the device), ``PmdControlPointResponse.kt``
  (``F0 op type status more params``, status codes 0–14, ``more`` at byte 4),
  ``BlePMDClient.kt:209-222`` (chained replies: parameters of each continuation from byte 5),
  ``BlePMDClient.kt:527-608`` (delta frames: reference samples, then blocks of
  ``(bit width, count)`` with the deltas packed LSB-first, two's complement),
  ``PmdDataFrame.kt`` (type, u64 LE timestamp, frame-type byte, 0x80 = compressed),
  ``model/AccData.kt:129-140`` (ACC type 0x81: the values are mG), ``model/GyrData.kt:41-55``
  (GYRO type 0x80 × FACTOR = °/s), ``model/PmdTimeStampUtils.kt`` (frame time = last sample),
  ``PmdSetting.kt`` (setting TLVs: type, count, value LE; sizes 2/2/2/4/1/4/16),
  ``documentation/SdkModeExplained.md:25`` (SDK mode while a stream runs → INVALID_STATE),
  ``documentation/products/PolarVeritySense.md:32-40`` (rates/ranges; 52 Hz / 8 g without SDK
  mode), ``documentation/TimeSystemExplained.md`` (ns since 2000-01-01; a clock not set runs
  from a firmware default), the PMD specification pdf (in the SDK history at 0d58c747^:
  error codes p3, ACC frame units p4, delta example p6), SDK issues #186 (a stream already
  running on a fresh connection), #331/#443 (Verity START with ``04 01 03`` answered
  ``F0 02 02 00 00``; 0x81 frames of 227 bytes), #395 (START < 100 ms after SDK mode: accepted,
  nothing streams), #438 (ACC needs rate, range, channels and resolution; stop all streams
  before SDK mode), #439 (frames sent when the MTU is filled, 232 bytes max), #187 (several
  delta blocks of different bit widths in one frame), #317 (frames every 1–2 s).
* Movesense: movesense-device-lib @07177ff (alexisduque mirror) —
  ``samples/gatt_sensordata_app/GATTSensorDataClient.cpp:125-161`` (command/response format),
  ``:208-287`` (HELLO reply, SUBSCRIBE silent on success, ``01 FB`` when the 4 slots are full,
  UNSUBSCRIBE silent, a slot taken by a bad path is never freed), ``:373-424`` (subscription
  errors ≥ 400 free the slot silently), ``:492-505`` (all subscriptions dropped on disconnect),
  ``:592-645`` (DATA = first 150 payload bytes, DATA_PART2 = the rest, same reference; PART2
  written into the same 158-byte buffer, ``GATTSensorDataClient.h:78``), ``:595`` (a
  notification goes to the FIRST slot holding that resource), ``python_client/
  movesense_sensor_data.py`` (u32 ms timestamp at payload offset 0, float32 arrays; 8 samples
  at 104 Hz arriving as DATA + PART2), ``MovesenseCoreLib/resources/movesense-api/meas/
  imu.yaml``, ``acc.yaml``, ``gyro.yaml`` (Timestamp = first sample, ms; acc m/s², gyro dps).
  "Newer firmware" variant: u16 little-endian status replies and a DATA_PART3 (= 4, declared
  in GATTSensorDataClient.cpp:160), as described in ../shared/notes/sensors-primary-sources.md
  (MS-DL); this variant is the least documented part here.

It shares NO wire code with imugait: every frame is built by the encoders below; only the
peripheral plumbing (``imugait.sim.bluez``) is imugait's. Motion comes from a caller-supplied
function of time (e.g. ``imugait.sim.gait`` truth) — that supplies the movement, not the
protocol. Where the sources allow variation the emulators take the least convenient legal
choice: chained control-point replies, frames filled to the maximum size, several delta
blocks of varying bit widths per frame, a stream already running when a client connects,
SDK mode surviving a reconnect (``ALREADY_IN_STATE``), a device clock years off and drifting,
a true sample rate off the nominal one, notifications released in bursts, and a
device-initiated stop on request.
"""

from __future__ import annotations

import math
import random
import struct
import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from imugait.sim.bluez import CharSpec, EmulatedPeripheral, ServiceSpec

G0_MPS2 = 9.80665  # standard gravity, for m/s² → mG

# -------------------------------------------------------------------------------------------
# Common GATT services every one of these devices exposes (Bluetooth SIG assigned numbers)
# -------------------------------------------------------------------------------------------
DIS = "0000180a-0000-1000-8000-00805f9b34fb"
DIS_MODEL = "00002a24-0000-1000-8000-00805f9b34fb"
DIS_SERIAL = "00002a25-0000-1000-8000-00805f9b34fb"
DIS_FW = "00002a26-0000-1000-8000-00805f9b34fb"
DIS_MANUF = "00002a29-0000-1000-8000-00805f9b34fb"
BAS = "0000180f-0000-1000-8000-00805f9b34fb"
BAS_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"
HRS = "0000180d-0000-1000-8000-00805f9b34fb"
HRS_MEAS = "00002a37-0000-1000-8000-00805f9b34fb"

Motion = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # t_s -> (acc m/s² (n,3), gyr dps (n,3))


def still_motion(gravity_dir=(0.1, -0.2, 0.97), gyro_bias_dps=(0.5, -0.4, 0.3)) -> Motion:
    g = np.asarray(gravity_dir, float)
    g = G0_MPS2 * g / np.linalg.norm(g)
    b = np.asarray(gyro_bias_dps, float)

    def f(t):
        t = np.atleast_1d(np.asarray(t, float))
        return np.tile(g, (t.size, 1)), np.tile(b, (t.size, 1))

    return f


def arrays_motion(acc_mps2, gyr_dps, fs_hz: float) -> Motion:
    """Linear interpolation of truth arrays sampled at ``fs_hz`` from t = 0 (held at the ends)."""
    acc = np.asarray(acc_mps2, float)
    gyr = np.asarray(gyr_dps, float)
    tt = np.arange(acc.shape[0]) / float(fs_hz)

    def f(t):
        t = np.atleast_1d(np.asarray(t, float))
        a = np.stack([np.interp(t, tt, acc[:, i]) for i in range(3)], axis=1)
        w = np.stack([np.interp(t, tt, gyr[:, i]) for i in range(3)], axis=1)
        return a, w

    return f


def _dis_read(uuid: str, model: str, serial: str, fw: str, manuf: str, battery: int) -> bytes | None:
    return {DIS_MODEL: model.encode(), DIS_SERIAL: serial.encode(), DIS_FW: fw.encode(),
            DIS_MANUF: manuf.encode(), BAS_LEVEL: bytes([battery])}.get(uuid)


def _dis_services() -> list[ServiceSpec]:
    return [ServiceSpec(DIS, (CharSpec(DIS_MODEL, ("read",)), CharSpec(DIS_SERIAL, ("read",)),
                              CharSpec(DIS_FW, ("read",)), CharSpec(DIS_MANUF, ("read",)))),
            ServiceSpec(BAS, (CharSpec(BAS_LEVEL, ("read", "notify")),))]


class _Bursts:
    """Holds data notifications and releases them together every ``hold_s`` (random 0.5–1.5×)."""

    def __init__(self, hold_s: float, rng: random.Random):
        self.hold_s = hold_s
        self.rng = rng
        self.held: list = []
        self.release_at = None

    def push(self, items: list, t_s: float) -> list:
        if self.hold_s <= 0:
            return items
        self.held.extend(items)
        if self.release_at is None:
            self.release_at = t_s + self.hold_s * self.rng.uniform(0.5, 1.5)
        if t_s >= self.release_at:
            out, self.held, self.release_at = self.held, [], None
            return out
        return []

    def clear(self):
        self.held, self.release_at = [], None


# ===========================================================================================
# Polar Verity Sense (PMD)
# ===========================================================================================
PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"  # BlePMDClient.kt:525
PMD_CP = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"  # BlePMDClient.kt:522
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"  # BlePMDClient.kt:519

# measurement types (PmdMeasurementType.kt) and statuses (PmdControlPointResponse.kt:15-31)
T_ACC, T_GYRO, T_SDK = 2, 5, 9
OK, INVALID_OP_CODE, INVALID_MEAS_TYPE, NOT_SUPPORTED, INVALID_LENGTH, INVALID_PARAMETER = 0, 1, 2, 3, 4, 5
ALREADY_IN_STATE, INVALID_RESOLUTION, INVALID_SAMPLE_RATE, INVALID_RANGE, INVALID_MTU = 6, 7, 8, 9, 10
INVALID_NUMBER_OF_CHANNELS, INVALID_STATE, DEVICE_IN_CHARGER = 11, 12, 13
# setting types and field sizes (PmdSetting.kt:12-20, 126-135)
S_RATE, S_RES, S_RANGE, S_RANGE_MILLI, S_CHANNELS, S_FACTOR, S_SECURITY = 0, 1, 2, 3, 4, 5, 6
S_SIZE = {S_RATE: 2, S_RES: 2, S_RANGE: 2, S_RANGE_MILLI: 4, S_CHANNELS: 1, S_FACTOR: 4, S_SECURITY: 16}

# PolarVeritySense.md:37-40 (online streaming); without SDK mode only the bolded defaults
SDK_RATES = (26, 52, 104, 208, 416)
NORMAL_RATES = (52,)
ACC_RANGES_SDK, ACC_RANGES_NORMAL = (2, 4, 8, 16), (8,)
GYR_RANGES_SDK, GYR_RANGES_NORMAL = (250, 500, 1000, 2000), (2000,)

# Polar device time: ns since 2000-01-01 (TimeSystemExplained.md). This device's clock was never
# set: it runs from a firmware default (the example there: 2019-01-01 = 599616000000000000 ns).
POLAR_DEFAULT_EPOCH_NS = 599_616_000_000_000_000


def _bits_for(v: int) -> int:
    """Smallest two's-complement width holding ``v`` (0 for 0)."""
    if v == 0:
        return 0
    n = 1
    while not (-(1 << (n - 1)) <= v <= (1 << (n - 1)) - 1):
        n += 1
    return n


def pmd_pack_deltas(deltas: list[tuple[int, int, int]], width: int) -> bytes:
    """Channel values of consecutive samples, ``width`` bits each, LSB first (BlePMDClient.kt:527-555)."""
    acc = 0
    nbits = 0
    mask = (1 << width) - 1 if width else 0
    for d in deltas:
        for v in d:
            acc |= (v & mask) << nbits
            nbits += width
    return acc.to_bytes((nbits + 7) // 8, "little") if nbits else b""


def pmd_delta_frame(meas_type: int, frame_type: int, ts_ns: int, samples: list[tuple[int, int, int]],
                    blocks: list[tuple[int, int]]) -> bytes:
    """``[type][u64 ts][frame type][ref 3×int16][(width, count, packed deltas)…]`` — ``blocks``
    as ``(width, count)`` covering ``len(samples)-1`` deltas."""
    out = bytearray([meas_type]) + struct.pack("<Q", ts_ns) + bytes([frame_type])
    out += struct.pack("<3h", *samples[0])
    i = 1
    for width, count in blocks:
        deltas = [tuple(samples[i + k][c] - samples[i + k - 1][c] for c in range(3)) for k in range(count)]
        out += bytes([width, count]) + pmd_pack_deltas(deltas, width)
        i += count
    assert i == len(samples)
    return bytes(out)


def pmd_block_bytes(width: int, count: int) -> int:
    return 2 + (width * count * 3 + 7) // 8


@dataclass
class _PmdStream:
    meas_type: int
    rate_hz: int
    range_: int
    started_emu_s: float
    dead: bool = False  # accepted START but never streams (#395)
    conn: int = 0  # the connection it was started on
    k_next: int = 0  # next sample index
    # frame being filled
    samples: list = field(default_factory=list)
    sample_dev_ns: list = field(default_factory=list)
    blocks: list = field(default_factory=list)  # [width, count, target_count]
    size: int = 16
    emitted: int = 0  # samples sent in frames


class IndependentVerity(EmulatedPeripheral):
    """A Polar Verity Sense as its published sources describe it (see the module docstring).

    ``preexisting_stream``: an ACC stream at 52 Hz (non-SDK) is already running at power-on,
    left by another app (#186). ``on_charger``: every START answers DEVICE_IN_CHARGER.
    ``zero_width_blocks``: a block of identical samples is sent with bit width 0 (the SDK's
    parser would yield no samples for it; see the review note) — off by default.
    ``odr_error``: true output rate / nominal − 1. ``clock_drift_ppm``: device clock vs true time.
    """

    advertised_uuids = (HRS,)

    def __init__(self, address: str, name: str = "Polar Sense B36E4C2A", motion: Motion | None = None, *,
                 preexisting_stream: bool = True, on_charger: bool = False, zero_width_blocks: bool = False,
                 odr_error: float = -0.009, clock_drift_ppm: float = 60.0, max_frame_bytes: int = 229,
                 burst_hold_s: float = 0.9, chained_replies: bool = True, firmware: str = "3.0.16",
                 battery_pct: int = 77, gyro_factor_dps: float | None = None, seed: int = 7):
        self.address = address
        self.name = name
        self.motion = motion or still_motion()
        self.on_charger = on_charger
        self.zero_width_blocks = zero_width_blocks
        self.odr_error = odr_error
        self.drift = clock_drift_ppm * 1e-6
        self.max_frame_bytes = max_frame_bytes
        self.chained = chained_replies
        self.firmware = firmware
        self.battery_pct = battery_pct
        self.gyro_factor = gyro_factor_dps
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.sdk_mode = False
        self.sdk_mode_at_s = -1.0
        self.streams: dict[int, _PmdStream] = {}
        self.out: list = []  # control-point indications waiting for the next poll
        self.bursts = _Bursts(burst_hold_s, self.rng)
        self.requests: list[bytes] = []  # every control-point write, in order
        self.truth: dict[int, list] = {T_ACC: [], T_GYRO: []}  # (emu_s, dev_ns, values) per sent sample
        self.device_stops = 0
        self.dead_starts = 0  # STARTs accepted < 100 ms after SDK mode (they never stream, #395)
        # frame -> (type, rate, samples, started on this connection?, device ns of each sample)
        self.frame_meta: dict[bytes, tuple] = {}
        self.conn = 0
        if preexisting_stream:
            self.streams[T_ACC] = _PmdStream(T_ACC, 52, 8, 0.0)

    # ---- plumbing -------------------------------------------------------------------------
    def services(self):
        return [ServiceSpec(PMD_SERVICE, (CharSpec(PMD_CP, ("read", "write", "indicate"), "pmd_cp"),
                                          CharSpec(PMD_DATA, ("notify",), "pmd_data"))),
                ServiceSpec(HRS, (CharSpec(HRS_MEAS, ("notify",)),))] + _dis_services()

    def read(self, char_uuid, t_s):
        if char_uuid == PMD_CP:
            # feature read: byte 0 0x0F, then type bits (PmdMeasurementType.kt:40-56):
            # PPG 0x02, ACC 0x04, PPI 0x08, GYRO 0x20, MAG 0x40; byte 2: SDK mode 0x02
            return bytes([0x0F, 0x6E, 0x02])
        v = _dis_read(char_uuid, "Polar Sense", self.name.split()[-1], self.firmware, "Polar Electro Oy",
                      self.battery_pct)
        return v if v is not None else b""

    def on_connect(self, t_s):
        with self.lock:
            self.conn += 1

    def on_disconnect(self, t_s):
        # streams and SDK mode survive a lost link (#186; SdkModeExplained.md:17-19)
        with self.lock:
            self.out.clear()
            self.bursts.clear()

    def reboot(self, t_s):
        with self.lock:
            self.streams.clear()
            self.sdk_mode = False
            self.out.clear()
            self.bursts.clear()

    # ---- control point --------------------------------------------------------------------
    def _reply(self, op: int, mtype: int, status: int, params: bytes = b"") -> list:
        if status != OK or not params or not self.chained:
            return [bytes([0xF0, op, mtype, status, 0]) + params]
        # chained: the first indication carries no parameters and more=1, the rest follow
        # (PmdControlPointResponse.kt:36-39; BlePMDClient.kt:216-221)
        return [bytes([0xF0, op, mtype, status, 1]), bytes([0xF0, op, mtype, status, 0]) + params]

    def write(self, char_uuid, data, t_s):
        if char_uuid != PMD_CP or not data:
            return []
        with self.lock:
            self.requests.append(bytes(data))
            return [(PMD_CP, r) for r in self._handle(bytes(data), t_s)]

    def _parse_settings(self, b: bytes):
        out = {}
        i = 0
        while i < len(b):
            if i + 2 > len(b):
                return None
            st, count = b[i], b[i + 1]
            i += 2
            size = S_SIZE.get(st)
            if size is None or count != 1 or i + size > len(b):
                return None
            out[st] = int.from_bytes(b[i:i + size], "little")
            i += size
        return out

    def _handle(self, d: bytes, t_s: float) -> list:
        op = d[0]
        mtype = d[1] & 0x3F if len(d) > 1 else 0
        if op == 1:  # GET_MEASUREMENT_SETTINGS
            if mtype not in (T_ACC, T_GYRO):
                return self._reply(op, mtype, NOT_SUPPORTED)
            rates = SDK_RATES if self.sdk_mode else NORMAL_RATES
            ranges = ({T_ACC: ACC_RANGES_SDK, T_GYRO: GYR_RANGES_SDK} if self.sdk_mode
                      else {T_ACC: ACC_RANGES_NORMAL, T_GYRO: GYR_RANGES_NORMAL})[mtype]
            p = bytes([S_RATE, len(rates)]) + b"".join(struct.pack("<H", r) for r in rates)
            p += bytes([S_RES, 1]) + struct.pack("<H", 16)
            p += bytes([S_RANGE, len(ranges)]) + b"".join(struct.pack("<H", r) for r in ranges)
            p += bytes([S_CHANNELS, 1, 3])
            return self._reply(op, mtype, OK, p)
        if op == 2:  # REQUEST_MEASUREMENT_START
            if mtype == T_SDK:
                if self.on_charger:
                    return self._reply(op, mtype, DEVICE_IN_CHARGER)
                if self.streams:
                    return self._reply(op, mtype, INVALID_STATE)  # SdkModeExplained.md:25
                if self.sdk_mode:
                    return self._reply(op, mtype, ALREADY_IN_STATE)
                self.sdk_mode = True
                self.sdk_mode_at_s = t_s
                return self._reply(op, mtype, OK)
            if mtype not in (T_ACC, T_GYRO):
                return self._reply(op, mtype, NOT_SUPPORTED)
            if self.on_charger:
                return self._reply(op, mtype, DEVICE_IN_CHARGER)
            if mtype in self.streams:
                return self._reply(op, mtype, ALREADY_IN_STATE)
            s = self._parse_settings(d[2:])
            if s is None:
                return self._reply(op, mtype, INVALID_LENGTH)
            # ACC (and GYRO) need rate, resolution, range and channels (#438)
            if not all(k in s for k in (S_RATE, S_RES, S_RANGE, S_CHANNELS)):
                return self._reply(op, mtype, INVALID_PARAMETER)
            rates = SDK_RATES if self.sdk_mode else NORMAL_RATES
            ranges = ({T_ACC: ACC_RANGES_SDK, T_GYRO: GYR_RANGES_SDK} if self.sdk_mode
                      else {T_ACC: ACC_RANGES_NORMAL, T_GYRO: GYR_RANGES_NORMAL})[mtype]
            if s[S_RATE] not in rates:
                return self._reply(op, mtype, INVALID_SAMPLE_RATE)
            if s[S_RES] != 16:
                return self._reply(op, mtype, INVALID_RESOLUTION)
            if s[S_RANGE] not in ranges:
                return self._reply(op, mtype, INVALID_RANGE)
            if s[S_CHANNELS] != 3:
                return self._reply(op, mtype, INVALID_NUMBER_OF_CHANNELS)
            st = _PmdStream(mtype, s[S_RATE], s[S_RANGE], t_s, conn=self.conn)
            st.dead = self.sdk_mode and (t_s - self.sdk_mode_at_s) < 0.100  # #395
            self.dead_starts += int(st.dead)
            self.streams[mtype] = st
            if mtype == T_ACC:
                return self._reply(op, mtype, OK)  # F0 02 02 00 00: no FACTOR (#331, #443)
            factor = self._gyro_factor(st)
            return self._reply(op, mtype, OK, bytes([S_FACTOR, 1]) + struct.pack("<f", factor))
        if op == 3:  # STOP_MEASUREMENT
            if mtype == T_SDK:
                if not self.sdk_mode:
                    return self._reply(op, mtype, ALREADY_IN_STATE)
                if self.streams:
                    return self._reply(op, mtype, INVALID_STATE)
                self.sdk_mode = False
                return self._reply(op, mtype, OK)
            if mtype not in self.streams:
                return self._reply(op, mtype, ALREADY_IN_STATE)
            del self.streams[mtype]
            return self._reply(op, mtype, OK)
        if op == 5:  # GET_MEASUREMENT_STATUS: one byte per type, bits 6-7 = active (PmdActiveMeasurement.kt)
            return self._reply(op, 0, OK, bytes((t | 0x40) for t in self.streams)) if self.streams else \
                [bytes([0xF0, op, 0, OK, 0])]
        if op == 6:  # GET_SDK_MODE_STATUS
            return [bytes([0xF0, op, 0, OK, 0, 1 if self.sdk_mode else 0])]
        return self._reply(op, mtype, INVALID_OP_CODE)

    def _gyro_factor(self, st: _PmdStream) -> float:
        return self.gyro_factor if self.gyro_factor else st.range_ / 32768.0

    def device_stop(self, types=(T_ACC, T_GYRO)) -> None:
        """The device ends the measurement itself: ``01 <types>`` on the control point
        (PmdControlPointCommand.kt:16-17; BlePMDClient.kt:119-142)."""
        with self.lock:
            stopped = [t for t in types if t in self.streams]
            for t in stopped:
                del self.streams[t]
            if stopped:
                self.out.append((PMD_CP, bytes([1] + stopped)))
                self.device_stops += 1

    # ---- data -----------------------------------------------------------------------------
    def dev_ns(self, t_emu_s: float) -> int:
        return POLAR_DEFAULT_EPOCH_NS + int(round(t_emu_s * (1.0 + self.drift) * 1e9))

    def _values(self, st: _PmdStream, t: np.ndarray) -> np.ndarray:
        acc, gyr = self.motion(t)
        if st.meas_type == T_ACC:  # mG, clipped to the range (AccData.kt: samples in milliG)
            lim = st.range_ * 1000
            return np.clip(np.round(acc / G0_MPS2 * 1000.0), -lim, lim).astype(int)
        f = self._gyro_factor(st)
        return np.clip(np.round(gyr / f), -32768, 32767).astype(int)

    def _new_block_target(self) -> int:
        return self.rng.choice((3, 7, 12, 20, 31, 45, 64))

    def _add_sample(self, st: _PmdStream, v: tuple, dev_ns: int, frames: list) -> None:
        if not st.samples:
            st.samples, st.sample_dev_ns, st.blocks, st.size = [v], [dev_ns], [], 16
            return
        prev = st.samples[-1]
        d = [v[c] - prev[c] for c in range(3)]
        need = max(_bits_for(x) for x in d)
        if not self.zero_width_blocks:
            need = max(need, 1)
        blocks = [list(b) for b in st.blocks]
        if not blocks or blocks[-1][1] >= blocks[-1][2] or blocks[-1][1] >= 255 or \
                (blocks[-1][0] == 0) != (need == 0):
            blocks.append([need, 0, self._new_block_target()])
        blk = blocks[-1]
        blk[0] = max(blk[0], need) if not (blk[0] == 0 and need == 0) else 0
        blk[1] += 1
        size = 16 + sum(pmd_block_bytes(w, n) for w, n, _t in blocks)
        if size > self.max_frame_bytes:  # full: send what we have, this sample starts the next frame
            frames.append(self._frame(st))
            st.samples, st.sample_dev_ns, st.blocks, st.size = [v], [dev_ns], [], 16
            return
        st.samples.append(v)
        st.sample_dev_ns.append(dev_ns)
        st.blocks = blocks
        st.size = size

    def _frame(self, st: _PmdStream) -> bytes:
        frame_type = 0x81 if st.meas_type == T_ACC else 0x80
        blocks = [(w, n) for w, n, _t in st.blocks]
        fr = pmd_delta_frame(st.meas_type, frame_type, st.sample_dev_ns[-1], st.samples, blocks)
        assert len(fr) <= self.max_frame_bytes
        st.emitted += len(st.samples)
        self.frame_meta[fr] = (st.meas_type, st.rate_hz, len(st.samples), st.conn == self.conn, list(st.sample_dev_ns))
        return fr

    def poll(self, t_s):
        with self.lock:
            out = list(self.out)
            self.out.clear()
            data = []
            for st in list(self.streams.values()):
                odr = st.rate_hz * (1.0 + self.odr_error)
                k_end = int(math.floor((t_s - st.started_emu_s) * odr)) + 1
                if k_end <= st.k_next:
                    continue
                ks = np.arange(st.k_next, k_end)
                st.k_next = k_end
                if st.dead:
                    continue
                te = st.started_emu_s + ks / odr
                vals = self._values(st, te)
                frames: list = []
                for j in range(ks.size):
                    dns = self.dev_ns(float(te[j]))
                    v = tuple(int(x) for x in vals[j])
                    self.truth[st.meas_type].append((float(te[j]), dns, v))
                    self._add_sample(st, v, dns, frames)
                data.extend((PMD_DATA, f) for f in frames)
            return out + self.bursts.push(data, t_s)


# ===========================================================================================
# Movesense, gatt_sensordata_app
# ===========================================================================================
GSP_SERVICE = "34802252-7185-4d5d-b431-630e7050e8f0"  # GATTSensorDataClient.cpp:23-24
GSP_CMD = "34800001-7185-4d5d-b431-630e7050e8f0"  # cpp:25
GSP_DATA = "34800002-7185-4d5d-b431-630e7050e8f0"  # cpp:27
MS_HELLO, MS_SUBSCRIBE, MS_UNSUBSCRIBE = 0, 1, 2  # cpp:148-154
MS_RESULT, MS_DATA, MS_PART2, MS_PART3 = 1, 2, 3, 4  # cpp:155-161
MS_RATES = (13, 26, 52, 104, 208, 416, 833, 1666)


@dataclass
class _MsSub:
    ref: int
    resource: str | None  # None: a path getResource() could not resolve — the slot leaks
    kind: str = ""
    rate_hz: int = 0
    k_next: int = 0


class IndependentMovesense(EmulatedPeripheral):
    """A Movesense running the public gatt_sensordata_app (``firmware="sample-2.2.1"``) or a
    newer firmware that answers SUBSCRIBE with a u16 LE status and splits into any number of
    150-byte parts (``firmware="newer"``)."""

    advertised_uuids = ()  # the GSP service UUID is not advertised

    def __init__(self, address: str, name: str = "Movesense 220330000123", motion: Motion | None = None, *,
                 firmware: str = "sample-2.2.1", odr_error: float = 0.006, clock_drift_ppm: float = -40.0,
                 boot_ms: int = 3_512_345, burst_hold_s: float = 0.4, battery_pct: int = 64, seed: int = 9):
        self.address = address
        self.name = name
        self.motion = motion or still_motion()
        self.variant = firmware
        self.odr_error = odr_error
        self.drift = clock_drift_ppm * 1e-6
        self.boot_ms = boot_ms
        self.battery_pct = battery_pct
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.slots: list[_MsSub | None] = [None] * 4  # MAX_DATASUB_COUNT (GATTSensorDataClient.h:72)
        self.bursts = _Bursts(burst_hold_s, self.rng)
        self.out: list = []
        self.commands: list[bytes] = []
        self.truth: dict[str, list] = {"Acc": [], "Gyro": [], "IMU6": []}
        self.notif_meta: dict[bytes, tuple[str, int, int]] = {}  # DATA part -> (resource, rate, samples)
        self.t0_s = 0.0  # the IMU's sample grid starts at power-on

    def services(self):
        return [ServiceSpec(GSP_SERVICE, (CharSpec(GSP_CMD, ("write",), "gsp_cmd"),
                                          CharSpec(GSP_DATA, ("notify",), "gsp_data")))] + _dis_services()

    def read(self, char_uuid, t_s):
        v = _dis_read(char_uuid, "Movesense MD", self.name.split()[-1],
                      "2.2.1" if self.variant == "sample-2.2.1" else "2.3.0", "Movesense Oy", self.battery_pct)
        return v if v is not None else b""

    def on_disconnect(self, t_s):
        with self.lock:  # cpp:498-505 unsubscribeAllStreams on DISCONNECTED
            self.slots = [None] * 4
            self.bursts.clear()
            self.out.clear()

    def reboot(self, t_s):
        self.on_disconnect(t_s)

    def _status(self, ref: int, code: int) -> bytes:
        if self.variant == "sample-2.2.1":
            return bytes([MS_RESULT, ref]) + struct.pack(">H", code)  # cpp:235: 507 → 01 FB
        return bytes([MS_RESULT, ref]) + struct.pack("<H", code)

    @staticmethod
    def _resolve(path: str):
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "Meas" and parts[1] in ("Acc", "Gyro", "IMU6"):
            try:
                return parts[1], int(parts[2])
            except ValueError:
                return None
        return None

    def write(self, char_uuid, data, t_s):
        if char_uuid != GSP_CMD or len(data) < 2:
            return []
        with self.lock:
            d = bytes(data)
            self.commands.append(d)
            cmd, ref, body = d[0], d[1], d[2:]
            if cmd == MS_HELLO:
                return [(GSP_DATA, bytes([MS_RESULT, ref]) + b"Hello")]
            if cmd == MS_SUBSCRIBE:
                free = [i for i, s in enumerate(self.slots) if s is None]
                if not free:
                    return [(GSP_DATA, self._status(ref, 507))]
                r = self._resolve(body.split(b"\0")[0].decode("ascii", "replace"))
                if r is None:  # getResource fails: the slot keeps the reference and leaks (cpp:252-257)
                    self.slots[free[0]] = _MsSub(ref, None)
                    return [(GSP_DATA, self._status(ref, 404))] if self.variant != "sample-2.2.1" else []
                kind, rate = r
                if rate not in MS_RATES:  # 501 → onSubscribeResult frees the slot, silently (cpp:410-416)
                    return [(GSP_DATA, self._status(ref, 501))] if self.variant != "sample-2.2.1" else []
                k0 = int(math.floor((t_s - self.t0_s) * rate * (1 + self.odr_error))) + 1
                k0 += -k0 % (rate // 13 if rate >= 13 else 1)  # notifications on the IMU's own FIFO blocks
                self.slots[free[0]] = _MsSub(ref, f"{kind}/{rate}", kind, rate, k0)
                return [(GSP_DATA, self._status(ref, 200))] if self.variant != "sample-2.2.1" else []
            if cmd == MS_UNSUBSCRIBE:
                for i, s in enumerate(self.slots):  # findDataSubByRef: the first slot with that reference
                    if s is not None and s.ref == ref:
                        self.slots[i] = None
                        break
                return [(GSP_DATA, self._status(ref, 200))] if self.variant != "sample-2.2.1" else []
            return []

    def dev_ms(self, t_emu_s: float) -> int:
        return (self.boot_ms + int(math.floor(t_emu_s * (1.0 + self.drift) * 1000.0))) & 0xFFFFFFFF

    def _payload(self, kind: str, ts_ms: int, acc: np.ndarray, gyr: np.ndarray) -> bytes:
        b = struct.pack("<I", ts_ms)
        if kind in ("Acc", "IMU6"):
            b += acc.astype("<f4").tobytes()
        if kind in ("Gyro", "IMU6"):
            b += gyr.astype("<f4").tobytes()
        return b

    def _split(self, ref: int, payload: bytes) -> list[bytes]:
        if self.variant == "sample-2.2.1":
            # cpp:622-643: DATA gets the first 150 bytes; PART2 the rest, written into the
            # 158-byte buffer (156 payload bytes at most) — longer values arrive cut.
            out = [bytes([MS_DATA, ref]) + payload[:150]]
            if len(payload) > 150:
                out.append(bytes([MS_PART2, ref]) + payload[150:150 + 156])
            return out
        parts = [payload[i:i + 150] for i in range(0, len(payload), 150)]
        return [bytes([MS_DATA + i, ref]) + p for i, p in enumerate(parts)]

    def poll(self, t_s):
        with self.lock:
            data = []
            seen = set()
            for s in self.slots:
                if s is None or s.resource is None or s.resource in seen:
                    continue
                seen.add(s.resource)  # findDataSub(resourceId): the first slot holding it (cpp:595)
                per = max(1, s.rate_hz // 13)  # samples per notification (MS-PY: 8 at 104 Hz)
                odr = s.rate_hz * (1.0 + self.odr_error)
                k_avail = int(math.floor((t_s - self.t0_s) * odr)) + 1
                while s.k_next + per <= k_avail:
                    ks = np.arange(s.k_next, s.k_next + per)
                    te = self.t0_s + ks / odr
                    acc, gyr = self.motion(te)
                    ts_ms = self.dev_ms(float(te[0]))
                    for j in range(per):
                        self.truth[s.kind].append((float(te[j]), self.dev_ms(float(te[j])), acc[j], gyr[j]))
                    parts = self._split(s.ref, self._payload(s.kind, ts_ms, acc, gyr))
                    self.notif_meta[parts[0]] = (s.kind, s.rate_hz, per)
                    data.extend((GSP_DATA, p) for p in parts)
                    s.k_next += per
            out = list(self.out)
            self.out.clear()
            return out + self.bursts.push(data, t_s)
