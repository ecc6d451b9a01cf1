"""An emulated BlueZ: a private ``dbus-daemon`` serving ``org.bluez`` for unmodified bleak.

bleak's Linux backend talks to BlueZ over the D-Bus *system* bus (address from
``DBUS_SYSTEM_BUS_ADDRESS``). :class:`EmulatedBluez` starts a private ``dbus-daemon`` on a
unix socket in a temporary folder (so parallel test workers never collide), serves
``org.bluez`` from a background thread with its own asyncio loop, and points
``DBUS_SYSTEM_BUS_ADDRESS`` at it while the context is open::

    from imugait.sim.bluez import EmulatedBluez, LinkProfile
    with EmulatedBluez([peripheral_a, peripheral_b]) as bz:
        ...   # BleakScanner / BleakClient in any event loop of this process
        bz.drop_link(peripheral_a.address, duration_s=10)

What is served (what bleak 3.x asks of BlueZ):

* ``/org/bluez/hci0``  ``org.bluez.Adapter1`` (Powered, Roles=[central], discovery methods).
* ``/org/bluez/hci0/dev_XX_..``  ``org.bluez.Device1`` per peripheral; while discovering, every
  reachable, unconnected device "advertises" by changing its RSSI every 100 ms.
* ``…/serviceNNNN``, ``…/charNNNN``, ``…/descNNNN``  GATT objects (``GattService1``,
  ``GattCharacteristic1``, ``GattDescriptor1`` = CCCD). Notifications are
  ``PropertiesChanged(Value)`` after ``StartNotify``.

Link model (one per device, :class:`~imugait.sim.link.LinkModel` — the same timing model
the in-process simulated source uses; ``LinkProfile`` is an alias): a connection event every
``conn_interval_s``; notifications produced by the peripheral between events wait for the
next event, at most ``max_packets_per_event`` go per event (the rest wait) — the arrival
delay is one-sided, as on real BLE. Faults: link loss and return (``Connected=False``; the
device neither advertises nor accepts ``Connect`` until it returns), random packet loss,
stalls (no connection events: packets pile up and arrive in a burst), extra latency,
device reboot. Every notification the peripheral produced is logged either as *sent*
(``PropertiesChanged`` emitted) or *dropped* with a reason, so tests can compare what the
host recorded with what the device sent.

Time scale: peripherals see *emulator time* ``(monotonic - t0) * time_scale`` (seconds);
with ``time_scale=4`` a 60 s run takes 15 s of wall time. Fault durations are given in
emulator time too. Logged arrival times (``t_host_s``) are ``time.monotonic()``.

No ``from __future__ import annotations`` here: dbus-fast reads the annotation strings
(``"ay"``, ``"a{sv}"``) as D-Bus signatures.
"""

import abc
import asyncio
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable

from dbus_fast import BusType, DBusError, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property

import numpy as np

from imugait.sim.link import LinkModel, Stalls

BLUEZ = "org.bluez"
ADAPTER_PATH = "/org/bluez/hci0"
CCCD_UUID = "00002902-0000-1000-8000-00805f9b34fb"


# --------------------------------------------------------------------------------------
# What a virtual peripheral must provide (the "simulator side")
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CharSpec:
    """A GATT characteristic: 128-bit UUID (lower case), BlueZ flags, and a label."""

    uuid: str
    flags: tuple[str, ...]  # "read", "write", "write-without-response", "notify", "indicate"
    channel: str = ""


@dataclass(frozen=True)
class ServiceSpec:
    uuid: str
    chars: tuple[CharSpec, ...]


