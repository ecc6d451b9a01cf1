"""Qt widgets of the live dashboard. They only draw what they are given (a
:class:`~imugait.live.model.Snapshot` and values from :mod:`imugait.live.metrics`); they
never compute gait numbers and never touch the acquisition thread.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from imugait.conventions import SIDES, Side
from imugait.live import metrics as M
from imugait.live.model import EVENT_IC, EVENT_TO, SideSnapshot, Snapshot

SIDE_COLOUR = {"left": "#1f5fbf", "right": "#e0661b"}   # blue / orange
SIDE_LABEL = {"left": "Left", "right": "Right"}
BAND_COLOUR = {"symmetric": "#2e9e44", "notable": "#e6a700", "large": "#d0312d", None: "#9a9a9a"}
STATE_COLOUR = {"connected": "#2e9e44", "reconnecting": "#e6a700", "connecting": "#e6a700",
                "stopped": "#777777", "waiting": "#999999"}
AXIS_COLOUR = ("#d0312d", "#2e9e44", "#1f5fbf")  # x, y, z
DASH = "—"

BIG_PT = 30
MID_PT = 18
SMALL_PT = 12


def font(pt: int, bold: bool = False) -> QtGui.QFont:
    f = QtGui.QFont()
    f.setPointSize(pt)
    f.setBold(bold)
    return f


def label(text: str = "", pt: int = SMALL_PT, bold: bool = False, colour: str | None = None,
          align=QtCore.Qt.AlignmentFlag.AlignLeft) -> QtWidgets.QLabel:
    w = QtWidgets.QLabel(text)
    w.setFont(font(pt, bold))
    w.setAlignment(align | QtCore.Qt.AlignmentFlag.AlignVCenter)
    if colour:
        w.setStyleSheet(f"color: {colour};")
    return w


def set_style(w: QtWidgets.QWidget, css: str) -> None:
    """setStyleSheet only when it changes (re-styling costs a relayout)."""
    if w.property("_css") != css:
        w.setProperty("_css", css)
        w.setStyleSheet(css)


def set_text(w, text: str) -> None:
    if w.text() != text:
        w.setText(text)


def _div(v, d):
    return v / d if isinstance(v, (int, float)) else None


def fmt(v: float | None, spec: str, unit: str = "") -> str:
    if v is None or not isinstance(v, (int, float)) or not math.isfinite(v):
        return DASH
    return f"{v:{spec}}{(' ' + unit) if unit else ''}"


GAP_S = 0.15
"""Samples further apart than this are not joined by a line (a data gap is drawn as a gap)."""


def break_gaps(t: np.ndarray, y: np.ndarray, gap_s: float = GAP_S) -> tuple[np.ndarray, np.ndarray]:
    """Insert a NaN between samples more than ``gap_s`` apart (drawn with connect="finite")."""
    if t.size < 2:
        return t, y
    i = np.flatnonzero(np.diff(t) > gap_s)
    if i.size == 0:
        return t, y
    return np.insert(t, i + 1, np.nan), np.insert(y, i + 1, np.nan)


class PaintStamp:
    """Mixin for a QGraphicsView: calls ``on_painted(t_monotonic)`` after each paint."""

    on_painted: Callable[[float], None] | None = None

    def paintEvent(self, ev):  # noqa: N802 - Qt name
        super().paintEvent(ev)  # type: ignore[misc]  # the QGraphicsView this mixin is combined with
        cb = self.on_painted
        if cb is not None:
            cb(time.monotonic())


class EventMarks(pg.GraphicsObject):
    """Triangles of fixed pixel size at (x, y) data points — a lean stand-in for a
    ScatterPlotItem (which cost ≈ 5 % of a core at 30 fps for four marker sets).
    ``down``: ▼ (initial contact), else △ (toe-off)."""

    def __init__(self, down: bool, brush, pen, size_px: float = 14.0, margin=(0.3, 8.0)):
        super().__init__()
        self.down = down
        self.brush = pg.mkBrush(brush)
        self.pen = pg.mkPen(pen)
        self.size_px = float(size_px)
        self.margin = margin  # data units covering half a marker at normal window sizes
        self.x = np.empty(0)
        self.y = np.empty(0)
        self._rect = QtCore.QRectF()

    @property
    def data(self) -> np.ndarray:
        return np.column_stack([self.x, self.y])

    def setData(self, x, y) -> None:  # noqa: N802 - pyqtgraph style
        self.prepareGeometryChange()
        self.x = np.asarray(x, dtype=float)
        self.y = np.asarray(y, dtype=float)
        if self.x.size:
            mx, my = self.margin
            self._rect = QtCore.QRectF(float(self.x.min()) - mx, float(self.y.min()) - my,
                                       float(np.ptp(self.x)) + 2 * mx, float(np.ptp(self.y)) + 2 * my)
        else:
            self._rect = QtCore.QRectF()
        self.update()

    def boundingRect(self):  # noqa: N802
        return self._rect

    def paint(self, p, *_args):
        if not self.x.size:
            return
        # one path for all triangles, built with numpy in device pixels (a Python loop of
        # drawPolygon calls cost ≈ 2 % of a core at 30 fps)
        tr = p.transform()
        h = self.size_px / 2
        sgn = -1.0 if self.down else 1.0  # device y grows downwards: ▼ has its tip below
        cx = tr.m11() * self.x + tr.m21() * self.y + tr.dx()
        cy = tr.m12() * self.x + tr.m22() * self.y + tr.dy()
        n = cx.size
        px = np.empty((n, 4))
        py = np.empty((n, 4))
        px[:, 0], py[:, 0] = cx - h, cy + sgn * h * 0.8
        px[:, 1], py[:, 1] = cx + h, cy + sgn * h * 0.8
        px[:, 2], py[:, 2] = cx, cy - sgn * h
        px[:, 3], py[:, 3] = px[:, 0], py[:, 0]
        conn = np.ones((n, 4), dtype=bool)
        conn[:, 3] = False  # no line from one triangle to the next
        path = pg.arrayToQPath(px.ravel(), py.ravel(), connect=conn.ravel())
        p.resetTransform()
        p.setPen(self.pen)
        p.setBrush(self.brush)
        p.drawPath(path)
        p.setTransform(tr)


class StampedPlotWidget(PaintStamp, pg.PlotWidget):
    pass


class StampedLayoutWidget(PaintStamp, pg.GraphicsLayoutWidget):
    pass


def _style_plot(p: pg.PlotItem, left: str, bottom: str | None = "time (s)") -> None:
    # No pyqtgraph grid: it is painted by the axes across the whole view, so every new
    # sample repaints both axes with their text (measured: 69 % -> 42 % CPU without it).
    ax_font = font(SMALL_PT)
    for name in ("left", "bottom"):
        ax = p.getAxis(name)
        ax.setTickFont(ax_font)
        ax.setTextPen("k")
    p.setLabel("left", left, **{"font-size": f"{SMALL_PT}pt"})
    if bottom:
        p.setLabel("bottom", bottom, **{"font-size": f"{SMALL_PT}pt"})
    for name in ("left", "bottom"):
        p.getAxis(name).enableAutoSIPrefix(False)
    p.setMenuEnabled(False)
    p.setMouseEnabled(x=False, y=False)
    p.hideButtons()


class SignalView(QtWidgets.QWidget):
    """Scrolling plot of the last ``window_s`` seconds: thigh angle with IC/TO markers, or
    the raw gyroscope / accelerometer of each sensor."""

    MODES = ("angle", "gyro", "acc")
    angle_decimate = 4

    def __init__(self, window_s: float = 10.0, parent=None):
        super().__init__(parent)
        self.window_s = window_s
        self.mode = "angle"
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        bar = QtWidgets.QHBoxLayout()
        self.title = label("Thigh angle (sagittal, flexion +)", MID_PT, True)
        bar.addWidget(self.title)
        bar.addStretch(1)
        self.buttons = QtWidgets.QButtonGroup(self)
        for i, (m, text) in enumerate((("angle", "Angle"), ("gyro", "Gyro"), ("acc", "Acc"))):
            b = QtWidgets.QPushButton(text)
            b.setCheckable(True)
            b.setFont(font(SMALL_PT))
            b.setChecked(m == "angle")
            self.buttons.addButton(b, i)
            bar.addWidget(b)
        self.buttons.idClicked.connect(lambda i: self.set_mode(self.MODES[i]))
        lay.addLayout(bar)

        self.stack = QtWidgets.QStackedWidget()
        lay.addWidget(self.stack, 1)

        # angle page
        self.angle_w = StampedPlotWidget()
        p = self.angle_w.getPlotItem()
        _style_plot(p, "thigh angle (°)")
        p.setXRange(-window_s, 0, padding=0)
        p.setYRange(-35, 62, padding=0)
        p.enableAutoRange(x=False, y=False)
        leg = p.addLegend(offset=(10, 2), labelTextSize=f"{SMALL_PT}pt", colCount=4,
                          brush=pg.mkBrush(255, 255, 255, 220))
        self.angle_curves = {}
        self.ic_items = {}
        self.to_items = {}
        for s in SIDES:
            # no clipToView: the snapshot already holds exactly the visible window, and
            # clipping costs a view-range lookup and a copy on every frame
            c = p.plot(pen=pg.mkPen(SIDE_COLOUR[s], width=3), name=SIDE_LABEL[s])
            self.angle_curves[s] = c
            ic = EventMarks(True, SIDE_COLOUR[s], "k")
            to = EventMarks(False, "w", pg.mkPen(SIDE_COLOUR[s], width=2))
            p.addItem(ic)
            p.addItem(to)
            self.ic_items[s], self.to_items[s] = ic, to
        leg.addItem(pg.ScatterPlotItem(symbol="t", size=12, brush=pg.mkBrush("#555")), "initial contact")
        leg.addItem(pg.ScatterPlotItem(symbol="t1", size=12, brush=pg.mkBrush("w"), pen=pg.mkPen("#555", width=2)),
                    "toe-off")
        self.marker_lines: list[pg.InfiniteLine] = []
        self.overlay = pg.TextItem("", color="#444", anchor=(0.5, 0.5))
        self.overlay.setFont(font(MID_PT, True))
        p.addItem(self.overlay, ignoreBounds=True)
        self.stack.addWidget(self.angle_w)

        # raw page: one plot per sensor, x/y/z
        self.raw_w = StampedLayoutWidget()
        self.raw_plots = {}
        self.raw_curves = {}
        for i, s in enumerate(SIDES):
            rp = self.raw_w.addPlot(row=i, col=0, title=f"<span style='font-size:{SMALL_PT}pt'>{SIDE_LABEL[s]} sensor</span>")
            _style_plot(rp, "", "time (s)" if i == len(SIDES) - 1 else None)
            rp.setXRange(-window_s, 0, padding=0)
            rp.enableAutoRange(x=False, y=False)
            rl = rp.addLegend(offset=(10, 5), labelTextSize=f"{SMALL_PT}pt")
            curves = []
            for k, ax in enumerate("xyz"):
                c = rp.plot(pen=pg.mkPen(AXIS_COLOUR[k], width=2), name=ax)
                curves.append(c)
            self.raw_plots[s] = rp
            self.raw_curves[s] = curves
            _ = rl
        self.stack.addWidget(self.raw_w)
        self._last_angle_t = {s: -math.inf for s in SIDES}
        self._yrange: dict = {}

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.buttons.button(self.MODES.index(mode)).setChecked(True)
        if mode == "angle":
            self.stack.setCurrentWidget(self.angle_w)
            self.title.setText("Thigh angle (sagittal, flexion +)")
        else:
            self.stack.setCurrentWidget(self.raw_w)
            unit = "°/s" if mode == "gyro" else "m/s²"
            self.title.setText(("Raw gyroscope" if mode == "gyro" else "Raw accelerometer") + " (sensor frame)")
            for s in SIDES:
                self.raw_plots[s].setLabel("left", f"{mode} ({unit})", **{"font-size": f"{SMALL_PT}pt"})

    def _sticky_range(self, side: Side, v: np.ndarray) -> None:
        """y range that grows at once and shrinks at most every 2 s: an axis whose range
        changes every frame re-lays out its tick labels every frame (costly)."""
        finite = v[np.isfinite(v)]
        if finite.size == 0:
            return
        lo, hi = float(finite.min()), float(finite.max())
        pad = 0.1 * max(hi - lo, 1.0)
        key = (side, self.mode)
        cur = self._yrange.get(key)
        now = time.monotonic()
        if cur is None or lo < cur[0] or hi > cur[1] or (
                now - cur[2] > 2.0 and (hi - lo) < 0.6 * (cur[1] - cur[0])):
            cur = (lo - pad, hi + pad, now)
            self._yrange[key] = cur
            self.raw_plots[side].setYRange(cur[0], cur[1], padding=0)

    @property
    def active_view(self):
        return self.angle_w if self.mode == "angle" else self.raw_w

    def update_view(self, snap: Snapshot) -> dict:
        """Redraw from ``snap``; returns what was drawn (for tests and latency bookkeeping)."""
        now = snap.t_now_s
        drawn: dict[str, Any] = {"angle_t_new": {}, "n_points": 0}
        if not math.isfinite(now):
            self.overlay.setText("waiting for sensor data…")
            self.overlay.setPos(-self.window_s / 2, 10)
            return drawn
        if self.mode == "angle":
            any_angle = False
            for s in SIDES:
                ss = snap.sides[s]
                a = ss.angle
                if a.shape[0]:
                    any_angle = True
                    # every ``angle_decimate``-th sample (50 Hz at 200 Hz): a thigh angle has no
                    # content above ~10 Hz (a 5 Hz harmonic of 5° amplitude loses < 0.3° at its
                    # peak, about one pixel), and fewer line segments cut the raster cost
                    d = a[:: self.angle_decimate] if a.shape[0] > 2 else a
                    if d[-1, 0] != a[-1, 0]:
                        d = np.vstack([d, a[-1:]])
                    x, y = break_gaps(d[:, 0] - now, d[:, 1])
                    # the finite check (a full scan for NaN/inf) only matters when gaps were inserted
                    self.angle_curves[s].setData(x, y, connect="finite", skipFiniteCheck=x.size == d.shape[0])
                    new = a[a[:, 0] > self._last_angle_t[s], 0]
                    drawn["angle_t_new"][s] = new
                    self._last_angle_t[s] = float(a[-1, 0])
                    drawn["n_points"] += a.shape[0]
                    ev = ss.events
                    for kind, item in ((EVENT_IC, self.ic_items[s]), (EVENT_TO, self.to_items[s])):
                        e = ev[ev[:, 1] == kind, 0] if ev.shape[0] else np.empty(0)
                        e = e[(e >= a[0, 0]) & (e <= a[-1, 0])]
                        item.setData(e - now, np.interp(e, a[:, 0], a[:, 1]) if e.size else e)
                else:
                    self.angle_curves[s].setData([], [])
                    self.ic_items[s].setData([], [])
                    self.to_items[s].setData([], [])
            self._update_markers(snap)
            if any_angle:
                self.overlay.setText("")
            else:
                self.overlay.setText(self._why_no_angle(snap))
                self.overlay.setPos(-self.window_s / 2, 10)
        else:
            col = 4 if self.mode == "gyro" else 1
            for s in SIDES:
                r = snap.sides[s].raw
                for k in range(3):
                    if r.shape[0]:
                        x, y = break_gaps(r[:, 0] - now, r[:, col + k])
                        self.raw_curves[s][k].setData(x, y, connect="finite", skipFiniteCheck=x.size == r.shape[0])
                    else:
                        self.raw_curves[s][k].setData([], [])
                if r.shape[0]:
                    self._sticky_range(s, r[:, col:col + 3])
                drawn["n_points"] += r.shape[0]
        return drawn

    def _why_no_angle(self, snap: Snapshot) -> str:
        for s in SIDES:
            ss = snap.sides[s]
            c = ss.calibration
            if ss.present and c and c.get("failed"):
                return f"{SIDE_LABEL[s]}: {c.get('message') or 'calibration failed'}"
        for s in SIDES:
            ss = snap.sides[s]
            c = ss.calibration
            if ss.present and not (c and c.get("calibrated")):
                msg = (c or {}).get("message") or "waiting for data"
                return f"Calibrating — stand still, then walk\n({msg})"
        return "no thigh angle yet"

    def _update_markers(self, snap: Snapshot) -> None:
        p = self.angle_w.getPlotItem()
        now = snap.t_now_s
        ms = [(t, txt) for t, txt in snap.markers if now - self.window_s <= t <= now]
        while len(self.marker_lines) < len(ms):
            ln = pg.InfiniteLine(angle=90, pen=pg.mkPen("#6a3d9a", width=2, style=QtCore.Qt.PenStyle.DashLine),
                                 label="", labelOpts={"position": 0.92, "color": "#6a3d9a", "fill": (255, 255, 255, 200)})
            p.addItem(ln, ignoreBounds=True)
            self.marker_lines.append(ln)
        for i, ln in enumerate(self.marker_lines):
            if i < len(ms):
                ln.setPos(ms[i][0] - now)
                ln.label.setFormat(ms[i][1])
                ln.show()
            else:
                ln.hide()


class StrideBars(QtWidgets.QWidget):
    """Per-stride bars (left beside right) for hip range, swing % and stance time, with the
    running median of each side as a dashed line and in large figures above the plot."""

    def __init__(self, n_bars: int = M.N_BARS, parent=None):
        super().__init__(parent)
        self.n_bars = n_bars
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.view = StampedLayoutWidget()
        self.plots: dict = {}
        self.bars: dict = {}
        self.median_lines: dict = {}
        self.headers = {}
        self.displayed: dict[str, dict[str, np.ndarray]] = {}
        self.displayed_medians: dict[str, dict[str, float | None]] = {}
        for col, (metric, title, unit) in enumerate(M.BAR_METRICS):
            head = pg.LabelItem("", justify="center")
            self.view.addItem(head, row=0, col=col)
            self.headers[metric] = head
            p = self.view.addPlot(row=1, col=col)
            _style_plot(p, f"{title} ({unit})", "stride (newest right)")
            p.enableAutoRange(x=False, y=True)
            p.setXRange(-0.7, n_bars - 0.3, padding=0)
            self.plots[metric] = p
            self.bars[metric] = {}
            self.median_lines[metric] = {}
            for _k, s in enumerate(SIDES):
                b = pg.BarGraphItem(x=[], height=[], width=0.4, brush=pg.mkBrush(SIDE_COLOUR[s]), pen=None)
                p.addItem(b)
                self.bars[metric][s] = b
                ln = pg.InfiniteLine(angle=0, pen=pg.mkPen(SIDE_COLOUR[s], width=2, style=QtCore.Qt.PenStyle.DashLine))
                p.addItem(ln, ignoreBounds=True)
                ln.hide()
                self.median_lines[metric][s] = ln
        lay.addWidget(self.view)
        self._key: tuple | None = None

    def update_view(self, snap: Snapshot) -> bool:
        """Redraw when the strides changed; returns True when something new was drawn."""
        key = tuple(snap.sides[s].n_strides for s in SIDES) + tuple(snap.sides[s].present for s in SIDES)
        if key == self._key:
            return False
        self._key = key
        for metric, title, unit in M.BAR_METRICS:
            head = []
            self.displayed[metric] = {}
            self.displayed_medians[metric] = {}
            for _k, s in enumerate(SIDES):
                ss = snap.sides[s]
                v = M.valid_strides(ss.strides, self.n_bars)
                vals = M.metric_values(v, metric)
                n = vals.size
                x = np.arange(self.n_bars - n, self.n_bars, dtype=float) + (-0.2 if s == "left" else 0.2)
                self.bars[metric][s].setOpts(x=x, height=vals, width=0.4)
                self.displayed[metric][s] = vals
                med = M.running_median(ss.strides, metric, self.n_bars)
                self.displayed_medians[metric][s] = med
                ln = self.median_lines[metric][s]
                if med is None:
                    ln.hide()
                else:
                    ln.setPos(med)
                    ln.show()
                spec = ".1f" if unit != "s" else ".3f"
                txt = fmt(med, spec, unit if unit != "%" else "%") if ss.present else "no sensor"
                head.append(f"<span style='color:{SIDE_COLOUR[s]}'>{SIDE_LABEL[s][0]} {txt}</span>")
            self.headers[metric].setText(
                f"<span style='font-size:{SMALL_PT}pt'>{title} median</span><br>"
                f"<span style='font-size:{MID_PT + 2}pt; font-weight:bold'>{'&nbsp;&nbsp;'.join(head)}</span>")
        return True


class Chip(QtWidgets.QLabel):
    def __init__(self, pt=SMALL_PT):
        super().__init__("")
        self.setFont(font(pt, True))
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.setMinimumWidth(110)

    def set(self, text: str, colour: str) -> None:
        set_text(self, text)
        set_style(self, f"background:{colour}; color:white; border-radius:6px; padding:2px 8px;")


class AsymmetryPanel(QtWidgets.QGroupBox):
    """L/R balance % per metric with its colour band (thresholds in :mod:`metrics`)."""

    def __init__(self, parent=None):
        super().__init__("Left/right balance (median of last 20 strides)", parent)
        self.setFont(font(SMALL_PT, True))
        g = QtWidgets.QGridLayout(self)
        self.values = {}
        self.chips = {}
        for r, (metric, title, _unit) in enumerate(M.BAR_METRICS):
            g.addWidget(label(title, MID_PT), r, 0)
            v = label(DASH, BIG_PT - 6, True, align=QtCore.Qt.AlignmentFlag.AlignRight)
            g.addWidget(v, r, 1)
            c = Chip()
            g.addWidget(c, r, 2)
            self.values[metric], self.chips[metric] = v, c
        lo, hi = M.BALANCE_BANDS_PP
        self.legend = label(f"symmetric < {lo:g} pp from 50 % · notable < {hi:g} pp · large ≥ {hi:g} pp", SMALL_PT - 2,
                            colour="#555")
        g.addWidget(self.legend, len(M.BAR_METRICS), 0, 1, 3)
        self.shown: dict[str, str] = {}

    def update_view(self, snap: Snapshot) -> None:
        two = snap.sides["left"].present and snap.sides["right"].present
        bal = M.balances(snap.sides["left"].strides, snap.sides["right"].strides) if two else {}
        for metric, _t, _u in M.BAR_METRICS:
            if not two:
                txt, band_txt, band = DASH, "needs two sensors", None
            else:
                b = bal.get(metric)
                band = M.balance_band(b)
                txt = M.balance_text(b)
                band_txt = band if band else f"needs {M.MIN_STRIDES_FOR_MEDIAN} strides/side"
            set_text(self.values[metric], txt)
            self.chips[metric].set(band_txt, BAND_COLOUR[band])
            self.shown[metric] = txt


class CalibrationPanel(QtWidgets.QGroupBox):
    def __init__(self, parent=None):
        super().__init__("Calibration", parent)
        self.setFont(font(SMALL_PT, True))
        g = QtWidgets.QGridLayout(self)
        self.text = {}
        self.bar = {}
        for r, s in enumerate(SIDES):
            g.addWidget(label(SIDE_LABEL[s], MID_PT, True, SIDE_COLOUR[s]), 2 * r, 0)
            t = label(DASH, SMALL_PT + 2)
            t.setWordWrap(True)
            g.addWidget(t, 2 * r, 1)
            b = QtWidgets.QProgressBar()
            b.setRange(0, 100)
            b.setTextVisible(False)
            b.setMaximumHeight(12)
            g.addWidget(b, 2 * r + 1, 1)
            self.text[s], self.bar[s] = t, b
        g.setColumnStretch(1, 1)
        self.recal = QtWidgets.QPushButton("Recalibrate")
        self.recal.setFont(font(SMALL_PT))
        g.addWidget(self.recal, 2 * len(SIDES), 0, 1, 2)

    @staticmethod
    def describe(ss: SideSnapshot) -> tuple[str, float | None, str]:
        """(text, progress 0..1 or None, colour) for one side, from the pipeline's state."""
        if not ss.present:
            return "no sensor", None, "#999"
        c = ss.calibration
        if not c:
            return "waiting for data — stand still", None, "#999"
        prog = c.get("progress")
        prog = float(prog) if isinstance(prog, (int, float)) and math.isfinite(prog) else None
        msg = str(c.get("message") or "")
        if c.get("failed"):
            return msg or "calibration failed", None, "#d0312d"
        if c.get("calibrated"):
            conf = c.get("axis_confidence")
            extra = f" · axis {100 * conf:.0f} %" if isinstance(conf, (int, float)) and math.isfinite(conf) else ""
            if c.get("angle_calibrated") is False:
                return "✓ calibrated, no standing pose: ranges only" + extra, 1.0, "#e6a700"
            return "✓ calibrated" + extra, 1.0, "#2e9e44"
        return msg or "stand still, then walk", prog, "#d0312d"

    def update_view(self, snap: Snapshot) -> None:
        for s in SIDES:
            txt, prog, col = self.describe(snap.sides[s])
            set_text(self.text[s], txt)
            set_style(self.text[s], f"color:{col}")
            collecting = prog is not None and prog < 1.0
            v = int(round(100 * max(0.0, min(1.0, prog)))) if prog is not None and collecting else 0
            if self.bar[s].value() != v:
                self.bar[s].setValue(v)
            if self.bar[s].isVisible() != collecting and self.isVisible():
                self.bar[s].setVisible(collecting)


