"""The acquisition engine: any :class:`~imugait.acquire.base.Source` -> samples on the session clock.

For every ``PacketEvent`` of a side: decoder (by the sensor's ``kind``, from
:mod:`imugait.acquire.decode`) -> :class:`~imugait.acquire.decode.PacketTracker` (exact
loss / duplicate / reorder accounting; duplicates are dropped) -> :class:`~imugait.clock.ClockMapper`
(device -> host time) -> ``on_block(block, t_s)`` with ``t_s`` the session time of every
sample (host time minus the one session start ``t0_host_s`` shared by both legs) by the
*live* mapping. Every other event (Info, Link, Status — also STATUS notifications decoded
here —, :class:`GapEvent`, and :class:`ClockPoints`: every clock point the mapper was given,
about once a second, so a writer can keep them for the final mapping,
:class:`~imugait.clock.SessionClock`) goes to ``on_event``. ``BlockEvent`` s (file/replay sources) are
tracked too; their session time is ``block.extra["t_s"]`` when the source gives it (replay),
else mapped from their arrival times when they have them, else their device time (files).

Reordering: when a packet reveals a gap that the link may still fill (not a device FIFO
overflow), blocks of that side are held for up to ``reorder_wait_s`` (host time) so that a
late packet is delivered in index order; a gap still open then is reported as a
:class:`GapEvent`. A packet later than that is delivered on its own with
``block.extra["late"] = True``.

Threading: the engine runs entirely in the source's asyncio loop; callbacks are called in
that loop. :meth:`Acquisition.health` returns an immutable snapshot (a frozen dataclass) —
consumers in other threads should call it via the loop or copy what they need.
"""

from __future__ import annotations

import inspect
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from imugait.events import BlockEvent, ClockPoints, GapEvent, InfoEvent, LinkEvent, PacketEvent, StatusEvent
from imugait.acquire.base import Source
from imugait.clock import ClockMapper
from imugait.acquire.decode import ClockPoint, DecodedPacket, Gap, KindDecoder, PacketTracker, with_index
from imugait.acquire.kinds.registry import make_decoder
from imugait.conventions import Side
from imugait.protocol.errors import PacketError
from imugait.types import SampleBlock, SensorInfo


