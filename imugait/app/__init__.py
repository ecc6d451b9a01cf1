"""The application layer: where a recording is run and a session is analysed.

* :mod:`imugait.app.session_analysis` — :func:`analyze_session`, the one path from a session
  file to strides and summaries (``analyze``, ``compare``, ``reprocess``, ``report``,
  ``group`` and the analysis at the close of a recording all call it), and
  :func:`process_session` (analyse and store the results in the file).
* :mod:`imugait.app.run` — :class:`SessionRun`, the one session runner: Source ->
  Acquisition -> {SessionWriter (optional, on demand), per-side GaitPipeline, sinks}, with
  one rule for waiting for sensor information. ``record``, ``demo``, the guided
  ``flexor-test`` and the live dashboard (``live/backend.py``, an adapter feeding the Qt
  model) all run a session through it.
* :mod:`imugait.app.record` — ``imugait record`` and ``demo`` on a SessionRun: lock,
  markers from stdin, status line, exit codes, the analysis stored at the close.
* :mod:`imugait.app.redecode` — a session decoded again from its raw notifications through
  the same acquisition engine (``imugait reprocess --redecode``).

Below this layer: ``store`` (HDF5 schema, writer, reader, repair, importers), ``acquire``
(sources, decoding, clocks), ``analysis`` (the algorithms) and ``sim`` (simulated sensors).
Above it: ``compare`` (reports and statistics over analysed sessions), ``live`` (the Qt
dashboard) and ``cli`` (the commands). ``tools/import_graph.py --check`` enforces the order.
"""

from __future__ import annotations

from imugait.app.run import SessionRun
from imugait.app.session_analysis import (SessionAnalysis, analyze_flexor_session, analyze_session, process_session,
                                          session_inputs, try_store_analysis)

__all__ = ["SessionAnalysis", "SessionRun", "analyze_flexor_session", "analyze_session", "process_session",
           "session_inputs", "try_store_analysis"]
