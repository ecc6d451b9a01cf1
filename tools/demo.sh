#!/usr/bin/env bash
# README command 1: set everything up and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/ensure-dbus.sh || true
exec .venv/bin/imugait demo "$@"
