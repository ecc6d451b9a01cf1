"""What a running session reports: the event types every source emits and every consumer
reads (acquisition engine, session writer, recording run, live view) — one module both sides
import, matched by type (``isinstance``), never by name.

A :class:`~imugait.acquire.base.Source` calls its sink with these, in order, from its event
loop; the acquisition engine (:class:`~imugait.acquire.engine.Acquisition`) decodes
``PacketEvent`` s into samples and adds ``GapEvent`` s; the session writer
(:meth:`~imugait.store.writer.SessionWriter.add_event`) stores Info/Link/Status/Gap events.

``InfoEvent``    a sensor's metadata (on connect and after every reconnect).
``PacketEvent``  one notification's bytes with its host arrival time (decoded by the engine).
``BlockEvent``   decoded samples (sources that produce samples directly: files, replay).
``LinkEvent``    link state changes: connecting / connected / reconnecting / stopped.
``StatusEvent``  battery, device FIFO overflow, device-side dropped samples.
``GapEvent``     samples that did not arrive (reported by the engine after its reorder wait).
``ClockPoints``  the clock points the engine's live mapping was given (kept for the final mapping).

Times: ``t_host_s`` / ``t_arrival_host_s`` are host ``time.monotonic()`` seconds; a
``GapEvent`` 's times are session seconds (host time minus the session start).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np

from imugait.conventions import Side
from imugait.types import SampleBlock, SensorInfo

LinkState = Literal["connecting", "connected", "reconnecting", "stopped"]
GapReason = Literal["lost", "device_overflow"]


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


@dataclass(frozen=True)
class GapEvent:
    """Samples of ``side`` that did not arrive (after the engine's reorder wait). Times are
    session seconds: ``t_s_start`` where the first missing sample would be, ``t_s_end`` the
    first sample after the gap. ``reason``: ``"lost"`` (link) or ``"device_overflow"``."""

    side: Side
    t_s_start: float
    t_s_end: float
    first_missing_index: int
    n_missing: int
    reason: str = "lost"
    epoch: int = 0


@dataclass(frozen=True, eq=False)
class ClockPoints:
    """Clock points of ``side`` given to its :class:`~imugait.clock.ClockMapper`, in
    arrival order: device time paired with the arrival (hand-off / last sample), host arrival
    time (``time.monotonic`` base), whether the mapper used it (not backlog, not stale after a
    reconnect), the mapper's clock segment and the sample-counter epoch. Emitted by the
    engine about once a second and when the link changes; the session keeps them
    (``clock_points`` table) for the final mapping (:class:`~imugait.clock.SessionClock`)."""

    side: Side
    t_dev_s: np.ndarray
    t_arrival_host_s: np.ndarray
    used: np.ndarray
    segment: np.ndarray
    epoch: np.ndarray

    def __len__(self) -> int:
        return len(self.t_dev_s)


SourceEvent = InfoEvent | PacketEvent | BlockEvent | LinkEvent | StatusEvent
"""What a source hands its sink."""

SessionEvent = InfoEvent | LinkEvent | StatusEvent | GapEvent | ClockPoints
"""What the acquisition engine hands on besides samples (``on_event``) — what a session stores."""

Event = SourceEvent | GapEvent | ClockPoints
Sink = Callable[[SourceEvent], None]

__all__ = ["BlockEvent", "ClockPoints", "Event", "GapEvent", "GapReason", "InfoEvent", "LinkEvent", "LinkState", "PacketEvent",
           "SessionEvent", "Sink", "SourceEvent", "StatusEvent"]
