"""Play a recorded session back as a live source (for the live view, demos and tests).

``ReplaySource(path, speed=1.0)`` emits, per side, ``LinkEvent("connecting")``,
``LinkEvent("connected")``, an ``InfoEvent`` with the stored :class:`SensorInfo`, then one
``BlockEvent`` per stored packet, in session-time order across both sides, paced so that
session time runs ``speed`` × faster than the wall clock (``speed=None``: as fast as
possible). Recorded link changes after the start (drops, reconnects) and battery reports
are replayed at their times as ``LinkEvent`` / ``StatusEvent``, and the recorded gaps as the
engine's ``GapEvent`` (the engine reports gaps only for packets, not for file blocks). Each block carries its
recorded session time in ``block.extra["t_s"]`` (the acquisition engine uses it as is, so
a replay reproduces the recording's clock mapping exactly) and ``extra["replay"] = True``.
Missing samples stay missing: the engine sees the jump in the sample index and reports the
gap as it did live. The source ends with ``LinkEvent("stopped", reason="end of recording")``.

Reading the file is done up front (one hour of two sensors is ~17 MB of counts), so no HDF5
call happens while the replay runs.
"""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import numpy as np

from imugait.events import BlockEvent, InfoEvent, LinkEvent, Sink, StatusEvent
from imugait.acquire.base import Source
from imugait.types import SampleBlock
from imugait.errors import InputFileError
from imugait.events import GapEvent
from imugait.store.reader import open_session


class ReplaySource(Source):
    """A recorded session file played back (see module docstring)."""

    def __init__(self, path, speed: float | None = 1.0, sides: tuple | None = None, tick_s: float = 0.01,
                 t0_host_s: float | None = None):
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be > 0 or None, got {speed}")
        self.path = Path(path)
        self.speed = speed
        self.tick_s = float(tick_s)
        self._t0_host_arg = t0_host_s
        self._stopping = False
        with open_session(self.path) as s:
            use = tuple(sides) if sides is not None else s.sides
            missing = [x for x in use if x not in s.sides]
            if missing:
                raise InputFileError(self.path, None, f"has no {', '.join(missing)} sensor",
                                     f"sensors in the file: {', '.join(s.sides)}")
            self.sides = tuple(use)
            self.infos = {x: s.sensor_info(x) for x in self.sides}
            self._raw = {x: s.raw(x) for x in self.sides}
            self._links = {x: s.link_events(x) for x in self.sides}
            self._status = {x: s.status(x) for x in self.sides}
            self._gaps = {x: s.gaps(x) for x in self.sides}
        self._events = self._schedule()
        self.t_first_s = self._events[0][0] if self._events else 0.0
        self.t_last_s = self._events[-1][0] if self._events else 0.0

    def _schedule(self) -> list:
        """(t_s, order, kind, payload) for everything to emit, sorted by session time."""
        ev: list[tuple] = []
        for side in self.sides:
            r = self._raw[side]
            p = r["packets"]
            starts = p["row"]
            for k in range(len(starts)):
                i0, n = int(starts[k]), int(p["n"][k])
                t_end = float(r["t_s"][i0 + n - 1])
                ev.append((t_end, 1, "block", (side, k, i0, n)))
            # the first connecting/connected pair is emitted at the start; later changes
            # (drops, reconnects) at their times; the final stop is the replay's own
            seen_first = {"connecting": False, "connected": False}
            for row in self._links[side].itertuples(index=False):
                if row.state in seen_first and not seen_first[row.state]:
                    seen_first[row.state] = True
                    continue
                if row.state == "stopped":
                    continue
                ev.append((float(row.t_s), 0, "link", (side, row.state, row.reason, bool(row.intentional))))
            for row in self._status[side].itertuples(index=False):
                ev.append((float(row.t_s), 2, "status", (side, row)))
            for row in self._gaps[side].itertuples(index=False):
                ev.append((float(row.t_s_end), 0, "gap", (side, row)))
        ev.sort(key=lambda e: (e[0], e[1]))
        return ev

    def _block(self, side, k, i0, n) -> SampleBlock:
        r = self._raw[side]
        p = r["packets"]
        info = self.infos[side]
        sl = slice(i0, i0 + n)
        return SampleBlock(
            side=side, first_index=int(p["first_index"][k]), t_dev_s=r["t_dev_s"][sl],
            acc_counts=r["acc_counts"][sl], gyr_counts=r["gyr_counts"][sl], acc_scale_mps2=info.acc_scale_mps2,
            gyr_scale_dps=info.gyr_scale_dps, seq=int(p["seq"][k]), t_arrival_host_s=time.monotonic(),
            extra={"t_s": r["t_s"][sl], "replay": True, "epoch": int(p["epoch"][k])},
        )

    async def stop(self) -> None:
        self._stopping = True

    def host_time_of(self, t_s: float) -> float:
        """Host time at which the sample of session time ``t_s`` is (or was) replayed."""
        sp = self.speed or math.inf
        return self.t0_host_s + (t_s - self.t_first_s) / sp

    async def run(self, sink: Sink) -> None:
        self._stopping = False
        self.t0_host_s = float(self._t0_host_arg if self._t0_host_arg is not None else time.monotonic())
        now = time.monotonic()
        for side in self.sides:
            sink(LinkEvent(side, "connecting", now, reason=f"replay of {self.path.name}"))
            sink(LinkEvent(side, "connected", now, reason="replay"))
            sink(InfoEvent(side, self.infos[side], now))
        i = 0
        n_ev = len(self._events)
        wall0 = time.monotonic()
        try:
            while i < n_ev and not self._stopping:
                if self.speed is None:
                    t_until = math.inf
                else:
                    t_until = self.t_first_s + (time.monotonic() - wall0) * self.speed
                emitted = 0
                while i < n_ev and self._events[i][0] <= t_until and not self._stopping:
                    t_s, _o, kind, pl = self._events[i]
                    i += 1
                    emitted += 1
                    host = time.monotonic()
                    if kind == "block":
                        sink(BlockEvent(self._block(*pl)))
                    elif kind == "gap":
                        side, row = pl
                        gap = GapEvent(side, float(row.t_s_start), float(row.t_s_end), int(row.first_missing_index),
                                       int(row.n_missing), str(row.reason))
                        sink(gap)  # type: ignore[arg-type]  # GapEvent is not in base.Event yet (#16 events module)
                    elif kind == "link":
                        side, state, reason, intentional = pl
                        sink(LinkEvent(side, state, host, reason=f"replayed: {reason}", intentional=intentional))
                    else:
                        side, row = pl
                        bat = None if not np.isfinite(row.battery_pct) else float(row.battery_pct)
                        sink(StatusEvent(side, host, battery_pct=bat, fifo_overflow=bool(row.fifo_overflow),
                                         device_dropped_samples=int(row.device_dropped_samples)))
                    if self.speed is None and emitted >= 200:
                        break
                if self.speed is None:
                    await asyncio.sleep(0)
                else:
                    await asyncio.sleep(self.tick_s)
        finally:
            now = time.monotonic()
            reason = "user stop" if self._stopping else "end of recording"
            for side in self.sides:
                sink(LinkEvent(side, "stopped", now, reason=reason, intentional=True))
