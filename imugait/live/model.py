"""What the dashboard shows, held in preallocated ring buffers — no Qt here.

The acquisition worker thread writes (``push_raw``, ``push_angle``, ``push_events``,
``push_strides``, ``set_*``); the GUI thread reads a :class:`Snapshot` (copies) from its
redraw timer. One short lock guards both; nobody holds it while doing I/O or drawing, so a
stalled GUI never holds up the worker, and memory does not grow with session length
(every buffer has a fixed capacity).

Latency bookkeeping for the benchmark: every raw block's host arrival time is queued;
:meth:`LiveModel.snapshot` hands the queue to the GUI, which stamps them when the frame
showing them has been painted. Likewise every new stride with the host time of its
closing contact.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from imugait.analysis.results import StrideResult
from imugait.conventions import SIDES, Side
from imugait.types import SensorInfo

RAW_COLUMNS = ("t_s", "acc_x_mps2", "acc_y_mps2", "acc_z_mps2", "gyr_x_dps", "gyr_y_dps", "gyr_z_dps")
EVENT_IC = 0.0
EVENT_TO = 1.0


class Ring:
    """Fixed-capacity ring of float64 rows, preallocated once; oldest rows are overwritten."""

    def __init__(self, capacity: int, width: int):
        if capacity < 1 or width < 1:
            raise ValueError("capacity and width must be >= 1")
        self._buf = np.full((int(capacity), int(width)), np.nan)
        self._cap = int(capacity)
        self._total = 0  # rows ever written

    @property
    def capacity(self) -> int:
        return self._cap

    @property
    def total(self) -> int:
        """Rows ever appended (including overwritten ones)."""
        return self._total

    def __len__(self) -> int:
        return min(self._total, self._cap)

    def append(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim == 1:
            rows = rows.reshape(1, -1)
        k = rows.shape[0]
        if k == 0:
            return
        if k > self._cap:
            self._total += k - self._cap
            rows = rows[-self._cap :]
            k = self._cap
        start = self._total % self._cap
        end = start + k
        if end <= self._cap:
            self._buf[start:end] = rows
        else:
            first = self._cap - start
            self._buf[start:] = rows[:first]
            self._buf[: k - first] = rows[first:]
        self._total += k

    def latest(self, n: int | None = None) -> np.ndarray:
        """A copy of the newest ``n`` rows (all stored rows if None), oldest first."""
        m = len(self) if n is None else max(0, min(int(n), len(self)))
        end = self._total % self._cap
        if m == 0:
            return self._buf[:0].copy()
        start = end - m
        if start >= 0:
            return self._buf[start:end].copy()
        return np.concatenate([self._buf[start:], self._buf[:end]])

    def since(self, t_min: float, col: int = 0, ordered: bool = True) -> np.ndarray:
        """Copy of stored rows with ``row[col] >= t_min``. ``ordered``: rows are sorted by
        that column (binary search, and only the matching rows are copied); otherwise every
        row is tested."""
        if not ordered:
            rows = self.latest()
            return rows[rows[:, col] >= t_min]
        n = len(self)
        end = self._total % self._cap
        if n == 0:
            return self._buf[:0].copy()
        start = (end - n) % self._cap
        # the stored rows, oldest first, as one or two views of the buffer (no copy)
        if start + n <= self._cap:
            segs = [self._buf[start:start + n]]
        else:
            segs = [self._buf[start:], self._buf[:end]]
        parts = []
        for seg in segs:
            i = int(np.searchsorted(seg[:, col], t_min, side="left"))
            if i < seg.shape[0]:
                parts.append(seg[i:])
        if not parts:
            return self._buf[:0].copy()
        return parts[0].copy() if len(parts) == 1 else np.concatenate(parts)

    def clear(self) -> None:
        self._buf[:] = np.nan
        self._total = 0


HEALTH_FIELDS = ("state", "battery_pct", "loss_pct", "effective_rate_hz", "clock_offset_ms", "clock_drift_ppm",
                 "clock_established", "samples_received", "samples_lost")
CALIBRATION_FIELDS = ("still_found", "calibrated", "angle_calibrated", "axis_confidence", "progress", "message",
                      "failed")


def _as_dict(obj: Any, names: Iterable[str]) -> dict:
    """Plain dict of the named attributes (or keys) of ``obj``; missing ones are None."""
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return {k: obj.get(k) for k in names}
    return {k: getattr(obj, k, None) for k in names}


@dataclass(frozen=True)
class SideSnapshot:
    side: Side
    present: bool                 # a sensor for this side is part of the source
    info: SensorInfo | None
    link_state: str               # "waiting" | "connecting" | "connected" | "reconnecting" | "stopped"
    link_reason: str
    health: dict                  # HEALTH_FIELDS (values None when unknown)
    calibration: dict             # CALIBRATION_FIELDS (values None when unknown)
    raw: np.ndarray               # (n, 7) RAW_COLUMNS within the window
    angle: np.ndarray             # (n, 2) t_s, thigh_angle_deg within the window
    events: np.ndarray            # (n, 2) t_s, kind (EVENT_IC / EVENT_TO) within the window
    arrivals: np.ndarray          # (n, 2) t_s of a block's last sample, host arrival time of the block
    strides: tuple[StrideResult, ...]  # newest last, at most ``LiveModel.stride_history``
    n_samples: int
    n_strides: int
    last_t_s: float


@dataclass(frozen=True)
class Snapshot:
    t_now_s: float                # newest session time seen on any side (nan before data)
    window_s: float
    sides: dict[Side, SideSnapshot]
    markers: tuple[tuple[float, str], ...]
    recording: dict               # {"active": bool, "path": str|None, "n_blocks": int, "started_t_s": float, ...}
    source: str
    error: str
    finished: bool
    version: int
    new_arrivals_host_s: np.ndarray          # host arrival times of raw blocks new since last snapshot
    new_strides: tuple[tuple[StrideResult, float, float], ...]
    """(stride, host time of its closing contact, host time the pipeline emitted it), new since last."""
    flexor: dict = field(default_factory=dict)
    """Hip-flexor test mode (empty when off): ``active``, ``state`` (FlexorLiveState), ``step``
    (index, count, Step, seconds left), ``result`` (flexor_test.json dict once the test ended)."""


@dataclass
class _SideState:
    side: Side
    raw: Ring  # (t_s, acc xyz, gyr xyz) rows
    angle: Ring
    events: Ring
    arrivals: Ring
    present: bool = False
    info: SensorInfo | None = None
    link_state: str = "waiting"
    link_reason: str = ""
    health: dict = field(default_factory=dict)
    calibration: dict = field(default_factory=dict)
    strides: deque = field(default_factory=deque)
    n_samples: int = 0
    n_strides: int = 0
    last_t_s: float = float("nan")


class LiveModel:
    """Thread-safe store of everything the dashboard draws (bounded memory).

    ``raw_capacity`` rows per side hold the newest raw samples (default 16384 ≈ 41 s at
    400 Hz, ≥ the 10 s window at up to 1.6 kHz); ``stride_history`` strides per side are
    kept for bars and running medians.
    """

    def __init__(self, window_s: float = 10.0, raw_capacity: int = 16384, event_capacity: int = 512,
                 stride_history: int = 64, marker_history: int = 256):
        self.window_s = float(window_s)
        self.stride_history = int(stride_history)
        self._lock = threading.Lock()
        self._sides: dict[Side, _SideState] = {}
        for s in SIDES:
            self._sides[s] = _SideState(
                side=s,
                raw=Ring(raw_capacity, len(RAW_COLUMNS)),
                angle=Ring(raw_capacity, 2),
                events=Ring(event_capacity, 2),
                arrivals=Ring(4096, 2),
                strides=deque(maxlen=self.stride_history),
            )
        self._markers: deque = deque(maxlen=marker_history)
        self._recording: dict = {"active": False, "path": None, "n_blocks": 0, "started_t_s": float("nan"),
                                 "subject": "", "condition": "", "last_path": None, "error": ""}
        self._flexor: dict = {}
        self._source = ""
        self._error = ""
        self._finished = False
        self._version = 0
        self._pending_arrivals: deque = deque(maxlen=8192)
        self._pending_strides: deque = deque(maxlen=1024)
        # host time = session time + offset; lower envelope of (arrival - sample time)
        self._host_minus_session_s = float("inf")
        self.session_t0_host_s: float | None = None  # set by the backend when the source knows it
        self.on_strides = None
        """Optional callable(), called (in the writer's thread, outside the lock) after new
        strides arrived — the window uses it to draw them at once instead of on its next
        timer frame. It must be thread-safe and must not block."""

    # ---- writers (worker thread) ------------------------------------------------------
    def set_source(self, text: str, sides: Iterable[Side]) -> None:
        with self._lock:
            self._source = text
            for s in sides:
                self._sides[s].present = True
            self._version += 1

    def set_info(self, side: Side, info: SensorInfo) -> None:
        with self._lock:
            st = self._sides[side]
            st.info = info
            st.present = True
            self._version += 1

    def set_link(self, side: Side, state: str, reason: str = "") -> None:
        with self._lock:
            st = self._sides[side]
            st.link_state = state
            st.link_reason = reason
            st.present = True
            self._version += 1

    def set_health(self, side: Side, health: Any) -> None:
        d = _as_dict(health, HEALTH_FIELDS)
        with self._lock:
            self._sides[side].health = d
            self._version += 1

    def set_calibration(self, side: Side, calibration: Any) -> None:
        d = _as_dict(calibration, CALIBRATION_FIELDS)
        with self._lock:
            self._sides[side].calibration = d
            self._version += 1

    def push_raw(self, side: Side, t_s: np.ndarray, acc_mps2: np.ndarray, gyr_dps: np.ndarray,
                 t_arrival_host_s: float = float("nan")) -> None:
        t_s = np.asarray(t_s, dtype=np.float64)
        n = t_s.shape[0]
        if n == 0:
            return
        rows = np.empty((n, 7))
        rows[:, 0] = t_s
        rows[:, 1:4] = acc_mps2
        rows[:, 4:7] = gyr_dps
        with self._lock:
            st = self._sides[side]
            st.raw.append(rows)
            st.n_samples += n
            st.last_t_s = float(t_s[-1])
            if math.isfinite(t_arrival_host_s):
                st.arrivals.append(np.array([float(t_s[-1]), t_arrival_host_s]))
                self._pending_arrivals.append(t_arrival_host_s)
                self._host_minus_session_s = min(self._host_minus_session_s, t_arrival_host_s - float(t_s[-1]))
            self._version += 1

    def push_angle(self, side: Side, t_s: np.ndarray, angle_deg: np.ndarray) -> None:
        t_s = np.asarray(t_s, dtype=np.float64)
        if t_s.shape[0] == 0:
            return
        rows = np.column_stack([t_s, np.asarray(angle_deg, dtype=np.float64)])
        with self._lock:
            self._sides[side].angle.append(rows)
            self._version += 1

    def push_events(self, side: Side, events: Iterable[tuple[str, float]]) -> None:
        rows = [(float(t), EVENT_IC if str(k).upper() == "IC" else EVENT_TO) for k, t in events]
        if not rows:
            return
        with self._lock:
            self._sides[side].events.append(np.asarray(rows))
            self._version += 1

    def push_strides(self, side: Side, strides: Iterable[StrideResult]) -> None:
        strides = list(strides)
        if not strides:
            return
        now = time.monotonic()
        with self._lock:
            st = self._sides[side]
            for s in strides:
                st.strides.append(s)
                st.n_strides += 1
                self._pending_strides.append((s, self._host_time_of(s.next_ic_s), now))
            self._version += 1
        cb = self.on_strides
        if cb is not None:
            try:
                cb()
            except Exception:  # noqa: BLE001 - a closing window must not stop the worker
                self.on_strides = None

    def add_marker(self, t_s: float, text: str) -> None:
        with self._lock:
            self._markers.append((float(t_s), str(text)))
            self._version += 1

    def set_recording(self, **fields) -> None:
        with self._lock:
            self._recording.update(fields)
            self._version += 1

    def set_flexor(self, **fields) -> None:
        """Hip-flexor test mode: update its fields (``active``, ``state``, ``step``, ``result``);
        ``set_flexor(active=False, reset=True)`` clears them."""
        with self._lock:
            if fields.pop("reset", False):
                self._flexor = {}
            self._flexor.update(fields)
            self._version += 1

    def set_error(self, text: str) -> None:
        with self._lock:
            self._error = str(text)
            self._version += 1

    def set_finished(self, finished: bool = True) -> None:
        with self._lock:
            self._finished = bool(finished)
            self._version += 1

    def clear_side_data(self, side: Side) -> None:
        """Forget plotted samples of one side (e.g. after recalibration changes the angle)."""
        with self._lock:
            self._sides[side].angle.clear()
            self._version += 1

    # ---- readers ----------------------------------------------------------------------
    def _host_time_of(self, t_s: float) -> float:
        if self.session_t0_host_s is not None:
            return self.session_t0_host_s + float(t_s)
        if math.isfinite(self._host_minus_session_s):
            return self._host_minus_session_s + float(t_s)
        return float("nan")

    def host_time_of(self, t_s: float) -> float:
        """Host monotonic time of session time ``t_s`` (nan when not known yet)."""
        with self._lock:
            return self._host_time_of(t_s)

    @property
    def has_new_strides(self) -> bool:
        """Strides arrived that no consuming snapshot has handed out yet."""
        return len(self._pending_strides) > 0

    @property
    def version(self) -> int:
        return self._version

    def t_now_s(self) -> float:
        with self._lock:
            ts = [st.last_t_s for st in self._sides.values() if math.isfinite(st.last_t_s)]
        return max(ts) if ts else float("nan")

    def snapshot(self, window_s: float | None = None, consume: bool = True, raw: bool = True) -> Snapshot:
        """Copies of everything in the last ``window_s`` seconds (default: the model's window).

        ``consume`` hands over (and clears) the latency bookkeeping queues; only the
        GUI's redraw should consume. ``raw=False`` leaves the raw samples out (empty
        arrays) — the window does not copy them while the raw views are hidden.
        """
        w = self.window_s if window_s is None else float(window_s)
        with self._lock:
            ts = [st.last_t_s for st in self._sides.values() if math.isfinite(st.last_t_s)]
            t_now = max(ts) if ts else float("nan")
            t_min = (t_now - w) if ts else -math.inf
            sides = {}
            for s, st in self._sides.items():
                sides[s] = SideSnapshot(
                    side=s, present=st.present, info=st.info, link_state=st.link_state,
                    link_reason=st.link_reason, health=dict(st.health), calibration=dict(st.calibration),
                    raw=st.raw.since(t_min) if raw else st.raw.since(math.inf), angle=st.angle.since(t_min), events=st.events.since(t_min, ordered=False),
                    arrivals=st.arrivals.since(t_min - 2.0),
                    strides=tuple(st.strides), n_samples=st.n_samples, n_strides=st.n_strides,
                    last_t_s=st.last_t_s,
                )
            if consume:
                arrivals = np.fromiter(self._pending_arrivals, dtype=np.float64, count=len(self._pending_arrivals))
                self._pending_arrivals.clear()
                new_strides = tuple(self._pending_strides)
                self._pending_strides.clear()
            else:
                arrivals = np.empty(0)
                new_strides = ()
            return Snapshot(
                t_now_s=t_now, window_s=w, sides=sides, markers=tuple(self._markers),
                recording=dict(self._recording), source=self._source, error=self._error,
                finished=self._finished, version=self._version, new_arrivals_host_s=arrivals,
                new_strides=new_strides, flexor=dict(self._flexor),
            )
