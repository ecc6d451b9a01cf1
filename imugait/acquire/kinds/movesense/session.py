"""GATT session of a Movesense running the GATT Sensor Data app. Sources as in :mod:`.wire`.

On every connection (the sensor drops its subscriptions on disconnect):

1. notifications on the data characteristic — every notification is enqueued on channel
   ``gsp`` (decoded by the engine, kept in the raw capture); command results also go to
   the session;
2. SUBSCRIBE, with non-zero references (MS-FW cpp:127): ``/Meas/IMU6/<rate>`` when its
   payload fits the public sample firmware's two notification parts (≤ 306 bytes,
   cpp:622 and .h:78, i.e. up to 104 Hz), else ``/Meas/Acc/<rate>`` and
   ``/Meas/Gyro/<rate>`` separately (paired by device time in the decoder). Our writes are
   enqueued on ``gsp_cmd`` so the decoder (and a re-decode) knows which reference is which;
3. no waiting for a reply: the sample firmware sends none on success (cpp:227-258) and
   "delivery of responses is not guaranteed" (MS-PY never waits). Data arriving is the
   confirmation; the source's watchdog reports a sensor that sends nothing. An error result
   (either byte order, :func:`~.wire.parse_result`) for one of our references ends the setup
   with a sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from imugait.events import StatusEvent
from imugait.acquire.kinds.base import GattSession, SensorSetupError
from imugait.acquire.kinds.movesense import wire as M
from imugait.protocol.errors import PacketError
from imugait.types import SensorInfo

DEFAULT_RATE_HZ = 208
REF_IMU6 = 99  # MS-PY:186 uses 99 for IMU9
REF_ACC = 97
REF_GYRO = 98
HTTP_REASONS = {400: "bad request", 404: "no such resource", 405: "not allowed", 501: "not implemented",
                507: "no free subscription slot (the sensor holds 4 at most — switch it off and on)"}


def subscriptions_for(rate_hz: int) -> list[tuple[int, str]]:
    """``[(ref, path)]``: IMU6 where it fits the sample firmware's two parts, else Acc + Gyro."""
    if M.payload_bytes(M.RES_IMU6, rate_hz) <= M.SAMPLE_FW_MAX_PAYLOAD:
        return [(REF_IMU6, M.resource_path(M.RES_IMU6, rate_hz))]
    return [(REF_ACC, M.resource_path(M.RES_ACC, rate_hz)), (REF_GYRO, M.resource_path(M.RES_GYRO, rate_hz))]


class MovesenseSession(GattSession):
    kind = "movesense"

    def is_data(self, channel: str, data: bytes) -> bool:
        return channel == "gsp" and bool(data) and data[0] in (M.RESP_DATA, *M.CONTINUATION_TYPES)

    CUT_PAYLOADS_FATAL = 3

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.rate_hz = int(self.spec.rate_hz or DEFAULT_RATE_HZ)
        self.subs: list[tuple[int, str]] = []
        self.results: list[M.CommandResult] = []
        self._parts_len: dict[int, int] = {}  # ref -> payload bytes received since its last DATA
        self._whole: set[int] = set()  # refs that delivered a whole payload on this connection
        self._cut = 0

    def _notify_cb(self):
        side, enqueue = self.side, self.host.enqueue

        def on_notify(_char, data: bytearray) -> None:
            t = time.monotonic()
            b = bytes(data)
            enqueue(side, "gsp", b, t)
            if b and b[0] == M.RESP_COMMAND_RESULT:
                try:
                    self._on_result(M.parse_result(b))
                except PacketError:
                    pass
            elif len(b) >= 2:
                self._watch_parts(b)

        return on_notify

    def _watch_parts(self, b: bytes) -> None:
        """Payloads that never reach their length: the public gatt_sensordata_app 2.2.1 sends
        DATA (150 bytes) + DATA_PART2 from a 158-byte buffer (cpp:622-643, .h:78), so a
        notification value over 306 bytes arrives cut, every time. Notifications keep coming
        (the no-data watchdog is satisfied) but nothing decodes — end the run with a sentence
        instead of recording a leg of nothing."""
        ref = b[1]
        paths = dict(self.subs)
        if ref not in paths:
            return
        parsed = M.parse_path(paths[ref])
        expected = M.payload_bytes(*parsed) if parsed is not None else None
        if b[0] == M.RESP_DATA:
            got = self._parts_len.get(ref)
            if expected is not None and got is not None and got < expected and ref not in self._whole:
                self._cut += 1
                if self._cut >= self.CUT_PAYLOADS_FATAL:
                    fits = [r for r in M.RATES_HZ
                            if max(M.payload_bytes(M.RES_ACC, r), M.payload_bytes(M.RES_GYRO, r)) <= got]
                    self.host.problem(
                        f"{self.label}: Movesense sends {paths[ref]} cut at {got} of {expected} bytes — its "
                        f"firmware (e.g. the public gatt_sensordata_app 2.2.1) cannot deliver {self.rate_hz} Hz; "
                        f"record at {max(fits) if fits else 104} Hz or lower (--rate), or flash firmware that "
                        "sends DATA_PART3", True)
            self._parts_len[ref] = len(b) - 2
        elif b[0] in M.CONTINUATION_TYPES and ref in self._parts_len:
            self._parts_len[ref] += len(b) - 2
        if expected is not None and self._parts_len.get(ref, 0) >= expected:
            self._whole.add(ref)

    def _on_result(self, r: M.CommandResult) -> None:
        self.results.append(r)
        paths = dict(self.subs)
        if r.is_error and r.ref in paths:
            why = HTTP_REASONS.get(r.status if r.status is not None else -1, f"status {r.status}")
            self.host.problem(f"{self.label}: Movesense refused {paths[r.ref]} ({r.status}: {why})",
                              not self.first_setup_done)

    async def setup(self, client) -> SensorInfo:
        self.client = client
        rate = self.rate_hz
        if rate not in M.RATES_HZ:
            raise SensorSetupError(f"Movesense streams at {', '.join(map(str, M.RATES_HZ))} Hz, not {rate} — "
                                   "choose one of these with --rate")
        self._require(client, M.GSP_SERVICE_UUID, "Movesense GATT Sensor Data",
                      "flash firmware that includes Movesense's GATT Sensor Data app (gatt_sensordata_app)")
        await client.start_notify(M.GSP_NOTIFY_UUID, self._notify_cb())
        dev = await self.read_device_info()
        if dev.battery_pct is not None:
            self.host.emit(StatusEvent(self.side, time.monotonic(), battery_pct=dev.battery_pct))
        self.subs = subscriptions_for(rate)
        self._parts_len, self._whole, self._cut = {}, set(), 0
        for ref, path in self.subs:
            await self._write(M.GSP_WRITE_UUID, M.cmd_subscribe(ref, path), "gsp_cmd")
        self.first_setup_done = True
        return SensorInfo(
            side=self.side, kind="movesense", sample_rate_hz=float(rate),
            acc_scale_mps2=M.ACC_SCALE_MPS2, gyr_scale_dps=M.GYR_SCALE_DPS,
            acc_range_g=M.ACC_RANGE_G, gyr_range_dps=M.GYR_RANGE_DPS, firmware=dev.firmware,
            device_id=self.address, name=self.name,
        )

    async def shutdown(self) -> None:
        for ref, _path in self.subs:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._write(M.GSP_WRITE_UUID, M.cmd_unsubscribe(ref), "gsp_cmd"), 2.0)