class EmulatedPeripheral(abc.ABC):
    """A device the emulator can host. Implementations live in ``imugait.sim.bluez_*`` and
    ``imugait.sim.virtual_commercial``. All methods run in the emulator thread; ``t_s`` is
    emulator time in seconds.

    * :meth:`poll` returns notifications produced up to ``t_s`` as ``(char_uuid, bytes)``;
      the emulator calls it every connection event *whether or not the link is up* (a
      device keeps sampling when its link is gone) and logs what cannot be delivered.
    * :meth:`write` returns immediate notifications (e.g. control-point responses).
    """

    address: str
    name: str
    advertised_uuids: tuple[str, ...] = ()
    manufacturer_data: dict = {}
    tx_power_dbm: int = 0
    rssi_dbm: int = -60

    @abc.abstractmethod
    def services(self) -> list[ServiceSpec]: ...

    def on_connect(self, t_s: float) -> None:  # noqa: B027 - optional hook
        pass

    def on_disconnect(self, t_s: float) -> None:  # noqa: B027 - optional hook
        pass

    def on_subscribe(self, char_uuid: str, enabled: bool, t_s: float) -> None:  # noqa: B027
        pass

    @abc.abstractmethod
    def read(self, char_uuid: str, t_s: float) -> bytes: ...

    @abc.abstractmethod
    def write(self, char_uuid: str, data: bytes, t_s: float) -> list[tuple[str, bytes]]: ...

    @abc.abstractmethod
    def poll(self, t_s: float) -> list[tuple[str, bytes]]: ...

    def reboot(self, t_s: float) -> None:  # noqa: B027 - optional hook
        pass


#: The emulator's per-device link is the shared simulated link (:mod:`imugait.sim.link`, with
#: the emulator-only hold-back of notifications: ``hold_s``, ``hold_where``, ``hold_channels``);
#: ``LinkProfile`` is its historical name here.
LinkProfile = LinkModel


@dataclass
class DeviceLog:
    """What happened on one emulated link (read it after the run, or under ``bz.lock``).

    ``sent``:    (t_host_s, char_uuid, bytes) for every notification emitted on D-Bus.
    ``dropped``: (t_host_s, char_uuid, bytes, reason) for every notification produced but
                 never emitted; reason is "link_down", "not_connected", "not_subscribed",
                 "random_loss" or "reboot".
    ``events``:  (t_host_s, t_emu_s, what) — "connect", "disconnect", "link_lost",
                 "link_returned", "reboot", "stall_start", "stall_end".
    """

    sent: list = field(default_factory=list)
    dropped: list = field(default_factory=list)
    events: list = field(default_factory=list)
    writes: list = field(default_factory=list)

    def event_times(self, what: str) -> list[float]:
        return [t for (t, _te, w) in self.events if w == what]


def bluez_available() -> tuple[bool, str]:
    """Can the emulated BlueZ run here? ``(True, "")`` or ``(False, reason)``."""
    if os.name != "posix":
        return False, "the emulated BlueZ needs a POSIX system (unix sockets and dbus-daemon)"
    if shutil.which("dbus-daemon") is None:
        return False, (
            "dbus-daemon is not installed (Debian/Ubuntu: apt-get install dbus-daemon; "
            "or run tools/ensure-dbus.sh)"
        )
    try:
        import bleak  # noqa: F401
        import dbus_fast  # noqa: F401
    except ImportError as e:  # pragma: no cover - deps are required
        return False, f"{e.name} is not installed"
    return True, ""


_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
  <limit name="max_message_size">33554432</limit>
  <limit name="reply_timeout">300000</limit>
