"""Packets -> samples, with exact loss / duplicate / reorder accounting.

Two parts:

* :class:`PacketTracker` (one per side) counts received, lost, duplicated and reordered
  packets from sequence numbers *and* sample indices (both wrap on the wire and are
  unwrapped here), keeps the list of gaps (first missing sample index, count), and starts
  a new epoch when the device's boot id changes (reboot: index and time restart).
* :class:`KindDecoder`, the base of every kind's decoder: it turns
  :class:`~imugait.acquire.base.PacketEvent` bytes into :class:`DecodedPacket` s (a
  :class:`~imugait.types.SampleBlock` plus the wire counters the tracker needs) and status
  notifications into :class:`~imugait.acquire.base.StatusEvent` s. The decoders themselves
  live with their kind (``imugait.acquire.kinds.<kind>.decoder``) and are listed in the static
  table :mod:`imugait.acquire.kinds.registry` (``make_decoder``).

Malformed bytes raise :class:`~imugait.protocol.errors.PacketError`; the engine counts them
(``PacketTracker.note_malformed``) and carries on.
"""

from __future__ import annotations

import abc
import bisect
import math
from dataclasses import dataclass, field, replace
from typing import Literal

from imugait.events import PacketEvent, StatusEvent  # noqa: F401 - StatusEvent in docs
from imugait.conventions import Side
from imugait.protocol import constants as C
from imugait.protocol.errors import PacketError
from imugait.types import SampleBlock, SensorInfo


class NoInfoYet(PacketError):
    """A DATA packet arrived before the sensor's INFO (scale factors, rate) was known."""

    code = "no_info"


# =====================================================================================
# Tracker
# =====================================================================================
@dataclass(frozen=True)
class Gap:
    """Samples that never arrived. ``first_index`` is the unwrapped device sample index of
    the first missing sample within boot ``boot_id`` (epoch ``epoch``); ``reason`` is
    ``"lost"`` (link) or ``"device_overflow"`` (the device's FIFO overflowed, flagged by the
    packet after the gap)."""

    epoch: int
    boot_id: int | None
    first_index: int
    n_samples: int
    reason: str = "lost"

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "boot_id": self.boot_id, "first_index": self.first_index,
                "n_samples": self.n_samples, "reason": self.reason}


@dataclass(frozen=True)
class TrackResult:
    """Verdict on one packet.

    ``status``: ``"new"`` (in order or after a gap), ``"late"`` (arrived after a later
    packet and fills a hole — counted as reordered), ``"duplicate"`` (all its samples were
    already received; drop it). ``first_index`` is unwrapped (int64 range, per epoch).
    ``new_epoch`` is True for the first packet of a new boot id. ``gap_samples`` is the
    number of samples newly found missing just before this packet.
    """

    status: Literal["new", "late", "duplicate"]
    first_index: int
    epoch: int
    new_epoch: bool = False
    gap_samples: int = 0


@dataclass
class TrackerCounts:
    """Counts since the tracker was created (all epochs). Packets are counted by sequence
    number (or, for formats without one, estimated from sample gaps); samples by index."""

    received: int = 0  # unique packets accepted (late ones included)
    lost: int = 0  # packets still missing (a late arrival reduces it)
    duplicated: int = 0  # copies of packets already received (dropped)
    reordered: int = 0  # packets that arrived after a later one
    malformed: int = 0  # undecodable packets (PacketError)
    samples_received: int = 0
    samples_lost: int = 0  # samples still missing (link loss + device overflow)
    samples_device_dropped: int = 0  # part of samples_lost flagged as device FIFO overflow
    epochs: int = 0  # boot ids seen (1 = no reboot)
    malformed_reasons: dict = field(default_factory=dict)

    @property
    def loss_pct(self) -> float:
        tot = self.samples_received + self.samples_lost
        return 100.0 * self.samples_lost / tot if tot else 0.0


