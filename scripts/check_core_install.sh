#!/usr/bin/env bash
# The analysis core alone (`pip install .`, no extras) in a fresh virtual environment: it runs
# analyze, simulate, report and the README's Python example, and pulls in no Qt and no BLE stack.
# Prints the installed size beside that of `.venv` (the `all` install). Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
PY="${PYTHON:-python3}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q "$repo" 2>&1 | grep -v '^WARNING: Location' || true
"$tmp/venv/bin/python" -c "import imu_hinge" || { echo "core: imu-hinge did not install" >&2; exit 1; }
extra=$("$tmp/venv/bin/python" -m pip list --format=freeze 2>/dev/null \
  | grep -iE '^(pyside6[a-z_-]*|shiboken6|pyqt[0-9a-z_-]*|pyqtgraph|qasync|bleak[a-z_-]*|bumble|dbus[a-z_-]*|sounddevice|dask|distributed|pyarrow)==' || true)
if [ -n "$extra" ]; then
  echo "core: the core install pulled optional packages:" $extra >&2
  exit 1
fi
ih="$tmp/venv/bin/imu-hinge"
cd "$tmp"
"$ih" simulate --exercise rdl --reps 4 --rounding 0.5 --seed 3 sim.csv >/dev/null
"$ih" analyze sim.csv --quiet --json sim.json
"$ih" analyze "$repo/recordings/demo_rdl_session.csv" --quiet
"$ih" report sim.csv --out report.html >/dev/null
test -s report.html
# The README's Python example, as tests/test_api.py runs it (the demo path is relative to the repository).
awk '/^## Python API/{s=1} s&&/^```python/{p=1;next} p&&/^```/{exit} p' "$repo/README.md" > example.py
(cd "$repo" && "$tmp/venv/bin/python" -W error "$tmp/example.py" >/dev/null)
err=$("$ih" train --emulate sim.csv 2>&1 >/dev/null) && { echo "core: train ran without the ble extra" >&2; exit 1; }
case "$err" in *"pip install 'imu-hinge[ble]'"*) ;; *) echo "core: train without ble said: $err" >&2; exit 1;; esac
size() { du -sm "$1"/lib/python3*/site-packages 2>/dev/null | cut -f1; }
echo "core install: analyze, simulate, report, Python example ok; no Qt, no BLE; $(size "$tmp/venv") MB" \
     "(all: $( [ -d "$repo/.venv" ] && size "$repo/.venv" || echo '?') MB incl. test tools)"
