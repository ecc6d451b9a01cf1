#!/usr/bin/env bash
# Create .venv (Python >= 3.11) and install imugait with its dev extras. Idempotent.
# Used by tools/demo.sh and tools/test.sh; safe to run by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

pick_python() {
  for c in "${PYTHON:-}" python3.13 python3.12 python3.11 python3 python; do
    [ -n "$c" ] || continue
    command -v "$c" >/dev/null 2>&1 || continue
    if "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ]; then
  PY=$(pick_python) || { echo "imugait needs Python >= 3.11 (python3 --version is older or missing)." >&2; exit 1; }
  echo "[setup] creating .venv with $($PY --version)"
  "$PY" -m venv .venv || {
    echo "[setup] 'python3 -m venv' failed: on Debian/Ubuntu install python3-venv (apt-get install python3-venv)." >&2; exit 1; }
fi

stamp=.venv/.imugait-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] installing imugait and its dependencies into .venv (first run takes a minute)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
  touch "$stamp"
fi
