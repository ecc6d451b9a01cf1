"""GATT session of an imugait open-protocol sensor (``firmware_protocol/README.md``)."""

from __future__ import annotations

import asyncio
import contextlib
import time

from imugait.acquire.kinds.base import GattSession, SensorSetupError
from imugait.protocol import constants as C
from imugait.protocol import imu
from imugait.types import SensorInfo


class ImugaitSession(GattSession):
    """Read INFO; subscribe DATA, STATUS, CONTROL; SET_RATE / SET_RANGE when asked (INFO
    re-read after); START. After a reconnect the firmware is usually still streaming (START
    answers with the next index) and sends its FIFO backlog."""

    kind = "imugait"
    data_channels = frozenset({"data"})

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self._token = 0
        self.applied_rate_hz: float | None = None

    def _response_cb(self):
        q = self._responses

        def on_response(_char, data: bytearray) -> None:
            q.put_nowait(bytes(data))

        return on_response

    async def _control(self, cmd_fn, *args):
        self._token = (self._token + 1) % 256
        tok = self._token
        self._drain_responses()
        await self.client.write_gatt_char(C.CONTROL_UUID, cmd_fn(*args, token=tok), response=True)

        def match(b):
            try:
                r = imu.decode_control_response(b)
            except Exception:  # noqa: BLE001 - not a control response
                return False
            return r.token == tok

        return imu.decode_control_response(await self._await_response(match))

    async def _info(self) -> SensorInfo:
        rec = imu.decode_info(await self.client.read_gatt_char(C.INFO_UUID))
        return rec.to_sensor_info(side=self.side, device_id=self.address, name=self.name)

    async def setup(self, client) -> SensorInfo:
        self.client = client
        self._require(client, C.SERVICE_UUID, "imugait sensor",
                      "is it running firmware that follows firmware_protocol/README.md?")
        await client.start_notify(C.CONTROL_UUID, self._response_cb())
        info = await self._info()
        # configure whenever the sensor's settings differ from what was asked — on the first
        # connect, and again after a device reboot (settings back to defaults); after a plain
        # link loss the firmware kept them and keeps streaming
        want_rate, want_acc, want_gyr = self.spec.rate_hz, self.spec.acc_range_g, self.spec.gyr_range_dps
        need_rate = want_rate is not None and abs(want_rate - info.sample_rate_hz) > 1e-6 * want_rate
        need_range = (want_acc is not None and want_acc != info.acc_range_g) or (
            want_gyr is not None and want_gyr != info.gyr_range_dps)
        if need_rate and want_rate is not None and not (self.first_setup_done and self.applied_rate_hz == info.sample_rate_hz):
            r = await self._control(imu.cmd_set_rate, float(want_rate))
            if not r.ok and r.status_name == "invalid_state":
                await self._control(imu.cmd_stop)
                r = await self._control(imu.cmd_set_rate, float(want_rate))
            if not r.ok:
                raise SensorSetupError(f"{self.side} sensor refused rate {want_rate:g} Hz ({r.status_name})")
        if need_range:
            rng = (int(want_acc or info.acc_range_g), int(want_gyr or info.gyr_range_dps))
            r = await self._control(imu.cmd_set_range, *rng)
            if not r.ok and r.status_name == "invalid_state":
                await self._control(imu.cmd_stop)
                r = await self._control(imu.cmd_set_range, *rng)
            if not r.ok:
                raise SensorSetupError(f"{self.side} sensor refused the range ±{rng[0]} g / ±{rng[1]} °/s ({r.status_name})")
        if need_rate or need_range:
            info = await self._info()
        self.applied_rate_hz = info.sample_rate_hz  # the nearest rate the sensor offers
        await client.start_notify(C.STATUS_UUID, self._cb("status"))
        await client.start_notify(C.DATA_UUID, self._cb("data"))
        r = await self._control(imu.cmd_start)
        if not r.ok:
            raise SensorSetupError(f"{self.side} sensor did not start streaming ({r.status_name})")
        st = await self._read_optional(C.STATUS_UUID)
        if st is not None:
            self.host.enqueue(self.side, "status", st, time.monotonic())
        self.first_setup_done = True
        return info

    async def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._control(imu.cmd_stop), 2.0)
