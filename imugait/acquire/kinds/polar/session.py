"""GATT session of a Polar Verity Sense (PMD). Sources as in :mod:`.wire`.

Setup, on every connection (first one and after each reconnect)::

    1. notifications on the control point and the data characteristic
    2. device information (model, firmware, battery)
    3. STOP ACC, STOP GYRO          — a stream can still be running on a fresh connection,
                                      started by us before a link loss or by another client
                                      (#186); SDK mode cannot change while one runs
                                      (SdkModeExplained.md:25, #438, #782)
    4. SDK mode on (rates ≠ 52 Hz)  — persists across reconnects (SdkModeExplained.md:17-19),
                                      so "already in state" is success
    5. wait 0.25 s                  — a START sent < 100 ms after SDK mode is accepted but
                                      nothing streams (#395)
    6. START ACC and GYRO           — rate, resolution 16, range, CHANNELS 3, like every
                                      known-good Verity START (SPEC p10, #331, #443, #438)

Strict in what it sends (every request exactly as above), liberal in what it accepts:
replies with or without parameters, chained replies (``more``), replies with the recording
type bits set in the measurement byte. Every control-point notification is also kept in the
raw capture (channel ``pmd_cp``, our own writes as ``pmd_cp_write``): the decoder takes the
FACTOR of each START reply from there, so a stored session can be decoded again.

A device-initiated stop (``01 <types…>`` on the control point, BlePMDClient.kt:119-147) asks
the source to restart the sensor; a status no retry can fix (on the charger, not supported)
ends the recording with its sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from imugait.events import StatusEvent
from imugait.acquire.kinds.base import GattSession, SensorSetupError, SensorUnusableError
from imugait.acquire.kinds.polar import wire as W
from imugait.conventions import GRAVITY_MPS2
from imugait.protocol.errors import PacketError
from imugait.types import SensorInfo

DEFAULT_RATE_HZ = 208
DEFAULT_ACC_RANGE_G = 8  # PolarVeritySense.md:37 (default bolded)
DEFAULT_GYR_RANGE_DPS = 2000  # PolarVeritySense.md:39
SDK_MODE_SETTLE_S = 0.25  # #395: ≥ 100 ms after enabling SDK mode
# Frames are sent only when full (#439: "when it is filled with MTU size of data (232 bytes
# max)"; #659), so a frame holds more samples the stiller the sensor: ~130 when moving
# (#439), and at most 551 in a 229-byte frame of 1-bit deltas (16 header + reference bytes,
# then blocks of 255 samples × 3 bits: 2 + 96 bytes each — BlePMDClient.kt:586-606). A
# sensor lying still on a table can take that long to send its first frame (review of #11:
# at 52 Hz a still independent emulator needed > 7 s, the old timeout).
MAX_SAMPLES_PER_FRAME = 551

_FATAL_STATUS = (W.ST_NOT_SUPPORTED, W.ST_DEVICE_IN_CHARGER)


class PolarSession(GattSession):
    kind = "polar"
    data_channels = frozenset({"pmd_data"})

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self._assembler = W.CpReplyAssembler()
        self.streaming = False
        self.rate_hz = int(self.spec.rate_hz or DEFAULT_RATE_HZ)
        # the first frame comes once full: allow the fullest frame possible, plus setup time
        self.first_data_timeout_s = max(5.0, 2.0 + MAX_SAMPLES_PER_FRAME / self.rate_hz)
        self.device_stops = 0

    # -- control point ------------------------------------------------------------------
    def _cp_cb(self):
        side, enqueue, q = self.side, self.host.enqueue, self._responses

        def on_cp(_char, data: bytearray) -> None:
            t = time.monotonic()
            b = bytes(data)
            enqueue(side, "pmd_cp", b, t)
            try:
                item = W.decode_cp_notification(b)
            except PacketError:
                return
            if isinstance(item, W.DeviceStop):
                self._on_device_stop(item)
                return
            done = self._assembler.feed(item)
            if done is not None:
                q.put_nowait(done)

        return on_cp

    def _on_device_stop(self, stop: W.DeviceStop) -> None:
        ours = [m for m in stop.measurements if m in (W.MEAS_ACC, W.MEAS_GYRO)]
        if not ours or not self.streaming:  # "no content" stop (BlePmdClientTest) or not ours
            return
        self.streaming = False
        self.device_stops += 1
        names = " and ".join(W.MEAS_NAMES[m] for m in ours)
        self.host.problem(f"the sensor stopped its {names} stream by itself — restarting it", False)

    async def _cp(self, cmd: bytes, timeout_s: float = 3.0) -> W.CpResponse:
        self._drain_responses()
        await self._write(W.PMD_CP_UUID, cmd, "pmd_cp_write")
        op, meas = cmd[0], cmd[1] & W.MEAS_TYPE_MASK
        return await self._await_response(lambda r: r.op == op and r.measurement == meas, timeout_s)

    def _refused(self, what: str, r: W.CpResponse) -> SensorSetupError:
        cls = SensorUnusableError if r.status in _FATAL_STATUS else SensorSetupError
        # the runner's sentence first, the protocol detail after it
        return cls(f"{self.label}: {W.status_advice(r.status)} (the Polar Verity Sense refused {what}: {r.status_name})")

    # -- setup --------------------------------------------------------------------------
    async def setup(self, client) -> SensorInfo:
        self.client = client
        self.streaming = False
        rate = self.rate_hz
        acc_range = int(self.spec.acc_range_g or DEFAULT_ACC_RANGE_G)
        gyr_range = int(self.spec.gyr_range_dps or DEFAULT_GYR_RANGE_DPS)
        if rate not in W.SDK_MODE_RATES_HZ:
            raise SensorSetupError(f"Polar Verity Sense streams at {', '.join(map(str, W.SDK_MODE_RATES_HZ))} Hz, "
                                   f"not {rate} — choose one of these with --rate")
        if acc_range not in W.ACC_RANGES_G or gyr_range not in W.GYR_RANGES_DPS:
            raise SensorSetupError(f"Polar Verity Sense offers ±{W.ACC_RANGES_G} g and ±{W.GYR_RANGES_DPS} °/s, "
                                   f"not ±{acc_range} g / ±{gyr_range} °/s")
        self._require(client, W.PMD_SERVICE_UUID, "Polar Measurement Data",
                      "only the Polar Verity Sense streams accelerometer and gyroscope; update its firmware with Polar Flow")
        self._assembler = W.CpReplyAssembler()
        await client.start_notify(W.PMD_CP_UUID, self._cp_cb())
        await client.start_notify(W.PMD_DATA_UUID, self._cb("pmd_data"))
        dev = await self.read_device_info()
        if dev.battery_pct is not None:
            self.host.emit(StatusEvent(self.side, time.monotonic(), battery_pct=dev.battery_pct))
        # 3. stop whatever runs (#186; SdkModeExplained.md:25). Any answer is fine here.
        for meas in (W.MEAS_ACC, W.MEAS_GYRO):
            await self._cp(W.cmd_stop(meas))
        # 4. SDK mode for rates other than 52 Hz (PolarVeritySense.md:32-40; BlePMDClient.kt:421-424)
        if rate not in W.NORMAL_MODE_RATES_HZ:
            r = await self._cp(W.cmd_sdk_mode(True))
            if r.status == W.ST_INVALID_STATE:  # another stream (PPG, PPI, MAG) still runs: stop it too
                for meas in (W.MEAS_PPG, W.MEAS_PPI, W.MEAS_MAG, W.MEAS_ECG):
                    await self._cp(W.cmd_stop(meas))
                r = await self._cp(W.cmd_sdk_mode(True))
            if not (r.ok or r.status == W.ST_ALREADY_IN_STATE):
                raise self._refused(f"SDK mode (needed for {rate} Hz)", r)
            await asyncio.sleep(SDK_MODE_SETTLE_S)  # 5. #395
        # 6. START ACC and GYRO with every setting (SPEC p10; #331, #443, #438)
        for meas, rng, unit in ((W.MEAS_ACC, acc_range, "g"), (W.MEAS_GYRO, gyr_range, "°/s")):
            cmd = W.cmd_start(meas, rate, rng)
            r = await self._cp(cmd)
            if r.status == W.ST_ALREADY_IN_STATE:  # BlePmdClientTest: START answered ALREADY_IN_STATE
                await self._cp(W.cmd_stop(meas))
                r = await self._cp(cmd)
            if not r.ok:
                raise self._refused(f"{W.MEAS_NAMES[meas]} at {rate} Hz, ±{rng} {unit}", r)
        self.streaming = True
        self.first_setup_done = True
        # storage scales: the range over int16 — finer than the 1 mG of 0x81 frames and than
        # the FACTOR of 0x80 frames; the decoder converts each frame type to these
        return SensorInfo(
            side=self.side, kind="polar", sample_rate_hz=float(rate),
            acc_scale_mps2=acc_range * GRAVITY_MPS2 / 32768.0, gyr_scale_dps=gyr_range / 32768.0,
            acc_range_g=float(acc_range), gyr_range_dps=float(gyr_range),
            firmware=dev.firmware, device_id=self.address, name=self.name,
        )

    async def shutdown(self) -> None:
        self.streaming = False
        for cmd in (W.cmd_stop(W.MEAS_ACC), W.cmd_stop(W.MEAS_GYRO), W.cmd_sdk_mode(False)):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._cp(cmd), 2.0)
