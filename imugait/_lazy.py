"""Lazy names of a package façade: the one implementation of the module ``__getattr__`` /
``__dir__`` pair the façades (``imugait.acquire``, ``.analysis``, ``.compare``, ``.store``) use,
so that importing a façade does not import h5py, bleak or scipy until a name is used."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(package: str, lazy: Mapping[str, str],
                 exported: Sequence[str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: a name in ``lazy`` (name -> defining module)
    is imported on first use and cached in the package's namespace."""

    def __getattr__(name: str) -> Any:
        mod = lazy.get(name)
        if mod is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(mod), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exported))

    return __getattr__, __dir__