@dataclass(frozen=True)
class SensorHealth:
    """Snapshot of one side's acquisition health (all counts since the engine started)."""

    side: Side
    state: str = "unknown"  # connecting | connected | reconnecting | stopped | unknown
    kind: str = ""
    battery_pct: float | None = None
    loss_pct: float = 0.0  # samples missing / (received + missing)
    effective_rate_hz: float = float("nan")  # samples received per second of device time (last ~5 s)
    nominal_rate_hz: float = float("nan")
    clock_offset_ms: float = float("nan")  # host − device time at the newest packet (device clocks start anywhere)
    clock_drift_ppm: float = float("nan")
    clock_established: bool = False
    clock_held: bool = False  # notifications arrive held back in bursts (live clock less exact; see ClockMapper.held)
    link_delay_ms: float = float("nan")  # median arrival delay above the clock fit (last 100 packets)
    clock_segment: int = 0
    packets_received: int = 0
    packets_lost: int = 0
    packets_duplicated: int = 0
    packets_reordered: int = 0
    packets_malformed: int = 0
    samples_received: int = 0
    samples_lost: int = 0
    device_dropped_samples: int = 0  # STATUS counter (device FIFO overflow), since boot
    fifo_overflow: bool = False
    reconnects: int = 0
    reboots: int = 0
    gaps: tuple = ()  # tuple[Gap, ...]
    last_packet_host_s: float = float("nan")

    @property
    def n_gaps(self) -> int:
        return len(self.gaps)

    def to_dict(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        d["gaps"] = [g.to_dict() if isinstance(g, Gap) else g for g in self.gaps]
        return d


@dataclass
class _Held:
    index: int
    block: SampleBlock
    late: bool = False


@dataclass
class _SideState:
    side: Side
    decoder: KindDecoder | None = None
    tracker: PacketTracker | None = None
    mapper: ClockMapper = field(default_factory=ClockMapper)
    info: SensorInfo | None = None
    state: str = "unknown"
    battery_pct: float | None = None
    device_dropped: int = 0
    fifo_overflow: bool = False
    reconnects: int = 0
    malformed_early: int = 0
    rate_win: deque = field(default_factory=deque)  # (t_dev_end_s, cumulative samples)
    n_cum: int = 0
    delays: deque = field(default_factory=lambda: deque(maxlen=100))  # arrival − mapped hand-off (s)
    last_packet_host_s: float = float("nan")
    held: list = field(default_factory=list)  # _Held, sorted by index
    hold_since: float | None = None
    awaiting: list = field(default_factory=list)  # (epoch, first_missing, end) of gaps being waited for
    clock_epoch: int = 0  # tracker epoch the clock mapper belongs to
    clock_boot: object = None  # decoder boot id of that epoch (for ClockPoint items)
    clock_log: list = field(default_factory=list)  # (t_dev, t_arr, used, segment, epoch) not yet emitted
    clock_log_since: float = float("nan")  # arrival time of the oldest entry in clock_log
    last_t_dev: float | None = None  # for BlockEvents without arrival times
    t_dev0: float | None = None


class Acquisition:
    """Run ``source`` and turn its events into blocks on the session clock (module docstring).

    Parameters
    ----------
    source     any :class:`Source`.
    on_block   ``on_block(block: SampleBlock, t_s: np.ndarray)`` — unique samples, index order.
    on_event   ``on_event(event)`` — Info/Link/Status events and :class:`GapEvent`.
    t0_host_s  session start on the host clock (default: ``time.monotonic()`` now).
    reorder_wait_s  how long to hold blocks behind a gap that the link may still fill.
    clock_window_s  :class:`ClockMapper` window.
    on_packet  ``on_packet(event: PacketEvent)`` — every notification as received, before it is
               decoded (the recorder keeps the raw bytes of commercial sensors with it).
    """

    def __init__(self, source: Source, on_block: Callable | None = None, on_event: Callable | None = None, *,
                 t0_host_s: float | None = None, reorder_wait_s: float = 0.25, clock_window_s: float = 60.0,
                 on_packet: Callable | None = None):
        self.source = source
        self.on_block = on_block or (lambda block, t_s: None)
        self.on_event = on_event or (lambda ev: None)
        self.on_packet = on_packet
        self.t0_host_s = float(time.monotonic() if t0_host_s is None else t0_host_s)
        self.reorder_wait_s = float(reorder_wait_s)
        self.clock_window_s = float(clock_window_s)
        self._sides: dict[Side, _SideState] = {}
        self.errors: list[str] = []  # callback failures (the engine keeps running)
        self.running = False

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Run the source until it ends or :meth:`stop` is called; flush held blocks."""
        self.running = True
        try:
            await self.source.run(self.handle)
        finally:
            for st in self._sides.values():
                self._flush_held(st, force=True)
                self._emit_clock(st)
            self.running = False

    async def stop(self) -> None:
        r = self.source.stop()
        if inspect.isawaitable(r):
            await r

    # ------------------------------------------------------------------ events
    def _side(self, side: Side) -> _SideState:
        st = self._sides.get(side)
        if st is None:
            st = _SideState(side, mapper=ClockMapper(window_s=self.clock_window_s))
            self._sides[side] = st
        return st

    def handle(self, ev) -> None:
        """The sink given to the source (public for tests and for sources run elsewhere)."""
        if isinstance(ev, PacketEvent):
            self._on_packet(ev)
        elif isinstance(ev, BlockEvent):
            self._on_block_event(ev)
        elif isinstance(ev, InfoEvent):
            st = self._side(ev.side)
            if st.decoder is None or st.info is None or st.info.kind != ev.info.kind:  # first, or another kind
                try:
                    st.decoder = make_decoder(ev.info.kind, ev.side)
                    if st.tracker is None:
                        st.tracker = PacketTracker(ev.side, seq_modulus=st.decoder.seq_modulus,
                                                   index_modulus=st.decoder.index_modulus)
                except KeyError:
                    st.decoder = None  # a kind that sends BlockEvents (files)
            if st.decoder is not None:
                st.decoder.set_info(ev.info)
            st.info = ev.info
            self._emit(ev)
        elif isinstance(ev, LinkEvent):
            st = self._side(ev.side)
            st.state = ev.state
            if ev.state == "connected" and ev.reason == "reconnected":
                st.reconnects += 1
                if st.decoder is not None:
                    st.decoder.reset()
                # packets handed over before this moment waited in the device (resent or
                # backlog, flagged or not): the new clock segment does not use them
                st.mapper.new_segment("reconnect", t_host_s=ev.t_host_s)
            if ev.state in ("reconnecting", "stopped"):
                self._flush_held(st, force=True)
                self._emit_clock(st)
            self._emit(ev)
        elif isinstance(ev, StatusEvent):
            self._on_status(ev)
        else:
            self._emit(ev)

    def _emit(self, ev) -> None:
        try:
            self.on_event(ev)
        except Exception as e:  # noqa: BLE001 - a consumer bug must not stop acquisition
            self.errors.append(f"on_event({type(ev).__name__}): {e!r}")

    def _deliver(self, block: SampleBlock, t_s: np.ndarray) -> None:
        try:
            self.on_block(block, t_s)
        except Exception as e:  # noqa: BLE001
            self.errors.append(f"on_block: {e!r}")

    def _on_status(self, ev: StatusEvent) -> None:
        st = self._side(ev.side)
        if ev.battery_pct is not None:
            st.battery_pct = ev.battery_pct
        st.device_dropped = ev.device_dropped_samples
        st.fifo_overflow = ev.fifo_overflow
        if st.tracker is not None and "boot_id" in ev.extra:
            # the device's own count splits a flagged hole that the link made longer
            st.tracker.note_device_dropped(ev.extra["boot_id"], ev.device_dropped_samples)
        self._emit(ev)

    def _on_packet(self, ev: PacketEvent) -> None:
        if self.on_packet is not None:
            try:
                self.on_packet(ev)
            except Exception as e:  # noqa: BLE001 - a consumer bug must not stop acquisition
                self.errors.append(f"on_packet: {e!r}")
        st = self._side(ev.side)
        st.last_packet_host_s = ev.t_arrival_host_s
        if st.decoder is None:
            st.malformed_early += 1
            return
        try:
            items = st.decoder.decode(ev)
        except PacketError as e:
            assert st.tracker is not None  # created with the decoder
            st.tracker.note_malformed(e.code)
            return
        for it in items:
            if isinstance(it, StatusEvent):
                self._on_status(it)
            elif isinstance(it, DecodedPacket):
                self._on_decoded(st, it)
            elif isinstance(it, ClockPoint):
                if st.clock_boot is None or it.boot_id == st.clock_boot:  # not a clock that restarted unseen yet
                    st.clock_boot = it.boot_id
                    self._clock_add(st, it.t_dev_s, ev.t_arrival_host_s, usable=it.usable)
        self._flush_held(st, now=ev.t_arrival_host_s)
        if st.clock_log and ev.t_arrival_host_s - st.clock_log_since >= 1.0:
            self._emit_clock(st)

    def _clock_add(self, st: _SideState, t_dev_s: float, t_arrival_host_s: float, usable: bool = True) -> None:
        """One clock point to the live mapper, logged for the final mapping."""
        used = st.mapper.add(t_dev_s, t_arrival_host_s, usable=usable)
        if used and st.mapper.ready:
            st.delays.append(t_arrival_host_s - float(st.mapper.to_host(t_dev_s)))
        if not st.clock_log:
            st.clock_log_since = t_arrival_host_s
        st.clock_log.append((t_dev_s, t_arrival_host_s, used, st.mapper.segment, st.clock_epoch))

    def _emit_clock(self, st: _SideState) -> None:
        if not st.clock_log:
            return
        a = np.asarray([r[:2] for r in st.clock_log], dtype=np.float64)
        b = np.asarray([r[2:] for r in st.clock_log], dtype=np.int64)
        st.clock_log = []
        self._emit(ClockPoints(st.side, a[:, 0], a[:, 1], b[:, 0].astype(bool), b[:, 1], b[:, 2]))

    def _on_decoded(self, st: _SideState, it: DecodedPacket) -> None:
        tr = st.tracker
        assert tr is not None  # created with the decoder
        blk = it.block
        had_data = tr.counts.received > 0
        r = tr.observe(it.boot_id, it.seq, blk.first_index, len(blk), overflow_before=it.overflow_before)
        if r.status == "duplicate":
            return
        if r.new_epoch and had_data and r.epoch == tr.epoch:  # device rebooted
            self._flush_held(st, force=True)  # old-boot blocks still use the old clock
            self._emit_clock(st)
            st.mapper.new_segment("reboot", device_clock_continues=False)
            st.clock_epoch = r.epoch
            st.clock_boot = it.boot_id
        if st.clock_boot is None:
            st.clock_boot = it.boot_id
        if r.epoch == st.clock_epoch and it.clock_point:  # a late packet of an older boot has no clock any more
            self._clock_add(st, it.t_dev_clock_s, blk.t_arrival_host_s, usable=it.clock_usable)
        block = with_index(blk, r.first_index, epoch=r.epoch)
        self._count_rate(st, block)
        if r.status == "late":
            if st.held:
                st.held.append(_Held(r.first_index, block))
                return
            block.extra["late"] = True  # arrived after its gap was given up: deliver on its own
            self._deliver(block, self._map(st, block, r.epoch))
            return
        if r.gap_samples > 0:
            first_missing = r.first_index - r.gap_samples
            if it.overflow_before or self.reorder_wait_s <= 0:  # final right away
                reason = "device_overflow" if it.overflow_before else "lost"
                self._gap_event(st, r.epoch, first_missing, r.gap_samples, reason, block)
            else:  # the link may still deliver it: hold this side's blocks for a moment
                st.awaiting.append((r.epoch, first_missing, r.first_index))
                if st.hold_since is None:
                    st.hold_since = blk.t_arrival_host_s
        if st.held or st.awaiting:
            st.held.append(_Held(r.first_index, block))
            return
        self._deliver(block, self._map(st, block, r.epoch))

    def _map(self, st: _SideState, block: SampleBlock, epoch: int) -> np.ndarray:
        if st.mapper.ready and epoch == st.clock_epoch:
            return st.mapper.to_host(block.t_dev_s) - self.t0_host_s
        # no clock for this epoch: fall back to arrival time spacing by device time
        return (block.t_arrival_host_s - self.t0_host_s) + (block.t_dev_s - block.t_dev_s[-1])

    def _open_holes(self, st: _SideState) -> list[tuple[int, int, int, str]]:
        """(epoch, lo, hi, reason) of samples still missing inside the awaited gaps."""
        if not st.awaiting or st.tracker is None:
            return []
        out = []
        gaps = st.tracker.gaps()
        for epoch, lo0, hi0 in st.awaiting:
            for g in gaps:
                if g.epoch != epoch:
                    continue
                lo, hi = max(lo0, g.first_index), min(hi0, g.first_index + g.n_samples)
                if lo < hi:
                    out.append((epoch, lo, hi, g.reason))
        return out

    def _flush_held(self, st: _SideState, now: float | None = None, force: bool = False) -> None:
        """Deliver held blocks in index order once their gaps are filled or the wait is over;
        report the gaps still open as :class:`GapEvent` s."""
        if not st.held:
            st.awaiting.clear()
            st.hold_since = None
            return
        open_ = self._open_holes(st)
        timed_out = now is not None and st.hold_since is not None and now - st.hold_since >= self.reorder_wait_s
        if open_ and not (force or timed_out):
            return
        held = sorted(st.held, key=lambda h: (h.block.extra.get("epoch", 0), h.index))
        st.held = []
        st.awaiting.clear()
        st.hold_since = None
        for epoch, lo, hi, reason in open_:
            nxt = next((h for h in held if h.block.extra.get("epoch", 0) == epoch and h.index >= hi), None)
            if nxt is not None:
                self._gap_event(st, epoch, lo, hi - lo, reason, nxt.block)
        for h in held:
            self._deliver(h.block, self._map(st, h.block, h.block.extra.get("epoch", 0)))

    def _gap_event(self, st: _SideState, epoch: int, first: int, n: int, reason: str, after: SampleBlock) -> None:
        t_after = self._map(st, after, epoch)
        fs = st.info.sample_rate_hz if st.info is not None else float("nan")
        k = first + n - after.first_index  # samples between gap end and the block start (<= 0)
        t_end = float(t_after[0]) + (k / fs if math.isfinite(fs) else 0.0)
        t_start = t_end - (n / fs if math.isfinite(fs) else 0.0)
        self._emit(GapEvent(st.side, t_start, t_end, int(first), int(n), reason, epoch))

    def _count_rate(self, st: _SideState, block: SampleBlock) -> None:
        st.n_cum += len(block)
        t_end = float(block.t_dev_s[-1])
        if st.rate_win and t_end < st.rate_win[-1][0] - 1.0:  # device clock restarted
            st.rate_win.clear()
        st.rate_win.append((t_end, st.n_cum))
        while len(st.rate_win) > 2 and st.rate_win[-1][0] - st.rate_win[0][0] > 5.0:
            st.rate_win.popleft()

    def _on_block_event(self, ev: BlockEvent) -> None:
        block = ev.block
        st = self._side(block.side)
        if st.tracker is None:
            st.tracker = PacketTracker(block.side, seq_modulus=None, index_modulus=None)
        seq = block.seq if block.seq >= 0 else None
        r = st.tracker.observe(None, seq, block.first_index, len(block))
        if r.status == "duplicate":
            return
        self._count_rate(st, block)
        if "t_s" in block.extra:  # the source knows the session time (replay of a recording)
            t_s = np.asarray(block.extra["t_s"], dtype=np.float64)
        elif math.isfinite(block.t_arrival_host_s):
            st.last_packet_host_s = block.t_arrival_host_s
            self._clock_add(st, float(block.t_dev_s[-1]), block.t_arrival_host_s)
            t_s = st.mapper.to_host(block.t_dev_s) - self.t0_host_s
        else:  # files: device time is the session clock (first sample at 0)
            if st.t_dev0 is None:
                st.t_dev0 = float(block.t_dev_s[0])
            t_s = np.asarray(block.t_dev_s, dtype=np.float64) - st.t_dev0
        self._deliver(with_index(block, r.first_index), t_s)

    # ------------------------------------------------------------------ health
    @property
    def sides(self) -> tuple:
        return tuple(self._sides)

    def link_state(self, side: Side) -> str | None:
        """Link state of ``side`` as its source last reported it (``"connected"``, …), or
        ``None`` if the side has produced no event yet."""
        st = self._sides.get(side)
        return st.state if st is not None else None

    def tracker(self, side: Side) -> PacketTracker | None:
        return self._sides[side].tracker if side in self._sides else None

    def clock(self, side: Side) -> ClockMapper | None:
        return self._sides[side].mapper if side in self._sides else None

    def health(self, side: Side) -> SensorHealth | None:
        """Snapshot for ``side``; None while the side has not produced an event yet."""
        st = self._sides.get(side)
        if st is None:
            return None
        c = st.tracker.counts if st.tracker is not None else None
        rate = float("nan")
        if len(st.rate_win) >= 2:
            (t0, n0), (t1, n1) = st.rate_win[0], st.rate_win[-1]
            if t1 > t0:
                rate = (n1 - n0) / (t1 - t0)
        cm = st.mapper
        fit = cm.fit
        return SensorHealth(
            side=side,
            state=st.state,
            kind=st.info.kind if st.info is not None else "",
            battery_pct=st.battery_pct,
            loss_pct=c.loss_pct if c else 0.0,
            effective_rate_hz=rate,
            nominal_rate_hz=st.info.sample_rate_hz if st.info is not None else float("nan"),
            clock_offset_ms=cm.offset_ms() if fit is not None else float("nan"),
            clock_drift_ppm=cm.drift_ppm if fit is not None and fit.established else float("nan"),
            clock_established=cm.established,
            clock_held=cm.held,
            link_delay_ms=float(np.median(st.delays)) * 1e3 if st.delays else float("nan"),
            clock_segment=cm.segment,
            packets_received=c.received if c else 0,
            packets_lost=c.lost if c else 0,
            packets_duplicated=c.duplicated if c else 0,
            packets_reordered=c.reordered if c else 0,
            packets_malformed=(c.malformed if c else 0) + st.malformed_early,
            samples_received=c.samples_received if c else 0,
            samples_lost=c.samples_lost if c else 0,
            device_dropped_samples=st.device_dropped,
            fifo_overflow=st.fifo_overflow,
            reconnects=st.reconnects,
            reboots=max(0, c.epochs - 1) if c else 0,
            gaps=tuple(st.tracker.gaps()) if st.tracker is not None else (),
            last_packet_host_s=st.last_packet_host_s,
        )


__all__ = ["Acquisition", "SensorHealth"]
