"""The dashboard's hip-flexor (modified Thomas) test mode: prompts, a big per-side readout
and a hold timer, for staff running the test beside a treatment table.

It draws only what the model holds (:attr:`Snapshot.flexor`, filled by the backend's test
mode from :class:`imugait.analysis.flexor.FlexorAnalyzer` — the same algorithm as
``imugait flexor-test``); it computes nothing itself.
"""

from __future__ import annotations

import math
import statistics

from PySide6 import QtCore, QtWidgets

from imugait.conventions import SIDES
from imugait.live.model import Snapshot
from imugait.live.widgets import BIG_PT, DASH, MID_PT, SIDE_COLOUR, SIDE_LABEL, SMALL_PT, font, label, set_style, set_text


def angle_text(v: float | None) -> str:
    """``8.3° below`` / ``2.1° above`` (the test's sign: + = below the horizontal)."""
    if v is None or not math.isfinite(v):
        return DASH
    return f"{abs(v):.1f}° {'below' if v >= 0 else 'above'}"


class FlexorPanel(QtWidgets.QGroupBox):
    """Prompt, step counter and "Next", per side the thigh's angle to the horizontal now
    (big) and the median of its finished holds, and the hold timer."""

    def __init__(self, parent=None):
        super().__init__("Hip-flexor test (modified Thomas)", parent)
        self.setFont(font(SMALL_PT, True))
        lay = QtWidgets.QVBoxLayout(self)
        top = QtWidgets.QHBoxLayout()
        self.step_label = label("", SMALL_PT, colour="#555")
        top.addWidget(self.step_label)
        top.addStretch(1)
        self.next_button = QtWidgets.QPushButton("Next step ▸")
        self.next_button.setFont(font(SMALL_PT + 1))
        top.addWidget(self.next_button)
        lay.addLayout(top)
        self.prompt = label("", MID_PT + 4, True)
        self.prompt.setWordWrap(True)
        self.prompt.setMinimumHeight(70)
        lay.addWidget(self.prompt)
        self.countdown = label("", MID_PT, colour="#555")
        lay.addWidget(self.countdown)
        grid = QtWidgets.QGridLayout()
        self.now = {}
        self.holds = {}
        for c, s in enumerate(SIDES):
            grid.addWidget(label(f"{SIDE_LABEL[s]} thigh", MID_PT, True, SIDE_COLOUR[s]), 0, c,
                           alignment=QtCore.Qt.AlignmentFlag.AlignHCenter)
            big = label(DASH, BIG_PT + 16, True, SIDE_COLOUR[s], align=QtCore.Qt.AlignmentFlag.AlignHCenter)
            grid.addWidget(big, 1, c)
            grid.addWidget(label("to the horizontal, now", SMALL_PT, colour="#777",
                                 align=QtCore.Qt.AlignmentFlag.AlignHCenter), 2, c)
            h = label(DASH, MID_PT, align=QtCore.Qt.AlignmentFlag.AlignHCenter)
            h.setWordWrap(True)
            grid.addWidget(h, 3, c)
            self.now[s], self.holds[s] = big, h
        lay.addLayout(grid)
        self.timer_label = label("", MID_PT, True)
        lay.addWidget(self.timer_label)
        self.timer_bar = QtWidgets.QProgressBar()
        self.timer_bar.setRange(0, 1000)
        self.timer_bar.setTextVisible(False)
        self.timer_bar.setMaximumHeight(18)
        lay.addWidget(self.timer_bar)
        self.verdict = label("", SMALL_PT + 1)
        self.verdict.setWordWrap(True)
        lay.addWidget(self.verdict)
        lay.addStretch(1)
        self.shown: dict = {}

    def update_view(self, snap: Snapshot) -> None:
        fx = snap.flexor or {}
        state = fx.get("state")
        step = fx.get("step")
        result = fx.get("result")
        # prompt and countdown
        if step is not None:
            i, n, st, left = step
            set_text(self.step_label, f"step {i + 1} of {n}")
            set_text(self.prompt, st.prompt)
            set_text(self.countdown, f"{max(0.0, left):.0f} s" if math.isfinite(left) else "")
        elif result is not None:
            set_text(self.step_label, "test finished")
            set_text(self.prompt, "Done — results below")
            set_text(self.countdown, "")
        elif fx.get("active"):
            set_text(self.prompt, "Waiting for data …")
        if state is not None and state.phase == "waiting_for_standing":
            set_text(self.countdown, "calibrating the thigh axes — stand still")
        if state is not None and state.phase == "refused":
            set_text(self.countdown, state.message)
        # per side: now, and the holds so far (the final result when there is one)
        hold_vals: dict[str, list] = {s: [] for s in SIDES}
        if result is not None:
            for s in SIDES:
                hold_vals[s] = [h["value"] for h in (result.get("sides", {}).get(s, {}).get("holds") or [])]
        elif state is not None:
            for h in state.holds:
                hold_vals[h.side].append(h.value)
        for s in SIDES:
            e = state.elev_deg.get(s) if state is not None else None
            set_text(self.now[s], angle_text(e))
            vals = hold_vals[s]
            if vals:
                txt = f"{len(vals)} hold{'s' if len(vals) != 1 else ''}: median {angle_text(statistics.median(vals))}"
            else:
                txt = "no hold yet"
            set_text(self.holds[s], txt)
            self.shown[s] = {"now": e, "holds": list(vals)}
        # hold timer
        target = None
        if step is not None and step[2].kind == "hold":
            target = max(1.0, step[2].duration_s - step[2].settle_s)
        if state is not None and state.phase == "hold" and state.hold_side is not None:
            el = state.hold_elapsed_s
            tgt = target or 10.0
            set_text(self.timer_label, f"hold: {SIDE_LABEL[state.hold_side].lower()} leg hanging · {el:4.1f} s of {tgt:.0f} s"
                                       f" · {angle_text(state.hold_value_deg)}")
            set_style(self.timer_label, f"color:{SIDE_COLOUR[state.hold_side]}")
            v = int(1000 * min(1.0, el / tgt))
        else:
            set_text(self.timer_label, "no hold now" if fx.get("active") else "")
            set_style(self.timer_label, "color:#777")
            v = 0
        if self.timer_bar.value() != v:
            self.timer_bar.setValue(v)
        set_text(self.verdict, (result or {}).get("verdict", ""))
