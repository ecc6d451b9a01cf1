"""What every sensor kind provides: a GATT session (what to do on a connected BleakClient)
and an engine decoder (notification bytes -> samples), described by a :class:`SensorKind`.

The kinds themselves live in one folder each (``kinds/imugait``, ``kinds/polar``,
``kinds/movesense``: wire codec, session, decoder together) and are listed in
:mod:`imugait.acquire.kinds.registry` — a static table, no registration at import time.

A session talks to its :class:`~imugait.acquire.ble.BleSource` only through a
:class:`SessionHost`: ``enqueue`` (a notification — or a command the host wrote, so a raw
capture can be decoded again without the live session), ``emit`` (an event, ordered with the
packets) and ``problem`` (something the link supervisor must act on: restart the sensor, or —
``fatal`` — end the recording with that sentence).
"""

from __future__ import annotations

import abc
import asyncio
import time
from dataclasses import dataclass
from typing import Any, Callable

from imugait.conventions import Side, parse_side
from imugait.errors import ImugaitError
from imugait.types import SensorInfo

BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER_UUID = "00002a24-0000-1000-8000-00805f9b34fb"
FIRMWARE_REV_UUID = "00002a26-0000-1000-8000-00805f9b34fb"
MANUFACTURER_UUID = "00002a29-0000-1000-8000-00805f9b34fb"


class SensorSetupError(ImugaitError):
    """A sensor refused the configuration (rate, range) or answered nonsense."""


class SensorUnusableError(SensorSetupError):
    """The sensor cannot stream now and retrying will not help (on its charger, feature not
    supported): the recording ends with this sentence, also after a reconnect."""


@dataclass(frozen=True)
class SensorSpec:
    """One sensor the user named: ``side`` and ``ident`` (address or exact name).
    ``kind`` ``None`` = from the advertisement; ``rate_hz`` / ranges ``None`` = per kind
    defaults."""

    side: Side
    ident: str
    kind: str | None = None
    rate_hz: float | None = None
    acc_range_g: int | None = None
    gyr_range_dps: int | None = None
    show_side: bool = True  # False: messages say "sensor NAME" (check-sensor has no legs)

    def __post_init__(self):
        object.__setattr__(self, "side", parse_side(self.side))


@dataclass(frozen=True)
class SessionHost:
    """The three ways a session reaches its source (see module docstring)."""

    enqueue: Callable[[Side, str, bytes, float], None]
    emit: Callable[[object], None]
    problem: Callable[[str, bool], None]


@dataclass(frozen=True)
class DeviceInfo:
    """What the standard GATT services say about the device (for ``check-sensor``)."""

    model: str = ""
    manufacturer: str = ""
    firmware: str = ""
    battery_pct: float | None = None


def _text(b: bytes | None) -> str:
    return (b or b"").decode("utf-8", "replace").strip("\x00").strip()


class GattSession(abc.ABC):
    """Kind-specific behaviour on a connected ``BleakClient`` (one instance per sensor,
    reused across reconnects)."""

    kind = ""
    data_channels: frozenset = frozenset()
    """Channels whose notifications carry samples (the source's no-data watchdog watches them)."""
    first_data_timeout_s = 6.0
    """How long after START the first data may take before the source reports the sensor as
    silent and restarts it (kinds override it)."""

    def __init__(self, spec: SensorSpec, address: str, name: str, host: SessionHost):
        self.spec = spec
        self.side = spec.side
        self.address = address
        self.name = name
        self.host = host
        self.client: Any = None  # a connected bleak.BleakClient while the session runs
        self.first_setup_done = False
        self.device_info = DeviceInfo()
        self._responses: asyncio.Queue = asyncio.Queue()

    @property
    def label(self) -> str:
        who = self.name or self.address
        return f"{self.side} sensor {who}" if self.spec.show_side else f"sensor {who}"

    # -- notifications ------------------------------------------------------------------
    def is_data(self, channel: str, data: bytes) -> bool:
        """Does this notification carry samples?"""
        return channel in self.data_channels

    def _cb(self, channel: str):
        """Notification callback: stamp the arrival time first, enqueue, return."""
        side, enqueue = self.side, self.host.enqueue

        def on_notify(_char, data: bytearray) -> None:
            t = time.monotonic()
            enqueue(side, channel, bytes(data), t)

        return on_notify

    async def _write(self, uuid: str, data: bytes, channel: str, response: bool = True) -> None:
        """Write a command and enqueue a copy on ``channel`` (kept in the raw capture, so the
        stream can be decoded again knowing what was asked)."""
        self.host.enqueue(self.side, channel, bytes(data), time.monotonic())
        await self.client.write_gatt_char(uuid, data, response=response)

    def _drain_responses(self) -> None:
        while not self._responses.empty():
            self._responses.get_nowait()

    async def _await_response(self, match, timeout_s: float = 3.0):
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SensorSetupError(f"{self.label}: no answer to a command within {timeout_s:g} s")
            try:
                item = await asyncio.wait_for(self._responses.get(), left)
            except asyncio.TimeoutError:
                continue
            if match(item):
                return item

    async def _read_optional(self, uuid: str) -> bytes | None:
        try:
            return bytes(await self.client.read_gatt_char(uuid))
        except Exception:  # noqa: BLE001 - optional characteristic
            return None

    async def read_device_info(self) -> DeviceInfo:
        """Model, manufacturer, firmware and battery from the standard services (missing ones empty)."""
        batt = await self._read_optional(BATTERY_LEVEL_UUID)
        self.device_info = DeviceInfo(
            model=_text(await self._read_optional(MODEL_NUMBER_UUID)),
            manufacturer=_text(await self._read_optional(MANUFACTURER_UUID)),
            firmware=_text(await self._read_optional(FIRMWARE_REV_UUID)),
            battery_pct=float(batt[0]) if batt else None,
        )
        return self.device_info

    def _require(self, client, service_uuid: str, what: str, fix: str) -> None:
        """A sensor of this kind must offer ``service_uuid``; say what to do if not."""
        if client.services.get_service(service_uuid) is None:
            raise SensorSetupError(f"{self.label} does not offer the {what} service — {fix}")

    @abc.abstractmethod
    async def setup(self, client) -> SensorInfo:
        """Check the services, read metadata, configure rate/range, start streaming."""

    async def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Best effort: tell the sensor to stop streaming (user stop)."""


@dataclass(frozen=True)
class SensorKind:
    """One sensor kind: its name, what ``scan`` calls it, its session and decoder classes,
    and whether recordings keep every notification's bytes (commercial sensors: a decoder
    bug must never destroy a recording)."""

    name: str
    label: str
    session: type | None
    decoder: type
    keep_raw: bool = False
    default_rate_hz: float | None = None
