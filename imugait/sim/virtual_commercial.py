"""Virtual Polar Verity Sense and Movesense sensors for the emulated BlueZ.

They speak the real wire formats (:mod:`imugait.protocol.polar`, :mod:`imugait.protocol.movesense`)
from a simulator side: the motion comes from a :class:`MotionSource` (a simulated recording's
side, any arrays, or a built-in synthetic thigh swing). Each keeps a device clock with an
offset and a drift (ppm) and logs every sample it generated (``truth``) so tests can compare
what the host decoded with what the device measured.

Behaviour modelled after the real devices (what the host must cope with):

* **Polar Verity Sense** — PMD control point: get settings, start/stop ACC and GYRO, SDK
  mode (type 9). Outside SDK mode only 52 Hz is accepted ("invalid sample rate"). Starting a
  running stream answers "already in state". A disconnect stops the streams and leaves SDK
  mode (the host configures again after reconnecting). Frames are delta-compressed (ACC
  frame type 1, GYRO frame type 0, int16 reference) and hold at most 36 samples, about
  70 ms worth; ACC and GYRO are sampled with a small phase offset, as on the real sensor.
  The start response carries the conversion FACTOR as a settings TLV.
* **Movesense** — GSP: HELLO, SUBSCRIBE ``/Meas/IMU6/<rate>``, UNSUBSCRIBE; IMU6 packets of
  ``rate // 13`` samples (max 20), split into DATA + DATA_PART2 when longer than one
  notification; the u32 ms timestamp is the device time of the first sample. A disconnect
  ends the subscription.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from imugait.conventions import GRAVITY_MPS2
from imugait.protocol import movesense as M
from imugait.protocol import polar as P
from imugait.sim.bluez import CharSpec, EmulatedPeripheral, ServiceSpec

BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
DIS_SERVICE_UUID = "0000180a-0000-1000-8000-00805f9b34fb"
FIRMWARE_REV_UUID = "00002a26-0000-1000-8000-00805f9b34fb"
HR_SERVICE_UUID = "0000180d-0000-1000-8000-00805f9b34fb"
POLAR_FEEE_UUID = "0000feee-0000-1000-8000-00805f9b34fb"
POLAR_COMPANY_ID = 0x006B
SUUNTO_COMPANY_ID = 0x009F


class MotionSource:
    """Thigh motion as a function of time (seconds): ``sample(t) -> (acc_mps2, gyr_dps)``.

    From arrays at ``fs_hz`` (linear interpolation, looping), or — without arrays — a
    synthetic running thigh: 1.4 Hz swing, ±40° about the sensor z axis, gravity mostly on y.
    """

    def __init__(self, acc_mps2=None, gyr_dps=None, fs_hz: float | None = None):
        if acc_mps2 is not None:
            self.acc = np.asarray(acc_mps2, dtype=np.float64)
            self.gyr = np.asarray(gyr_dps, dtype=np.float64)
            self.fs_hz = float(fs_hz)
            self.duration_s = self.acc.shape[0] / self.fs_hz
        else:
            self.acc = None

    @classmethod
    def from_sim_side(cls, sim_side) -> "MotionSource":
        """From ``imugait.sim.gait`` output (``rec.sides[side]``)."""
        return cls(sim_side.acc_mps2, sim_side.gyr_dps, sim_side.info.sample_rate_hz)

    def sample(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = np.asarray(t_s, dtype=np.float64)
        if self.acc is None:
            f = 1.4
            w = 2 * np.pi * f
            ang = np.deg2rad(40.0) * np.sin(w * t)
            gyr = np.zeros((t.size, 3))
            gyr[:, 2] = np.rad2deg(np.deg2rad(40.0) * w * np.cos(w * t))
            acc = np.zeros((t.size, 3))
            acc[:, 0] = GRAVITY_MPS2 * np.sin(ang) + 3.0 * np.sin(2 * w * t)
            acc[:, 1] = GRAVITY_MPS2 * np.cos(ang) + 6.0 * np.maximum(0, np.sin(w * t)) ** 4
            acc[:, 2] = 0.5 * np.sin(3 * w * t)
            return acc, gyr
        x = (t % self.duration_s) * self.fs_hz
        i0 = np.floor(x).astype(np.int64)
        fr = (x - i0)[:, None]
        i1 = (i0 + 1) % self.acc.shape[0]
        acc = self.acc[i0] * (1 - fr) + self.acc[i1] * fr
        gyr = self.gyr[i0] * (1 - fr) + self.gyr[i1] * fr
        return acc, gyr


class _DeviceClock:
    """Device time = offset + (1 + drift) × emulator time."""

    def __init__(self, offset_s: float, drift_ppm: float):
        self.offset_s = offset_s
        self.k = 1.0 + drift_ppm * 1e-6

    def dev(self, t_emu_s):
        return self.offset_s + self.k * np.asarray(t_emu_s, dtype=np.float64)

    def emu(self, t_dev_s):
        return (np.asarray(t_dev_s, dtype=np.float64) - self.offset_s) / self.k


class VirtualPolarVeritySense(EmulatedPeripheral):
    """A Polar Verity Sense on the emulated BlueZ (see module docstring)."""

    FACTOR_ACC_G = {2: 0.061e-3, 4: 0.122e-3, 8: 0.244e-3, 16: 0.488e-3}
    FACTOR_GYR_DPS = {250: 0.00763, 500: 0.01526, 1000: 0.03052, 2000: 0.06104}

    def __init__(
        self,
        address: str,
        name: str = "Polar Sense B36E4C2A",
        motion: MotionSource | None = None,
        *,
        clock_offset_s: float = 8.0e8,
        drift_ppm: float = 25.0,
        gyro_phase_s: float = 0.0007,
        battery_pct: int = 87,
        rssi_dbm: int = -62,
        mtu: int = 247,
    ):
        self.address = address
        self.name = name
        self.advertised_uuids = (HR_SERVICE_UUID, POLAR_FEEE_UUID)
        self.manufacturer_data = {POLAR_COMPANY_ID: bytes([0x3F, 0x00, 0x00])}
        self.rssi_dbm = rssi_dbm
        self.motion = motion or MotionSource()
        self.clock = _DeviceClock(clock_offset_s, drift_ppm)
        self.gyro_phase_s = gyro_phase_s
        self.battery_pct = battery_pct
        self.mtu = mtu
        self.sdk_mode = False
        self.streams: dict[int, dict] = {}
        self.truth: dict[int, list] = {P.MEAS_ACC: [], P.MEAS_GYRO: []}  # (t_dev_s, counts) arrays
        self.responses: list[bytes] = []

    def services(self):
        return [
            ServiceSpec(
                P.PMD_SERVICE_UUID,
                (
                    CharSpec(P.PMD_CP_UUID, ("read", "write", "indicate"), "pmd_cp"),
                    CharSpec(P.PMD_DATA_UUID, ("notify",), "pmd_data"),
                ),
            ),
            ServiceSpec(BATTERY_SERVICE_UUID, (CharSpec(BATTERY_LEVEL_UUID, ("read", "notify"), "battery"),)),
            ServiceSpec(DIS_SERVICE_UUID, (CharSpec(FIRMWARE_REV_UUID, ("read",), "firmware"),)),
        ]

    # --- GATT -------------------------------------------------------------------------
    def read(self, char_uuid, t_s):
        if char_uuid == BATTERY_LEVEL_UUID:
            return bytes([self.battery_pct])
        if char_uuid == FIRMWARE_REV_UUID:
            return b"2.2.6"
        if char_uuid == P.PMD_CP_UUID:
            # feature bits: ACC (bit 2) and GYRO (bit 5) and SDK mode (bit 9) supported
            return bytes([0x0F, (1 << 2) | (1 << 5), 1 << 1])
        return b""

    def _settings_for(self, meas):
        rates = P.SDK_MODE_RATES_HZ if self.sdk_mode else P.NORMAL_MODE_RATES_HZ
        ranges = P.ACC_RANGES_G if meas == P.MEAS_ACC else P.GYR_RANGES_DPS
        out = bytearray([P.SET_SAMPLE_RATE, len(rates)])
        for r in rates:
            out += struct.pack("<H", r)
        out += bytes([P.SET_RESOLUTION, 1]) + struct.pack("<H", 16)
        out += bytes([P.SET_RANGE, len(ranges)])
        for r in ranges:
            out += struct.pack("<H", r)
        out += bytes([P.SET_CHANNELS, 1, 3])
        return bytes(out)

    def write(self, char_uuid, data, t_s):
        if char_uuid != P.PMD_CP_UUID:
            return []
        try:
            req = P.decode_cp_request(data)
        except P.UnknownType:
            return [(P.PMD_CP_UUID, P.encode_cp_response(data[0] if data else 0, 0, P.ST_INVALID_OP_CODE))]
        except Exception:  # noqa: BLE001 - a device answers, it does not crash
            return [(P.PMD_CP_UUID, P.encode_cp_response(data[0] if data else 0, 0, P.ST_INVALID_LENGTH))]
        resp = self._handle(req, t_s)
        self.responses.append(resp)
        return [(P.PMD_CP_UUID, resp)]

    def _handle(self, req, t_s) -> bytes:
        op, meas = req.op, req.measurement
        if meas == P.MEAS_SDK_MODE:
            want = op == P.OP_START
            if op not in (P.OP_START, P.OP_STOP):
                return P.encode_cp_response(op, meas, P.ST_NOT_SUPPORTED)
            if want == self.sdk_mode:
                return P.encode_cp_response(op, meas, P.ST_ALREADY_IN_STATE)
            self.sdk_mode = want
            self.streams.clear()  # changing mode closes every stream
            return P.encode_cp_response(op, meas, P.ST_SUCCESS)
        if meas not in (P.MEAS_ACC, P.MEAS_GYRO):
            return P.encode_cp_response(op, meas, P.ST_INVALID_MEASUREMENT_TYPE)
        if op == P.OP_GET_SETTINGS:
            return P.encode_cp_response(op, meas, P.ST_SUCCESS, self._settings_for(meas))
        if op == P.OP_STOP:
            if meas not in self.streams:
                return P.encode_cp_response(op, meas, P.ST_ALREADY_IN_STATE)
            del self.streams[meas]
            return P.encode_cp_response(op, meas, P.ST_SUCCESS)
        if op != P.OP_START:
            return P.encode_cp_response(op, meas, P.ST_NOT_SUPPORTED)
        if meas in self.streams:
            return P.encode_cp_response(op, meas, P.ST_ALREADY_IN_STATE)
        rate = int(req.settings.get(P.SET_SAMPLE_RATE, [52])[0])
        allowed = P.SDK_MODE_RATES_HZ if self.sdk_mode else P.NORMAL_MODE_RATES_HZ
        if rate not in allowed:
            return P.encode_cp_response(op, meas, P.ST_INVALID_SAMPLE_RATE)
        if int(req.settings.get(P.SET_RESOLUTION, [16])[0]) != 16:
            return P.encode_cp_response(op, meas, P.ST_INVALID_RESOLUTION)
        table = self.FACTOR_ACC_G if meas == P.MEAS_ACC else self.FACTOR_GYR_DPS
        rng = int(req.settings.get(P.SET_RANGE, [8 if meas == P.MEAS_ACC else 2000])[0])
        if rng not in table:
            return P.encode_cp_response(op, meas, P.ST_INVALID_RANGE)
        factor = table[rng]
        per = min(36, max(1, math.ceil(rate * 0.07)))
        phase = self.gyro_phase_s if meas == P.MEAS_GYRO else 0.0
        # first sample one period after START, on the device clock
        t_dev_first = float(self.clock.dev(t_s)) + 1.0 / rate + phase
        self.streams[meas] = {"rate": rate, "factor": factor, "per": per, "next_k": 0, "t0_dev": t_dev_first, "pending": []}
        return P.encode_cp_response(op, meas, P.ST_SUCCESS, P.encode_settings({P.SET_FACTOR: factor}))

    def on_disconnect(self, t_s):
        self.streams.clear()
        self.sdk_mode = False

    def reboot(self, t_s):
        self.on_disconnect(t_s)

    def poll(self, t_s):
        out = []
        t_dev_now = float(self.clock.dev(t_s))
        for meas in (P.MEAS_ACC, P.MEAS_GYRO):
            st = self.streams.get(meas)
            if st is None:
                continue
            rate = st["rate"]
            k_end = int(math.floor((t_dev_now - st["t0_dev"]) * rate)) + 1  # samples taken so far
            while k_end - st["next_k"] >= st["per"]:
                k = st["next_k"] + np.arange(st["per"])
                t_dev = st["t0_dev"] + k / rate
                acc, gyr = self.motion.sample(self.clock.emu(t_dev))
                if meas == P.MEAS_ACC:
                    counts = np.clip(np.round(acc / GRAVITY_MPS2 / st["factor"]), -32768, 32767).astype(np.int16)
                else:
                    counts = np.clip(np.round(gyr / st["factor"]), -32768, 32767).astype(np.int16)
                ts_ns = int(round(t_dev[-1] * 1e9))
                out.append((P.PMD_DATA_UUID, P.encode_frame(meas, ts_ns, counts)))
                self.truth[meas].append((t_dev, counts))
                st["next_k"] += st["per"]
        return out


class VirtualMovesense(EmulatedPeripheral):
    """A Movesense sensor running the GATT Sensor Data app (see module docstring)."""

    def __init__(
        self,
        address: str,
        name: str = "Movesense 220330000123",
        motion: MotionSource | None = None,
        *,
        clock_offset_s: float = 1234.5,
        drift_ppm: float = -30.0,
        rssi_dbm: int = -66,
        mtu: int = 247,
        battery_pct: int = 64,
    ):
        self.address = address
        self.name = name
        self.advertised_uuids = (M.GSP_SERVICE_UUID,)
        self.manufacturer_data = {SUUNTO_COMPANY_ID: b"\x00"}
        self.rssi_dbm = rssi_dbm
        self.motion = motion or MotionSource()
        self.clock = _DeviceClock(clock_offset_s, drift_ppm)
        self.mtu = mtu
        self.battery_pct = battery_pct
        self.sub: dict | None = None
        self.truth: list = []  # (t_dev_s, acc float32, gyr float32)

    def services(self):
        return [
            ServiceSpec(
                M.GSP_SERVICE_UUID,
                (
                    CharSpec(M.GSP_WRITE_UUID, ("write", "write-without-response"), "gsp_write"),
                    CharSpec(M.GSP_NOTIFY_UUID, ("notify",), "gsp_notify"),
                ),
            ),
            ServiceSpec(BATTERY_SERVICE_UUID, (CharSpec(BATTERY_LEVEL_UUID, ("read", "notify"), "battery"),)),
        ]

    def read(self, char_uuid, t_s):
        if char_uuid == BATTERY_LEVEL_UUID:
            return bytes([self.battery_pct])
        return b""

    def write(self, char_uuid, data, t_s):
        if char_uuid != M.GSP_WRITE_UUID:
            return []
        try:
            cmd = M.decode_command(data)
        except Exception:  # noqa: BLE001
            return [(M.GSP_NOTIFY_UUID, M.encode_result(data[1] if len(data) > 1 else 0, 400))]
        if cmd.op == M.CMD_HELLO:
            return [(M.GSP_NOTIFY_UUID, M.encode_result(cmd.ref, 200))]
        if cmd.op == M.CMD_UNSUBSCRIBE:
            if self.sub is not None and self.sub["ref"] == cmd.ref:
                self.sub = None
                return [(M.GSP_NOTIFY_UUID, M.encode_result(cmd.ref, 200))]
            return [(M.GSP_NOTIFY_UUID, M.encode_result(cmd.ref, 404))]
        parts = cmd.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "Meas" or parts[1] != "IMU6" or not parts[2].isdigit() or int(parts[2]) not in M.IMU6_RATES_HZ:
            return [(M.GSP_NOTIFY_UUID, M.encode_result(cmd.ref, 404))]
        rate = int(parts[2])
        per = min(20, max(1, rate // 13))
        t_dev_first = float(self.clock.dev(t_s)) + 1.0 / rate
        self.sub = {"ref": cmd.ref, "rate": rate, "per": per, "next_k": 0, "t0_dev": t_dev_first}
        return [(M.GSP_NOTIFY_UUID, M.encode_result(cmd.ref, 200))]

    def on_disconnect(self, t_s):
        self.sub = None

    def reboot(self, t_s):
        self.sub = None
        self.clock.offset_s = -self.clock.k * t_s  # device time restarts at 0

    def poll(self, t_s):
        st = self.sub
        if st is None:
            return []
        out = []
        rate = st["rate"]
        t_dev_now = float(self.clock.dev(t_s))
        k_end = int(math.floor((t_dev_now - st["t0_dev"]) * rate)) + 1
        while k_end - st["next_k"] >= st["per"]:
            k = st["next_k"] + np.arange(st["per"])
            t_dev = st["t0_dev"] + k / rate
            acc, gyr = self.motion.sample(self.clock.emu(t_dev))
            ts_ms = int(round(t_dev[0] * 1000.0))
            for part in M.encode_imu6(st["ref"], ts_ms, acc, gyr, mtu_payload=self.mtu - 3):
                out.append((M.GSP_NOTIFY_UUID, part))
            self.truth.append((t_dev, acc.astype(np.float32), gyr.astype(np.float32)))
            st["next_k"] += st["per"]
        return out
