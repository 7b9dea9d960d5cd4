#!/usr/bin/env bash
# Set up a development checkout: .venv/ with the package (editable) and its test tools,
# then run the main job on the bundled demo recording (no hardware needed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
.venv/bin/imu-hinge analyze recordings/demo_rdl_session.csv
