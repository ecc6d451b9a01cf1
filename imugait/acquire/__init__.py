"""Acquisition: where packets arrive and become samples on the session clock.

* ``base``      — the :class:`Source` interface (the events it emits: :mod:`imugait.events`).
* ``decode``    — packet stream -> :class:`~imugait.types.SampleBlock` with exact
                  loss / duplicate / reorder accounting (:class:`PacketTracker`).
* ``engine``    — :class:`Acquisition`: any source -> samples on the session clock
                  (device -> host time: :mod:`imugait.clock`).
* ``ble``       — real sensors through bleak, with a link supervisor.
* ``replay``    — a recorded session played back as a source.

Simulated sensors (in-process, or behind the emulated BlueZ) are in :mod:`imugait.sim`, the
layer above (``imugait.sim.source.SimulatedSource``, ``imugait.sim.demo_ble``).

The public names below are imported lazily (importing ``imugait.acquire`` does not import
bleak, numpy or the protocol kinds until a name is used)::

    from imugait.acquire import Acquisition, BleSource, SensorSpec
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imugait._lazy import lazy_exports

if TYPE_CHECKING:  # the lazily imported names, for type checkers and IDEs
    from imugait.events import BlockEvent, GapEvent, InfoEvent, LinkEvent, PacketEvent, StatusEvent
    from imugait.acquire.base import Source
    from imugait.acquire.engine import Acquisition, SensorHealth
    from imugait.clock import ClockMapper
    from imugait.acquire.decode import DecodedPacket, NoInfoYet, PacketTracker
    from imugait.acquire.replay import ReplaySource
    from imugait.acquire.ble import BleSource, SensorSetupError, SensorSpec
    from imugait.acquire.scan import find_sensors
    from imugait.acquire.check import check_sensor

_LAZY = {
    **dict.fromkeys(("BlockEvent", "GapEvent", "InfoEvent", "LinkEvent", "PacketEvent", "StatusEvent"), "imugait.events"),
    **dict.fromkeys(("Source",), "imugait.acquire.base"),
    **dict.fromkeys(("Acquisition", "SensorHealth"), "imugait.acquire.engine"),
    **dict.fromkeys(("ClockMapper",), "imugait.clock"),
    **dict.fromkeys(("DecodedPacket", "NoInfoYet", "PacketTracker"), "imugait.acquire.decode"),
    **dict.fromkeys(("ReplaySource",), "imugait.acquire.replay"),
    **dict.fromkeys(("BleSource", "SensorSetupError", "SensorSpec"), "imugait.acquire.ble"),
    **dict.fromkeys(("find_sensors",), "imugait.acquire.scan"),
    **dict.fromkeys(("check_sensor",), "imugait.acquire.check"),
}

__all__ = ["Acquisition", "BleSource", "BlockEvent", "check_sensor", "ClockMapper", "DecodedPacket",
           "find_sensors", "GapEvent", "InfoEvent", "LinkEvent", "NoInfoYet", "PacketEvent", "PacketTracker",
           "ReplaySource", "SensorHealth", "SensorSetupError", "SensorSpec", "Source", "StatusEvent"]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
