"""Virtual sensor firmware: simulator output -> imugait protocol packets.

A :class:`VirtualSensor` behaves like a thigh sensor running firmware that follows
``firmware_protocol/README.md``: it samples (from a simulator side), batches samples into
DATA notifications sized by the negotiated MTU, keeps a FIFO of at least 2 s while the
link is down and sends the backlog after reconnect, counts FIFO-overflow drops, answers
INFO / STATUS reads and CONTROL writes (start, stop, rate, range, time sync, identify,
side), and can inject faults: packet loss, duplicates, reordering, disconnect windows and
reboots.

It is transport-free and clocked by the caller. Time ``t_s`` everywhere is *world time*:
the simulator's true session time (``SimSide.t_true_s``). A transport (the in-process
:class:`~imugait.sim.source.SimulatedSource`, or the emulated BlueZ) calls

* :meth:`VirtualSensor.poll_timed` / :meth:`poll` — notifications due by ``t_s``;
* :meth:`read_info`, :meth:`read_status`, :meth:`write_control`;
* :meth:`set_connected` when its own link comes and goes; :meth:`link_up` tells whether
  the fault schedule has the radio link up at ``t_s`` (a transport disconnects then).

Ground truth for tests lives in :attr:`VirtualSensor.truth` and :attr:`VirtualSensor.sent_log`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from imugait.conventions import GRAVITY_MPS2, Side
from imugait.protocol import constants as C
from imugait.protocol import imu
from imugait.protocol.errors import BadValue, CountMismatch, PacketError, TooShort, UnknownType
from imugait.types import SensorInfo


@dataclass(frozen=True)
class FirmwareFaults:
    """Faults a virtual sensor injects (times are world seconds).

    * ``loss_prob``       a sent packet never arrives (radio gave up).
    * ``duplicate_prob``  a sent packet arrives twice.
    * ``reorder_prob``    a packet is held back and sent after the next one.
    * ``disconnects``     ``((t_down_s, t_up_s), ...)`` radio link down; samples keep filling
                          the FIFO (capacity ``fifo_s``), overflow drops the oldest packets.
    * ``reboots``         ``(t_s, ...)``: the device restarts (new boot id, index and time
                          restart, FIFO lost, streaming stops until START); the link is down for
                          ``boot_s``.
    * ``loss_windows``    ``((t0_s, t1_s), ...)``: every packet transmitted at ``t0_s < t <= t1_s``
                          is lost (deterministic loss, e.g. the packet in flight when the link drops).
    * ``resend_on_reconnect`` resend the last packet sent before a link loss (the device cannot
                          know whether it got through) — the host must drop it as a duplicate, or,
                          if the original was lost, must not use it as a clock point.
    * ``resend_backlog_flag`` the resent copy carries the BACKLOG flag (spec §6, default). ``False``
                          emulates firmware that resends the packet unchanged.
    """

    loss_prob: float = 0.0
    duplicate_prob: float = 0.0
    reorder_prob: float = 0.0
    disconnects: tuple = ()
    reboots: tuple = ()
    boot_s: float = 1.0
    loss_windows: tuple = ()
    resend_on_reconnect: bool = True
    resend_backlog_flag: bool = True
    seed: int = 0

    def __post_init__(self):
        for name in ("loss_prob", "duplicate_prob", "reorder_prob"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise ValueError(f"{name} must be within [0, 1), got {v}")
        wins = tuple(sorted((float(a), float(b)) for a, b in self.disconnects))
        for a, b in wins:
            if not b > a:
                raise ValueError(f"disconnect window ({a}, {b}): end must be after start")
        object.__setattr__(self, "disconnects", wins)
        object.__setattr__(self, "reboots", tuple(sorted(float(x) for x in self.reboots)))
        lw = tuple(sorted((float(a), float(b)) for a, b in self.loss_windows))
        for a, b in lw:
            if not b > a:
                raise ValueError(f"loss window ({a}, {b}): end must be after start")
        object.__setattr__(self, "loss_windows", lw)

    def down_windows(self) -> list[tuple[float, float]]:
        """All intervals with the link down (disconnects and boot times), merged."""
        w = list(self.disconnects) + [(t, t + self.boot_s) for t in self.reboots]
        w.sort()
        out: list[list[float]] = []
        for a, b in w:
            if out and a <= out[-1][1]:
                out[-1][1] = max(out[-1][1], b)
            else:
                out.append([a, b])
        return [(a, b) for a, b in out]


@dataclass
class SyntheticSide:
    """A minimal stand-in for :class:`imugait.sim.gait.SimSide` (tests, benchmarks)."""

    side: str
    info: object  # SensorInfo
    t_true_s: np.ndarray
    t_dev_s: np.ndarray
    sample_index: np.ndarray
    acc_counts: np.ndarray
    gyr_counts: np.ndarray


def synthetic_side(
    side: Side = "left",
    *,
    fs_hz: float = 200.0,
    duration_s: float = 10.0,
    drift_ppm: float = 30.0,
    offset_s: float = 100.0,
    t_first_s: float = 0.0,
    seed: int = 0,
) -> SyntheticSide:
    """Deterministic ramp/sine samples with a drifting device clock:
    ``t_dev = offset + (t_true - t_first)(1 + drift·1e-6)``."""
    n = int(round(duration_s * fs_hz))
    k = np.arange(n, dtype=np.int64)
    t_true = t_first_s + k / fs_hz
    t_dev = offset_s + (t_true - t_first_s) * (1.0 + drift_ppm * 1e-6)
    rng = np.random.default_rng(seed)
    acc = np.stack([(k % 30000) - 15000, 2048 + rng.integers(-50, 50, n), (1000 * np.sin(k / 20)).astype(int)], 1)
    gyr = np.stack([(k * 7) % 65536 - 32768, (3000 * np.sin(k / 15)).astype(int), rng.integers(-100, 100, n)], 1)
    info = SensorInfo(
        side=side, kind="simulated", sample_rate_hz=fs_hz, acc_scale_mps2=16 * GRAVITY_MPS2 / 32768,
        gyr_scale_dps=2000 / 32768, acc_range_g=16, gyr_range_dps=2000, firmware="synthetic",
        device_id=f"SYN-{side[0].upper()}", name=f"synthetic-{side}",
    )
    return SyntheticSide(side, info, t_true, t_dev, k, acc.astype(np.int16), gyr.astype(np.int16))


@dataclass
class _Pkt:
    seq: int
    first_index: int
    t_dev_us: int
    acc: np.ndarray
    gyr: np.ndarray
    flags: int
    boot_id: int
    t_formed_s: float
    backlog: bool = False
    resent: bool = False  # a copy of a packet already transmitted once (resend on reconnect)
    t_avail_s: float = -math.inf  # not sendable before (link return)
    tx_delay_us: int | None = None

    @property
    def n(self) -> int:
        return int(self.acc.shape[0])

    def encode(self) -> bytes:
        flags = self.flags | (C.DATA_FLAG_BACKLOG if self.backlog else 0)
        return imu.encode_data(self.seq, self.first_index, self.t_dev_us, self.acc, self.gyr, boot_id=self.boot_id, flags=flags,
                               tx_delay_us=self.tx_delay_us)


@dataclass
class FirmwareTruth:
    """What the device really did (for tests to compare the host's accounting with)."""

    packets_formed: int = 0
    samples_formed: int = 0
    packets_sent: int = 0  # transmissions, duplicates included
    packets_lost_air: int = 0  # loss_prob
    duplicates_sent: int = 0  # duplicate_prob
    resent_on_reconnect: int = 0
    reordered: int = 0
    packets_dropped_overflow: int = 0
    samples_dropped_overflow: int = 0
    packets_lost_reboot: int = 0
    reboots: int = 0
    boot_ids: list = field(default_factory=list)


class VirtualSensor:
    """Protocol-level virtual sensor fed by a simulator side (see module docstring).

    Parameters
    ----------
    source     object with ``t_true_s, t_dev_s, acc_counts, gyr_counts, info`` (a ``SimSide``).
    side       side stored in the device (default: ``source.info.side``).
    mtu        negotiated ATT MTU (batch size = :func:`constants.samples_per_packet`).
    fifo_s     device FIFO capacity in seconds at the current rate (≥ 2 s by the spec).
    faults     :class:`FirmwareFaults` or ``None``.
    streaming  start streaming at ``t_start_s`` without a START command (default False).
    status_interval_s  STATUS notifications while connected (and on every flag change).
    tx_dither  hand packets over at a random moment within one packet interval after their last
               sample and report it in the ``tx_delay_us`` header extension (spec §6; default on).
    """

    def __init__(
        self,
        source,
        *,
        side: str | None = None,
        mtu: int = 247,
        fifo_s: float = 2.5,
        faults: FirmwareFaults | None = None,
        seed: int = 0,
        firmware: str = "imugait-vfw 1.0",
        serial: str | None = None,
        mounting: str | None = None,
        battery_pct: float = 96.0,
        battery_drain_pct_per_h: float = 6.0,
        streaming: bool = False,
        t_start_s: float | None = None,
        status_interval_s: float = 1.0,
        tx_dither: bool = True,
    ):
        if fifo_s < C.MIN_FIFO_S:
            raise ValueError(f"fifo_s {fifo_s} below the protocol minimum of {C.MIN_FIFO_S} s")
        info = source.info
        self._t_true = np.asarray(source.t_true_s, dtype=np.float64)
        self._t_dev = np.asarray(source.t_dev_s, dtype=np.float64)
        self._acc_src = np.asarray(source.acc_counts, dtype=np.int16)
        self._gyr_src = np.asarray(source.gyr_counts, dtype=np.int16)
        if not (len(self._t_true) == len(self._t_dev) == len(self._acc_src) == len(self._gyr_src)) or len(self._t_true) < 2:
            raise ValueError("source arrays must have the same length (>= 2 samples)")
        self._n_src = len(self._t_true)
        self._src_rate_hz = float(info.sample_rate_hz)
        self._src_acc_scale = float(info.acc_scale_mps2)
        self._src_gyr_scale = float(info.gyr_scale_dps)
        self.side = side or info.side
        self.mtu = int(mtu)
        self.fifo_s = float(fifo_s)
        self.faults = faults or FirmwareFaults()
        self.firmware = firmware
        self.serial = serial if serial is not None else (info.device_id or f"VS-{self.side[0].upper()}")[:16]
        self.mounting = (mounting if mounting is not None else info.mounting)[:32]
        self._battery0 = float(battery_pct)
        self._drain = float(battery_drain_pct_per_h)
        self._status_interval_s = float(status_interval_s)
        self.tx_dither = bool(tx_dither)
        self._rng = np.random.default_rng([seed, self.faults.seed, 0 if self.side == "left" else 1])
        # device settings
        self._decim = 1
        self.acc_range_g = int(round(info.acc_range_g))
        self.gyr_range_dps = int(round(info.gyr_range_dps))
        self._acc_scale = self._src_acc_scale
        self._gyr_scale = self._src_gyr_scale
        # dev-time base (device time must be >= 0 and restarts at reboot)
        self._dev_base_s = min(0.0, float(self._t_dev[0]) - 1.0)
        self.truth = FirmwareTruth()
        self.sent_log: list[tuple[float, int, int, int, int]] = []  # (t_send_s, boot_id, seq, first_index, n)
        self._new_boot()
        self._pos = 0
        self._t = -math.inf if t_start_s is None else float(t_start_s)
        self._connected = True  # transport-level (set_connected)
        self._fault_up = True
        self._down = self.faults.down_windows()
        self._events = sorted(
            [(a, "down") for a, _ in self._down] + [(b, "up") for _, b in self._down] + [(t, "reboot") for t in self.faults.reboots],
            key=lambda e: (e[0], {"reboot": 0, "down": 1, "up": 2}[e[1]]),
        )
        self._ev_i = 0
        self._outbox: list[tuple[float, str, bytes]] = []
        self._held: _Pkt | None = None
        self._last_sent: _Pkt | None = None
        self._next_status_s = -math.inf
        self._last_status_flags = -1
        self.identify_until_s = -math.inf
        if streaming:
            self._start(self._t_true[0] if t_start_s is None else float(t_start_s))

    # ------------------------------------------------------------------ properties
    @property
    def sample_rate_hz(self) -> float:
        return self._src_rate_hz / self._decim

    @property
    def samples_per_packet(self) -> int:
        hdr = C.DATA_HEADER_EXT_SIZE if self.tx_dither else C.DATA_HEADER_SIZE
        return C.samples_per_packet(self.mtu, self.sample_rate_hz, hdr)

    @property
    def fifo_capacity_samples(self) -> int:
        return min(0xFFFF, int(math.ceil(self.fifo_s * self.sample_rate_hz)))

    @property
    def boot_id(self) -> int:
        return self._boot_id

    @property
    def streaming(self) -> bool:
        return self._streaming

    @property
    def fifo_fill_samples(self) -> int:
        return int(sum(p.n for p in self._fifo))

    @property
    def t_end_s(self) -> float:
        """World time of the last simulated sample."""
        return float(self._t_true[-1])

    @property
    def finished(self) -> bool:
        """All source samples consumed and nothing left to send."""
        return self._pos >= self._n_src and not self._fifo and not self._outbox and self._held is None

    def link_up(self, t_s: float) -> bool:
        """Is the radio link up at ``t_s`` according to the fault schedule?"""
        return not any(a <= t_s < b for a, b in self._down)

    def down_windows(self) -> list[tuple[float, float]]:
        return list(self._down)

    def device_time_s(self, t_s: float) -> float:
        """Device clock reading at world time ``t_s`` (seconds since boot)."""
        return self._dev_clock(t_s) - self._dev_base_s

    def _dev_clock(self, t_s: float) -> float:
        tt, td = self._t_true, self._t_dev
        if t_s <= tt[0]:
            return float(td[0] + (t_s - tt[0]) * (td[1] - td[0]) / (tt[1] - tt[0]))
        if t_s >= tt[-1]:
            return float(td[-1] + (t_s - tt[-1]) * (td[-1] - td[-2]) / (tt[-1] - tt[-2]))
        return float(np.interp(t_s, tt, td))

    def battery_pct(self, t_s: float) -> float:
        return max(0.0, min(100.0, self._battery0 - self._drain * max(0.0, t_s - self._t_true[0]) / 3600.0))

    # ------------------------------------------------------------------ boot / link
    def _new_boot(self) -> None:
        bid = int(self._rng.integers(1, 1 << 16))
        while self.truth.boot_ids and bid == self.truth.boot_ids[-1]:
            bid = int(self._rng.integers(1, 1 << 16))
        self._boot_id = bid
        self.truth.boot_ids.append(bid)
        self._seq = 0
        self._next_index = 0
        self._streaming = False
        self._fifo: deque[_Pkt] = deque()
        self._dropped_samples = 0
        self._overflow_sticky = False
        self._first_pending = True
        self._last_sent = None

    def _reboot(self, t_s: float) -> None:
        self.truth.reboots += 1
        self.truth.packets_lost_reboot += len(self._fifo) + (1 if self._held is not None else 0)
        self._held = None
        self._dev_base_s = self._dev_clock(t_s)
        self._new_boot()

    def reboot(self, t_s: float) -> None:
        """Reboot now (a transport's own fault injection): new boot id, index and device
        time restart, FIFO lost, streaming stops until START. The transport handles the link."""
        self._advance(t_s)
        self._reboot(t_s)

    def set_connected(self, connected: bool, t_s: float) -> None:
        """Transport-level connection state (a BLE emulator calls this on connect/disconnect)."""
        self._advance(t_s)
        was = self._is_up()
        self._connected = bool(connected)
        if not was and self._is_up():
            self._on_link_return(t_s)

    def _is_up(self) -> bool:
        return self._connected and self._fault_up

    def _on_link_return(self, t_s: float) -> None:
        if self.faults.resend_on_reconnect and self._last_sent is not None and self._last_sent.boot_id == self._boot_id:
            p = self._last_sent
            p.resent = True
            if self.faults.resend_backlog_flag:
                p.backlog = True  # it waited in the device: its arrival says nothing about its time
            self._fifo.appendleft(p)
            self.truth.resent_on_reconnect += 1
            self._last_sent = None
        for p in self._fifo:
            p.t_avail_s = t_s

    # ------------------------------------------------------------------ sampling
    def _start(self, t_s: float) -> None:
        self._streaming = True
        self._first_pending = True
        self._overflow_sticky = False
        # first sample taken is the first one at or after t_s
        self._pos = max(self._pos, int(np.searchsorted(self._t_true, t_s, side="left")))

    def _counts(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        acc = self._acc_src[idx]
        gyr = self._gyr_src[idx]
        if self._acc_scale != self._src_acc_scale:
            acc = np.clip(np.round(acc * (self._src_acc_scale / self._acc_scale)), -32768, 32767).astype(np.int16)
        if self._gyr_scale != self._src_gyr_scale:
            gyr = np.clip(np.round(gyr * (self._src_gyr_scale / self._gyr_scale)), -32768, 32767).astype(np.int16)
        sat = bool(np.any(acc == 32767) or np.any(acc == -32768) or np.any(gyr == 32767) or np.any(gyr == -32768))
        return acc, gyr, sat

    def _form_until(self, t_s: float) -> None:
        """Take samples with true time <= t_s; queue complete packets in the FIFO."""
        if not self._streaming:
            self._pos = max(self._pos, int(np.searchsorted(self._t_true, t_s, side="left")))
            return
        n = self.samples_per_packet
        d = self._decim
        cap = self.fifo_capacity_samples
        while True:
            last = self._pos + (n - 1) * d
            if last >= self._n_src or self._t_true[last] > t_s:
                break
            idx = np.arange(self._pos, last + 1, d)
            acc, gyr, sat = self._counts(idx)
            flags = (C.DATA_FLAG_FIRST if self._first_pending else 0) | (C.DATA_FLAG_SATURATED if sat else 0)
            t_us = int(round((self._t_dev[self._pos] - self._dev_base_s) * 1e6))
            t_hand = float(self._t_true[last])
            tx_us = None
            if self.tx_dither:  # hand-off at a random moment within one packet interval (spec §6)
                t_hand += float(self._rng.uniform(0.0, n / self.sample_rate_hz))
                t_last_dev = self._t_dev[self._pos] + (n - 1) / self.sample_rate_hz  # as the host computes it
                tx = max(0, int(round((self._dev_clock(t_hand) - t_last_dev) * 1e6)))
                tx_us = tx if tx < C.TX_DELAY_UNKNOWN else None
            p = _Pkt(self._seq, self._next_index, max(0, t_us), acc, gyr, flags, self._boot_id, t_hand,
                     backlog=not self._is_up(), tx_delay_us=tx_us)
            self._first_pending = False
            self._seq = (self._seq + 1) % C.SEQ_MODULUS
            self._next_index += n
            self._pos = last + d
            self.truth.packets_formed += 1
            self.truth.samples_formed += n
            self._fifo.append(p)
            fill = sum(q.n for q in self._fifo)
            dropped_any = False
            while fill > cap and len(self._fifo) > 1:
                old = self._fifo.popleft()
                fill -= old.n
                if old.resent:  # only a copy (the host has the original, or the link lost it): no device loss
                    continue
                self._dropped_samples += old.n
                self.truth.packets_dropped_overflow += 1
                self.truth.samples_dropped_overflow += old.n
                dropped_any = True
            if dropped_any:
                self._overflow_sticky = True
                self._fifo[0].flags |= C.DATA_FLAG_OVERFLOW_BEFORE
        if self._pos >= self._n_src:
            self._streaming = self._streaming  # data ended: nothing more to take

    def _send_all(self, t_s: float) -> None:
        """Link up: transmit every queued packet handed over by ``t_s`` (faults applied at
        transmission). Packets whose hand-off lies after ``t_s`` wait in the FIFO."""

        def due(q: _Pkt) -> bool:
            return max(q.t_formed_s, q.t_avail_s) <= t_s

        while self._fifo and due(self._fifo[0]):
            p = self._fifo.popleft()
            if (self._held is None and self.faults.reorder_prob > 0 and self._fifo and due(self._fifo[0])
                    and self._rng.random() < self.faults.reorder_prob):
                self._held = p  # goes out after the next packet
                self.truth.reordered += 1
                continue
            t_send = max(p.t_formed_s, p.t_avail_s)
            self._transmit(p, t_send)
            if self._held is not None:
                h, self._held = self._held, None
                self._transmit(h, t_send)

    def _transmit(self, p: _Pkt, t_send: float) -> None:
        self._last_sent = p
        if self.faults.loss_prob > 0 and self._rng.random() < self.faults.loss_prob:
            self.truth.packets_lost_air += 1
            return
        if any(a < t_send <= b for a, b in self.faults.loss_windows):
            self.truth.packets_lost_air += 1
            return
        data = p.encode()
        copies = 1
        if self.faults.duplicate_prob > 0 and self._rng.random() < self.faults.duplicate_prob:
            copies = 2
            self.truth.duplicates_sent += 1
        for _ in range(copies):
            self._outbox.append((t_send, "data", data))
            self.sent_log.append((t_send, p.boot_id, p.seq, p.first_index, p.n))
            self.truth.packets_sent += 1

    def _status_tick(self, t_s: float) -> None:
        if not self._is_up():
            return
        flags = self._status_flags()
        if t_s >= self._next_status_s or flags != self._last_status_flags:
            self._outbox.append((t_s, "status", self.read_status(t_s, _advance=False)))
            self._next_status_s = t_s + self._status_interval_s
            self._last_status_flags = flags

    def _step(self, t_s: float) -> None:
        self._form_until(t_s)
        if self._is_up():
            self._send_all(t_s)

    def _advance(self, t_s: float) -> None:
        if t_s < self._t:
            return
        while self._ev_i < len(self._events) and self._events[self._ev_i][0] <= t_s:
            te, what = self._events[self._ev_i]
            self._ev_i += 1
            self._step(te)
            if what == "down":
                self._fault_up = False
            elif what == "up":
                was = self._is_up()
                self._fault_up = not any(a <= te < b for a, b in self._down)
                if not was and self._is_up():
                    self._on_link_return(te)
                    self._step(te)
            elif what == "reboot":
                self._reboot(te)
            self._t = te
        self._step(t_s)
        self._status_tick(t_s)
        self._t = t_s

    # ------------------------------------------------------------------ transport API
    def poll_timed(self, t_s: float) -> list[tuple[float, str, bytes]]:
        """Notifications due by world time ``t_s`` as ``(t_send_s, channel, bytes)``;
        channel is ``"data"`` or ``"status"``. Sorted by send time."""
        self._advance(t_s)
        out = [x for x in self._outbox if x[0] <= t_s]
        self._outbox = [x for x in self._outbox if x[0] > t_s]
        out.sort(key=lambda x: x[0])
        return out

    def poll(self, t_s: float) -> list[bytes]:
        """DATA notifications due by ``t_s`` (STATUS notifications are dropped; use
        :meth:`poll_timed` to get them)."""
        return [b for (_t, ch, b) in self.poll_timed(t_s) if ch == "data"]

    def read_info(self, t_s: float | None = None) -> bytes:
        if t_s is not None:
            self._advance(t_s)
        return imu.encode_info(
            side=self.side if self.side in C.SIDE_CODES else "unknown",
            sample_rate_hz=self.sample_rate_hz,
            acc_scale_mps2=self._acc_scale,
            gyr_scale_dps=self._gyr_scale,
            acc_range_g=self.acc_range_g,
            gyr_range_dps=self.gyr_range_dps,
            fifo_capacity_samples=self.fifo_capacity_samples,
            samples_per_packet=max(1, self.samples_per_packet),
            boot_id=self._boot_id,
            firmware=self.firmware,
            serial=self.serial,
            mounting=self.mounting,
        )

    def _status_flags(self) -> int:
        f = 0
        if self._streaming:
            f |= C.STATUS_FLAG_STREAMING
        if self._overflow_sticky:
            f |= C.STATUS_FLAG_FIFO_OVERFLOW
        if len(self._fifo) > 1:
            f |= C.STATUS_FLAG_LINK_BACKLOG
        return f

    def read_status(self, t_s: float, _advance: bool = True) -> bytes:
        if _advance:
            self._advance(t_s)
        batt = self.battery_pct(t_s)
        flags = self._status_flags() | (C.STATUS_FLAG_LOW_BATTERY if batt < 15 else 0)
        return imu.encode_status(
            flags=flags,
            battery_pct=batt,
            boot_id=self._boot_id,
            fifo_fill_samples=self.fifo_fill_samples,
            dropped_samples=self._dropped_samples,
            t_dev_us=max(0, int(round(self.device_time_s(t_s) * 1e6))),
        )

    def write_control(self, data: bytes, t_s: float) -> bytes:
        """Handle a CONTROL write at world time ``t_s``; return the response notification."""
        self._advance(t_s)
        b = bytes(data)
        op = b[0] if len(b) >= 1 else 0
        token = b[1] if len(b) >= 2 else 0
        try:
            req = imu.decode_control_request(b)
        except UnknownType:
            return imu.encode_control_response(op, token, C.ST_UNKNOWN_OPCODE)
        except (TooShort, CountMismatch):
            return imu.encode_control_response(op, token, C.ST_BAD_LENGTH)
        except BadValue:
            return imu.encode_control_response(op, token, C.ST_BAD_VALUE)
        except PacketError:  # pragma: no cover - every subclass handled above
            return imu.encode_control_response(op, token, C.ST_INTERNAL)
        name, f = req.name, req.fields
        R = imu.encode_control_response
        if name == "start":
            if self.samples_per_packet == 0:
                return R(op, token, C.ST_MTU_TOO_SMALL)
            if not self._streaming:
                self._start(t_s)
            return R(op, token, boot_id=self._boot_id, next_index=self._next_index)
        if name == "stop":
            if self._streaming:
                self._step(t_s)
                self._streaming = False
                self._fifo.clear()
            return R(op, token)
        if name == "set_rate":
            if self._streaming:
                return R(op, token, C.ST_INVALID_STATE)
            if not f["rate_hz"] > 0:
                return R(op, token, C.ST_BAD_VALUE)
            self._decim = max(1, int(round(self._src_rate_hz / f["rate_hz"])))
            return R(op, token, rate_hz=self.sample_rate_hz)
        if name == "set_range":
            if self._streaming:
                return R(op, token, C.ST_INVALID_STATE)
            a = min(C.ACC_RANGES_G, key=lambda r: abs(r - f["acc_range_g"]))
            g = min(C.GYR_RANGES_DPS, key=lambda r: abs(r - f["gyr_range_dps"]))
            self.acc_range_g, self.gyr_range_dps = int(a), int(g)
            self._acc_scale = float(np.float32(a * GRAVITY_MPS2 / 32768))
            self._gyr_scale = float(np.float32(g / 32768))
            return R(op, token, acc_range_g=a, gyr_range_dps=g)
        if name == "time_sync":
            return R(op, token, nonce=f["nonce"], t_dev_us=max(0, int(round(self.device_time_s(t_s) * 1e6))))
        if name == "identify":
            self.identify_until_s = t_s + f["seconds"]
            return R(op, token)
        if name == "set_side":
            self.side = f["side"]
            return R(op, token, side=self.side)
        return R(op, token, C.ST_UNKNOWN_OPCODE)  # pragma: no cover


__all__ = ["FirmwareFaults", "FirmwareTruth", "SyntheticSide", "VirtualSensor", "synthetic_side"]
