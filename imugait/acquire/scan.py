"""Find supported BLE sensors nearby, and turn "Bluetooth is not usable" into a sentence.

Kinds are recognised from what a sensor advertises:

* ``imugait``   — the open imugait protocol service UUID (``imugait.protocol.constants``).
* ``polar``     — a Polar Verity Sense: name ``Polar Sense …`` (the Verity Sense's
  advertised name), or the PMD service UUID in the advertisement. Other Polar devices
  (H10 chest strap, OH1) are listed only with ``show_all`` (no gyroscope).
* ``movesense`` — the Movesense GATT Sensor Data service UUID, or a name ``Movesense …``.

:func:`bluetooth_unavailable` maps bleak's and D-Bus's failures to
:class:`imugait.errors.BluetoothUnavailableError` with what to do about it.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from imugait.errors import BluetoothUnavailableError, DeviceNotFoundError
from imugait.acquire.kinds.movesense import wire as M
from imugait.acquire.kinds.polar import wire as P
from imugait.protocol import constants as IMU

KINDS = ("imugait", "polar", "movesense")
KIND_LABELS = {
    "imugait": "imugait open-protocol sensor",
    "polar": "Polar Verity Sense",
    "movesense": "Movesense",
    "other-polar": "Polar device without gyroscope (not supported)",
}


def classify(name: str | None, service_uuids, manufacturer_data=None) -> str | None:
    """Which supported kind an advertisement belongs to (``None``: not a sensor we read)."""
    uuids = {u.lower() for u in (service_uuids or ())}
    nm = (name or "").strip()
    if IMU.SERVICE_UUID.lower() in uuids:
        return "imugait"
    if P.PMD_SERVICE_UUID in uuids or nm.startswith("Polar Sense"):
        return "polar"
    if M.GSP_SERVICE_UUID in uuids or nm.startswith("Movesense"):
        return "movesense"
    if nm.startswith("Polar ") or 0x006B in (manufacturer_data or {}):
        return "other-polar"
    return None


@dataclass(frozen=True)
class FoundSensor:
    name: str
    address: str
    rssi_dbm: int
    kind: str | None
    service_uuids: tuple[str, ...] = ()
    device: object = field(default=None, compare=False, repr=False)  # bleak BLEDevice

    @property
    def supported(self) -> bool:
        return self.kind in KINDS

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind or "", "unknown device")


def bluetooth_unavailable(exc: BaseException) -> BluetoothUnavailableError | None:
    """The user-facing error for ``exc`` if it means "Bluetooth cannot be used here"."""
    from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError

    if isinstance(exc, BluetoothUnavailableError):
        return exc
    if isinstance(exc, BleakBluetoothNotAvailableError):
        reason = getattr(exc, "reason", None)
        rname = getattr(reason, "name", "")
        if rname == "POWERED_OFF":
            return BluetoothUnavailableError(
                "Bluetooth is switched off — turn it on (bluetoothctl power on, or the system "
                "Bluetooth settings) and try again."
            )
        if rname == "NO_BLE_CENTRAL_ROLE":
            return BluetoothUnavailableError(
                "this computer's Bluetooth adapter cannot connect to Bluetooth Low Energy sensors — "
                "use a Bluetooth 4.0+ adapter."
            )
        if "DENIED" in rname or "UNAUTHORIZED" in rname:
            return BluetoothUnavailableError(
                "this program is not allowed to use Bluetooth — grant Bluetooth permission and try again."
            )
        return BluetoothUnavailableError(
            "no Bluetooth adapter was found on this computer — plug in a Bluetooth 4.0+ (BLE) adapter "
            "or enable the built-in one, then try again."
        )
    if isinstance(exc, BleakDBusError):
        name = getattr(exc, "dbus_error", "") or ""
        if "ServiceUnknown" in name or "NameHasNoOwner" in name:
            return BluetoothUnavailableError(
                "the Bluetooth service is not running — start it (sudo systemctl start bluetooth) "
                "and try again."
            )
        if "AccessDenied" in name or "NotPermitted" in name or "NotAuthorized" in name:
            return BluetoothUnavailableError(
                "this user may not use Bluetooth — add it to the 'bluetooth' group or run with the "
                "needed permission."
            )
        if "NotReady" in name:
            return BluetoothUnavailableError("Bluetooth is switched off or not ready — turn it on and try again.")
        return None
    if isinstance(exc, PermissionError):
        return BluetoothUnavailableError(
            "this user may not talk to the system's Bluetooth service (permission denied on the "
            "D-Bus system bus) — add it to the 'bluetooth' group or run with the needed permission."
        )
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError, ConnectionResetError)):
        return BluetoothUnavailableError(
            "cannot reach the system's Bluetooth service (no D-Bus system bus) — on Linux install "
            "and start BlueZ (bluez package, systemctl start bluetooth); in a container, share "
            "/run/dbus with the host."
        )
    return None


def bluetooth_preflight() -> None:
    """Fast check before a window opens: on Linux, BlueZ is reached over the D-Bus system bus;
    without one Bluetooth cannot work (raises the same sentence a failed scan gives)."""
    import os
    import sys

    if not sys.platform.startswith("linux") or os.environ.get("DBUS_SYSTEM_BUS_ADDRESS"):
        return
    if not any(os.path.exists(p) for p in ("/run/dbus/system_bus_socket", "/var/run/dbus/system_bus_socket")):
        err = bluetooth_unavailable(FileNotFoundError("no D-Bus system bus"))
        assert err is not None  # a missing bus always maps to the "no D-Bus system bus" sentence
        raise err


async def scan(timeout_s: float = 5.0, *, show_all: bool = False) -> list[FoundSensor]:
    """Scan for ``timeout_s`` and return sensors, strongest signal first.

    Raises :class:`BluetoothUnavailableError` when Bluetooth cannot be used.
    """
    from bleak import BleakScanner

    try:
        found = await BleakScanner.discover(timeout=timeout_s, return_adv=True)
    except Exception as e:  # noqa: BLE001 - mapped below or re-raised
        mapped = bluetooth_unavailable(e)
        if mapped is not None:
            raise mapped from e
        raise
    out = []
    for dev, adv in found.values():
        name = adv.local_name or dev.name or ""
        kind = classify(name, adv.service_uuids, adv.manufacturer_data)
        if kind not in KINDS and not show_all:
            continue
        out.append(FoundSensor(name, dev.address, int(adv.rssi), kind, tuple(adv.service_uuids), dev))
    out.sort(key=lambda s: -s.rssi_dbm)
    return out


_ADDRESS = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")
NAME_SETTLE_S = 1.0
"""After the first sensor named by *name* is seen, listen at least this long for another
device with the same name: an impostor (or a second sensor left at its factory name) seen
first must not win. BLE devices advertise every 20 ms to ~1 s; one that advertises less
often can still slip through — naming a sensor by its address is the unambiguous way."""


def is_address(ident: str) -> bool:
    """A BLE address (``AA:BB:…``) or a CoreBluetooth identifier (macOS), as opposed to a name."""
    return bool(_ADDRESS.match(ident.strip()))


def _matches(ident: str, dev_address: str, name: str) -> bool:
    i = ident.strip()
    return i.upper() == (dev_address or "").upper() or (bool(name) and i == name)


async def find_sensor(ident: str, timeout_s: float = 10.0) -> FoundSensor:
    """Find the sensor the user named: an address (any case) or its exact advertised name.

    An address stops the scan as soon as it is seen. A name is matched like
    :func:`find_sensors` (two devices with that name: an error listing their addresses).
    Only that device is returned — imugait never connects to a device the user did not name.
    """
    if not is_address(ident):
        return (await find_sensors([ident], timeout_s=timeout_s))[0]
    from bleak import BleakScanner

    seen: dict[str, tuple] = {}

    def _filter(dev, adv) -> bool:
        name = adv.local_name or dev.name or ""
        if _matches(ident, dev.address, name):
            seen["hit"] = (dev, adv, name)
            return True
        return False

    try:
        dev = await BleakScanner.find_device_by_filter(_filter, timeout=timeout_s)
    except Exception as e:  # noqa: BLE001
        mapped = bluetooth_unavailable(e)
        if mapped is not None:
            raise mapped from e
        raise
    if dev is None:
        raise DeviceNotFoundError(
            f"sensor {ident!r} was not found within {timeout_s:g} s — is it switched on, charged and "
            "close by, and not connected to a phone? (imugait scan lists what is in range)"
        )
    _d, adv, name = seen["hit"]
    return FoundSensor(name, dev.address, int(adv.rssi), classify(name, adv.service_uuids, adv.manufacturer_data),
                       tuple(adv.service_uuids), dev)


async def find_sensors(idents: list[str], timeout_s: float = 10.0) -> list[FoundSensor]:
    """Find several named sensors in one scan.

    Addresses match one device. A name must belong to exactly one device in range: the scan
    goes on until :data:`NAME_SETTLE_S` seconds after the first match of a name, and two
    devices with the same name raise
    :class:`~imugait.errors.DeviceNotFoundError` listing their addresses (name it by address).
    """
    from bleak import BleakScanner

    want = [i.strip() for i in idents]
    hits: dict[str, dict] = {i: {} for i in want}  # ident -> {address: (dev, adv, name)}
    done = asyncio.Event()

    loop = asyncio.get_running_loop()
    t_end = loop.time() + timeout_s
    first_name_hit: list[float] = []

    def _cb(dev, adv):
        name = adv.local_name or dev.name or ""
        for i in want:
            if _matches(i, dev.address, name):
                hits[i][dev.address.upper()] = (dev, adv, name)
                if not is_address(i) and not first_name_hit:
                    first_name_hit.append(loop.time())
        if all(hits[i] for i in want):
            done.set()

    try:
        async with BleakScanner(detection_callback=_cb):
            try:
                await asyncio.wait_for(done.wait(), timeout_s)
            except asyncio.TimeoutError:
                pass
            if done.is_set() and first_name_hit:  # listen on for a second device with that name
                settle_until = min(first_name_hit[0] + NAME_SETTLE_S, t_end)
                await asyncio.sleep(max(0.0, settle_until - loop.time()))
    except Exception as e:  # noqa: BLE001
        mapped = bluetooth_unavailable(e)
        if mapped is not None:
            raise mapped from e
        raise
    out = []
    for i in want:
        h = hits.get(i) or {}
        if not h:
            raise DeviceNotFoundError(
                f"sensor {i!r} was not found within {timeout_s:g} s — is it switched on, charged and close "
                "by, and not connected to a phone? (imugait scan lists what is in range)"
            )
        if len(h) > 1:
            ranked = sorted(h.values(), key=lambda x: -int(x[1].rssi))
            listed = ", ".join(f"{dev.address} ({int(adv.rssi)} dBm)" for dev, adv, _n in ranked)
            raise DeviceNotFoundError(
                f"{len(h)} devices are called {i!r}: {listed} — name the sensor by its address instead "
                f"(e.g. {ranked[0][0].address}; the strongest signal is usually the closest); imugait does not "
                "guess which one you meant"
            )
        dev, adv, name = next(iter(h.values()))
        out.append(FoundSensor(name, dev.address, int(adv.rssi), classify(name, adv.service_uuids, adv.manufacturer_data),
                               tuple(adv.service_uuids), dev))
    return out