class HealthPanel(QtWidgets.QGroupBox):
    ROWS = (("state", "link"), ("battery_pct", "battery"), ("loss_pct", "packet loss"),
            ("effective_rate_hz", "rate"), ("clock_offset_ms", "clock offset"), ("clock_drift_ppm", "clock drift"))

    def __init__(self, parent=None):
        super().__init__("Sensors", parent)
        self.setFont(font(SMALL_PT, True))
        g = QtWidgets.QGridLayout(self)
        self.cells = {}
        for c, s in enumerate(SIDES):
            g.addWidget(label(SIDE_LABEL[s], MID_PT, True, SIDE_COLOUR[s], QtCore.Qt.AlignmentFlag.AlignRight), 0, c + 1)
        for r, (key, name) in enumerate(self.ROWS):
            g.addWidget(label(name, SMALL_PT), r + 1, 0)
            for c, s in enumerate(SIDES):
                w = label(DASH, SMALL_PT + 2, key == "state", align=QtCore.Qt.AlignmentFlag.AlignRight)
                g.addWidget(w, r + 1, c + 1)
                self.cells[(key, s)] = w
        self.shown: dict[tuple[str, str], str] = {}

    def update_view(self, snap: Snapshot) -> None:
        for s in SIDES:
            ss = snap.sides[s]
            h = ss.health or {}
            state = ss.link_state if ss.present else "no sensor"
            vals = {
                "state": state,
                "battery_pct": fmt(h.get("battery_pct"), ".0f", "%"),
                "loss_pct": fmt(h.get("loss_pct"), ".1f", "%"),
                "effective_rate_hz": fmt(h.get("effective_rate_hz"), ".1f", "Hz"),
                # host − device clock: the device clock starts anywhere, so this is large;
                # what matters is that it is known (mapping established) and its drift
                "clock_offset_ms": (fmt(_div(h.get("clock_offset_ms"), 1000.0), ".3f", "s")
                                    if h.get("clock_established") is not False else "syncing…"),
                "clock_drift_ppm": (fmt(h.get("clock_drift_ppm"), "+.1f", "ppm")
                                    if h.get("clock_established") is not False else DASH),
            }
            if not ss.present:
                vals = {k: (v if k == "state" else DASH) for k, v in vals.items()}
            for key, _n in self.ROWS:
                w = self.cells[(key, s)]
                set_text(w, vals[key])
                if key == "state":
                    set_style(w, f"color:{STATE_COLOUR.get(state, '#999')}")
                self.shown[(key, s)] = vals[key]


