"""The interface every data source implements, and the events it emits.

A source runs as an asyncio task and calls ``sink(event)`` for every event, in order,
from the event loop thread. Sinks must be quick (append to a buffer, put on a queue).

Events
------
``InfoEvent``    a sensor's metadata (on connect and after every reconnect).
``PacketEvent``  raw packet bytes with host arrival time; decoded by ``imugait.acquire.decode``.
``BlockEvent``   decoded samples (sources that produce samples directly: files, replay).
``LinkEvent``    link state changes: connecting / connected / reconnecting / stopped.
``StatusEvent``  battery, device FIFO overflow, device-side dropped samples.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Callable, Literal

from imugait.conventions import Side
from imugait.types import SampleBlock, SensorInfo

LinkState = Literal["connecting", "connected", "reconnecting", "stopped"]


@dataclass(frozen=True)
class InfoEvent:
    side: Side
    info: SensorInfo
    t_host_s: float


@dataclass(frozen=True)
class PacketEvent:
    """One notification as received. ``t_arrival_host_s`` is stamped first thing in the
    notification callback (``time.monotonic()``); ``channel`` names the characteristic
    ("data", "status", "pmd_acc", "pmd_gyr", "movesense")."""

    side: Side
    data: bytes
    t_arrival_host_s: float
    channel: str = "data"


@dataclass(frozen=True)
class BlockEvent:
    block: SampleBlock


@dataclass(frozen=True)
class LinkEvent:
    side: Side
    state: LinkState
    t_host_s: float
    reason: str = ""
    intentional: bool = False


@dataclass(frozen=True)
class StatusEvent:
    side: Side
    t_host_s: float
    battery_pct: float | None = None
    fifo_overflow: bool = False
    device_dropped_samples: int = 0
    extra: dict = field(default_factory=dict)


Event = InfoEvent | PacketEvent | BlockEvent | LinkEvent | StatusEvent
Sink = Callable[[Event], None]


class Source(abc.ABC):
    """A running supply of sensor data for one or two sides."""

    sides: tuple[Side, ...]

    @abc.abstractmethod
    async def run(self, sink: Sink) -> None:
        """Connect, stream and call ``sink`` until :meth:`stop` is called or data ends."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop intentionally (an intentional stop is never counted as a loss)."""