class _Holes:
    """Sorted disjoint half-open integer intervals [a, b)."""

    def __init__(self):
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.reasons: list[str] = []

    def add(self, a: int, b: int, reason: str = "lost") -> None:
        if b <= a:
            return
        i = bisect.bisect_left(self.starts, a)
        self.starts.insert(i, a)
        self.ends.insert(i, b)
        self.reasons.insert(i, reason)

    def take(self, a: int, b: int) -> int:
        """Remove [a, b) ∩ holes; return how many integers were removed."""
        removed = 0
        i = max(0, bisect.bisect_right(self.starts, a) - 1)
        while i < len(self.starts) and self.starts[i] < b:
            s, e, r = self.starts[i], self.ends[i], self.reasons[i]
            lo, hi = max(s, a), min(e, b)
            if lo >= hi:
                i += 1
                continue
            removed += hi - lo
            del self.starts[i], self.ends[i], self.reasons[i]
            if hi < e:
                self.starts.insert(i, hi)
                self.ends.insert(i, e)
                self.reasons.insert(i, r)
            if s < lo:
                self.starts.insert(i, s)
                self.ends.insert(i, lo)
                self.reasons.insert(i, r)
                i += 1
            # continue scanning (the next interval starts at >= hi)
        return removed

    def items(self):
        return zip(self.starts, self.ends, self.reasons)

    def relabel_front(self, i: int, k: int, reason: str) -> None:
        """Give the first ``k`` integers of interval ``i`` the label ``reason`` (splitting it)."""
        s, e = self.starts[i], self.ends[i]
        if k >= e - s:
            self.reasons[i] = reason
            return
        self.starts[i] = s + k
        self.starts.insert(i, s)
        self.ends.insert(i, s + k)
        self.reasons.insert(i, reason)

    def total(self) -> int:
        return sum(e - s for s, e in zip(self.starts, self.ends))

    def total_reason(self, reason: str) -> int:
        return sum(e - s for s, e, r in zip(self.starts, self.ends, self.reasons) if r == reason)


class _Epoch:
    def __init__(self, number: int, boot_id):
        self.number = number
        self.boot_id = boot_id
        self.next_index: int | None = None  # unwrapped index after the highest received
        self.next_seq: int | None = None  # unwrapped seq after the highest received
        self.last_n = 1
        self.sample_holes = _Holes()
        self.seq_holes = _Holes()
        # STATUS dropped_samples minus the overflow holes seen when the first STATUS of this
        # boot arrived: drops before the host's first packet, which are no hole of ours
        self.device_dropped_base: int | None = None


def _unwrap(value: int, ref: int, modulus: int) -> int:
    """The integer ≡ value (mod modulus) nearest to ref (RFC 1982 serial arithmetic)."""
    d = (value - ref) % modulus
    if d >= modulus // 2:
        d -= modulus
    return ref + d


