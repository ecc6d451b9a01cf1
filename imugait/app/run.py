"""One session run: Source -> Acquisition -> {SessionWriter (optional), per-side
GaitPipeline, sinks}. ``imugait record``, ``demo`` and the guided ``flexor-test``
(:mod:`imugait.app.record`) and the live dashboard (:mod:`imugait.live.backend`, an adapter
feeding the Qt model) all run a session through :class:`SessionRun`.

What it owns
------------
* **the acquisition** (:class:`~imugait.acquire.engine.Acquisition`) and the sensor
  information (``infos``) it reports;
* **the recording**: a :class:`~imugait.store.writer.SessionWriter`, made by a factory the
  caller gives to :meth:`SessionRun.start_recording` (``record`` from the first sample; the
  dashboard on demand, mid-stream), the hand-off of blocks, events, markers and — for kinds
  that keep them (Polar, Movesense) — every notification's bytes; a write error stops the
  writing (``error``), never the acquisition;
* **the per-side pipelines**: samples are buffered per side (:meth:`take_pending`) and pushed
  through one :class:`~imugait.analysis.GaitPipeline` per side (:meth:`push_pipelines`), in
  the event loop (dashboard) or a worker thread (``record``); a pipeline that fails is left
  out with a warning, it never stops the run.

The one rule for waiting for sensor information
-----------------------------------------------
A recording's file holds one table per sensor and its structure is frozen at the first
sample, so it is created only when the sensors are known: **when every sensor of the source
has sent its information (INFO), or — once at least one has — ``info_wait_s`` seconds (wall
clock, default 30 s) after the recording was asked for; a sensor still silent then is left
out (``on_left_out``)**. Until the file is created, every block, event, marker and raw
notification that arrives is held in memory in arrival order and written, in that order,
the moment the file is created (or at :meth:`finish_recording`) — nothing is lost while
waiting. 30 s is what a BLE connection may take (service discovery, a retry); a simulated
or replayed source declares its sensors at once, and a recording started mid-stream from the
dashboard finds them already known, so neither waits at all.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from imugait.acquire.base import Source
from imugait.acquire.engine import Acquisition
from imugait.acquire.kinds.registry import keeps_raw
from imugait.analysis import AnalysisParams, GaitPipeline
from imugait.analysis.pipeline import PipelineOutput
from imugait.conventions import Side
from imugait.events import InfoEvent, PacketEvent
from imugait.types import SampleBlock, SensorInfo
from imugait.store.writer import SessionWriteError, SessionWriter

INFO_WAIT_S = 30.0
"""Default longest wait (wall-clock seconds from the request to record) for every sensor's
INFO before the file is created without the missing ones (see the module docstring)."""

FALLBACK_RATE_HZ = 200.0
"""A pipeline's sample rate when a side sent no INFO and its stamps give none."""

WriterFactory = Callable[[dict[Side, SensorInfo]], SessionWriter]
"""Makes the (not yet started) session writer; :class:`SessionRun` declares the sensors."""


@dataclass
class Pending:
    """Samples of one side waiting for its pipeline."""
    parts: list = field(default_factory=list)
    n: int = 0


