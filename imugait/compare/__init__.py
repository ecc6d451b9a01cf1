"""Before/after comparison, batch reprocessing and reports.

* :mod:`imugait.compare.stats` — block bootstrap, effect sizes, MDC (numpy only).
* :mod:`imugait.compare.comparison` — :func:`compare` on analysed sessions -> :class:`Comparison`.
* :mod:`imugait.compare.api` — notebook API: ``load_session``, ``load_strides``, ``compare_sessions``.
* :mod:`imugait.compare.reprocess` — parallel batch reprocessing (local processes or Dask).
* :mod:`imugait.compare.runner_report` — one-page runner report of one session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imugait._lazy import lazy_exports

from imugait.compare.comparison import CompareParams, Comparison, compare
from imugait.compare.data import SessionData

if TYPE_CHECKING:  # the lazily imported names, for type checkers and IDEs
    from imugait.compare.api import session_from_result
    from imugait.compare.stats import bootstrap_median_diff
    from imugait.compare.budget import load_budget
    from imugait.compare.group import group_compare
    from imugait.compare.simdata import sim_arrays, write_sim_session
    from imugait.analysis.metrics import ASYM_METRICS, SIDE_METRICS
    from imugait.compare.runner_report import write_runner_report

_LAZY = {
    **dict.fromkeys(("session_from_result",), "imugait.compare.api"),
    **dict.fromkeys(("bootstrap_median_diff",), "imugait.compare.stats"),
    **dict.fromkeys(("load_budget",), "imugait.compare.budget"),
    **dict.fromkeys(("group_compare",), "imugait.compare.group"),
    **dict.fromkeys(("sim_arrays", "write_sim_session"), "imugait.compare.simdata"),
    **dict.fromkeys(("ASYM_METRICS", "SIDE_METRICS"), "imugait.analysis.metrics"),
    **dict.fromkeys(("write_runner_report",), "imugait.compare.runner_report"),
}

__all__ = ["ASYM_METRICS", "bootstrap_median_diff", "compare", "CompareParams", "Comparison",
           "group_compare", "load_budget", "session_from_result", "SessionData", "SIDE_METRICS",
           "sim_arrays", "write_runner_report", "write_sim_session"]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
