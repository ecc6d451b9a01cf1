"""Our own protocol's virtual sensor (:class:`imugait.sim.firmware.VirtualSensor`) on the
emulated BlueZ.

GATT layout from ``imugait.protocol.constants``: DATA (notify), INFO (read), CONTROL (write
+ notify: responses), STATUS (read + notify). World time of the virtual sensor =
emulator time − ``world_offset_s`` (so a recording can start after the host connected).

The firmware keeps sampling while the link is down (its FIFO fills, overflow is counted by
the firmware) and sends the backlog once the host has subscribed to DATA again. The
firmware sees the link as up only while the BLE connection exists *and* DATA
notifications are enabled — a real device cannot send before the host re-enables the CCCD.
"""

from __future__ import annotations

from imugait.protocol import constants as C
from imugait.sim.bluez import CharSpec, EmulatedPeripheral, ServiceSpec
from imugait.acquire.kinds.base import BATTERY_LEVEL_UUID
from imugait.sim.virtual_commercial import BATTERY_SERVICE_UUID


class ImugaitPeripheral(EmulatedPeripheral):
    def __init__(self, sensor, address: str, name: str | None = None, *, world_offset_s: float = 0.0, rssi_dbm: int = -58):
        self.vs = sensor
        self.address = address
        self.name = name or f"imugait {sensor.side}"
        self.advertised_uuids = (C.SERVICE_UUID,)
        self.rssi_dbm = rssi_dbm
        self.world_offset_s = float(world_offset_s)
        self._connected = False
        self._data_on = False
        self.control_log: list[tuple[float, bytes, bytes]] = []

    def world(self, t_s: float) -> float:
        return t_s - self.world_offset_s

    def services(self):
        return [
            ServiceSpec(
                C.SERVICE_UUID,
                (
                    CharSpec(C.DATA_UUID, ("notify",), "data"),
                    CharSpec(C.INFO_UUID, ("read",), "info"),
                    CharSpec(C.CONTROL_UUID, ("write", "notify"), "control"),
                    CharSpec(C.STATUS_UUID, ("read", "notify"), "status"),
                ),
            ),
            ServiceSpec(BATTERY_SERVICE_UUID, (CharSpec(BATTERY_LEVEL_UUID, ("read",), "battery"),)),
        ]

    def _update_link(self, t_s: float) -> None:
        self.vs.set_connected(self._connected and self._data_on, self.world(t_s))

    def on_connect(self, t_s):
        self._connected = True
        self._update_link(t_s)

    def on_disconnect(self, t_s):
        self._connected = False
        self._data_on = False
        self._update_link(t_s)

    def on_subscribe(self, char_uuid, enabled, t_s):
        if char_uuid == C.DATA_UUID:
            self._data_on = bool(enabled)
            self._update_link(t_s)

    def read(self, char_uuid, t_s):
        w = self.world(t_s)
        if char_uuid == C.INFO_UUID:
            return self.vs.read_info(w)
        if char_uuid == C.STATUS_UUID:
            return self.vs.read_status(w)
        if char_uuid == BATTERY_LEVEL_UUID:
            return bytes([int(round(self.vs.battery_pct(w)))])
        return b""

    def write(self, char_uuid, data, t_s):
        if char_uuid != C.CONTROL_UUID:
            return []
        resp = self.vs.write_control(data, self.world(t_s))
        self.control_log.append((t_s, bytes(data), resp))
        return [(C.CONTROL_UUID, resp)]

    def poll(self, t_s):
        out = []
        for _t, ch, data in self.vs.poll_timed(self.world(t_s)):
            out.append((C.DATA_UUID if ch == "data" else C.STATUS_UUID, data))
        return out

    def reboot(self, t_s):
        w = self.world(t_s)
        self._connected = self._data_on = False
        self.vs.set_connected(False, w)
        self.vs._reboot(w)  # the firmware's own reboot path (new boot id, FIFO lost, not streaming)
