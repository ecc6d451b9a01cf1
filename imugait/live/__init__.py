"""Live dashboard (Qt + pyqtgraph) — the only package that imports Qt.

Layout
------
``model``    :class:`LiveModel` — preallocated ring buffers and latest status, written by
             the acquisition worker, read (as copies) by the GUI timer. No Qt.
``metrics``  pure functions the dashboard shows: running medians, L/R balance % and its
             colour band, cadence, gait type. No Qt.
``backend``  :class:`LiveBackend` — a worker thread running its own asyncio loop:
             Source -> Acquisition -> SessionWriter (recording) + GaitPipeline -> model.
``widgets``  / ``app``  the Qt window; redraws from the model on a QTimer (30 fps).
``cli``      ``imugait live``.

Only ``widgets``, ``app`` and ``cli`` (when it opens a window) import Qt; ``model``,
``metrics`` and ``backend`` can be used without a display.
"""

from __future__ import annotations

__all__ = ["run_live"]


def run_live(*args, **kwargs):
    """Open the live dashboard (see :func:`imugait.live.app.run_live`)."""
    from imugait.live.app import run_live as _run_live

    return _run_live(*args, **kwargs)