class PacketTracker:
    """Exact packet accounting for one sensor (see module docstring).

    ``observe(boot_id, seq, first_index, n)`` for every decoded packet, in arrival order.
    ``seq`` may be ``None`` (formats without sequence numbers: packet loss is then estimated
    from sample gaps); ``index_modulus``/``seq_modulus`` ``None`` means the values never wrap.
    """

    def __init__(self, side: Side | str = "left", *, seq_modulus: int | None = C.SEQ_MODULUS,
                 index_modulus: int | None = C.INDEX_MODULUS, keep_epochs: int = 4):
        self.side = side
        self.seq_modulus = seq_modulus
        self.index_modulus = index_modulus
        self.keep_epochs = keep_epochs
        self.counts = TrackerCounts()
        self._epochs: dict = {}  # boot_id -> _Epoch (most recent last)
        self._closed_gaps: list[Gap] = []  # gaps of epochs no longer tracked
        self._current: _Epoch | None = None

    # ------------------------------------------------------------------ public
    @property
    def epoch(self) -> int:
        return self._current.number if self._current is not None else -1

    @property
    def boot_id(self):
        return self._current.boot_id if self._current is not None else None

    def reset(self) -> None:
        """Forget the current epoch (the next packet starts a new one) — e.g. when a
        format without boot ids says the device restarted."""
        self._current = None
        self._epochs.pop("__manual__", None)

    def note_malformed(self, reason: str = "malformed") -> None:
        self.counts.malformed += 1
        self.counts.malformed_reasons[reason] = self.counts.malformed_reasons.get(reason, 0) + 1

    def gaps(self) -> list[Gap]:
        """All samples still missing, oldest epoch first."""
        out = list(self._closed_gaps)
        for ep in self._epochs.values():
            out.extend(Gap(ep.number, ep.boot_id, s, e - s, r) for s, e, r in ep.sample_holes.items())
        return out

    def note_device_dropped(self, boot_id, dropped_samples: int) -> int:
        """Match the device's own count (STATUS ``dropped_samples``, since boot) with the holes
        flagged ``OVERFLOW_BEFORE``; return how many samples were relabelled ``"lost"``.

        The flag says the FIFO overflowed just before a packet, not that *every* sample
        missing before it was the device's: a packet the link lost just before the outage
        (the firmware thinks it sent it) makes the same hole a little longer. When the
        flagged holes exceed what the device says it dropped, the excess is the link's — and
        it sits at the front of the newest flagged hole (the FIFO drops its oldest packets,
        the ones right after the last packet handed to the radio). Call it for every STATUS,
        in arrival order with the DATA packets (one BLE connection delivers in order, so a
        STATUS counts every drop before the DATA packets that came before it).
        """
        key = boot_id if boot_id is not None else "__manual__"
        ep = self._epochs.get(key)
        if ep is None:
            return 0
        flagged = ep.sample_holes.total_reason("device_overflow")
        total = int(dropped_samples)
        if ep.device_dropped_base is None:
            ep.device_dropped_base = total - flagged
            return 0
        excess = flagged - (total - ep.device_dropped_base)
        moved = 0
        holes = ep.sample_holes
        i = len(holes.starts) - 1
        while excess > 0 and i >= 0:
            if holes.reasons[i] == "device_overflow":
                k = min(excess, holes.ends[i] - holes.starts[i])
                holes.relabel_front(i, k, "lost")
                excess -= k
                moved += k
            i -= 1
        self.counts.samples_device_dropped -= moved
        return moved

    def observe(self, boot_id, seq: int | None, first_index: int, n: int, *, overflow_before: bool = False) -> TrackResult:
        n = int(n)
        ep, new_epoch = self._epoch_for(boot_id)
        c = self.counts
        # -- sample index ------------------------------------------------------------
        if ep.next_index is None:
            a = int(first_index)
            ep.next_index = a + n
            ep.last_n = n
            status: Literal["new", "late", "duplicate"] = "new"
            gap = 0
            self._seq_new(ep, seq, 0, n)
            c.received += 1
            c.samples_received += n
            return TrackResult(status, a, ep.number, new_epoch, 0)
        a = _unwrap(int(first_index), ep.next_index, self.index_modulus) if self.index_modulus else int(first_index)
        b = a + n
        if a >= ep.next_index:
            gap = a - ep.next_index
            if gap:
                reason = "device_overflow" if overflow_before else "lost"
                ep.sample_holes.add(ep.next_index, a, reason)
                c.samples_lost += gap
                if reason == "device_overflow":
                    c.samples_device_dropped += gap
            ep.next_index = b
            self._seq_new(ep, seq, gap, n)
            ep.last_n = n
            c.received += 1
            c.samples_received += n
            return TrackResult("new", a, ep.number, new_epoch, gap)
        # behind the head: late (fills a hole) or duplicate
        before_overflow = ep.sample_holes.total_reason("device_overflow")
        filled = ep.sample_holes.take(a, min(b, ep.next_index))
        head = 0
        if b > ep.next_index:  # overlaps the head (batch size changed): the tail is new
            head = b - ep.next_index
            ep.next_index = b
        if filled == 0 and head == 0:
            c.duplicated += 1
            return TrackResult("duplicate", a, ep.number, new_epoch, 0)
        c.samples_lost -= filled
        c.samples_device_dropped -= before_overflow - ep.sample_holes.total_reason("device_overflow")
        if overflow_before:  # the flagged packet came late: the hole right before it was the device's
            i = bisect.bisect_right(ep.sample_holes.starts, a) - 1
            if i >= 0 and ep.sample_holes.ends[i] == a and ep.sample_holes.reasons[i] != "device_overflow":
                ep.sample_holes.reasons[i] = "device_overflow"
                c.samples_device_dropped += a - ep.sample_holes.starts[i]
        c.samples_received += filled + head
        c.received += 1
        c.reordered += 1
        self._seq_late(ep, seq, n)
        return TrackResult("late", a, ep.number, new_epoch, 0)

    # ------------------------------------------------------------------ internals
    def _epoch_for(self, boot_id):
        key = boot_id if boot_id is not None else "__manual__"
        cur = self._current
        if cur is not None and cur.boot_id == boot_id and key in self._epochs:
            return cur, False
        if key in self._epochs and cur is not None:  # a late packet of an older boot
            return self._epochs[key], False
        ep = _Epoch(self.counts.epochs, boot_id)
        self.counts.epochs += 1
        self._epochs.pop(key, None)
        self._epochs[key] = ep
        while len(self._epochs) > self.keep_epochs:
            old_key = next(iter(self._epochs))
            old = self._epochs.pop(old_key)
            self._closed_gaps.extend(Gap(old.number, old.boot_id, s, e - s, r) for s, e, r in old.sample_holes.items())
        self._current = ep
        return ep, True

    def _seq_new(self, ep: _Epoch, seq, gap_samples: int, n: int) -> None:
        c = self.counts
        if seq is None or self.seq_modulus is None:
            if seq is None:
                if gap_samples:
                    c.lost += int(math.ceil(gap_samples / max(1, ep.last_n)))
                return
        if ep.next_seq is None:
            ep.next_seq = int(seq) + 1
            return
        ref = ep.next_seq
        if self.seq_modulus is None:
            s = int(seq)
        else:
            s = _unwrap(int(seq), ref, self.seq_modulus)
            # more than half the seq range missing: let the sample gap decide the wrap count
            expect_missing = gap_samples / max(1, ep.last_n)
            if expect_missing > self.seq_modulus // 4:
                base = ref + ((int(seq) - ref) % self.seq_modulus)
                k = round((ref + expect_missing - base) / self.seq_modulus)
                s = base + max(0, k) * self.seq_modulus
        if s >= ref:
            missing = s - ref
            if missing:
                ep.seq_holes.add(ref, s)
                c.lost += missing
            ep.next_seq = s + 1
        else:  # behind on seq but new by index (device restarted its seq?) — take it
            if ep.seq_holes.take(s, s + 1):
                c.lost -= 1

    def _seq_late(self, ep: _Epoch, seq, n: int) -> None:
        c = self.counts
        if seq is None or ep.next_seq is None:
            if seq is None and c.lost > 0:
                c.lost -= 1
            return
        s = _unwrap(int(seq), ep.next_seq, self.seq_modulus) if self.seq_modulus else int(seq)
        if ep.seq_holes.take(s, s + 1):
            c.lost -= 1


