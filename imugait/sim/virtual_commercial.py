"""Virtual Polar Verity Sense and Movesense sensors for the emulated BlueZ, behaving as the
vendors' own sources say the real ones do (citations: :mod:`imugait.acquire.kinds.polar.wire`,
:mod:`imugait.acquire.kinds.movesense.wire`, ``docs/sensors.md``).

The motion comes from a :class:`MotionSource` (a simulated recording's side, any arrays, or a
built-in synthetic thigh swing). Each device keeps a clock with an offset and a drift (ppm)
and logs what it measured (``truth``) so tests can compare what the host decoded.

**Polar Verity Sense** (:class:`VirtualPolarVeritySense`):

* ACC frames ``0x81`` (delta, int16 reference) in **mG**, START reply ``F0 02 02 00 00``
  without FACTOR (#331, #443) — or, with ``acc_frame=0x80``, the SPEC p10 behaviour (FACTOR
  in the reply, values × FACTOR = g). GYRO frames ``0x80`` × FACTOR = °/s, FACTOR in the reply.
* START must carry CHANNELS (the issue's independent emulator: "invalid parameter"),
  resolution 16, a rate of the current mode (52 Hz; 26–416 Hz in SDK mode) and a valid range.
* SDK mode cannot change while a stream runs (INVALID_STATE, SdkModeExplained.md:25); it
  persists across reconnects (:17-19). A START less than 100 ms after SDK mode was switched on
  is answered "success" but nothing streams (#395).
* Streams keep running across a disconnect (``streams_survive_disconnect``, #186): a fresh
  connection finds them running.
* Frames are sent only when full: as many samples as fit ``mtu − 3`` bytes (up to ~130,
  #439/#659), in delta blocks of ``delta_block_samples`` with their own bit widths (#187).
* ``rate_error``: the true output rate differs from the nominal one (both devices); the
  device timestamps say so, nothing else does.
* :meth:`~VirtualPolarVeritySense.device_stop` stops the streams and indicates ``01 02 05``
  on the control point (BlePMDClient.kt:119-147); ``on_charger`` answers START and SDK mode
  with DEVICE_IN_CHARGER (13).

**Movesense** (:class:`VirtualMovesense`), ``firmware="sample-2.2.1"`` (the public
``gatt_sensordata_app``): HELLO answers ``[1][ref]"Hello"``; SUBSCRIBE answers nothing on
success and nothing for a bad path, ``01 FB`` (507, big-endian) when its 4 slots are full;
UNSUBSCRIBE answers nothing; a payload is sent as DATA (150 bytes) + DATA_PART2 (at most 156
bytes, the rest is lost — IMU6 at 208 Hz never reassembles); rate/13 samples per payload;
subscriptions end with the connection. ``firmware="part3"``: a variant that answers
SUBSCRIBE with a little-endian status and sends a DATA_PART3 when needed.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from imugait.acquire.kinds.base import BATTERY_LEVEL_UUID, FIRMWARE_REV_UUID, MODEL_NUMBER_UUID
from imugait.acquire.kinds.movesense import wire as M
from imugait.acquire.kinds.polar import wire as P
from imugait.conventions import GRAVITY_MPS2
from imugait.sim.bluez import CharSpec, EmulatedPeripheral, ServiceSpec

BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
DIS_SERVICE_UUID = "0000180a-0000-1000-8000-00805f9b34fb"
HR_SERVICE_UUID = "0000180d-0000-1000-8000-00805f9b34fb"
POLAR_FEEE_UUID = "0000feee-0000-1000-8000-00805f9b34fb"
POLAR_COMPANY_ID = 0x006B
SUUNTO_COMPANY_ID = 0x009F
POLAR_MIN_MTU = 232  # SPEC p7: "Exchange ATT MTU with minimum 232"


class MotionSource:
    """Thigh motion as a function of time (seconds): ``sample(t) -> (acc_mps2, gyr_dps)``.

    From arrays at ``fs_hz`` (linear interpolation, looping), or — without arrays — a
    synthetic running thigh: 1.4 Hz swing, ±40° about the sensor z axis, gravity mostly on y.
    """

    def __init__(self, acc_mps2=None, gyr_dps=None, fs_hz: float | None = None):
        self.acc: np.ndarray | None
        if acc_mps2 is not None:
            if fs_hz is None:
                raise TypeError("MotionSource from arrays needs fs_hz")
            self.acc = np.asarray(acc_mps2, dtype=np.float64)
            self.gyr = np.asarray(gyr_dps, dtype=np.float64)
            self.fs_hz = float(fs_hz)
            self.duration_s = self.acc.shape[0] / self.fs_hz
        else:
            self.acc = None

    @classmethod
    def still(cls, gravity_dir=(0.2, -0.3, 0.93), gyro_bias_dps=(0.4, -0.3, 0.2), seconds: float = 120.0,
              fs_hz: float = 200.0, seed: int = 0) -> "MotionSource":
        """A sensor lying still: gravity along ``gravity_dir``, a small gyro bias, sensor noise
        (0.02 m/s², 0.1 °/s)."""
        rng = np.random.default_rng(seed)
        n = int(seconds * fs_hz)
        g = np.asarray(gravity_dir, float)
        acc = GRAVITY_MPS2 * g / np.linalg.norm(g) + rng.normal(0, 0.02, (n, 3))
        gyr = np.asarray(gyro_bias_dps, float) + rng.normal(0, 0.1, (n, 3))
        return cls(acc, gyr, fs_hz)

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
    SDK_SETTLE_S = 0.100  # #395

    def __init__(self, address: str, name: str = "Polar Sense B36E4C2A", motion: MotionSource | None = None, *,
                 clock_offset_s: float = 8.0e8, drift_ppm: float = 25.0, gyro_phase_s: float = 0.0007,
                 battery_pct: int = 87, rssi_dbm: int = -62, mtu: int = POLAR_MIN_MTU, acc_frame: int = 0x81,
                 streams_survive_disconnect: bool = True, on_charger: bool = False, acc_gain: float = 1.0,
                 firmware: str = "emulated (PMD per polar-ble-sdk 8.0.0)", delta_block_samples: int = 32,
                 rate_error: float = 0.0):
        self.address = address
        self.name = name
        self.advertised_uuids = (HR_SERVICE_UUID, POLAR_FEEE_UUID)
        self.manufacturer_data = {POLAR_COMPANY_ID: bytes([0x3F, 0x00, 0x00])}
        self.rssi_dbm = rssi_dbm
        self.motion = motion or MotionSource()
        self.clock = _DeviceClock(clock_offset_s, drift_ppm)
        self.gyro_phase_s = gyro_phase_s
        self.battery_pct = battery_pct
        self.max_frame_bytes = int(mtu) - 3
        self.acc_frame = int(acc_frame)
        self.streams_survive_disconnect = streams_survive_disconnect
        self.on_charger = on_charger
        self.acc_gain = float(acc_gain)
        self.firmware = firmware
        self.delta_block_samples = int(delta_block_samples)  # several delta blocks per frame (#187)
        self.rate_error = float(rate_error)  # true output rate / nominal − 1 (device time)
        self.sdk_mode = False
        self.sdk_on_t = -1e9
        self.streams: dict[int, dict] = {}
        self.truth: dict[int, list] = {P.MEAS_ACC: [], P.MEAS_GYRO: []}  # (t_dev_s, SI values)
        self.requests: list[bytes] = []
        self.responses: list[bytes] = []
        self._stop_request: tuple[int, ...] | None = None

    def services(self):
        return [
            ServiceSpec(P.PMD_SERVICE_UUID, (CharSpec(P.PMD_CP_UUID, ("read", "write", "indicate"), "pmd_cp"),
                                             CharSpec(P.PMD_DATA_UUID, ("notify",), "pmd_data"))),
            ServiceSpec(BATTERY_SERVICE_UUID, (CharSpec(BATTERY_LEVEL_UUID, ("read", "notify"), "battery"),)),
            ServiceSpec(DIS_SERVICE_UUID, (CharSpec(FIRMWARE_REV_UUID, ("read",), "firmware"),
                                           CharSpec(MODEL_NUMBER_UUID, ("read",), "model"))),
        ]

    # --- GATT -------------------------------------------------------------------------
    def read(self, char_uuid, t_s):
        if char_uuid == BATTERY_LEVEL_UUID:
            return bytes([self.battery_pct])
        if char_uuid == FIRMWARE_REV_UUID:
            return self.firmware.encode()
        if char_uuid == MODEL_NUMBER_UUID:
            return b"Polar Sense"
        if char_uuid == P.PMD_CP_UUID:  # feature bits (PmdMeasurementType.kt:40-56): ACC, GYRO, MAG; SDK mode
            return bytes([0x0F, (1 << 2) | (1 << 5) | (1 << 6), 1 << 1])
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
        self.requests.append(bytes(data))
        try:
            req = P.decode_cp_request(data)
        except P.UnknownType:
            resp = P.encode_cp_response(data[0] if data else 0, data[1] if len(data) > 1 else 0, P.ST_INVALID_OP_CODE)
        except Exception:  # noqa: BLE001 - a device answers, it does not crash
            resp = P.encode_cp_response(data[0] if data else 0, data[1] if len(data) > 1 else 0, P.ST_INVALID_LENGTH)
        else:
            resp = self._handle(req, t_s)
        self.responses.append(resp)
        return [(P.PMD_CP_UUID, resp)]

    def _handle(self, req, t_s) -> bytes:
        op, meas = req.op, req.measurement
        if meas == P.MEAS_SDK_MODE:
            if op not in (P.OP_START, P.OP_STOP):
                return P.encode_cp_response(op, meas, P.ST_NOT_SUPPORTED)
            if self.streams:  # SdkModeExplained.md:25
                return P.encode_cp_response(op, meas, P.ST_INVALID_STATE)
            if self.on_charger:
                return P.encode_cp_response(op, meas, P.ST_DEVICE_IN_CHARGER)
            want = op == P.OP_START
            if want == self.sdk_mode:
                return P.encode_cp_response(op, meas, P.ST_ALREADY_IN_STATE)
            self.sdk_mode = want
            self.sdk_on_t = t_s if want else -1e9
            return P.encode_cp_response(op, meas, P.ST_SUCCESS)
        if meas not in (P.MEAS_ACC, P.MEAS_GYRO):
            if op == P.OP_STOP:
                return P.encode_cp_response(op, meas, P.ST_ALREADY_IN_STATE)
            return P.encode_cp_response(op, meas, P.ST_NOT_SUPPORTED)
        if op == P.OP_GET_SETTINGS:
            return P.encode_cp_response(op, meas, P.ST_SUCCESS, self._settings_for(meas))
        if op == P.OP_STOP:
            if meas not in self.streams:
                return P.encode_cp_response(op, meas, P.ST_ALREADY_IN_STATE)
            del self.streams[meas]
            return P.encode_cp_response(op, meas, P.ST_SUCCESS)
        if op != P.OP_START:
            return P.encode_cp_response(op, meas, P.ST_NOT_SUPPORTED)
        if self.on_charger:
            return P.encode_cp_response(op, meas, P.ST_DEVICE_IN_CHARGER)
        if meas in self.streams:
            return P.encode_cp_response(op, meas, P.ST_ALREADY_IN_STATE)
        s = req.settings
        if P.SET_CHANNELS not in s or P.SET_SAMPLE_RATE not in s or P.SET_RANGE not in s:
            return P.encode_cp_response(op, meas, P.ST_INVALID_PARAMETER)
        if s[P.SET_CHANNELS][0] != 3:
            return P.encode_cp_response(op, meas, P.ST_INVALID_NUMBER_OF_CHANNELS)
        rate = int(s[P.SET_SAMPLE_RATE][0])
        if rate not in (P.SDK_MODE_RATES_HZ if self.sdk_mode else P.NORMAL_MODE_RATES_HZ):
            return P.encode_cp_response(op, meas, P.ST_INVALID_SAMPLE_RATE)
        if int(s.get(P.SET_RESOLUTION, [16])[0]) != 16:
            return P.encode_cp_response(op, meas, P.ST_INVALID_RESOLUTION)
        table = self.FACTOR_ACC_G if meas == P.MEAS_ACC else self.FACTOR_GYR_DPS
        rng = int(s[P.SET_RANGE][0])
        if rng not in table:
            return P.encode_cp_response(op, meas, P.ST_INVALID_RANGE)
        frame = self.acc_frame if meas == P.MEAS_ACC else 0x80
        factor = table[rng]
        phase = self.gyro_phase_s if meas == P.MEAS_GYRO else 0.0
        self.streams[meas] = {
            "rate": rate, "range": rng, "factor": factor, "frame": frame, "next_k": 0,
            "t0_dev": float(self.clock.dev(t_s)) + 1.0 / rate + phase,
            "dead": t_s - self.sdk_on_t < self.SDK_SETTLE_S,  # #395: accepted, but nothing streams
        }
        params = b"" if frame == 0x81 else P.encode_settings({P.SET_FACTOR: factor})
        return P.encode_cp_response(op, meas, P.ST_SUCCESS, params)

    # --- device behaviour ---------------------------------------------------------------
    def device_stop(self, measurements=(P.MEAS_ACC, P.MEAS_GYRO)) -> None:
        """The device stops these streams by itself (any thread; takes effect at the next poll)."""
        self._stop_request = tuple(measurements)

    def on_disconnect(self, t_s):
        if not self.streams_survive_disconnect:
            self.streams.clear()

    def reboot(self, t_s):
        self.streams.clear()
        self.sdk_mode = False

    def _counts(self, meas: int, st: dict, acc, gyr) -> np.ndarray:
        if meas == P.MEAS_ACC:
            mg = acc / GRAVITY_MPS2 * 1000.0 * self.acc_gain
            v = mg if st["frame"] == 0x81 else mg / 1000.0 / st["factor"]
        else:
            v = gyr / st["factor"]
        return np.clip(np.round(v), -32768, 32767).astype(np.int64)

    def _frame(self, meas, st, counts, t_dev) -> bytes:
        ftype = st["frame"] & 0x7F
        return P.encode_frame(meas, int(round(t_dev[-1] * 1e9)), counts, frame_type=ftype,
                              block_samples=self.delta_block_samples)

    def poll(self, t_s):
        out = []
        if self._stop_request is not None:
            stopped, self._stop_request = self._stop_request, None
            for m in stopped:
                self.streams.pop(m, None)
            out.append((P.PMD_CP_UUID, P.encode_device_stop(stopped)))
        t_dev_now = float(self.clock.dev(t_s))
        for meas in (P.MEAS_ACC, P.MEAS_GYRO):
            st = self.streams.get(meas)
            if st is None or st["dead"]:
                continue
            rate = st["rate"] * (1.0 + self.rate_error)
            k_end = int(math.floor((t_dev_now - st["t0_dev"]) * rate)) + 1  # samples taken so far
            pending = k_end - st["next_k"]
            if pending < 2:
                continue
            k = st["next_k"] + np.arange(pending)
            t_dev = st["t0_dev"] + k / rate
            acc, gyr = self.motion.sample(self.clock.emu(t_dev))
            counts = self._counts(meas, st, acc, gyr)
            i = 0
            while True:  # send only full frames: the most samples that fit, when one more would not
                lo, hi = 1, pending - i
                if len(self._frame(meas, st, counts[i:i + hi], t_dev[i:i + hi])) <= self.max_frame_bytes:
                    break  # everything pending fits: not full yet
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if len(self._frame(meas, st, counts[i:i + mid], t_dev[i:i + mid])) <= self.max_frame_bytes:
                        lo = mid
                    else:
                        hi = mid
                out.append((P.PMD_DATA_UUID, self._frame(meas, st, counts[i:i + lo], t_dev[i:i + lo])))
                phys = acc if meas == P.MEAS_ACC else gyr
                self.truth[meas].append((t_dev[i:i + lo], phys[i:i + lo] * (self.acc_gain if meas == P.MEAS_ACC else 1)))
                i += lo
            st["next_k"] += i
        return out


class VirtualMovesense(EmulatedPeripheral):
    """A Movesense running the GATT Sensor Data app (see module docstring)."""

    def __init__(self, address: str, name: str = "Movesense 220330000123", motion: MotionSource | None = None, *,
                 clock_offset_s: float = 1234.5, drift_ppm: float = -30.0, rssi_dbm: int = -66,
                 battery_pct: int = 64, firmware: str = "sample-2.2.1", acc_gain: float = 1.0,
                 rate_error: float = 0.0):
        if firmware not in ("sample-2.2.1", "part3"):
            raise ValueError("firmware is 'sample-2.2.1' or 'part3'")
        self.address = address
        self.name = name
        self.advertised_uuids = ()  # the GSP service is not advertised (docs/sensors.md)
        self.manufacturer_data = {SUUNTO_COMPANY_ID: b"\x00"}
        self.rssi_dbm = rssi_dbm
        self.motion = motion or MotionSource()
        self.clock = _DeviceClock(clock_offset_s, drift_ppm)
        self.battery_pct = battery_pct
        self.firmware = firmware
        self.acc_gain = float(acc_gain)
        self.rate_error = float(rate_error)  # true output rate / nominal − 1 (device time)
        self.subs: dict[int, dict] = {}
        self.commands: list[bytes] = []
        self.truth: dict[str, list] = {M.RES_IMU6: [], M.RES_ACC: [], M.RES_GYRO: []}

    def services(self):
        return [
            ServiceSpec(M.GSP_SERVICE_UUID, (CharSpec(M.GSP_WRITE_UUID, ("write", "write-without-response"), "gsp_write"),
                                             CharSpec(M.GSP_NOTIFY_UUID, ("notify",), "gsp_notify"))),
            ServiceSpec(BATTERY_SERVICE_UUID, (CharSpec(BATTERY_LEVEL_UUID, ("read", "notify"), "battery"),)),
        ]

    def read(self, char_uuid, t_s):
        if char_uuid == BATTERY_LEVEL_UUID:
            return bytes([self.battery_pct])
        return b""

    def _result(self, ref: int, status: int):
        big = self.firmware == "sample-2.2.1"
        return [(M.GSP_NOTIFY_UUID, M.encode_result(ref, status, big_endian=big))]

    def write(self, char_uuid, data, t_s):
        if char_uuid != M.GSP_WRITE_UUID or len(data) < 2:
            return []
        self.commands.append(bytes(data))
        op, ref = data[0], data[1]
        if op == M.CMD_HELLO:  # cpp:217-225
            return [(M.GSP_NOTIFY_UUID, bytes([M.RESP_COMMAND_RESULT, ref]) + b"Hello")]
        if op == M.CMD_UNSUBSCRIBE:  # cpp:273-285: no answer
            self.subs.pop(ref, None)
            return []
        if op != M.CMD_SUBSCRIBE:
            return []
        if len(self.subs) >= M.MAX_SUBSCRIPTIONS:  # cpp:229-240
            return self._result(ref, 507)
        parsed = M.parse_path(bytes(data[2:]).decode("ascii", "replace"))
        if parsed is None or parsed[1] not in M.RATES_HZ:
            return [] if self.firmware == "sample-2.2.1" else self._result(ref, 404)  # bad path: silent in 2.2.1
        resource, rate = parsed
        k0 = int(math.ceil(float(self.clock.dev(t_s)) * rate * (1.0 + self.rate_error))) + 1  # next sample on the grid
        self.subs[ref] = {"resource": resource, "rate": rate, "next_k": k0, "per": M.samples_per_notification(rate)}
        return [] if self.firmware == "sample-2.2.1" else self._result(ref, 200)

    def on_disconnect(self, t_s):
        self.subs.clear()  # the sensor drops all subscriptions on disconnect

    def reboot(self, t_s):
        self.subs.clear()
        self.clock.offset_s = -self.clock.k * t_s  # device time restarts at 0

    def poll(self, t_s):
        out = []
        t_dev_now = float(self.clock.dev(t_s))
        max_parts = 2 if self.firmware == "sample-2.2.1" else 3
        for ref, st in list(self.subs.items()):
            rate, per = st["rate"] * (1.0 + self.rate_error), st["per"]
            k_end = int(math.floor(t_dev_now * rate))  # last sample index taken
            while k_end - st["next_k"] + 1 >= per:
                k = st["next_k"] + np.arange(per)
                t_dev = k / rate
                acc, gyr = self.motion.sample(self.clock.emu(t_dev))
                acc = acc * self.acc_gain
                arrays = {M.RES_IMU6: (acc, gyr), M.RES_ACC: (acc,), M.RES_GYRO: (gyr,)}[st["resource"]]
                payload = M.encode_payload(int(round(t_dev[0] * 1000.0)), *arrays)
                for part in M.split_notifications(ref, payload, max_parts=max_parts):
                    out.append((M.GSP_NOTIFY_UUID, part))
                self.truth[st["resource"]].append((t_dev, acc.astype(np.float32), gyr.astype(np.float32)))
                st["next_k"] += per
        return out
