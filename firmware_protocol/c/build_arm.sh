#!/usr/bin/env bash
# Cross-compile the C reference codec for a Cortex-M4 (the nRF52840 of the reference sensor) with
# warnings as errors, and print its size. Needs Debian's gcc-arm-none-eabi and libnewlib-arm-none-eabi (.ci/run installs both).
# Usage: bash firmware_protocol/c/build_arm.sh [OUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$(mktemp -d)}"
cc="${ARM_CC:-arm-none-eabi-gcc}"
command -v "$cc" >/dev/null || { echo "build_arm: $cc not found: apt-get install gcc-arm-none-eabi" >&2; exit 2; }
"$cc" -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os -std=c99 \
  -Wall -Wextra -Werror -pedantic -Wconversion -Wsign-conversion -Wshadow -Wstrict-prototypes \
  -Wmissing-prototypes -Wdouble-promotion -ffunction-sections -fdata-sections \
  -c "$here/imu_proto.c" -o "$out/imu_proto.o"
"${cc%gcc}size" "$out/imu_proto.o"
