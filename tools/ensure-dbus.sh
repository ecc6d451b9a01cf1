#!/usr/bin/env bash
# The BLE integration tests and the demo's BLE path run a private dbus-daemon.
# Install it when missing and we may (root or password-less sudo, apt-get present).
set -uo pipefail
command -v dbus-daemon >/dev/null 2>&1 && exit 0
[ "$(uname -s)" = Linux ] || exit 1
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "[dbus] dbus-daemon missing and no root: install the 'dbus' package to run BLE tests." >&2; exit 1; fi
fi
if command -v apt-get >/dev/null 2>&1; then
  echo "[dbus] installing dbus-daemon (apt-get install dbus-daemon)"
  ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dbus-daemon) >/dev/null 2>&1 \
    || (DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dbus) >/dev/null 2>&1
elif command -v dnf >/dev/null 2>&1; then $SUDO dnf install -y -q dbus-daemon >/dev/null 2>&1
fi
command -v dbus-daemon >/dev/null 2>&1
