"""Load the validation modules kept under ``tools/`` (scripts, not part of the installed
package) by file path, the way ``python tools/validate.py`` sees them: each registered under
its own name so that its imports of sibling tool modules resolve."""

import importlib.util
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1] / "tools"
_DEPENDS = {"validate": ("gait_reference", "running_validation", "foot_reference", "validate_walking"),
            "validate_walking": ("gait_reference", "running_validation", "foot_reference")}


def load_tool(name: str):
    if name in sys.modules:
        return sys.modules[name]
    for dep in _DEPENDS.get(name, ()):
        load_tool(dep)
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
