"""Shared helpers for the BLE tests (emulated BlueZ + unmodified bleak).

Not a conftest: test modules import what they need. Tests that need ``dbus-daemon`` use
``requires_bluez`` — they skip with the printed reason where it cannot run.
"""

from __future__ import annotations

import pytest

from imugait.sim.bluez import CharSpec, EmulatedPeripheral, ServiceSpec, bluez_available

_OK, _WHY = bluez_available()
requires_bluez = pytest.mark.skipif(not _OK, reason=f"emulated BlueZ cannot run here: {_WHY}")


class PlainPeripheral(EmulatedPeripheral):
    """A BLE device imugait does not read (e.g. a heart-rate strap)."""

    def __init__(self, address: str, name: str = "HRM-Pro 1234", rssi_dbm: int = -70):
        self.address = address
        self.name = name
        self.rssi_dbm = rssi_dbm
        self.advertised_uuids = ("0000180d-0000-1000-8000-00805f9b34fb",)

    def services(self):
        return [ServiceSpec("0000180d-0000-1000-8000-00805f9b34fb", (CharSpec("00002a37-0000-1000-8000-00805f9b34fb", ("notify",)),))]

    def read(self, char_uuid, t_s):
        return b""

    def write(self, char_uuid, data, t_s):
        return []

    def poll(self, t_s):
        return []

