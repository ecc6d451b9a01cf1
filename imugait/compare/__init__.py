"""Before/after comparison, batch reprocessing and reports.

* :mod:`imugait.compare.stats` — block bootstrap, effect sizes, MDC (numpy only).
* :mod:`imugait.compare.comparison` — :func:`compare` on analysed sessions -> :class:`Comparison`.
* :mod:`imugait.compare.api` — notebook API: ``load_session``, ``load_strides``, ``compare_sessions``.
* :mod:`imugait.compare.reprocess` — parallel batch reprocessing (local processes or Dask).
* :mod:`imugait.compare.runner_report` — one-page runner report of one session.
"""

from imugait.compare.comparison import CompareParams, Comparison, compare
from imugait.compare.data import SessionData

__all__ = ["CompareParams", "Comparison", "SessionData", "compare"]