</busconfig>
"""


# --------------------------------------------------------------------------------------
# D-Bus interfaces
# --------------------------------------------------------------------------------------


class _Adapter(ServiceInterface):
    def __init__(self, emu: "EmulatedBluez"):
        super().__init__("org.bluez.Adapter1")
        self._emu = emu
        self.powered = True
        self.discovering = False

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> "s":
        return "00:1A:7D:DA:71:13"

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> "s":
        return "public"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "s":
        return "imugait-emulated"

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> "s":
        return "imugait-emulated"

    @dbus_property(access=PropertyAccess.READ)
    def Powered(self) -> "b":
        return self.powered

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> "b":
        return self.discovering

    @dbus_property(access=PropertyAccess.READ)
    def Roles(self) -> "as":
        return ["central", "peripheral"]

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> "as":
        return []

    @dbus_method()
    def SetDiscoveryFilter(self, properties: "a{sv}"):
        self._emu._discovery_filter = {k: v.value for k, v in properties.items()}

    @dbus_method()
    def GetDiscoveryFilters(self) -> "as":
        return ["UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData", "Discoverable", "Pattern"]

    @dbus_method()
    def StartDiscovery(self):
        if not self.powered:
            raise DBusError("org.bluez.Error.NotReady", "Resource Not Ready")
        self._emu._discovery_sessions += 1
        if not self.discovering:
            self.discovering = True
            self.emit_properties_changed({"Discovering": True})

    @dbus_method()
    def StopDiscovery(self):
        if self._emu._discovery_sessions <= 0:
            raise DBusError("org.bluez.Error.Failed", "No discovery started")
        self._emu._discovery_sessions -= 1
        if self._emu._discovery_sessions == 0 and self.discovering:
            self.discovering = False
            self.emit_properties_changed({"Discovering": False})

    @dbus_method()
    def RemoveDevice(self, device: "o"):
        # Real BlueZ forgets the device; ours keeps it exported (it is "still in range"),
        # but disconnects it, which is what callers rely on.
        dev = self._emu._devices_by_path.get(device)
        if dev is None:
            raise DBusError("org.bluez.Error.DoesNotExist", "Does Not Exist")
        dev.set_connected(False, reason="removed")


class _Device(ServiceInterface):
    def __init__(self, emu: "EmulatedBluez", periph: EmulatedPeripheral, link: LinkProfile, path: str):
        super().__init__("org.bluez.Device1")
        self.emu = emu
        self.p = periph
        self.link = link
        self.path = path
        self.connected = False
        self.services_resolved = False
        self.paired = False
        self.rssi = int(periph.rssi_dbm)
        self.reachable = True
        self.stalled_until_s = -1.0
        self.log = DeviceLog()
        self.chars: dict[str, "_Char"] = {}  # uuid -> char
        self.queue: deque = deque()  # (char_uuid, bytes) waiting for a connection event
        self.held: list = []  # LinkProfile.hold_s: device side (char_uuid, bytes) / host side (char, bytes)
        self.release_at_s: float | None = None  # device-side hold: next release (emulator time)
        self.host_release: asyncio.TimerHandle | None = None  # host-side hold: the pending release timer
        self.rng = random.Random(link.seed)
        self.phase_s = self.rng.uniform(0.0, link.conn_interval_s)
        self.random_stalls = Stalls(link, np.random.default_rng([link.seed, 13]))
        self._link_return_handle: asyncio.TimerHandle | None = None

    # ---- properties -----------------------------------------------------------------
    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> "s":
        return self.p.address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> "s":
        return "random"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "s":
        return self.p.name

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> "s":
        return self.p.name

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> "o":
        return ADAPTER_PATH

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> "as":
        return [u.lower() for u in self.p.advertised_uuids]

    @dbus_property(access=PropertyAccess.READ)
    def ManufacturerData(self) -> "a{qv}":
        return {int(k): Variant("ay", bytes(v)) for k, v in (self.p.manufacturer_data or {}).items()}

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> "a{sv}":
        return {}

    @dbus_property(access=PropertyAccess.READ)
    def RSSI(self) -> "n":
        return self.rssi

    @dbus_property(access=PropertyAccess.READ)
    def TxPower(self) -> "n":
        return int(self.p.tx_power_dbm)

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> "b":
        return self.connected

    @dbus_property(access=PropertyAccess.READ)
    def ServicesResolved(self) -> "b":
        return self.services_resolved

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> "b":
        return self.paired

    @dbus_property(access=PropertyAccess.READ)
    def Bonded(self) -> "b":
        return self.paired

    @dbus_property(access=PropertyAccess.READ)
    def Trusted(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Blocked(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def LegacyPairing(self) -> "b":
        return False

    # ---- methods --------------------------------------------------------------------
    @dbus_method()
    async def Connect(self):
        if not self.emu._adapter.powered:
            raise DBusError("org.bluez.Error.NotReady", "Resource Not Ready")
        if self.connected:
            return
        # connection setup takes a few connection intervals
        await asyncio.sleep(self.emu._wall(max(0.02, 3 * self.link.conn_interval_s)))
        if not self.reachable:
            # BlueZ gives up on an absent LE device after its connect timeout; ours is short
            await asyncio.sleep(self.emu._wall(self.emu.connect_timeout_s))
            raise DBusError("org.bluez.Error.Failed", "Connection timed out (device out of range)")
        if self.connected:
            return
        self.set_connected(True)

    @dbus_method()
    async def Disconnect(self):
        if self.connected:
            self.set_connected(False, reason="host")

    @dbus_method()
    def Pair(self):
        if not self.reachable:
            raise DBusError("org.bluez.Error.Failed", "Page Timeout")
        if not self.paired:
            self.paired = True
            self.emit_properties_changed({"Paired": True})

    @dbus_method()
    def CancelPairing(self):
        pass

    # ---- state changes (emulator thread) ---------------------------------------------
    def set_connected(self, connected: bool, reason: str = "") -> None:
        if connected == self.connected:
            return
        t_emu = self.emu.now_s()
        if connected:
            self.connected = True
            self.queue.clear()
            self.p.on_connect(t_emu)
            self.emit_properties_changed({"Connected": True})
            self.services_resolved = True
            self.emit_properties_changed({"ServicesResolved": True})
            self.log.events.append((time.monotonic(), t_emu, "connect"))
        else:
            self.connected = False
            self.services_resolved = False
            for ch in self.chars.values():
                if ch.notifying:
                    ch.notifying = False
                    self.p.on_subscribe(ch.spec.uuid, False, t_emu)
            # whatever waited for a connection event is lost with the link
            while self.queue:
                cu, data = self.queue.popleft()
                self.log.dropped.append((time.monotonic(), cu, data, "not_connected"))
            if self.link.hold_where == "device":  # held back by the device: lost with the link too
                for cu, data in self.held:
                    self.log.dropped.append((time.monotonic(), cu, data, "not_connected"))
                self.held, self.release_at_s = [], None
            self.p.on_disconnect(t_emu)
            self.emit_properties_changed({"ServicesResolved": False})
            self.emit_properties_changed({"Connected": False})
            self.log.events.append((time.monotonic(), t_emu, "disconnect:" + reason))

    def advertise(self) -> None:
        self.rssi = int(self.p.rssi_dbm) + self.rng.randint(-3, 3)
        self.emit_properties_changed({"RSSI": self.rssi})


class _Service(ServiceInterface):
    def __init__(self, uuid: str, device_path: str, handle: int):
        super().__init__("org.bluez.GattService1")
        self._uuid = uuid
        self._device = device_path
        self._handle = handle

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self._uuid

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> "o":
        return self._device

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> "b":
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Handle(self) -> "q":
        return self._handle

    @dbus_property(access=PropertyAccess.READ)
    def Includes(self) -> "ao":
        return []


class _Char(ServiceInterface):
    def __init__(self, dev: _Device, spec: CharSpec, service_path: str, handle: int):
        super().__init__("org.bluez.GattCharacteristic1")
        self.dev = dev
        self.spec = spec
        self._service = service_path
        self._handle = handle
        self.value = b""
        self.notifying = False

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self.spec.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> "o":
        return self._service

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":
        return bytes(self.value)

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> "b":
        return self.notifying

    @dbus_property(access=PropertyAccess.READ)
    def NotifyAcquired(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def WriteAcquired(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":
        return list(self.spec.flags)

    @dbus_property(access=PropertyAccess.READ)
    def MTU(self) -> "q":
        return int(self.dev.link.mtu)

    @dbus_property(access=PropertyAccess.READ)
    def Handle(self) -> "q":
        return self._handle

    def _check(self):
        if not self.dev.connected:
            raise DBusError("org.bluez.Error.Failed", "Not connected")

    @dbus_method()
    async def ReadValue(self, options: "a{sv}") -> "ay":
        self._check()
        await asyncio.sleep(self.dev.emu._wall(self.dev.link.conn_interval_s))
        self._check()
        self.value = bytes(self.dev.p.read(self.spec.uuid, self.dev.emu.now_s()))
        return self.value

    @dbus_method()
    async def WriteValue(self, value: "ay", options: "a{sv}"):
        self._check()
        await asyncio.sleep(self.dev.emu._wall(self.dev.link.conn_interval_s))
        self._check()
        data = bytes(value)
        t = self.dev.emu.now_s()
        self.dev.log.writes.append((time.monotonic(), self.spec.uuid, data))
        for cu, out in self.dev.p.write(self.spec.uuid, data, t):
            self.dev.queue.append((cu, out))

    @dbus_method()
    def StartNotify(self):
        self._check()
        if not self.notifying:
            self.notifying = True
            self.emit_properties_changed({"Notifying": True})
            self.dev.p.on_subscribe(self.spec.uuid, True, self.dev.emu.now_s())

    @dbus_method()
    def StopNotify(self):
        if self.notifying:
            self.notifying = False
            self.emit_properties_changed({"Notifying": False})
            self.dev.p.on_subscribe(self.spec.uuid, False, self.dev.emu.now_s())

    def notify(self, data: bytes) -> None:
        self.value = data
        self.emit_properties_changed({"Value": data})


class _Descriptor(ServiceInterface):
    def __init__(self, char_path: str, handle: int, ch: _Char):
        super().__init__("org.bluez.GattDescriptor1")
        self._char = char_path
        self._handle = handle
        self._ch = ch

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return CCCD_UUID

    @dbus_property(access=PropertyAccess.READ)
    def Characteristic(self) -> "o":
        return self._char

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":
        return bytes([1 if self._ch.notifying else 0, 0])

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":
        return ["read", "write"]

    @dbus_property(access=PropertyAccess.READ)
    def Handle(self) -> "q":
        return self._handle

    @dbus_method()
    def ReadValue(self, options: "a{sv}") -> "ay":
        return bytes([1 if self._ch.notifying else 0, 0])

    @dbus_method()
    def WriteValue(self, value: "ay", options: "a{sv}"):
        raise DBusError("org.bluez.Error.NotPermitted", "Use StartNotify/StopNotify")


# --------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------


class EmulatedBluez:
    """Private dbus-daemon + ``org.bluez`` served from a background thread.

    ``peripherals``: list of :class:`EmulatedPeripheral`, or ``(peripheral, LinkProfile)``.
    ``adapter=False`` serves no adapter at all (bleak: "no Bluetooth adapters");
    ``powered=False`` an adapter that is switched off; ``serve_bluez=False`` a system bus
    without BlueZ (bluetoothd not running).
    """

    def __init__(
        self,
        peripherals=(),
        *,
        time_scale: float = 1.0,
        powered: bool = True,
        adapter: bool = True,
        connect_timeout_s: float = 1.0,
        set_env: bool = True,
        serve_bluez: bool = True,
    ):
        ok, why = bluez_available()
        if not ok:
            raise RuntimeError(f"emulated BlueZ unavailable: {why}")
        self.time_scale = float(time_scale)
        self.connect_timeout_s = float(connect_timeout_s)
        self._initial_powered = powered
        self._with_adapter = adapter
        self._set_env = set_env
        self._serve_bluez = serve_bluez
        self._specs = []
        for item in peripherals:
            if isinstance(item, tuple):
                self._specs.append((item[0], item[1] if item[1] is not None else LinkProfile()))
            else:
                self._specs.append((item, LinkProfile()))
        self.lock = threading.RLock()
        self._devices: dict[str, _Device] = {}
        self._devices_by_path: dict[str, _Device] = {}
        self._discovery_sessions = 0
        self._discovery_filter: dict = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen | None = None
        self._tmp: str | None = None
        self._ready = threading.Event()
        self._stop_evt: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._old_env: str | None = None
        self.address: str = ""
        self._t0 = time.monotonic()
        self.emulator_cpu_s = 0.0  # CPU time used by the emulator thread (benchmarks)

    # ---- time -------------------------------------------------------------------------
    def now_s(self) -> float:
        """Emulator time (seconds since start, scaled)."""
        return (time.monotonic() - self._t0) * self.time_scale

    def _wall(self, emu_s: float) -> float:
        return emu_s / self.time_scale

    def host_time_of(self, t_emu_s: float) -> float:
        """``time.monotonic()`` value at emulator time ``t_emu_s``."""
        return self._t0 + t_emu_s / self.time_scale

    def thread_cpu_s(self) -> float:
        """CPU seconds used so far by the emulator thread (for benchmarks)."""
        ident = self._thread.ident if self._thread is not None else None
        if self._thread is not None and self._thread.is_alive() and ident is not None:
            try:
                return time.clock_gettime(time.pthread_getcpuclockid(ident))
            except (AttributeError, OSError):  # pragma: no cover - non-Linux
                return float("nan")
        return self.emulator_cpu_s

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        """The emulator thread's event loop (set while the emulator runs)."""
        assert self._loop is not None, "the emulator is not running"
        return self._loop

    # ---- lifecycle --------------------------------------------------------------------
    @property
    def dbus_pid(self) -> int | None:
        """Process id of the private ``dbus-daemon`` while it runs (``None`` otherwise);
        benchmarks read its CPU time from ``/proc/<pid>/stat``."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def is_running(self) -> bool:
        """True between :meth:`start` and :meth:`stop` while the bus and emulator thread live."""
        return self.dbus_pid is not None and self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "EmulatedBluez":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    async def __aenter__(self) -> "EmulatedBluez":
        """Inside a running event loop prefer ``async with``: starting does not block the
        loop, and stopping gives bleak a moment to notice that its bus went away (bleak keeps
        one BlueZ connection per event loop; without that moment the next emulator in the
        same loop would be reached through the dead one)."""
        await asyncio.get_running_loop().run_in_executor(None, self.start)
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.stop)
        await asyncio.sleep(0.2)

    def start(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="imugait-bluez-")
        sock = os.path.join(self._tmp, "system_bus_socket")
        cfg = os.path.join(self._tmp, "system.conf")
        with open(cfg, "w") as f:
            f.write(_CONFIG.format(socket=sock))
        self._proc = subprocess.Popen(
            ["dbus-daemon", "--config-file", cfg, "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None  # both PIPE
        line = self._proc.stdout.readline().strip()
        if not line:
            err = self._proc.stderr.read() if self._proc.poll() is not None else ""
            self._cleanup_proc()
            raise RuntimeError(f"dbus-daemon did not start: {err.strip()}")
        self.address = line
        self._thread = threading.Thread(target=self._thread_main, name="emulated-bluez", daemon=True)
        self._thread.start()
        if not self._ready.wait(15.0) or self._error is not None:
            self.stop()
            raise RuntimeError(f"emulated BlueZ failed to start: {self._error!r}")
        if self._set_env:
            self._old_env = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = self.address

    def stop(self) -> None:
        if self._loop is not None and self._stop_evt is not None and self._thread and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop_evt.set)
            self._thread.join(10.0)
        self._cleanup_proc()
        if self._set_env and self._old_env is not None:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = self._old_env
        elif self._set_env and os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") == self.address:
            del os.environ["DBUS_SYSTEM_BUS_ADDRESS"]
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _cleanup_proc(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(5)
            for s in (self._proc.stdout, self._proc.stderr):
                if s:
                    s.close()
            self._proc = None

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        c0 = time.thread_time()
        try:
            loop.run_until_complete(self._serve())
        except BaseException as e:  # noqa: BLE001 - reported to the starting thread
            self._error = e
            self._ready.set()
        finally:
            self.emulator_cpu_s = time.thread_time() - c0
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _serve(self) -> None:
        self._stop_evt = asyncio.Event()
        bus = await MessageBus(bus_address=self.address, bus_type=BusType.SYSTEM).connect()
        self._bus = bus
        self._adapter = _Adapter(self)
        self._adapter.powered = self._initial_powered
        if self._with_adapter:
            bus.export(ADAPTER_PATH, self._adapter)
        for periph, link in self._specs:
            self._add_device(bus, periph, link)
        if self._serve_bluez:
            await bus.request_name(BLUEZ)
        self._t0 = time.monotonic()
        tasks = [asyncio.create_task(self._advertiser())]
        for dev in self._devices.values():
            tasks.append(asyncio.create_task(self._link_task(dev)))
        self._ready.set()
        await self._stop_evt.wait()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        bus.disconnect()
        try:
            await asyncio.wait_for(bus.wait_for_disconnect(), 2.0)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001
            pass

    def _add_device(self, bus, periph: EmulatedPeripheral, link: LinkProfile) -> None:
        path = f"{ADAPTER_PATH}/dev_" + periph.address.upper().replace(":", "_")
        dev = _Device(self, periph, link, path)
        bus.export(path, dev)
        handle = 0x000A
        for svc in periph.services():
            spath = f"{path}/service{handle:04x}"
            bus.export(spath, _Service(svc.uuid.lower(), path, handle))
            handle += 1
            for cs in svc.chars:
                cpath = f"{spath}/char{handle:04x}"
                ch = _Char(dev, CharSpec(cs.uuid.lower(), tuple(cs.flags), cs.channel), spath, handle)
                bus.export(cpath, ch)
                dev.chars[cs.uuid.lower()] = ch
                handle += 1
                if "notify" in cs.flags or "indicate" in cs.flags:
                    bus.export(f"{cpath}/desc{handle:04x}", _Descriptor(cpath, handle, ch))
                    handle += 1
        self._devices[periph.address.upper()] = dev
        self._devices_by_path[path] = dev

    # ---- background tasks -------------------------------------------------------------
    async def _advertiser(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            if self._adapter.discovering and self._adapter.powered:
                for dev in self._devices.values():
                    if dev.reachable and not dev.connected:
                        dev.advertise()

    async def _link_task(self, dev: _Device) -> None:
        """One connection event every ``conn_interval_s`` (emulator time)."""
        k = 0
        while True:
            k += 1
            t_next = dev.phase_s + k * dev.link.conn_interval_s
            delay = self._wall(t_next) - (time.monotonic() - self._t0)
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.5:  # we fell behind (host overloaded): skip missed events
                k = int((self.now_s() - dev.phase_s) / dev.link.conn_interval_s)
            t = self.now_s()
            with self.lock:
                self._connection_event(dev, t)

    def _connection_event(self, dev: _Device, t: float) -> None:
        produced = dev.p.poll(t)
        now = time.monotonic()
        if not dev.reachable:
            for cu, data in produced:
                dev.log.dropped.append((now, cu, data, "link_down"))
            return
        if not dev.connected:
            for cu, data in produced:
                dev.log.dropped.append((now, cu, data, "not_connected"))
            return
        hold = dev.link.hold_s
        if hold is not None and dev.link.hold_where == "device":  # held before the link, released together
            held = {cu for cu, c in dev.chars.items() if c.spec.channel in dev.link.hold_channels}
            dev.held.extend(x for x in produced if x[0] in held)
            produced = [x for x in produced if x[0] not in held]
            if dev.held and dev.release_at_s is None:
                dev.release_at_s = t + dev.rng.uniform(*hold)
            if dev.release_at_s is not None and t >= dev.release_at_s:
                produced = produced + dev.held
                dev.held, dev.release_at_s = [], None
        dev.queue.extend(produced)
        if t < dev.stalled_until_s or t < dev.random_stalls.stalled_until(t):
            return
        n = 0
        while dev.queue and n < dev.link.max_packets_per_event:
            cu, data = dev.queue.popleft()
            ch = dev.chars.get(cu)
            if ch is None or not ch.notifying:
                dev.log.dropped.append((now, cu, data, "not_subscribed"))
                continue
            if dev.link.loss_prob > 0 and dev.rng.random() < dev.link.loss_prob:
                dev.log.dropped.append((now, cu, data, "random_loss"))
                continue
            n += 1
            if hold is not None and dev.link.hold_where == "host" and ch.spec.channel in dev.link.hold_channels:
                dev.held.append((ch, data))  # received, but the host hands it over later
                if dev.host_release is None:
                    dev.host_release = self._running_loop().call_later(self._wall(dev.rng.uniform(*hold)),
                                                                       self._host_release, dev)
            elif dev.link.extra_latency_s > 0:
                self._running_loop().call_later(self._wall(dev.link.extra_latency_s), self._deliver, dev, ch, data)
            else:
                self._deliver(dev, ch, data)

    def _host_release(self, dev: _Device) -> None:
        with self.lock:
            held, dev.held, dev.host_release = dev.held, [], None
            for ch, data in held:
                self._deliver(dev, ch, data)

    def _deliver(self, dev: _Device, ch: _Char, data: bytes) -> None:
        if not dev.connected or not ch.notifying:
            dev.log.dropped.append((time.monotonic(), ch.spec.uuid, data, "not_connected"))
            return
        dev.log.sent.append((time.monotonic(), ch.spec.uuid, data))
        ch.notify(data)

    # ---- control from any thread ------------------------------------------------------
    def _call(self, fn: Callable, *args):
        """Run ``fn(*args)`` in the emulator thread and return its result."""
        if threading.current_thread() is self._thread:
            return fn(*args)
        fut = asyncio.run_coroutine_threadsafe(self._acall(fn, *args), self._running_loop())
        return fut.result(10.0)

    async def _acall(self, fn, *args):
        with self.lock:
            return fn(*args)

    def _dev(self, address: str) -> _Device:
        try:
            return self._devices[address.upper()]
        except KeyError:
            raise KeyError(f"no emulated device {address}") from None

    def device_log(self, address: str) -> DeviceLog:
        return self._dev(address).log

    def peripheral(self, address: str) -> EmulatedPeripheral:
        return self._dev(address).p

    def is_connected(self, address: str) -> bool:
        return self._dev(address).connected

    def drop_link(self, address: str, duration_s: float | None = None) -> None:
        """The device goes out of range now: ``Connected=False`` and unreachable; it
        returns after ``duration_s`` emulator seconds (``None``: until :meth:`restore_link`)."""

        def _do():
            dev = self._dev(address)
            dev.reachable = False
            dev.log.events.append((time.monotonic(), self.now_s(), "link_lost"))
            dev.set_connected(False, reason="link_lost")
            if duration_s is not None:
                dev._link_return_handle = self._running_loop().call_later(self._wall(duration_s), self._restore, dev)

        self._call(_do)

    def _restore(self, dev: _Device) -> None:
        with self.lock:
            if not dev.reachable:
                dev.reachable = True
                dev.log.events.append((time.monotonic(), self.now_s(), "link_returned"))

    def restore_link(self, address: str) -> None:
        self._call(lambda: self._restore(self._dev(address)))

    def set_loss(self, address: str, loss_prob: float) -> None:
        self._call(lambda: self._set_link(address, loss_prob=float(loss_prob)))

    def set_latency(self, address: str, extra_latency_s: float) -> None:
        self._call(lambda: self._set_link(address, extra_latency_s=float(extra_latency_s)))

    def _set_link(self, address: str, **changes) -> None:
        dev = self._dev(address)
        dev.link = replace(dev.link, **changes)

    def stall(self, address: str, duration_s: float) -> None:
        """No connection events for ``duration_s``: packets pile up, then arrive in a burst."""

        def _do():
            dev = self._dev(address)
            dev.stalled_until_s = self.now_s() + duration_s
            dev.log.events.append((time.monotonic(), self.now_s(), "stall_start"))

        self._call(_do)

    def reboot(self, address: str, down_s: float = 0.5) -> None:
        """The device resets: link drops, device state restarts, back after ``down_s``."""

        def _do():
            dev = self._dev(address)
            dev.reachable = False
            dev.log.events.append((time.monotonic(), self.now_s(), "reboot"))
            dev.set_connected(False, reason="reboot")
            dev.p.reboot(self.now_s())
            self._running_loop().call_later(self._wall(down_s), self._restore, dev)

        self._call(_do)

    def set_powered(self, powered: bool) -> None:
        def _do():
            self._adapter.powered = bool(powered)
            self._adapter.emit_properties_changed({"Powered": bool(powered)})
            if not powered:
                for dev in self._devices.values():
                    dev.set_connected(False, reason="adapter_off")

        self._call(_do)

    def schedule(self, at_emu_s: float, fn: Callable[[], None]) -> None:
        """Call ``fn()`` (e.g. ``lambda: bz.drop_link(a, 10)``) at emulator time ``at_emu_s``."""

        def _safe():
            try:
                fn()
            except Exception:  # noqa: BLE001 - e.g. the emulator stopped before the fault fired
                if self._thread is not None and self._thread.is_alive():
                    raise

        def _arm():
            delay = max(0.0, self._wall(at_emu_s - self.now_s()))
            self._running_loop().call_later(delay, lambda: threading.Thread(target=_safe, daemon=True).start())

        self._call(_arm)
