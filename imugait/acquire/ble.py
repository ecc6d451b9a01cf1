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
2. Connect; the kind's GATT session (``imugait.acquire.kinds.<kind>.session``, listed in
   :mod:`imugait.acquire.kinds.registry`) reads metadata, configures rate and range and starts
   streaming; then ``InfoEvent`` and ``LinkEvent("connected")``.
3. Notification callbacks do only this: stamp ``time.monotonic()``, enqueue
   ``(side, channel, bytes, t)``. One consumer task turns the queue into
   :class:`PacketEvent` s for the sink; decoding happens in the engine.
4. Link supervisor: an unexpected disconnect emits ``LinkEvent("reconnecting")`` and
   reconnects with backoff (``backoff_initial_s`` doubling to ``backoff_max_s``, forever,
   until :meth:`stop`), sets the sensor up again, then emits ``InfoEvent`` +
   ``LinkEvent("connected")``. The samples missed meanwhile are a gap in the sample index,
   which the engine's tracker counts.
5. Never waiting silently: a sensor that is connected but sends no data within its kind's
   ``first_data_timeout_s`` of starting (or falls silent for longer than that, at least
   10 s) is restarted, with ``LinkEvent("reconnecting", reason="… no data …")`` saying so;
   a session that reports a problem (Polar: the device stopped its streams) is restarted
   the same way. A sensor that refuses its configuration on the first connect, or says
   something no retry can fix (e.g. it is on its charger), ends the run with that sentence
   (:class:`SensorSetupError`).
6. :meth:`stop` is intentional: it stops streaming, disconnects and emits
   ``LinkEvent("stopped", intentional=True)`` — never a loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from dataclasses import dataclass, field, replace

from bleak import BleakClient
from bleak.exc import BleakDeviceNotFoundError

from imugait.events import InfoEvent, LinkEvent, PacketEvent, Sink
from imugait.acquire.base import Source
from imugait.acquire.kinds.base import (DeviceInfo, GattSession, SensorSetupError, SensorSpec, SensorUnusableError,
                                        SessionHost)
from imugait.acquire.kinds.registry import BLE_KINDS, KINDS
from imugait.acquire.scan import bluetooth_unavailable, find_sensor, find_sensors
from imugait.conventions import SIDES, Side
from imugait.errors import ImugaitError

__all__ = ["BleSource", "SensorSpec", "SensorSetupError", "SensorUnusableError", "LinkStats"]

SILENCE_MIN_S = 10.0


@dataclass
class LinkStats:
    """Per-sensor link history (host monotonic times)."""

    connects: list = field(default_factory=list)
    disconnects: list = field(default_factory=list)  # (t, intentional)
    attempts: int = 0
    failures: list = field(default_factory=list)  # (t, reason)
    notifications: int = 0
    restarts: list = field(default_factory=list)  # (t, reason): sensor silent or stopped by itself


