"""Real BLE sensors through bleak: :class:`BleSource` and its link supervisor.

::

    src = BleSource([SensorSpec("left", "Polar Sense B36E4C2A"), SensorSpec("right", "0C:8C:DC:31:22:07")],
                    rate_hz=208)
    await src.run(sink)          # until await src.stop()

What it does, per named sensor (never anything else — only the devices the user named are
looked for, and only those are connected):

1. One scan finds every named sensor (address any case, or exact advertised name) and its
   kind (from the advertisement, or as given). The :class:`bleak.backends.device.BLEDevice`
   found is what is connected to (a string address would trigger a scan per connect).
2. Connect, read metadata, configure rate and range, start streaming (per kind, below), emit
   :class:`InfoEvent` and ``LinkEvent("connected")``.
3. Notification callbacks do only this: stamp ``time.monotonic()``, enqueue
   ``(side, channel, bytes, t)``. One consumer task turns the queue into
   :class:`PacketEvent` s for the sink; decoding happens in the engine.
4. Link supervisor: an unexpected disconnect emits ``LinkEvent("reconnecting")`` and
   reconnects with backoff (``backoff_initial_s`` doubling to ``backoff_max_s``, forever,
   until :meth:`stop`), re-reads metadata, re-subscribes and restarts streaming, then emits
   ``InfoEvent`` + ``LinkEvent("connected")``. The samples missed meanwhile are a gap in
   the sample index, which the engine's tracker counts. :meth:`stop` is intentional: it
   stops streaming, disconnects and emits ``LinkEvent("stopped", intentional=True)`` —
   never a loss.

Kinds:

* ``imugait`` — read INFO; subscribe DATA, STATUS, CONTROL; on first connect SET_RATE /
  SET_RANGE when asked (re-read INFO after), then START. After a reconnect the firmware is
  usually still streaming (START answers with the next index) and sends its FIFO backlog.
* ``polar`` — Verity Sense PMD: SDK mode on when the rate is above 52 Hz, start ACC and GYRO
  with rate / range / 16 bit; the FACTOR in the start responses gives the scales.
* ``movesense`` — GSP: HELLO, SUBSCRIBE ``/Meas/IMU6/<rate>``.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from imugait.acquire.base import InfoEvent, LinkEvent, PacketEvent, Sink, Source, StatusEvent
from imugait.conventions import GRAVITY_MPS2, Side, parse_side
from imugait.errors import ImugaitError
from imugait.types import SensorInfo

BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
FIRMWARE_REV_UUID = "00002a26-0000-1000-8000-00805f9b34fb"


class SensorSetupError(ImugaitError):
    """A sensor refused the configuration (rate, range) or answered nonsense."""


@dataclass(frozen=True)
class SensorSpec:
    """One sensor the user named: ``side`` and ``ident`` (address or exact name).
    ``kind`` ``None`` = from the advertisement; ``rate_hz`` / ranges ``None`` = per source
    defaults."""

    side: Side
    ident: str
    kind: str | None = None
    rate_hz: float | None = None
    acc_range_g: int | None = None
    gyr_range_dps: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "side", parse_side(self.side))


DEFAULT_RATE_HZ = {"imugait": None, "polar": 208, "movesense": 208}


@dataclass
class LinkStats:
    """Per-sensor link history (host monotonic times)."""

    connects: list = field(default_factory=list)
    disconnects: list = field(default_factory=list)  # (t, intentional)
    attempts: int = 0
    failures: list = field(default_factory=list)  # (t, reason)
    notifications: int = 0


# =====================================================================================
# Per-kind sessions: what to do on a connected BleakClient
# =====================================================================================
class _Session(abc.ABC):
    kind = ""

    def __init__(self, spec: SensorSpec, address: str, name: str, enqueue, emit):
        self.spec = spec
        self.side = spec.side
        self.address = address
        self.name = name
        self.enqueue = enqueue  # enqueue(side, channel, data, t)
        self.emit = emit  # emit(event), ordered with the packets
        self.client = None
        self.first_setup_done = False
        self._responses: asyncio.Queue = asyncio.Queue()

    def _cb(self, channel: str):
        side = self.side
        enqueue = self.enqueue

        def on_notify(_char, data: bytearray) -> None:
            t = time.monotonic()
            enqueue(side, channel, bytes(data), t)

        return on_notify

    def _response_cb(self):
        q = self._responses

        def on_response(_char, data: bytearray) -> None:
            q.put_nowait(bytes(data))

        return on_response

    async def _await_response(self, match, timeout_s: float = 3.0) -> bytes:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SensorSetupError(f"{self.side} sensor {self.name or self.address}: no answer to a command within {timeout_s:g} s")
            data = await asyncio.wait_for(self._responses.get(), left)
            if match(data):
                return data

    async def _read_optional(self, uuid: str) -> bytes | None:
        try:
            return bytes(await self.client.read_gatt_char(uuid))
        except Exception:  # noqa: BLE001 - optional characteristic
            return None

    @abc.abstractmethod
    async def setup(self, client) -> SensorInfo:
        """Kind-specific: check the services, read metadata, configure rate/range, subscribe."""

    def _require(self, client, service_uuid: str, what: str, fix: str) -> None:
        """A sensor of this kind must offer ``service_uuid``; say what to do if not."""
        if client.services.get_service(service_uuid) is None:
            raise SensorSetupError(
                f"{self.side} sensor {self.name or self.address} does not offer the {what} service — {fix}"
            )

    async def shutdown(self) -> None:
        """Best effort: tell the sensor to stop streaming (user stop)."""


class _ImugaitSession(_Session):
    kind = "imugait"

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        from imugait.protocol import constants as C
        from imugait.protocol import imu

        self.C, self.imu = C, imu
        self._token = 0
        self.applied_rate_hz: float | None = None

    async def _control(self, cmd_fn, *args) -> object:
        self._token = (self._token + 1) % 256
        tok = self._token
        while not self._responses.empty():
            self._responses.get_nowait()
        await self.client.write_gatt_char(self.C.CONTROL_UUID, cmd_fn(*args, token=tok), response=True)

        def match(b):
            try:
                r = self.imu.decode_control_response(b)
            except Exception:  # noqa: BLE001
                return False
            return r.token == tok

        return self.imu.decode_control_response(await self._await_response(match))

    async def _info(self) -> SensorInfo:
        rec = self.imu.decode_info(await self.client.read_gatt_char(self.C.INFO_UUID))
        return rec.to_sensor_info(side=self.side, device_id=self.address, name=self.name)

    async def setup(self, client) -> SensorInfo:
        C = self.C
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
        if need_rate and not (self.first_setup_done and self.applied_rate_hz == info.sample_rate_hz):
            r = await self._control(self.imu.cmd_set_rate, float(want_rate))
            if not r.ok and r.status_name == "invalid_state":
                await self._control(self.imu.cmd_stop)
                r = await self._control(self.imu.cmd_set_rate, float(want_rate))
            if not r.ok:
                raise SensorSetupError(f"{self.side} sensor refused rate {want_rate:g} Hz ({r.status_name})")
        if need_range:
            rng = (int(want_acc or info.acc_range_g), int(want_gyr or info.gyr_range_dps))
            r = await self._control(self.imu.cmd_set_range, *rng)
            if not r.ok and r.status_name == "invalid_state":
                await self._control(self.imu.cmd_stop)
                r = await self._control(self.imu.cmd_set_range, *rng)
            if not r.ok:
                raise SensorSetupError(f"{self.side} sensor refused the range ±{rng[0]} g / ±{rng[1]} °/s ({r.status_name})")
        if need_rate or need_range:
            info = await self._info()
        self.applied_rate_hz = info.sample_rate_hz  # the nearest rate the sensor offers
        await client.start_notify(C.STATUS_UUID, self._cb("status"))
        await client.start_notify(C.DATA_UUID, self._cb("data"))
        r = await self._control(self.imu.cmd_start)
        if not r.ok:
            raise SensorSetupError(f"{self.side} sensor did not start streaming ({r.status_name})")
        st = await self._read_optional(C.STATUS_UUID)
        if st is not None:
            self.enqueue(self.side, "status", st, time.monotonic())
        self.first_setup_done = True
        return info

    async def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._control(self.imu.cmd_stop), 2.0)


class _PolarSession(_Session):
    kind = "polar"

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        from imugait.protocol import polar as P

        self.P = P

    async def _cp(self, cmd: bytes):
        P = self.P
        while not self._responses.empty():
            self._responses.get_nowait()
        await self.client.write_gatt_char(P.PMD_CP_UUID, cmd, response=True)

        def match(b):
            return len(b) >= 4 and b[0] == P.CP_RESPONSE_CODE and b[1] == cmd[0] and b[2] == cmd[1]

        return P.decode_cp_response(await self._await_response(match))

    async def setup(self, client) -> SensorInfo:
        P = self.P
        self.client = client
        rate = int(self.spec.rate_hz or DEFAULT_RATE_HZ["polar"])
        acc_range = int(self.spec.acc_range_g or 8)
        gyr_range = int(self.spec.gyr_range_dps or 2000)
        self._require(client, P.PMD_SERVICE_UUID, "Polar Measurement Data",
                      "only the Polar Verity Sense streams accelerometer and gyroscope; update its firmware with Polar Flow")
        await client.start_notify(P.PMD_CP_UUID, self._response_cb())
        await client.start_notify(P.PMD_DATA_UUID, self._cb("pmd_data"))
        if rate not in P.NORMAL_MODE_RATES_HZ:
            if rate not in P.SDK_MODE_RATES_HZ:
                raise SensorSetupError(f"Polar Verity Sense streams at {P.SDK_MODE_RATES_HZ} Hz, not {rate}")
            r = await self._cp(P.cmd_sdk_mode(True))
            if not (r.ok or r.status == P.ST_ALREADY_IN_STATE):
                raise SensorSetupError(f"Polar Verity Sense refused SDK mode ({r.status_name}); firmware 1.1.5+ is needed for {rate} Hz")
        factors = {}
        for meas, rng in ((P.MEAS_ACC, acc_range), (P.MEAS_GYRO, gyr_range)):
            r = await self._cp(P.cmd_start(meas, sample_rate_hz=rate, range_units=rng, resolution_bits=16))
            if r.status == P.ST_ALREADY_IN_STATE:
                await self._cp(P.cmd_stop(meas))
                r = await self._cp(P.cmd_start(meas, sample_rate_hz=rate, range_units=rng, resolution_bits=16))
            if not r.ok:
                raise SensorSetupError(f"Polar Verity Sense refused {P.MEAS_NAMES[meas]} at {rate} Hz, range {rng} ({r.status_name})")
            s = P.decode_settings(r.parameters) if r.parameters else {}
            factors[meas] = s.get(P.SET_FACTOR, [None])[0]
        acc_factor = factors[P.MEAS_ACC] or acc_range / 32768.0
        gyr_factor = factors[P.MEAS_GYRO] or gyr_range / 32768.0
        fw = await self._read_optional(FIRMWARE_REV_UUID)
        batt = await self._read_optional(BATTERY_LEVEL_UUID)
        if batt:
            self.emit(StatusEvent(self.side, time.monotonic(), battery_pct=float(batt[0])))
        return SensorInfo(
            side=self.side, kind="polar", sample_rate_hz=float(rate),
            acc_scale_mps2=float(acc_factor) * GRAVITY_MPS2, gyr_scale_dps=float(gyr_factor),
            acc_range_g=float(acc_range), gyr_range_dps=float(gyr_range),
            firmware=(fw or b"").decode("ascii", "replace").strip("\x00"), device_id=self.address, name=self.name,
        )

    async def shutdown(self) -> None:
        P = self.P
        for cmd in (P.cmd_stop(P.MEAS_ACC), P.cmd_stop(P.MEAS_GYRO), P.cmd_sdk_mode(False)):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._cp(cmd), 2.0)


class _MovesenseSession(_Session):
    kind = "movesense"
    REF = 99

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        from imugait.protocol import movesense as M

        self.M = M

    def _notify_cb(self):
        """Command results go to the response queue; everything else is data."""
        side, enqueue, q, M = self.side, self.enqueue, self._responses, self.M

        def on_notify(_char, data: bytearray) -> None:
            t = time.monotonic()
            if data and data[0] == M.RESP_COMMAND_RESULT:
                q.put_nowait(bytes(data))
            else:
                enqueue(side, "gsp", bytes(data), t)

        return on_notify

    async def _cmd(self, cmd: bytes, ref: int) -> int:
        while not self._responses.empty():
            self._responses.get_nowait()
        await self.client.write_gatt_char(self.M.GSP_WRITE_UUID, cmd, response=True)
        r = await self._await_response(lambda b: len(b) >= 4 and b[1] == ref)
        return int.from_bytes(r[2:4], "little")

    async def setup(self, client) -> SensorInfo:
        M = self.M
        self.client = client
        rate = int(self.spec.rate_hz or DEFAULT_RATE_HZ["movesense"])
        path = M.imu6_path(rate)
        self._require(client, M.GSP_SERVICE_UUID, "Movesense GATT Sensor Data",
                      "flash firmware that includes Movesense's GATT Sensor Data app (gatt_sensordata_app)")
        await client.start_notify(M.GSP_NOTIFY_UUID, self._notify_cb())
        await self._cmd(M.cmd_hello(0), 0)
        status = await self._cmd(M.cmd_subscribe(self.REF, path), self.REF)
        if status != 200:
            raise SensorSetupError(f"Movesense refused {path} (status {status})")
        batt = await self._read_optional(BATTERY_LEVEL_UUID)
        if batt:
            self.emit(StatusEvent(self.side, time.monotonic(), battery_pct=float(batt[0])))
        return SensorInfo(
            side=self.side, kind="movesense", sample_rate_hz=float(rate),
            acc_scale_mps2=M.ACC_SCALE_MPS2, gyr_scale_dps=M.GYR_SCALE_DPS,
            acc_range_g=M.ACC_RANGE_G, gyr_range_dps=M.GYR_RANGE_DPS, device_id=self.address, name=self.name,
        )

    async def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._cmd(self.M.cmd_unsubscribe(self.REF), self.REF), 2.0)


SESSIONS = {"imugait": _ImugaitSession, "polar": _PolarSession, "movesense": _MovesenseSession}


# =====================================================================================
# The source
# =====================================================================================
class _Link:
    def __init__(self, spec: SensorSpec, found):
        self.spec = spec
        self.found = found
        self.device = found.device
        self.session: _Session | None = None
        self.client = None
        self.disconnected = asyncio.Event()
        self.intentional = False
        self.stats = LinkStats()
        self.task: asyncio.Task | None = None


class BleSource(Source):
    """One or two named BLE sensors (see module docstring)."""

    def __init__(
        self,
        sensors: list[SensorSpec] | None = None,
        *,
        left: str | None = None,
        right: str | None = None,
        rate_hz: float | None = None,
        acc_range_g: int | None = None,
        gyr_range_dps: int | None = None,
        scan_timeout_s: float = 15.0,
        connect_timeout_s: float = 15.0,
        backoff_initial_s: float = 0.25,
        backoff_max_s: float = 2.0,
    ):
        """``sensors`` as :class:`SensorSpec` s, or simply ``left=`` / ``right=`` (address or
        name). ``rate_hz`` / ``acc_range_g`` / ``gyr_range_dps`` apply to every sensor that
        does not set its own."""
        from dataclasses import replace

        if sensors is None:
            sensors = [SensorSpec(side, ident) for side, ident in (("left", left), ("right", right)) if ident]
        elif left or right:
            raise ValueError("give either sensors=[...] or left=/right=, not both")
        sensors = [
            replace(
                s,
                rate_hz=s.rate_hz if s.rate_hz is not None else rate_hz,
                acc_range_g=s.acc_range_g if s.acc_range_g is not None else acc_range_g,
                gyr_range_dps=s.gyr_range_dps if s.gyr_range_dps is not None else gyr_range_dps,
            )
            for s in sensors
        ]
        if not 1 <= len(sensors) <= 2:
            raise ImugaitError(f"name one or two sensors (left and/or right), got {len(sensors)}")
        sides = [s.side for s in sensors]
        if len(set(sides)) != len(sides):
            raise ImugaitError(f"each sensor needs its own side, got {sides}")
        self.specs = list(sensors)
        self.sides = tuple(sides)
        self.scan_timeout_s = scan_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.links: dict[Side, _Link] = {}
        self._stop = asyncio.Event()
        self._stopping = False
        self._queue: asyncio.Queue | None = None
        self._running = False

    # ---- the only thing a notification does --------------------------------------------
    def _enqueue(self, side, channel, data, t) -> None:
        self._queue.put_nowait((side, channel, data, t))

    def _emit(self, event) -> None:
        """Events from the supervisor go through the same queue as packets (order kept)."""
        self._queue.put_nowait((event.side, None, event, 0.0))

    async def _pump(self, sink: Sink) -> None:
        """Queue -> sink. Packets of a side that is (re)connecting are held until its
        InfoEvent and ``LinkEvent("connected")`` have gone out, so a decoder always knows
        rate and scales first and the engine starts its new clock segment before them."""
        q = self._queue
        held: dict = {}
        while True:
            side, channel, data, t = await q.get()
            if channel is None:
                ev = data
                if isinstance(ev, LinkEvent) and ev.state in ("connecting", "reconnecting"):
                    held.setdefault(side, [])
                sink(ev)
                if isinstance(ev, LinkEvent) and ev.state == "connected":
                    for pe in held.pop(side, []):
                        sink(pe)
                elif isinstance(ev, LinkEvent) and ev.state == "stopped":
                    held.pop(side, None)  # a connection that never finished its setup: no metadata
                continue
            self.links[side].stats.notifications += 1
            pe = PacketEvent(side=side, data=data, t_arrival_host_s=t, channel=channel)
            if side in held:
                held[side].append(pe)
            else:
                sink(pe)

    async def run(self, sink: Sink) -> None:
        from imugait.acquire.scan import find_sensors

        self._queue = asyncio.Queue()
        self._stop = asyncio.Event()
        if self._stopping:
            return
        self._running = True
        found = await find_sensors([s.ident for s in self.specs], timeout_s=self.scan_timeout_s)
        for spec, f in zip(self.specs, found):
            kind = spec.kind or f.kind
            if kind not in SESSIONS:
                raise SensorSetupError(
                    f"{spec.side} sensor {spec.ident!r} ({f.name or f.address}) is not a sensor imugait can read "
                    f"(seen as {f.label}) — supported: imugait protocol, Polar Verity Sense, Movesense"
                )
            self.links[spec.side] = _Link(spec, f)
            self.links[spec.side].kind = kind
        pump = asyncio.create_task(self._pump(sink))
        failure: BaseException | None = None
        try:
            for link in self.links.values():
                link.task = asyncio.create_task(self._supervise(link, sink))
            stop_wait = asyncio.create_task(self._stop.wait())
            pending = {stop_wait, *(link.task for link in self.links.values())}
            while stop_wait in pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    if t is not stop_wait and not t.cancelled() and t.exception() is not None:
                        failure = t.exception()  # a sensor refused its setup: give up, say why
                        self._stop.set()
            stop_wait.cancel()
        finally:
            self._stopping = True
            for link in self.links.values():
                link.disconnected.set()
            tasks = [link.task for link in self.links.values() if link.task]
            if tasks:
                _done, pending = await asyncio.wait(tasks, timeout=5.0)
                for t in pending:  # e.g. stuck in a connect attempt
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for side in self.links:
                self._emit(LinkEvent(side, "stopped", time.monotonic(), reason="stopped by user", intentional=True))
            while not self._queue.empty():  # everything queued reaches the sink, "stopped" last
                await asyncio.sleep(0)
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            self._running = False
        if failure is not None:
            raise failure

    async def stop(self) -> None:
        self._stopping = True
        self._stop.set()

    # ---- link supervisor --------------------------------------------------------------
    async def _sleep_or_stop(self, s: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop.wait(), s)

    async def _supervise(self, link: _Link, sink: Sink) -> None:
        from bleak import BleakClient
        from bleak.exc import BleakDeviceNotFoundError

        from imugait.acquire.scan import bluetooth_unavailable, find_sensor

        side = link.spec.side
        backoff = self.backoff_initial_s
        first = True
        reason = ""
        while not self._stopping:
            self._emit(LinkEvent(side, "connecting" if first else "reconnecting", time.monotonic(), reason=reason))
            link.stats.attempts += 1
            link.disconnected = asyncio.Event()
            link.intentional = False

            def on_disconnect(_client, _link=link):
                _link.stats.disconnects.append((time.monotonic(), _link.intentional or self._stopping))
                _link.disconnected.set()

            client = BleakClient(link.device, disconnected_callback=on_disconnect, timeout=self.connect_timeout_s)
            link.client = client
            try:
                await client.connect()
                if link.session is None:
                    link.session = SESSIONS[link.kind](link.spec, link.found.address, link.found.name, self._enqueue, self._emit)
                info = await link.session.setup(client)
                if self._stopping:
                    raise asyncio.CancelledError
                t = time.monotonic()
                link.stats.connects.append(t)
                self._emit(InfoEvent(side, info, t))
                self._emit(LinkEvent(side, "connected", t, reason="" if first else "reconnected"))
                first = False
                backoff = self.backoff_initial_s
                await link.disconnected.wait()
                if self._stopping:
                    break
                reason = "link lost"
                # the sensor went away: clean up and retry at once (backoff after failures)
                await self._disconnect(link)
                continue
            except asyncio.CancelledError:
                break
            except Exception as e:  # noqa: BLE001 - the supervisor keeps trying until stopped
                if isinstance(e, SensorSetupError) and first:
                    link.stats.failures.append((time.monotonic(), str(e)))
                    await self._disconnect(link)
                    raise
                unavailable = bluetooth_unavailable(e)
                reason = str(unavailable) if unavailable else (f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)
                link.stats.failures.append((time.monotonic(), reason))
                if isinstance(e, BleakDeviceNotFoundError):
                    # BlueZ forgot the device (common after a long outage): look for it again —
                    # by its address, so still only the device the user named.
                    with contextlib.suppress(Exception):
                        link.device = (await find_sensor(link.found.address, timeout_s=5.0)).device
            await self._disconnect(link)
            if self._stopping:
                break
            await self._sleep_or_stop(backoff)
            backoff = min(backoff * 2.0, self.backoff_max_s)
        await self._disconnect(link, intentional=True)

    async def _disconnect(self, link: _Link, intentional: bool = False) -> None:
        client = link.client
        if client is None:
            return
        link.intentional = link.intentional or intentional
        if intentional and client.is_connected and link.session is not None:
            await link.session.shutdown()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), 5.0)
        link.client = None


# =====================================================================================
# The demo path: virtual sensors behind the emulated BlueZ, read by the real BleSource
# =====================================================================================
DEMO_ADDRESSES = {"left": "C0:FF:EE:D3:00:01", "right": "C0:FF:EE:D3:00:02"}


def bluez_available() -> tuple[bool, str]:
    """Can the emulated BlueZ run here? ``(True, "")`` or ``(False, reason)``."""
    try:
        from imugait.sim.bluez import bluez_available as _avail
    except ImportError as e:  # dbus-fast is a Linux-only dependency
        return False, f"the emulated BlueZ needs Linux with dbus-fast ({e.name} is not installed)"
    return _avail()


class DemoBle:
    """Handle returned by :func:`demo_ble_source`: ``source`` (a :class:`BleSource`),
    ``emulator`` (:class:`~imugait.sim.bluez.EmulatedBluez`), ``sensors`` (side ->
    :class:`~imugait.sim.firmware.VirtualSensor`). World time 0 of the recording is
    ``world_offset_s`` after the emulator started (scan and connect happen first)."""

    def __init__(self, source, emulator, sensors, world_offset_s):
        self.source = source
        self.emulator = emulator
        self.sensors = sensors
        self.world_offset_s = world_offset_s

    def world_time_s(self) -> float:
        """Current time of the recording being played (seconds)."""
        return self.emulator.now_s() - self.world_offset_s

    def finished(self) -> bool:
        """True once every virtual sensor has sent its whole recording."""
        return all(vs.finished or self.world_time_s() > vs.t_end_s + 1.0 for vs in self.sensors.values())


def demo_ble_source(sim_recording, *, sides=("left", "right"), world_offset_s: float = 2.0, link_profiles=None,
                    firmware_faults=None, mtu: int = 247, rate_hz: float | None = None):
    """Two (or one) virtual imugait sensors playing ``sim_recording`` (from
    :func:`imugait.sim.gait.simulate`) behind the emulated BlueZ, and the real
    :class:`BleSource` that reads them through bleak::

        ok, why = bluez_available()
        if ok:
            async with demo_ble_source(rec) as demo:   # `with` works too, outside a running loop
                acq = Acquisition(demo.source, on_block, on_event)
                task = asyncio.create_task(acq.run())
                while not demo.finished():
                    await asyncio.sleep(0.2)
                await acq.stop(); await task
        else:
            print(f"Bluetooth emulation unavailable ({why}); using in-process virtual sensors")
            ...  # SimulatedSource

    Inside a running event loop use ``async with``: bleak keeps one BlueZ connection per
    loop, and the async exit lets it notice the emulator's bus going away, so a second
    session (e.g. the after-stretching run) can start another emulator in the same loop.

    Real time only (the clock mapper needs device and host clocks to run at the same
    rate). Unequal links by default: left 15 ms, right 45 ms connection interval.
    ``rate_hz`` asks the sensors for another rate (the virtual firmware decimates the
    recording's rate by an integer factor).
    """
    return _DemoContext(sim_recording, sides=sides, world_offset_s=world_offset_s, link_profiles=link_profiles,
                        firmware_faults=firmware_faults, mtu=mtu, rate_hz=rate_hz)


class _DemoContext:
    """Sync (``with``) or async (``async with``, preferred inside a running loop) context."""

    def __init__(self, sim_recording, *, sides, world_offset_s, link_profiles, firmware_faults, mtu, rate_hz):
        from imugait.sim.bluez import EmulatedBluez, LinkProfile
        from imugait.sim.bluez_imugait import ImugaitPeripheral
        from imugait.sim.firmware import VirtualSensor

        ok, why = bluez_available()
        if not ok:
            raise RuntimeError(f"emulated BlueZ unavailable: {why}")
        link_profiles = link_profiles or {"left": LinkProfile(conn_interval_s=0.015, seed=1),
                                          "right": LinkProfile(conn_interval_s=0.045, seed=2)}
        self.sensors = {}
        periphs = []
        for i, side in enumerate(sides):
            kw = {"faults": firmware_faults.get(side)} if isinstance(firmware_faults, dict) else {}
            vs = VirtualSensor(sim_recording.sides[side], side=side, mtu=mtu, seed=i, **kw)
            self.sensors[side] = vs
            periphs.append((ImugaitPeripheral(vs, DEMO_ADDRESSES[side], f"imugait {side}", world_offset_s=world_offset_s),
                            link_profiles.get(side, LinkProfile())))
        self.bz = EmulatedBluez(periphs)
        self.sides, self.rate_hz, self.world_offset_s = tuple(sides), rate_hz, world_offset_s

    def _handle(self) -> DemoBle:
        src = BleSource([SensorSpec(side, DEMO_ADDRESSES[side]) for side in self.sides], rate_hz=self.rate_hz)
        return DemoBle(src, self.bz, self.sensors, self.world_offset_s)

    def __enter__(self) -> DemoBle:
        self.bz.__enter__()
        return self._handle()

    def __exit__(self, *exc) -> None:
        self.bz.__exit__(*exc)

    async def __aenter__(self) -> DemoBle:
        await self.bz.__aenter__()
        return self._handle()

    async def __aexit__(self, *exc) -> None:
        await self.bz.__aexit__(*exc)
