#!/usr/bin/env bash
# Set up a development checkout: .venv/ with the package (editable, every extra) and its test
# tools, then run the main job on the bundled demo recording (no hardware needed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# The core's compiled loops include VQF's C++ (imu_hinge/fusion/_vqf): the build needs a C++ compiler. Debian/Ubuntu:
# installed here when missing (macOS: Xcode's command line tools; Windows: the MSVC build tools).
if ! command -v c++ >/dev/null 2>&1 && ! command -v g++ >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "setup: installing g++ (the core's compiled loops)"
  $SUDO apt-get install -y -qq --no-install-recommends g++ >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends g++ >/dev/null; }
fi
# Sound for the audio cues: sounddevice (the audio extra) loads PortAudio, a system library (Debian/Ubuntu;
# macOS and Windows: see the README). Idempotent; never fatal (without it the cues are silent, with a note).
if command -v dpkg >/dev/null 2>&1 && ! dpkg -s libportaudio2 >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "setup: installing libportaudio2 (audio cues)"
  { $SUDO apt-get install -y -qq --no-install-recommends libportaudio2 >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends libportaudio2 >/dev/null; }; } \
    || echo "setup: could not install libportaudio2 (apt-get install libportaudio2); audio cues will be silent"
fi
.venv/bin/python -m pip install -q -e ".[all,test]"
.venv/bin/imu-hinge analyze recordings/demo_rdl_session.csv
