"""The demo path: virtual imugait sensors behind the emulated BlueZ, read by the real
:class:`~imugait.acquire.ble.BleSource` through bleak (``imugait demo``, ``record
--simulate --ble``, BLE tests). The emulator needs Linux with dbus-fast (a Linux-only
dependency), so :mod:`imugait.sim.bluez` is imported only after :func:`bluez_available`
said yes."""

from __future__ import annotations

from typing import Any

from imugait.acquire.ble import BleSource
from imugait.acquire.kinds.base import SensorSpec
from imugait.sim.firmware import VirtualSensor
from imugait.sim.link import LinkModel

__all__ = ["DEMO_ADDRESSES", "DemoBle", "bluez_available", "demo_ble_source"]


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
        from imugait.sim.bluez import EmulatedBluez  # dbus-fast: Linux only (checked above)
        from imugait.sim.bluez_imugait import ImugaitPeripheral

        ok, why = bluez_available()
        if not ok:
            raise RuntimeError(f"emulated BlueZ unavailable: {why}")
        link_profiles = link_profiles or {"left": LinkModel(conn_interval_s=0.015, seed=1),
                                          "right": LinkModel(conn_interval_s=0.045, seed=2)}
        self.sensors = {}
        periphs = []
        for i, side in enumerate(sides):
            kw: dict[str, Any] = {"faults": firmware_faults.get(side)} if isinstance(firmware_faults, dict) else {}
            vs = VirtualSensor(sim_recording.sides[side], side=side, mtu=mtu, seed=i, **kw)
            self.sensors[side] = vs
            periphs.append((ImugaitPeripheral(vs, DEMO_ADDRESSES[side], f"imugait {side}", world_offset_s=world_offset_s),
                            link_profiles.get(side, LinkModel())))
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
