#!/usr/bin/env bash
# README command 2: set everything up and run the whole test suite.
# Extra arguments go to pytest (e.g. tools/test.sh -k protocol -x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/ensure-dbus.sh || echo "[test] dbus-daemon unavailable: BLE integration tests will skip (reason printed)."
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest "$@"