class PhasePortrait(QtWidgets.QWidget):
    """Thigh angle against its rate over the last ``span_s`` seconds (one loop per stride)."""

    def __init__(self, span_s: float = 2.0, parent=None):
        super().__init__(parent)
        self.span_s = span_s
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.plot_w = pg.PlotWidget()
        p = self.plot_w.getPlotItem()
        _style_plot(p, "rate (°/s)", "thigh angle (°)")
        p.setTitle(f"<span style='font-size:{SMALL_PT}pt'>Phase portrait (last {span_s:g} s)</span>")
        p.setXRange(-40, 70, padding=0)
        p.setYRange(-900, 900, padding=0)
        p.enableAutoRange(x=False, y=False)
        self.curves = {s: p.plot(pen=pg.mkPen(SIDE_COLOUR[s], width=2)) for s in SIDES}
        lay.addWidget(self.plot_w)

    def update_view(self, snap: Snapshot) -> None:
        for s in SIDES:
            a = snap.sides[s].angle
            if a.shape[0] < 5:
                self.curves[s].setData([], [])
                continue
            a = a[a[:, 0] >= a[-1, 0] - self.span_s]
            ok = np.isfinite(a[:, 1])
            a = a[ok]
            if a.shape[0] < 5:
                self.curves[s].setData([], [])
                continue
            rate = np.gradient(a[:, 1], a[:, 0])
            self.curves[s].setData(a[:, 1], rate)
