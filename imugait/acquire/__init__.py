"""Acquisition: where packets arrive and become samples on the session clock.

* ``base``      — the :class:`Source` interface and the events every source emits.
* ``decode``    — packet stream -> :class:`~imugait.types.SampleBlock` with exact
                  loss / duplicate / reorder accounting (:class:`PacketTracker`).
* ``clock``     — device time -> host time per sensor (lower-envelope / convex-hull fit).
* ``simulated`` — in-process virtual sensors (no radio, no D-Bus).
* ``ble``       — real sensors through bleak, with a link supervisor.

The public names below are imported lazily (importing ``imugait.acquire`` does not import
bleak, numpy or the protocol kinds until a name is used)::

    from imugait.acquire import Acquisition, SimulatedSource, BleSource, SensorSpec
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the lazily imported names, for type checkers and IDEs
    from imugait.acquire.base import BlockEvent, InfoEvent, LinkEvent, PacketEvent, Source, StatusEvent
    from imugait.acquire.engine import Acquisition, GapEvent, SensorHealth
    from imugait.acquire.clock import ClockMapper
    from imugait.acquire.decode import DecodedPacket, NoInfoYet, PacketTracker
    from imugait.acquire.simulated import LinkModel, SimulatedSource
    from imugait.acquire.replay import ReplaySource
    from imugait.acquire.ble import DEMO_ADDRESSES, BleSource, SensorSetupError, SensorSpec, demo_ble_source
    from imugait.acquire.scan import find_sensors
    from imugait.acquire.check import check_sensor

_LAZY = {
    **dict.fromkeys(("BlockEvent", "InfoEvent", "LinkEvent", "PacketEvent", "Source", "StatusEvent"), "imugait.acquire.base"),
    **dict.fromkeys(("Acquisition", "GapEvent", "SensorHealth"), "imugait.acquire.engine"),
    **dict.fromkeys(("ClockMapper",), "imugait.acquire.clock"),
    **dict.fromkeys(("DecodedPacket", "NoInfoYet", "PacketTracker"), "imugait.acquire.decode"),
    **dict.fromkeys(("LinkModel", "SimulatedSource"), "imugait.acquire.simulated"),
    **dict.fromkeys(("ReplaySource",), "imugait.acquire.replay"),
    **dict.fromkeys(("DEMO_ADDRESSES", "BleSource", "SensorSetupError", "SensorSpec", "demo_ble_source"), "imugait.acquire.ble"),
    **dict.fromkeys(("find_sensors",), "imugait.acquire.scan"),
    **dict.fromkeys(("check_sensor",), "imugait.acquire.check"),
}

__all__ = ["Acquisition", "BleSource", "BlockEvent", "check_sensor", "ClockMapper", "DecodedPacket",
           "DEMO_ADDRESSES", "demo_ble_source", "find_sensors", "GapEvent", "InfoEvent", "LinkEvent",
           "LinkModel", "NoInfoYet", "PacketEvent", "PacketTracker", "ReplaySource", "SensorHealth",
           "SensorSetupError", "SensorSpec", "SimulatedSource", "Source", "StatusEvent"]


def __getattr__(name: str):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
