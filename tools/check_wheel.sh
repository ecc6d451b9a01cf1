#!/usr/bin/env bash
# Build imugait's wheel, install it (core only, no extras) into a fresh venv outside the
# source tree and run the CLI from there — what `pip install imugait` gives a user.
# Checks: --help, analyze on the shipped recording (package data), simulate, import, info,
# analyze of the session, compare --no-figures, record --simulate, reprocess, check-sensor
# --help, py.typed shipped, and that `live`/`compare`/`report` name their extra.
# Reuses pip's cache (a second run installs from it). Usage: bash tools/check_wheel.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
pick_python() {
  for c in "${PYTHON:-}" python3.13 python3.12 python3.11 python3 python; do
    [ -n "$c" ] || continue
    command -v "$c" >/dev/null 2>&1 || continue
    if "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then echo "$c"; return 0; fi
  done
  return 1
}
PY=$(pick_python) || { echo "[wheel] needs Python >= 3.11" >&2; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/imugait-wheel.XXXXXX")
trap 'rm -rf "$W"' EXIT
t0=$(date +%s)
echo "[wheel] building the wheel from $ROOT"
"$PY" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$W/dist" "$ROOT" >/dev/null
WHL=$(ls "$W"/dist/imugait-*.whl)
echo "[wheel] $(basename "$WHL"); installing it into a fresh venv (core dependencies only)"
"$PY" -m venv "$W/venv"
"$W/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$WHL" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
IMU="$W/venv/bin/imugait"
mkdir -p "$W/run" && cd "$W/run"   # nowhere near the source tree
fail() { echo "[wheel] FAILED: $*" >&2; exit 1; }
"$W/venv/bin/python" - <<'PY' || fail "installed package check"
import importlib.util, pathlib, sys
import imugait
p = pathlib.Path(imugait.__file__).parent
assert "site-packages" in str(p), p
assert (p / "py.typed").exists(), "py.typed missing"
assert (p / "data" / "hugadb_walking_06" / "left.csv").exists(), "sample recording missing"
extras = [m for m in ("PySide6", "pyqtgraph", "qasync", "matplotlib", "dask", "distributed", "pyarrow") if importlib.util.find_spec(m)]
assert not extras, f"core install pulled in optional packages: {extras}"
print(f"[wheel] installed at {p} with py.typed and the sample recording; no optional packages")
PY
"$IMU" --help >/dev/null || fail "imugait --help"
"$IMU" analyze --out a --quiet || fail "imugait analyze (shipped recording)"
[ -s a/summary.json ] && [ -s a/strides.csv ] || fail "analyze wrote no results"
"$IMU" simulate --gait walk --duration 25 --out sim >/dev/null || fail "imugait simulate"
"$IMU" import --left sim/left.csv --right sim/right.csv --out s.h5 --subject R1 --condition pre >/dev/null || fail "imugait import"
"$IMU" info s.h5 | grep -q "left" || fail "imugait info"
"$IMU" analyze s.h5 --out b --quiet || fail "imugait analyze (session)"
"$IMU" compare s.h5 s.h5 --out c --no-figures >/dev/null || fail "imugait compare --no-figures"
"$IMU" record --simulate --duration 4 --speed 10 --out rec.h5 --quiet >/dev/null 2>&1 || fail "imugait record --simulate"
"$IMU" reprocess s.h5 rec.h5 --jobs 1 --out rp -q >/dev/null 2>&1 || fail "imugait reprocess"
[ -s rp/strides.csv ] || fail "reprocess wrote no strides.csv"
"$IMU" check-sensor --help >/dev/null || fail "imugait check-sensor --help"
set +e
msg=$("$IMU" live --simulate 2>&1); rc=$?
set -e
{ [ $rc -ne 0 ] && grep -q 'pip install "imugait\[live\]"' <<<"$msg"; } || fail "live without the [live] extra: $msg"
set +e
msg=$("$IMU" compare s.h5 s.h5 --out c2 2>&1); rc=$?
set -e
{ [ $rc -ne 0 ] && grep -q 'pip install "imugait\[reports\]"' <<<"$msg"; } || fail "compare without the [reports] extra: $msg"
set +e
msg=$("$IMU" report s.h5 --out rep 2>&1); rc=$?
set -e
{ [ $rc -ne 0 ] && grep -q 'pip install "imugait\[reports\]"' <<<"$msg"; } || fail "report without the [reports] extra: $msg"
echo "[wheel] OK: help, analyze (shipped recording and a session), simulate, import, info, compare, record, reprocess; live/compare/report name their extra ($(( $(date +%s) - t0 )) s)"