# =====================================================================================
# Decoders
# =====================================================================================
@dataclass(frozen=True)
class ClockPoint:
    """The clock point of one notification whose samples may not be released yet (a kind that
    pairs two streams): the device time to pair with the notification's arrival (hand-off
    time, else its last sample), for the clock mapper. Every notification carries one, so the
    youngest packet of a held-back burst is never without it (imugait/clock.py, "Bursts")."""

    t_dev_s: float
    boot_id: object = None
    usable: bool = True


@dataclass(frozen=True)
class DecodedPacket:
    """A decoded DATA packet: samples plus what the tracker and clock mapper need.

    ``block.first_index`` is the index *as on the wire* (may wrap; the engine replaces it
    by the tracker's unwrapped index). ``t_dev_clock_s`` is the device time the clock mapper
    pairs with the arrival time (hand-off time, else last sample). ``clock_usable`` is False
    for packets that waited in a device FIFO (their arrival says nothing about sampling).
    """

    block: SampleBlock
    seq: int | None
    boot_id: int | None
    overflow_before: bool = False
    clock_usable: bool = True
    t_dev_handoff_s: float | None = None  # device time the packet was handed to the radio, if sent
    clock_point: bool = True  # False: the decoder gave this notification's clock point as a ClockPoint

    @property
    def t_dev_last_s(self) -> float:
        return float(self.block.t_dev_s[-1])

    @property
    def t_dev_clock_s(self) -> float:
        """Device time to pair with the arrival time in the clock fit: the hand-off time
        when the device reports it (``tx_delay_us``), else the last sample's time."""
        return self.t_dev_handoff_s if self.t_dev_handoff_s is not None else self.t_dev_last_s

    @property
    def n(self) -> int:
        return len(self.block)


class KindDecoder(abc.ABC):
    """Turns one sensor kind's notifications into :class:`DecodedPacket` s and
    :class:`StatusEvent` s. One instance per side; may keep state (e.g. delta frames).

    ``seq_modulus`` / ``index_modulus`` tell the tracker how the wire counters wrap
    (``None``: never / not present).
    """

    kind: str = ""
    seq_modulus: int | None = None
    index_modulus: int | None = None

    def __init__(self, side: Side):
        self.side = side
        self.info: SensorInfo | None = None

    def set_info(self, info: SensorInfo) -> None:
        """Called for every InfoEvent of this side (after every (re)connect)."""
        self.info = info

    def reset(self) -> None:  # noqa: B027 - optional hook
        """Called on reconnect: drop any inter-packet state."""

    @abc.abstractmethod
    def decode(self, event: PacketEvent) -> list:
        """Return a list of :class:`DecodedPacket` and/or :class:`StatusEvent`; raise a
        :class:`~imugait.protocol.errors.PacketError` for malformed bytes."""



def with_index(block: SampleBlock, first_index: int, **extra) -> SampleBlock:
    """``block`` with its first_index replaced by the unwrapped one (and extra merged)."""
    ex = dict(block.extra)
    ex.update(extra)
    return replace(block, first_index=int(first_index), extra=ex)


__all__ = [
    "Gap",
    "TrackResult",
    "TrackerCounts",
    "PacketTracker",
    "ClockPoint",
    "DecodedPacket",
    "KindDecoder",
    "NoInfoYet",
    "with_index",
]
