"""The simulated BLE link between a sensor and the host — one timing model for both
simulated transports: the in-process :class:`~imugait.sim.source.SimulatedSource` (which
computes each notification's arrival time) and the emulated BlueZ
(:class:`~imugait.sim.bluez.EmulatedBluez`, which runs the connection events in real time).

What is modelled (times in seconds):

* a connection event every ``conn_interval_s``, at a random phase; a notification produced
  between events waits for the next one — BLE delay is one-sided;
* at most ``max_packets_per_event`` notifications per event (the rest wait for the next);
* random stalls (``stall_rate_hz``, each ``stall_s`` long): no connection events, packets
  pile up and arrive in a burst;
* ``extra_latency_s`` added to every delivery, exponential host-stack jitter with mean
  ``host_jitter_mean_s`` (in-process only: the emulator's D-Bus adds its own);
* random loss ``loss_prob`` of a notification (emulator only: BLE retransmits at the link
  layer, so this models host-side overruns or a peripheral that gives up on a packet);
* ``mtu`` (sets how many samples fit a notification) and a ``seed`` for the random parts.
* notifications held back and let go together (emulator only): ``hold_s=(lo, hi)`` — the
  ``hold_channels`` characteristics are released together every U(lo, hi) s;
  ``hold_where="device"``: by the peripheral or its stack, before the link, so a release
  drains at ``max_packets_per_event`` per connection event; ``"host"``: by the host (a busy
  computer, a phone batching notifications), after the air, so a release reaches the
  application all at once.

The defaults describe an ideal link (events and capacity only); :meth:`LinkModel.typical`
adds the stalls, latency and jitter the in-process source uses unless told otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class LinkModel:
    """One sensor's link (module docstring)."""

    conn_interval_s: float = 0.030
    max_packets_per_event: int = 6
    stall_rate_hz: float = 0.0
    stall_s: tuple[float, float] = (0.020, 0.200)
    extra_latency_s: float = 0.0
    host_jitter_mean_s: float = 0.0
    loss_prob: float = 0.0
    mtu: int = 247
    seed: int = 0
    hold_s: tuple[float, float] | None = None
    hold_where: str = "device"
    hold_channels: tuple[str, ...] = ("data", "pmd_data", "gsp_data")

    @classmethod
    def typical(cls, conn_interval_s: float = 0.015, **kw) -> "LinkModel":
        """A busy real link: a 20–200 ms stall every 5 s on average, 0.3 ms stack latency
        and 0.5 ms mean host jitter on top of the connection events."""
        base = cls(conn_interval_s=conn_interval_s, stall_rate_hz=0.2, extra_latency_s=0.0003,
                   host_jitter_mean_s=0.0005)
        return replace(base, **kw)

    def with_(self, **kw) -> "LinkModel":
        return replace(self, **kw)


def event_at_or_after(phase_s: float, interval_s: float, t_s: float) -> float:
    """The first connection event at or after ``t_s`` of a link whose events fall on
    ``phase_s + k · interval_s``."""
    return phase_s + math.ceil((t_s - phase_s) / interval_s - 1e-12) * interval_s


class Stalls:
    """Random stalls of one link: exponential gaps (rate ``stall_rate_hz``), uniform lengths."""

    def __init__(self, model: LinkModel, rng: np.random.Generator):
        self.m = model
        self.rng = rng
        self.end_s = -math.inf
        self.next_s = self._draw_start(0.0)

    def _draw_start(self, t: float) -> float:
        if self.m.stall_rate_hz <= 0:
            return math.inf
        return t + float(self.rng.exponential(1.0 / self.m.stall_rate_hz))

    def stalled_until(self, t: float) -> float:
        """End of the stall that covers ``t`` (starting any stall due by then), or ``-inf``."""
        if t >= self.next_s:
            self.end_s = self.next_s + float(self.rng.uniform(*self.m.stall_s))
            self.next_s = self._draw_start(self.end_s)
        return self.end_s if t < self.end_s else -math.inf


class ArrivalTimes:
    """Arrival time at the host of each notification of one link, sent in order
    (the in-process source's use of the model)."""

    def __init__(self, model: LinkModel, rng: np.random.Generator):
        self.m = model
        self.rng = rng
        self.phase = float(rng.uniform(0, model.conn_interval_s))
        self.stalls = Stalls(model, rng)
        self.ev = -math.inf
        self.ev_count = 0
        self.last_arrival = -math.inf

    def arrival(self, t_send: float) -> float:
        ci = self.m.conn_interval_s
        ev = event_at_or_after(self.phase, ci, t_send)
        if ev < self.ev:
            ev = self.ev
        if ev == self.ev and self.ev_count >= self.m.max_packets_per_event:
            ev = self.ev + ci
        while True:
            until = self.stalls.stalled_until(ev)
            if ev < until:
                ev = event_at_or_after(self.phase, ci, until)
                continue
            break
        if ev != self.ev:
            self.ev, self.ev_count = ev, 0
        self.ev_count += 1
        a = ev + self.m.extra_latency_s + float(self.rng.exponential(self.m.host_jitter_mean_s))
        a = max(a, self.last_arrival)  # the host stack delivers in order
        self.last_arrival = a
        return a


__all__ = ["ArrivalTimes", "LinkModel", "Stalls", "event_at_or_after"]
