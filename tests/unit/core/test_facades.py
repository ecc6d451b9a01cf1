"""The public façades tools and notebooks import from (``imugait.acquire``, ``imugait.store``,
``imugait.analysis``, ``imugait.compare``): every listed name resolves to the object of the
module that defines it, and the lazy ones stay lazy (importing ``imugait.store`` or
``imugait.acquire`` alone pulls in neither h5py nor bleak)."""

import importlib
import subprocess
import sys

import pytest

FACADES = ("imugait.acquire", "imugait.store", "imugait.analysis", "imugait.compare")


@pytest.mark.parametrize("name", FACADES)
def test_every_public_name_resolves_to_its_defining_module(name):
    pkg = importlib.import_module(name)
    assert pkg.__all__ and len(pkg.__all__) == len(set(pkg.__all__))
    lazy = getattr(pkg, "_LAZY", {})
    for attr in pkg.__all__:
        obj = getattr(pkg, attr)
        if attr in lazy:  # the very object the defining module holds, not a copy or a wrapper
            assert obj is getattr(importlib.import_module(lazy[attr]), attr)
        assert not hasattr(obj, "__spec__"), f"{name}.{attr} is a module, not the public object"
    with pytest.raises(AttributeError, match="no attribute"):
        _ = pkg.no_such_name


def test_light_facades_do_not_import_heavy_dependencies():
    code = ("import sys, imugait.store, imugait.acquire; "
            "print(sorted(m for m in ('h5py', 'bleak') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
