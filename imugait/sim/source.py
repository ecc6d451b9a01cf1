"""In-process virtual sensors as a :class:`~imugait.acquire.base.Source` (no radio, no D-Bus).

:class:`SimulatedSource` runs one or two :class:`~imugait.sim.firmware.VirtualSensor` s fed
by the gait simulator and emits exactly the events a BLE source emits: ``LinkEvent``
(connecting / connected / reconnecting / stopped), ``InfoEvent`` (after every
(re)connect), ``PacketEvent`` for every DATA and STATUS notification (channel ``"data"`` /
``"status"``, raw protocol bytes), so the acquisition engine decodes, tracks and clock-maps
them like real packets.

Clocks. World time ``w`` is the simulator's true time. The host clock of this source is
``t_host = t0_host_s + (w − w0)``: with ``speed=1`` that is ``time.monotonic()`` (the
source sleeps to keep pace); with another ``speed`` or ``speed=None`` (as fast as possible)
it is a *virtual* host clock running at the simulation's pace, so device-to-host drift stays
physical (tens of ppm) whatever the replay speed. Arrival times carry a simulated BLE link
(:mod:`imugait.sim.link`, the timing model the emulated BlueZ uses too): delivery at the next
connection event (``conn_interval_s`` per side), at most ``max_packets_per_event`` packets per
event, random stalls (``stall_rate_hz``, 20–200 ms) and host-stack jitter.

Faults: per side :class:`~imugait.sim.firmware.FirmwareFaults` (loss, duplicates,
reordering, disconnect windows, reboots). A link that drops is reported as
``LinkEvent("reconnecting")``; ``reconnect_delay_s`` after it returns the source
reconnects, re-reads INFO, writes START (needed after a reboot) and reports
``LinkEvent("connected", reason="reconnected")``. :meth:`SimulatedSource.stop` is an
intentional stop (``LinkEvent("stopped", intentional=True)``).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from dataclasses import replace

import numpy as np

from imugait.events import InfoEvent, LinkEvent, PacketEvent, Sink
from imugait.acquire.base import Source
from imugait.conventions import SIDES, Side
from imugait.protocol import imu
from imugait.sim.firmware import FirmwareFaults, VirtualSensor
from imugait.sim.flexor import FlexorSimRecording
from imugait.sim.gait import SimConfig, SimRecording, simulate
from imugait.sim.link import ArrivalTimes, LinkModel


class SimulatedSource(Source):
    """One or two in-process virtual sensors (see module docstring).

    Parameters
    ----------
    sim          a :class:`~imugait.sim.gait.SimConfig` (simulated here), a ``SimRecording``,
                 or ``{side: SimSide-like}``. Ignored when ``sensors`` is given.
    sides        sides to use (default: all the simulation has).
    speed        1.0 = real time; k = k× real time; ``None`` = as fast as possible.
    mtu          negotiated MTU of every link (sets the batch size).
    faults       :class:`FirmwareFaults` for every side, or ``{side: FirmwareFaults}``.
    links        :class:`~imugait.sim.link.LinkModel` for every side or ``{side: LinkModel}``;
                 default :meth:`LinkModel.typical` with 15 ms (left) / 30 ms (right)
                 connection intervals.
    rate_hz      ask the sensors for this rate (SET_RATE) before START.
    sensors      ready-made ``{side: VirtualSensor}`` (full control in tests).
    tick_s       world-time step of the polling loop.
    t0_host_s    host time of world time ``w0`` (default: ``time.monotonic()`` at run()).
    """

    MAX_STEP_S = 0.25
    """World time simulated per loop step at most (well inside the sensors' 2.5 s FIFO)."""

    def __init__(
        self,
        sim=None,
        *,
        sides: tuple | None = None,
        speed: float | None = 1.0,
        mtu: int = 247,
        faults: FirmwareFaults | dict | None = None,
        links: LinkModel | dict | None = None,
        rate_hz: float | None = None,
        sensors: dict | None = None,
        seed: int = 0,
        tick_s: float = 0.01,
        reconnect_delay_s: float = 0.5,
        fifo_s: float = 2.5,
        t0_host_s: float | None = None,
    ):
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be > 0 or None, got {speed}")
        self.speed = speed
        self.tick_s = float(tick_s)
        self.reconnect_delay_s = float(reconnect_delay_s)
        self.rate_hz = rate_hz
        self._t0_host_arg = t0_host_s
        if sensors is None:
            sim_sides = self._sim_sides(sim, seed)
            use = tuple(sides) if sides is not None else tuple(s for s in SIDES if s in sim_sides)
            missing = [s for s in use if s not in sim_sides]
            if missing:
                raise ValueError(f"the simulation has no {missing} side")
            fl = faults if isinstance(faults, dict) else {s: faults for s in use}
            sensors = {
                s: VirtualSensor(sim_sides[s], side=s, mtu=mtu, faults=fl.get(s), seed=seed + i, fifo_s=fifo_s)
                for i, s in enumerate(use)
            }
        self.sensors: dict[Side, VirtualSensor] = dict(sensors)
        self.sides = tuple(s for s in SIDES if s in self.sensors)
        if not self.sides:
            raise ValueError("SimulatedSource needs at least one sensor")
        if links is None:
            links = {"left": LinkModel.typical(0.015), "right": LinkModel.typical(0.030)}
        lm = links if isinstance(links, dict) else {s: links for s in self.sides}
        rng = np.random.default_rng([seed, 7])
        self._links = {s: ArrivalTimes(lm.get(s, LinkModel.typical()), np.random.default_rng([seed, i, 11]))
                       for i, s in enumerate(self.sides)}
        self._rng = rng
        self._stopping = False
        self.w0 = min(float(vs._t_true[0]) for vs in self.sensors.values())
        self.w_end = max(vs.t_end_s for vs in self.sensors.values())
        self.t0_host_s = float("nan")
        self.state: dict[Side, str] = {s: "stopped" for s in self.sides}
        self.behind_s = 0.0  # how far the simulation lags the requested speed (world seconds)

    @staticmethod
    def _sim_sides(sim: SimConfig | SimRecording | FlexorSimRecording | dict | None, seed: int) -> dict:
        if sim is None:
            sim = SimConfig(gait="run", duration_s=60.0, seed=seed)
        if isinstance(sim, SimConfig):
            sim = simulate(sim)
        if isinstance(sim, (SimRecording, FlexorSimRecording)):
            return dict(sim.sides)
        return dict(sim)

    # ------------------------------------------------------------------ clocks
    def host_time(self, w: float) -> float:
        """Host time of world time ``w`` (see module docstring)."""
        return self.t0_host_s + (w - self.w0)

    def world_time(self, t_host: float) -> float:
        return self.w0 + (t_host - self.t0_host_s)

    # ------------------------------------------------------------------ run
    async def stop(self) -> None:
        self._stopping = True

    async def run(self, sink: Sink) -> None:
        self._stopping = False
        self.t0_host_s = float(self._t0_host_arg if self._t0_host_arg is not None else time.monotonic())
        t_real0 = time.monotonic()
        heap: list = []  # (t_arrival_host, order, event)
        order = itertools.count()
        pending_reconnect: dict[Side, float] = {}
        connected: dict[Side, bool] = {}

        def push(t_host: float, ev) -> None:
            heapq.heappush(heap, (t_host, next(order), ev))

        def connect(side: Side, w: float, first: bool) -> None:
            vs = self.sensors[side]
            t = self.host_time(w)
            vs.set_connected(True, w)
            info = imu.decode_info(vs.read_info(w)).to_sensor_info(side=side, device_id=vs.serial,
                                                                    name=f"imugait-sim-{side}")
            info = _as_kind(info, "simulated")
            if self.rate_hz is not None and first:
                vs.write_control(imu.cmd_set_rate(self.rate_hz), w)
                info = _as_kind(imu.decode_info(vs.read_info(w)).to_sensor_info(side=side, device_id=vs.serial,
                                                                                 name=f"imugait-sim-{side}"), "simulated")
            push(t, InfoEvent(side, info, t))
            push(t, LinkEvent(side, "connected", t, reason="" if first else "reconnected"))
            vs.write_control(imu.cmd_start(), w)
            connected[side] = True
            self.state[side] = "connected"

        for s in self.sides:
            t = self.host_time(self.w0)
            push(t, LinkEvent(s, "connecting", t))
            connect(s, self.w0, True)

        w = self.w0
        n_iter = 0
        while True:
            if self._stopping:
                break
            # --- advance world time
            if self.speed is None:
                w += self.tick_s
            else:
                w_target = self.w0 + (time.monotonic() - t_real0) * self.speed
                if w_target < w + self.tick_s:
                    await asyncio.sleep((w + self.tick_s - w_target) / self.speed)
                    if self._stopping:
                        break
                    w_target = self.w0 + (time.monotonic() - t_real0) * self.speed
                else:
                    await asyncio.sleep(0)  # behind schedule: still let stop()/Ctrl-C in
                # at most MAX_STEP_S of world time per step: a faster-than-the-computer speed
                # runs as fast as it can instead of jumping past the sensors' FIFO (which
                # dropped up to a third of the samples at --speed 100) or past the end
                w = min(max(w + 1e-9, w_target), w + self.MAX_STEP_S)
                self.behind_s = max(0.0, w_target - w)
            # --- links and notifications
            for s in self.sides:
                vs = self.sensors[s]
                if connected.get(s) and not vs.link_up(w):
                    a = max((a for a, b in vs.down_windows() if a <= w), default=w)
                    connected[s] = False
                    vs.set_connected(False, a)
                    self.state[s] = "reconnecting"
                    push(self.host_time(a), LinkEvent(s, "reconnecting", self.host_time(a), reason="link lost"))
                if not connected.get(s) and vs.link_up(w) and s not in pending_reconnect:
                    b = max((b for a, b in vs.down_windows() if b <= w), default=w)
                    pending_reconnect[s] = b + self.reconnect_delay_s
                if s in pending_reconnect and w >= pending_reconnect[s]:
                    if vs.link_up(w):
                        connect(s, pending_reconnect.pop(s), False)
                    else:
                        pending_reconnect.pop(s)
                for t_send, ch, data in vs.poll_timed(w):
                    ta = self._links[s].arrival(self.host_time(t_send))
                    push(ta, PacketEvent(s, data, ta, ch))
            # --- deliver what has arrived by now (host time of w)
            now_host = self.host_time(w)
            while heap and heap[0][0] <= now_host:
                sink(heapq.heappop(heap)[2])
            if w > self.w_end + 1.0 and not heap and (
                all(vs.finished for vs in self.sensors.values()) or w > self.w_end + 10.0
            ):
                break  # data ended (a sensor still disconnected at the end keeps its FIFO)
            n_iter += 1
            if self.speed is None and n_iter % 20 == 0:
                await asyncio.sleep(0)
        # --- end: flush what is in flight, stop the sensors (intentional)
        now_host = self.host_time(w)
        while heap and (heap[0][0] <= now_host or not self._stopping):
            sink(heapq.heappop(heap)[2])
        for s in self.sides:
            vs = self.sensors[s]
            vs.write_control(imu.cmd_stop(), w)
            self.state[s] = "stopped"
            reason = "stopped by user" if self._stopping else "end of simulation"
            sink(LinkEvent(s, "stopped", self.host_time(w), reason=reason, intentional=True))


def _as_kind(info, kind: str):
    return replace(info, kind=kind)


__all__ = ["SimulatedSource"]
