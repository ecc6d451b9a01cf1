"""imugait — gait analysis from thigh-worn inertial sensors.

Where things live (follow a sample from the radio to the screen):

* ``imugait.protocol``  — wire formats: packet bytes -> :class:`imugait.types.SampleBlock`
  (own open protocol, Polar PMD, Movesense).
* ``imugait.acquire``   — sources (BLE via bleak, replay), link
  supervision, loss accounting, the acquisition engine (packet -> sample).
* ``imugait.clock``     — device -> host clock mapping (live and final), used by ``acquire``
  and by the session reader.
* ``imugait.sim``       — gait simulator with ground truth, virtual sensor firmware, the
  simulated BLE link, emulated BlueZ.
* ``imugait.analysis``  — calibration, thigh angle, strides, events, metrics, asymmetry
  (one streaming implementation for live and batch).
* ``imugait.store``     — HDF5 sessions (schema, crash-safe writer, reader, stored results),
  CSV/HuGaDB import.
* ``imugait.app``       — where a recording is run and a session is analysed
  (``analyze_session``: the one session -> strides path).
* ``imugait.compare``   — before/after statistics, batch reprocessing, reports.
* ``imugait.live``      — the Qt/pyqtgraph dashboard (the only place that imports Qt).
* ``imugait.cli``       — the commands.

The layer order (no package imports one above it) is in ``docs/architecture.md``.
"""

from imugait._version import __version__


def open_session(path, mode: str = "r"):
    """Open an HDF5 session for reading (see ``docs/session-schema.md``)."""
    from imugait.store.reader import open_session as _open

    return _open(path, mode=mode)


__all__ = ["__version__", "open_session"]