class SessionRun:
    """Source -> Acquisition -> {SessionWriter, per-side GaitPipeline, sinks}.

    ``on_block(block, t_s)`` and ``on_event(ev)`` are the caller's sinks, called after the
    recording took the block or event (raw data first). ``on_write_error(exc)`` is told once
    when the writer fails (the recording stops, the run goes on); ``on_left_out(sides)`` when
    the file is created without the sensors listed; ``on_late_sensor(side)`` when a sensor
    first sends INFO after the file was created (it is not recorded).
    """

    def __init__(self, source: Source, *, params: AnalysisParams | None = None,
                 on_block: Callable[[SampleBlock, np.ndarray], None] | None = None,
                 on_event: Callable[[object], None] | None = None,
                 on_write_error: Callable[[Exception], None] | None = None,
                 on_left_out: Callable[[list[str]], None] | None = None,
                 on_late_sensor: Callable[[str], None] | None = None,
                 info_wait_s: float = INFO_WAIT_S, t0_host_s: float | None = None):
        self.source = source
        self.expected: tuple[Side, ...] = tuple(source.sides)
        self.params = params
        self.info_wait_s = float(info_wait_s)
        self._sink_block = on_block
        self._sink_event = on_event
        self._on_write_error = on_write_error
        self._on_left_out = on_left_out
        self._on_late_sensor = on_late_sensor
        self.acq = Acquisition(source, self._on_block, self._on_event, on_packet=self._on_packet,
                               t0_host_s=t0_host_s)
        self.infos: dict[Side, SensorInfo] = {}
        # the recording
        self.recording = False  # asked for (the file may still wait for INFO)
        self.writer: SessionWriter | None = None
        self.held: list = []  # ("block", block, t_s) | ("event", ev) | ("marker", t_s, text) | ("raw", ev)
        self.error: Exception | None = None
        self.rec_samples: dict[str, int] = {}
        self.rec_blocks = 0
        self._writer_factory: WriterFactory | None = None
        self._rec_asked_at = math.inf
        # session time seen
        self.t_first_s = math.inf
        self.t_last_s = -math.inf
        # the per-side pipelines
        self.pipelines: dict[Side, GaitPipeline | None] = {}  # None: failed, left out
        self.pending: dict[Side, Pending] = {}
        self.warnings: list[str] = []

    # -- the recording ----------------------------------------------------------------------
    def start_recording(self, writer_factory: WriterFactory) -> None:
        """Record from now on; the file is made by ``writer_factory`` under the one INFO rule."""
        if self.recording:
            return
        self.recording = True
        self._writer_factory = writer_factory
        self._rec_asked_at = time.monotonic()
        self.held = []
        self.error = None
        self.rec_samples = {}
        self.rec_blocks = 0
        self._maybe_open()
        if self.error is not None and self.writer is None:  # the file could not be created: say so now
            self.recording = False
            raise self.error

    @property
    def waiting_for(self) -> list[str]:
        """Sensors whose INFO the recording still waits for (empty once the file exists)."""
        if not self.recording or self.writer is not None:
            return []
        return [s for s in self.expected if s not in self.infos]

    def info_wait_over(self) -> bool:
        """True when the recording has waited ``info_wait_s`` and at least one sensor is known."""
        return (self.recording and self.writer is None and bool(self.infos)
                and time.monotonic() - self._rec_asked_at > self.info_wait_s)

    def tick(self) -> None:
        """Call a few times a second: applies the wait rule and lets the writer flush."""
        if self.info_wait_over():
            missing = self.waiting_for
            self._open(tuple(s for s in self.expected if s in self.infos))
            if self._on_left_out is not None:
                self._on_left_out(missing)
        self.flush()

    def flush(self) -> None:
        w = self.writer
        if w is not None:
            self._guard(w.maybe_flush)

    def add_marker(self, t_s: float, text: str) -> None:
        if not self.recording:
            return
        if self.writer is None:
            self.held.append(("marker", float(t_s), text))
        else:
            w = self.writer
            self._guard(lambda: w.add_marker(t_s, text))

    def write_held(self) -> None:
        """If the file still waits for INFO: create it now with the sensors known and write
        what is held (the end of a run)."""
        if self.recording and self.writer is None and self.held and self.infos and self.error is None:
            self._open(tuple(s for s in self.expected if s in self.infos))

    def finish_recording(self, reason: str, close_after_error: bool = False) -> SessionWriter | None:
        """Write what is held (:meth:`write_held`) and close the file with ``reason``.
        Returns the writer (None: no sensor was known, nothing recorded). After a write
        error (``error``; also a failed close) the file stays as last flushed — check
        ``writer.failed``: HDF5 cannot shut down cleanly after a failed write;
        ``close_after_error`` still releases the session lock (a process that goes on)."""
        if not self.recording:
            return None
        self.write_held()
        w = self.writer
        self.recording = False
        self.writer = None
        self.held = []
        self._writer_factory = None
        if w is not None and self.error is not None and close_after_error:
            try:
                w.close(reason)  # after a write error: leaves the file as flushed, releases the lock
            except Exception:  # noqa: BLE001 - the error was reported already
                pass
        if w is None or self.error is not None:
            return w
        try:
            w.close(reason)
        except SessionWriteError as e:
            self._fail(e)
        return w

    def _maybe_open(self) -> None:
        if self.recording and self.writer is None and self.expected and all(s in self.infos for s in self.expected):
            self._open(self.expected)

    def _open(self, sides) -> None:
        assert self._writer_factory is not None
        try:
            w = self._writer_factory(dict(self.infos))
            for s in sides:
                w.add_sensor(self.infos[s], raw=keeps_raw(self.infos[s].kind))
        except Exception as e:  # noqa: BLE001 - a file that cannot be made stops the recording, not the run
            self._fail(e)
            return
        self.writer = w
        self._guard(w.start)
        held, self.held = self.held, []
        for item in held:
            if item[0] == "block":
                self._append(item[1], item[2])
            elif item[0] == "marker":
                self._guard(lambda it=item: w.add_marker(it[1], it[2]))
            elif item[0] == "raw":
                self._raw(item[1])
            else:
                self._store_event(item[1])

    def _append(self, block: SampleBlock, t_s: np.ndarray) -> None:
        w = self.writer
        if w is None or self.error is not None or block.side not in w.sides:
            return
        self._guard(lambda: w.append_block(block, t_s))
        if self.error is None:
            self.rec_blocks += 1
            self.rec_samples[block.side] = self.rec_samples.get(block.side, 0) + len(block)

    def _raw(self, ev: PacketEvent) -> None:
        w = self.writer
        if w is not None and ev.side in w.sides:
            self._guard(lambda: w.add_raw(ev.side, ev.t_arrival_host_s, ev.channel, ev.data))

    def _store_event(self, ev) -> None:
        w = self.writer
        if w is not None:
            self._guard(lambda: w.add_event(ev))

    def _guard(self, fn) -> None:
        if self.error is not None:
            return
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - a write error stops the recording, never the acquisition
            self._fail(e)

    def _fail(self, e: Exception) -> None:
        self.error = e
        if self._on_write_error is not None:
            self._on_write_error(e)

    # -- engine callbacks (event-loop thread) -------------------------------------------------
    def _on_packet(self, ev: PacketEvent) -> None:
        """Every notification, before decoding: kept raw for kinds that keep raw bytes."""
        info = self.infos.get(ev.side)
        if not self.recording or info is None or not keeps_raw(info.kind):
            return
        if self.writer is None:
            self.held.append(("raw", ev))
        else:
            self._raw(ev)

    def _on_event(self, ev) -> None:
        if isinstance(ev, InfoEvent):
            first = ev.side not in self.infos
            self.infos[ev.side] = ev.info
            if self.recording:
                if self.writer is None:
                    self._maybe_open()  # a repeated INFO before the file exists is not stored
                elif ev.side in self.writer.sides:
                    if not first:
                        self._store_event(ev)  # re-read after a reconnect
                elif first and self._on_late_sensor is not None:
                    self._on_late_sensor(ev.side)
        elif self.recording:
            if self.writer is None:
                self.held.append(("event", ev))
            else:
                self._store_event(ev)
        if self._sink_event is not None:
            self._sink_event(ev)

    def _on_block(self, block: SampleBlock, t_s) -> None:
        t_s = np.asarray(t_s, dtype=np.float64)
        if len(t_s):
            self.t_last_s = max(self.t_last_s, float(t_s[-1]))
            self.t_first_s = min(self.t_first_s, float(t_s[0]))
        if self.recording:  # 1. record first: raw data is sacred
            if self.writer is None:
                self.held.append(("block", block, t_s))
            else:
                self._append(block, t_s)
        p = self.pending.setdefault(block.side, Pending())  # 2. the pipelines' input
        p.parts.append((t_s, block.acc_mps2, block.gyr_dps))
        p.n += len(block)
        if self._sink_block is not None:  # 3. the caller's sinks
            self._sink_block(block, t_s)

    # -- the per-side pipelines -----------------------------------------------------------------
    def pending_n(self, side: Side) -> int:
        p = self.pending.get(side)
        return p.n if p is not None else 0

    def take_pending(self, sides=None) -> dict[str, list]:
        """Hand over the buffered samples (event-loop thread): ``{side: [(t_s, acc, gyr), …]}``."""
        out = {}
        for side in list(self.pending) if sides is None else sides:
            p = self.pending.get(side)
            if p is not None and p.parts:
                out[side] = p.parts
                self.pending[side] = Pending()
        return out

    def pipeline(self, side: Side, t_s: np.ndarray | None = None) -> GaitPipeline | None:
        """The side's pipeline, made on first use at the rate its INFO declares (else the
        rate its stamps show, else :data:`FALLBACK_RATE_HZ`); None after it failed."""
        if side in self.pipelines:
            return self.pipelines[side]
        info = self.infos.get(side)
        fs = info.sample_rate_hz if info is not None else (_rate_from(t_s) if t_s is not None else None)
        p = self.pipelines[side] = GaitPipeline(fs_hz=float(fs or FALLBACK_RATE_HZ), side=side,
                                                params=self.params or AnalysisParams())
        return p

    def push_pipelines(self, chunks: dict[str, list] | None = None, final: bool = False) -> dict[str, list]:
        """Push samples (from :meth:`take_pending`; None: take them now) through the per-side
        pipelines — in a worker thread if the caller likes; ``final`` also flushes each
        pipeline at the end. Returns ``{side: [PipelineOutput, …]}``. A pipeline that raises
        is left out from then on, with a warning: the analysis never stops a recording."""
        if chunks is None:
            chunks = self.take_pending()
        outs: dict[str, list[PipelineOutput]] = {}
        sides = list(dict.fromkeys([*chunks, *(self.pipelines if final else ())]))
        for side in sides:
            parts = chunks.get(side) or []
            t = np.concatenate([c[0] for c in parts]) if parts else None
            p = self.pipeline(side, t) if parts or side in self.pipelines else None
            if p is None:
                continue
            try:
                if parts:
                    acc = np.concatenate([c[1] for c in parts])
                    gyr = np.concatenate([c[2] for c in parts])
                    outs.setdefault(side, []).append(p.push(t, acc, gyr))
                if final:
                    outs.setdefault(side, []).append(p.flush())
            except Exception as e:  # noqa: BLE001 - the live analysis must never stop the recording
                self.warnings.append(f"{side} live analysis failed: {e}")
                self.pipelines[side] = None
        return outs

    def recalibrate(self, side: Side | None = None) -> list[Side]:
        """Start each (or one) side's calibration again; returns the sides recalibrated."""
        done = []
        for s in ([side] if side else list(self.pipelines)):
            p = self.pipelines.get(s)
            if p is not None:
                p.recalibrate()
                done.append(s)
        return done

    # -- running ----------------------------------------------------------------------------------
    async def run(self) -> None:
        await self.acq.run()

    async def stop(self) -> None:
        await self.acq.stop()


def _rate_from(t_s: np.ndarray) -> float | None:
    t = np.asarray(t_s, dtype=np.float64)
    if t.size < 2:
        return None
    dt = np.median(np.diff(t))
    return float(1.0 / dt) if dt > 0 else None
