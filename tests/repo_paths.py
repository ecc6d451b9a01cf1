"""Where the repository and the committed test data are, for tests at any depth under
``tests/`` (``tests/unit/<package>/``, ``tests/integration/``, …)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
