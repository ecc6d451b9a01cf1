"""The live dashboard window and :func:`run_live` (the entry point for the CLI and demo).

The window owns a :class:`~imugait.live.backend.LiveBackend` (worker thread) and a
:class:`QTimer` that, ``fps`` times a second, takes one :meth:`LiveModel.snapshot` and
redraws every widget from it — never per packet.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import deque
from pathlib import Path

import numpy as np

from imugait.errors import ImugaitError


def ensure_qt_platform() -> str:
    """Use Qt's offscreen platform when there is no display (set before Qt starts)."""
    if not os.environ.get("QT_QPA_PLATFORM") and not os.environ.get("DISPLAY") \
            and not os.environ.get("WAYLAND_DISPLAY") and sys.platform.startswith("linux"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return os.environ.get("QT_QPA_PLATFORM", "")


def check_qt_binding() -> None:
    """Refuse a Qt binding known to crash here, with the fix, instead of crashing mid-session.

    PySide6/shiboken6 6.12.0 on Python < 3.12 drops a reference to ``None`` on every call of
    a C++ method returning void (Python 3.12+ made ``None`` immortal, so it only shows on
    3.11): after a few seconds of drawing the interpreter aborts with "none_dealloc".
    Measured here with ``QPainter.setPen``: −1 reference per call on 6.12.0, 0 on 6.11.3.
    """
    from importlib import metadata

    try:
        v = metadata.version("shiboken6")
    except metadata.PackageNotFoundError:
        return
    if sys.version_info < (3, 12) and v.startswith("6.12."):
        raise ImugaitError(
            f"PySide6/shiboken6 {v} crashes on Python {sys.version_info.major}.{sys.version_info.minor} "
            "(reference-count bug with None) — install an earlier one: "
            "pip install \"PySide6-Essentials<6.12\" \"shiboken6<6.12\"")


ensure_qt_platform()
check_qt_binding()

import pyqtgraph as pg  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

from imugait.live import metrics as M  # noqa: E402
from imugait.live.backend import LiveBackend  # noqa: E402
from imugait.live.flexor_panel import FlexorPanel  # noqa: E402
from imugait.live.model import LiveModel, Snapshot  # noqa: E402
from imugait.live.widgets import (  # noqa: E402
    BIG_PT, DASH, MID_PT, SMALL_PT, AsymmetryPanel, CalibrationPanel, HealthPanel, PhasePortrait,
    SignalView, StrideBars, font, label, set_style, set_text,
)
from imugait.live import sources  # noqa: E402
from imugait.sim.gait import SimConfig  # noqa: E402

pg.setConfigOptions(background="w", foreground="k", antialias=False)


class LatencyLog:
    """Bounded record of display latencies (seconds) for the benchmark."""

    def __init__(self, capacity: int = 200_000):
        self.sample = deque(maxlen=capacity)     # raw block arrival -> painted (raw views)
        self.angle = deque(maxlen=capacity)      # raw block arrival -> its angle painted (angle view)
        self.stride = deque(maxlen=10_000)       # closing contact (host time) -> bars painted
        self.stride_emit = deque(maxlen=10_000)  # closing contact -> pipeline emitted the stride
        self.frames = deque(maxlen=capacity)     # monotonic time of each redraw tick
        self.frame_cost_s = deque(maxlen=capacity)


class _Wake(QtCore.QObject):
    """Carries "new strides" from the worker thread into the GUI thread (queued signal)."""

    strides = QtCore.Signal()


class LiveWindow(QtWidgets.QMainWindow):
    def __init__(self, backend: LiveBackend, fps: float = 30.0, title: str = "imugait live"):
        super().__init__()
        self.backend = backend
        self.model: LiveModel = backend.model
        self.fps = float(fps)
        self.lat = LatencyLog()
        self._pending_sample: list[np.ndarray] = []
        self._pending_angle: list[np.ndarray] = []
        self._pending_strides: list[float] = []
        self.last_snapshot: Snapshot | None = None
        self._frame = -1
        self.slow_every = max(1, int(round(self.fps / 5)))    # panels at ~5 Hz
        self.phase_every = max(1, int(round(self.fps / 10)))  # phase portrait at ~10 Hz
        self.setWindowTitle(title)
        self._build()
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(lambda: self.refresh())
        self.timer.start(max(1, int(round(1000.0 / self.fps))))
        # a new stride is drawn at once (not on the next timer frame): the worker wakes us
        self._wake = _Wake()
        self._wake.strides.connect(self._strides_arrived, QtCore.Qt.ConnectionType.QueuedConnection)
        self.model.on_strides = self._wake.strides.emit
        self._t_last_frame = -math.inf

    # ---- layout -------------------------------------------------------------------
    def _build(self) -> None:
        central = QtWidgets.QWidget()
        self.setCentralWidget(central)
        outer = QtWidgets.QVBoxLayout(central)
        outer.setContentsMargins(8, 6, 8, 6)

        # top bar: big numbers + recording
        top = QtWidgets.QHBoxLayout()
        self.gait_label = label(DASH, BIG_PT + 4, True)
        self.cadence_label = label(DASH, BIG_PT + 4, True)
        for cap, w in (("gait", self.gait_label), ("cadence", self.cadence_label)):
            box = QtWidgets.QVBoxLayout()
            box.setSpacing(0)
            box.addWidget(label(cap, SMALL_PT, colour="#555"))
            box.addWidget(w)
            top.addLayout(box)
            top.addSpacing(24)
        top.addStretch(1)
        rec = QtWidgets.QGridLayout()
        self.subject = QtWidgets.QLineEdit()
        self.subject.setPlaceholderText("subject")
        self.condition = QtWidgets.QLineEdit()
        self.condition.setPlaceholderText("condition (e.g. before)")
        for w in (self.subject, self.condition):
            w.setFont(font(SMALL_PT + 1))
            w.setMinimumWidth(160)
        self.rec_button = QtWidgets.QPushButton("● Record")
        self.rec_button.setFont(font(MID_PT, True))
        self.rec_button.setCheckable(True)
        self.rec_button.clicked.connect(self._toggle_record)
        self.rec_status = label("not recording", SMALL_PT, colour="#555")
        self.marker_text = QtWidgets.QLineEdit("stretching starts")
        self.marker_text.setFont(font(SMALL_PT + 1))
        self.marker_button = QtWidgets.QPushButton("⚑ Marker")
        self.marker_button.setFont(font(MID_PT))
        self.marker_button.clicked.connect(self._marker)
        self.marker_button.setEnabled(False)
        self.marker_button.setToolTip("Stores the text at the current time in the recording.")
        self.flexor_button = QtWidgets.QPushButton("Thomas test")
        self.flexor_button.setFont(font(MID_PT))
        self.flexor_button.setCheckable(True)
        self.flexor_button.setToolTip("Hip-flexor length test (modified Thomas test) with prompts and a hold timer.")
        self.flexor_button.clicked.connect(self._toggle_flexor)
        top.addWidget(self.flexor_button)
        top.addSpacing(16)
        rec.addWidget(self.subject, 0, 0)
        rec.addWidget(self.condition, 0, 1)
        rec.addWidget(self.rec_button, 0, 2)
        rec.addWidget(self.marker_text, 1, 0, 1, 2)
        rec.addWidget(self.marker_button, 1, 2)
        rec.addWidget(self.rec_status, 2, 0, 1, 3)
        top.addLayout(rec)
        outer.addLayout(top)

        body = QtWidgets.QHBoxLayout()
        left = QtWidgets.QVBoxLayout()
        self.signal = SignalView(self.model.window_s)
        self.bars = StrideBars()
        self.flexor_panel = FlexorPanel()
        self.flexor_panel.next_button.clicked.connect(lambda: self.backend.next_flexor_step())
        self.flexor_panel.hide()
        left.addWidget(self.signal, 5)
        left.addWidget(self.bars, 4)
        left.addWidget(self.flexor_panel, 4)
        body.addLayout(left, 3)

        right = QtWidgets.QVBoxLayout()
        self.asym = AsymmetryPanel()
        self.calib = CalibrationPanel()
        self.calib.recal.clicked.connect(lambda: self.backend.recalibrate())
        self.health = HealthPanel()
        self.phase = PhasePortrait()
        right.addWidget(self.asym)
        right.addWidget(self.calib)
        right.addWidget(self.health)
        right.addWidget(self.phase, 1)
        body.addLayout(right, 1)
        outer.addLayout(body, 1)

        self.status = label("", SMALL_PT, colour="#555")
        outer.addWidget(self.status)

        self.signal.angle_w.on_painted = self._painted_signal
        self.signal.raw_w.on_painted = self._painted_signal
        self.bars.view.on_painted = self._painted_bars

    # ---- redraw -------------------------------------------------------------------
    def refresh(self, full: bool = False) -> None:
        """One frame: snapshot the model and redraw (panels every ``slow_every`` frames,
        or every time with ``full``)."""
        t_start = time.monotonic()
        self._t_last_frame = t_start
        # the raw samples are copied only while a raw view is shown
        snap = self.model.snapshot(raw=full or self.signal.mode != "angle")
        self.last_snapshot = snap
        self.lat.frames.append(t_start)
        drawn = self.signal.update_view(snap)
        if self.signal.mode == "angle":
            for s, t_new in drawn["angle_t_new"].items():
                if t_new.size:
                    self._pending_angle.append(self._arrival_of(s, t_new))
        elif snap.new_arrivals_host_s.size:
            self._pending_sample.append(snap.new_arrivals_host_s)
        if snap.new_strides:
            for _s, h, emitted in snap.new_strides:
                if math.isfinite(h):
                    self._pending_strides.append(h)
                    self.lat.stride_emit.append(emitted - h)
        bars_changed = self.bars.update_view(snap)
        self._frame += 1
        if full or bars_changed or self._frame % self.slow_every == 0:
            # numbers and status change at most per stride or per health poll: 5 Hz is plenty
            self.asym.update_view(snap)
            self.calib.update_view(snap)
            self.health.update_view(snap)
            self._update_top(snap)
        if full or self._frame % self.phase_every == 0:
            self.phase.update_view(snap)
        self._update_flexor(snap, full)
        self.lat.frame_cost_s.append(time.monotonic() - t_start)

    def _strides_arrived(self) -> None:
        """New strides in the model: draw a frame now and restart the frame timer (the
        frame rate stays the same, the frames move to when strides arrive)."""
        if not self.timer.isActive():
            return
        if not self.model.has_new_strides:  # an earlier frame has taken them already
            return
        now = time.monotonic()
        if now - self._t_last_wake < self.WAKE_MIN_INTERVAL_S:
            return  # a fast replay: strides come faster than this, the timer draws them
        self._t_last_wake = now
        self.refresh()
        self.timer.start()

    WAKE_MIN_INTERVAL_S = 0.1
    """At most 10 stride-triggered frames a second (real time: ≈ 3 strides/s for two legs)."""
    _t_last_wake = -math.inf

    def _arrival_of(self, side: str, t: np.ndarray) -> np.ndarray:
        """Host arrival time of the block that brought each sample with session time ``t``."""
        arr = self.last_snapshot.sides[side].arrivals if self.last_snapshot is not None else np.empty((0, 2))
        if arr.shape[0] == 0:
            return np.full(t.shape, np.nan)
        i = np.searchsorted(arr[:, 0], t, side="left")
        out = arr[np.clip(i, 0, arr.shape[0] - 1), 1]
        return np.where(i < arr.shape[0], out, np.nan)

    def _painted_signal(self, t_paint: float) -> None:
        if self._pending_sample:
            a = np.concatenate(self._pending_sample)
            self.lat.sample.extend((t_paint - a).tolist())
            self._pending_sample = []
        if self._pending_angle:
            a = np.concatenate(self._pending_angle)
            self.lat.angle.extend((t_paint - a[np.isfinite(a)]).tolist())
            self._pending_angle = []

    def _painted_bars(self, t_paint: float) -> None:
        if self._pending_strides:
            self.lat.stride.extend(t_paint - h for h in self._pending_strides)
            self._pending_strides = []

    def _update_top(self, snap: Snapshot) -> None:
        L, R = snap.sides["left"].strides, snap.sides["right"].strides
        cad = M.cadence_spm(L, R, snap.t_now_s)
        g = M.gait_type(L, R, snap.t_now_s)
        set_text(self.cadence_label, DASH if cad is None else f"{cad:.0f} spm")
        set_text(self.gait_label, DASH if g is None else g.upper())
        rec = snap.recording
        active = bool(rec.get("active"))
        if self.rec_button.isChecked() != active and not self._rec_busy:
            self.rec_button.setChecked(active)
        set_text(self.rec_button, "■ Stop" if active else "● Record")
        set_style(self.rec_button, "background:#d0312d; color:white;" if active else "")
        self.marker_button.setEnabled(active)
        if rec.get("error"):
            set_text(self.rec_status, rec["error"])
            set_style(self.rec_status, "color:#d0312d")
        elif active:
            el = snap.t_now_s - rec.get("started_t_s", float("nan"))
            el_txt = f"{int(el // 60):d}:{int(el % 60):02d}" if math.isfinite(el) and el >= 0 else DASH
            set_text(self.rec_status, f"recording {el_txt} → {Path(rec.get('path') or '').name}")
            set_style(self.rec_status, "color:#d0312d")
        else:
            last = rec.get("last_path")
            set_text(self.rec_status, f"saved {last}" if last else "not recording")
            set_style(self.rec_status, "color:#555")
        parts = [snap.source or ""]
        if math.isfinite(snap.t_now_s):
            parts.append(f"t = {snap.t_now_s:6.1f} s")
        if snap.finished:
            parts.append("source ended")
        if snap.error:
            parts.append(snap.error)
        set_text(self.status, "   ·   ".join(p for p in parts if p))

    _rec_busy = False

    def _update_flexor(self, snap: Snapshot, full: bool) -> None:
        """Test mode: the panel replaces the stride bars while the test runs or shows a result."""
        fx = snap.flexor or {}
        on = bool(fx.get("active")) or fx.get("result") is not None
        if on != self.flexor_panel.isVisible() and (on or not self.flexor_button.isChecked()):
            self.flexor_panel.setVisible(on)
            self.bars.setVisible(not on)
        if self.flexor_button.isChecked() != bool(fx.get("active")) and not self._flexor_busy:
            self.flexor_button.setChecked(bool(fx.get("active")))
        set_text(self.flexor_button, "■ End test" if fx.get("active") else "Thomas test")
        set_style(self.flexor_button, "background:#2e9e44; color:white;" if fx.get("active") else "")
        if on and (full or self._frame % self.slow_every == 0):
            self.flexor_panel.update_view(snap)

    _flexor_busy = False

    def _toggle_flexor(self, checked: bool) -> None:
        self._flexor_busy = True
        try:
            fut = self.backend.start_flexor_test() if checked else self.backend.stop_flexor_test()
            fut.add_done_callback(self._command_done)
        finally:
            self._flexor_busy = False

    # ---- commands -----------------------------------------------------------------
    def _toggle_record(self, checked: bool) -> None:
        self._rec_busy = True
        try:
            if checked:
                fut = self.backend.start_recording(self.subject.text().strip(), self.condition.text().strip())
            else:
                fut = self.backend.stop_recording()
            fut.add_done_callback(self._command_done)
        finally:
            self._rec_busy = False

    def _command_done(self, fut) -> None:
        exc = fut.exception()
        if exc is not None:
            self.model.set_recording(error=f"recording: {exc}")

    def _marker(self) -> None:
        text = self.marker_text.text().strip() or "marker"
        self.backend.add_marker(text).add_done_callback(self._command_done)

    # ---- lifecycle ----------------------------------------------------------------
    def closeEvent(self, ev):  # noqa: N802
        self.timer.stop()
        if self.model.on_strides == self._wake.strides.emit:
            self.model.on_strides = None
        self.backend.stop()
        super().closeEvent(ev)

    def save_screenshot(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.refresh(full=True)
        QtWidgets.QApplication.processEvents()
        img = self.grab()
        if not img.save(str(path)):
            raise OSError(f"could not write screenshot {path}")
        return path


def make_backend(*, simulate: bool = False, left: str | None = None, right: str | None = None,
                 replay: str | Path | None = None, speed: float = 1.0, source=None, model: LiveModel | None = None,
                 out_dir: str | Path = "recordings", params=None, sim_config=None, label: str = "") -> LiveBackend:
    """Build the backend for one of the source choices of ``imugait live``."""
    factory, auto_label = sources.source_factory(simulate=simulate, left=left, right=right, replay=replay,
                                                 speed=speed, source=source, sim_config=sim_config)
    kind = "simulated" if simulate else "replay" if replay is not None else "ble" if (left or right) else "other"
    return LiveBackend(factory, model or LiveModel(), params=params, out_dir=out_dir, label=label or auto_label,
                       meta={"source": kind, "activity": sim_config.gait if simulate and isinstance(sim_config, SimConfig) else ""})


def qapp() -> QtWidgets.QApplication:
    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(["imugait-live"])
    return app


def run_live(*, simulate: bool = False, left: str | None = None, right: str | None = None,
             replay: str | Path | None = None, speed: float = 1.0, source=None,
             duration_s: float | None = None, screenshot: str | Path | None = None,
             out_dir: str | Path = "recordings", params=None, sim_config=None, fps: float = 30.0,
             size: tuple[int, int] = (1600, 950), subject: str = "", condition: str = "",
             record: bool = False, flexor_test: bool = False) -> int:
    """Open the live dashboard and block until it is closed (or ``duration_s`` elapsed).

    Exactly one of ``simulate``, ``left``/``right`` (BLE addresses), ``replay`` (session
    file) or ``source`` (a :class:`~imugait.acquire.base.Source`) chooses the data.
    ``screenshot`` saves the window to a PNG at the end (with ``duration_s``: after that many
    seconds). ``record`` starts recording right away (``subject``/``condition`` as given).
    ``flexor_test`` starts the hip-flexor test mode with the first sample. Returns 0; raises
    :class:`~imugait.errors.ImugaitError` when the acquisition failed (no Bluetooth, sensor not
    found …), so the command exits non-zero with that sentence.
    """
    ensure_qt_platform()
    app = qapp()
    backend = make_backend(simulate=simulate, left=left, right=right, replay=replay, speed=speed,
                           source=source, out_dir=out_dir, params=params, sim_config=sim_config)
    win = LiveWindow(backend, fps=fps, title=f"imugait live — {backend.label}")
    win.subject.setText(subject)
    win.condition.setText(condition)
    win.resize(*size)
    if flexor_test:  # a simulated runner follows the script, a real one is waited for
        backend.start_flexor_test(wait_for_calibration=not simulate)
    if record:
        backend.start_recording(subject, condition)  # from the first sample on
    backend.start()
    win.show()
    if duration_s is not None:
        def finish():
            if screenshot:
                p = win.save_screenshot(screenshot)
                print(f"screenshot written to {p}")
            win.close()
        QtCore.QTimer.singleShot(int(duration_s * 1000), finish)
    elif screenshot:
        # no duration: screenshot when the window is closed
        app.aboutToQuit.connect(lambda: win.save_screenshot(screenshot))
    app.exec()
    backend.stop()
    if isinstance(backend.error, ImugaitError):
        raise backend.error  # e.g. Bluetooth off: the CLI prints the sentence and exits non-zero
    if backend.error is not None:
        raise ImugaitError(f"the live acquisition stopped: {type(backend.error).__name__}: {backend.error}")
    return 0
