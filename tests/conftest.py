"""Test-wide settings: headless Qt and matplotlib, and where fixtures live."""

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = Path(__file__).resolve().parent / "data"

# Property tests run the same examples on every run (CI must not turn red on a new random
# draw); explore new examples with HYPOTHESIS_PROFILE=explore (and a larger max_examples in
# the test, or `--hypothesis-seed`). A failure found that way becomes an @example.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
