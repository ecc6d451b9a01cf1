"""Optional parts of imugait (pip extras) and the sentence a command gives when one is missing.

The core install (``pip install imugait``) runs ``analyze``, ``import``, ``simulate``,
``info``, ``record``, ``scan``, ``compare``/``report`` without figures, ``group`` and
``reprocess`` with local processes. Four extras add the rest (``pyproject.toml``):

=========  ==============================  =============================================
extra      packages                        needed by
=========  ==============================  =============================================
live       PySide6, pyqtgraph, qasync      ``imugait live``, the demo's window
dask       dask[distributed]               ``imugait reprocess --scheduler``
reports    matplotlib                      figures in ``compare`` and ``report``
parquet    pyarrow                         ``strides.parquet`` from ``reprocess``
=========  ==============================  =============================================

These are the only deliberately lazy imports of third-party packages in imugait (Qt is
heavy and needs a display stack; Dask and matplotlib are large): a module that uses them
calls :func:`require` first, so a missing extra gives one sentence naming the
``pip install`` line instead of an ``ImportError`` traceback.
"""

from __future__ import annotations

import importlib.util

from imugait.errors import ImugaitError

EXTRAS: dict[str, tuple[str, ...]] = {
    "live": ("PySide6", "pyqtgraph", "qasync"),
    "dask": ("dask", "distributed"),
    "reports": ("matplotlib",),
    "parquet": ("pyarrow",),
}


class MissingExtraError(ImugaitError):
    """A command needs an optional part of imugait that is not installed."""

    exit_code = 1


def missing(extra: str) -> list[str]:
    """The packages of ``extra`` that are not installed (``[]`` when it is complete)."""
    return [m for m in EXTRAS[extra] if not _installed(m)]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: sys.modules[module] is None (import blocked)
        return False


def available(extra: str) -> bool:
    return not missing(extra)


def install_hint(extra: str) -> str:
    return f'pip install "imugait[{extra}]"'


def require(extra: str, what: str, alternative: str = "") -> None:
    """Raise :class:`MissingExtraError` when ``extra`` is not installed.

    ``what`` names what needs it (``"imugait live"``); ``alternative`` is an optional way
    round it (``"or add --no-figures"``).
    """
    gone = missing(extra)
    if gone:
        verb = "is" if len(gone) == 1 else "are"
        raise MissingExtraError(
            f"{what} needs {', '.join(gone)}, which {verb} not installed — {install_hint(extra)}"
            + (f" {alternative}" if alternative else ""))
