"""Test-wide settings: headless Qt and matplotlib, and where fixtures live."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")

# Tests live in layers (tests/unit/<package>/, tests/property/, tests/integration/, tests/gui/);
# pytest's default "prepend" import mode puts this folder on sys.path (a conftest without
# __init__.py), so every test imports the shared helpers here by name: repo_paths (REPO,
# TEST_DATA), ble_fixtures, cli_helper, independent_sensors, tool_modules. Test file names
# must therefore stay unique across the layers.

# Property tests run the same examples on every run (CI must not turn red on a new random
# draw); explore new examples with HYPOTHESIS_PROFILE=explore (and a larger max_examples in
# the test, or `--hypothesis-seed`). A failure found that way becomes an @example.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