# =====================================================================================
# The source
# =====================================================================================
class _Link:
    def __init__(self, spec: SensorSpec, found):
        self.spec = spec
        self.found = found
        self.device = found.device
        self.kind = found.kind
        self.session: GattSession | None = None
        self.client: BleakClient | None = None
        self.disconnected = asyncio.Event()
        self.intentional = False
        self.stats = LinkStats()
        self.task: asyncio.Task | None = None
        self.last_data_t: float | None = None
        self.problem: tuple[str, bool] | None = None


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
        if sensors is None:
            sensors = [SensorSpec(side, ident) for side, ident in zip(SIDES, (left, right)) if ident]
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
        self._queue: asyncio.Queue  # created by run(), before anything is enqueued
        self._running = False

    # ---- the only thing a notification does --------------------------------------------
    def _enqueue(self, side, channel, data, t) -> None:
        self._queue.put_nowait((side, channel, data, t))
        link = self.links.get(side)
        if link is not None and link.session is not None and link.session.is_data(channel, data):
            link.last_data_t = t

    def _problem(self, side: Side, reason: str, fatal: bool) -> None:
        """A session says its sensor must be restarted (or, ``fatal``, the run must end)."""
        link = self.links.get(side)
        if link is None or link.problem is not None:
            return
        link.problem = (reason, bool(fatal))
        link.disconnected.set()  # wakes the supervisor

    def device_info(self, side: Side) -> DeviceInfo:
        """Model, firmware and battery the sensor's standard services reported (empty before
        its first connection)."""
        link = self.links.get(side)
        return link.session.device_info if link is not None and link.session is not None else DeviceInfo()

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
        self._queue = asyncio.Queue()
        self._stop = asyncio.Event()
        if self._stopping:
            return
        self._running = True
        found = await find_sensors([s.ident for s in self.specs], timeout_s=self.scan_timeout_s)
        for spec, f in zip(self.specs, found):
            kind = spec.kind or f.kind
            if kind not in BLE_KINDS:
                raise SensorSetupError(
                    f"{spec.side + ' ' if spec.show_side else ''}sensor {spec.ident!r} ({f.name or f.address}) is not a sensor imugait can read "
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
            pending: set[asyncio.Task] = {stop_wait, *(link.task for link in self.links.values() if link.task)}
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

    async def _watch(self, link: _Link) -> str:
        """Wait while the sensor streams. Returns why the connection must end: ``"lost"``
        (disconnected), ``"stopping"``, or a sentence (silent sensor, or the session's
        problem — a fatal one raises :class:`SensorSetupError`)."""
        session = link.session
        assert session is not None  # _watch runs after the session was set up
        first_timeout = float(session.first_data_timeout_s)
        silence = max(first_timeout, SILENCE_MIN_S)
        t_start = time.monotonic()
        while True:
            now = time.monotonic()
            if link.last_data_t is None or link.last_data_t < t_start:
                left, what = t_start + first_timeout - now, f"no data within {first_timeout:.0f} s of starting"
            else:
                left, what = link.last_data_t + silence - now, f"no data for {silence:.0f} s"
            if left > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(link.disconnected.wait(), left)
            if self._stopping:
                return "stopping"
            if link.problem is not None:
                reason, fatal = link.problem
                if fatal:
                    raise SensorSetupError(reason)
                return reason
            if link.disconnected.is_set():
                return "lost"
            if link.last_data_t is None or link.last_data_t < t_start or time.monotonic() - link.last_data_t >= silence:
                if left <= 0:
                    return (f"{session.label} is connected but sent {what} — restarting it (wake it, check "
                            "that no phone app is connected to it)")

    async def _supervise(self, link: _Link, sink: Sink) -> None:
        side = link.spec.side
        backoff = self.backoff_initial_s
        first = True
        reason = ""
        while not self._stopping:
            self._emit(LinkEvent(side, "connecting" if first else "reconnecting", time.monotonic(), reason=reason))
            link.stats.attempts += 1
            link.disconnected = asyncio.Event()
            link.intentional = False
            link.problem = None

            def on_disconnect(_client, _link=link):
                _link.stats.disconnects.append((time.monotonic(), _link.intentional or self._stopping))
                _link.disconnected.set()

            client = BleakClient(link.device, disconnected_callback=on_disconnect, timeout=self.connect_timeout_s)
            link.client = client
            try:
                await client.connect()
                if link.session is None:
                    host = SessionHost(self._enqueue, self._emit,
                                       functools.partial(self._problem, side))
                    make_session = KINDS[link.kind].session
                    assert make_session is not None  # only BLE kinds (with a GATT session) get a link
                    link.session = make_session(link.spec, link.found.address, link.found.name, host)
                info = await link.session.setup(client)
                if self._stopping:
                    raise asyncio.CancelledError
                t = time.monotonic()
                link.stats.connects.append(t)
                self._emit(InfoEvent(side, info, t))
                self._emit(LinkEvent(side, "connected", t, reason="" if first else "reconnected"))
                first = False
                backoff = self.backoff_initial_s
                why = await self._watch(link)
                if why == "stopping":
                    break
                if why == "lost":
                    reason = "link lost"
                else:  # silent, or stopped by itself: restart it (not a link loss)
                    reason = why
                    link.stats.restarts.append((time.monotonic(), why))
                    await self._disconnect(link, intentional=True, shutdown=False)
                    await self._sleep_or_stop(backoff)
                await self._disconnect(link)
                continue
            except asyncio.CancelledError:
                break
            except Exception as e:  # noqa: BLE001 - the supervisor keeps trying until stopped
                if isinstance(e, SensorSetupError) and (first or isinstance(e, SensorUnusableError)
                                                        or str(e) == (link.problem or ("", False))[0]):
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

    async def _disconnect(self, link: _Link, intentional: bool = False, shutdown: bool = True) -> None:
        client = link.client
        if client is None:
            return
        link.intentional = link.intentional or intentional
        if intentional and shutdown and client.is_connected and link.session is not None:
            await link.session.shutdown()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), 5.0)
        link.client = None
