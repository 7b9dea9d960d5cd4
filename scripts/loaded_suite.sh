#!/usr/bin/env bash
# Run the whole test suite N times (default 5) with every core kept busy by a spinning process beside it,
# the check behind "no flaky tests" (issue 13). Prints one line per run and, last, one JSON line.
# Usage: bash scripts/loaded_suite.sh [N] [extra pytest args...]
set -uo pipefail
cd "$(dirname "$0")/.."
N="${1:-5}"; shift || true
CORES="$(nproc)"
spin_pids=()
for _ in $(seq "$CORES"); do sh -c 'while :; do :; done' & spin_pids+=("$!"); done
trap 'kill "${spin_pids[@]}" 2>/dev/null' EXIT
fails=0; results=()
for i in $(seq "$N"); do
  start=$(date +%s)
  log="${TMPDIR:-/tmp}/loaded_suite_run$i.log"
  .venv/bin/python -m pytest -q -p no:cacheprovider "$@" >"$log" 2>&1
  out="$(tail -n 1 "$log")"
  line="run $i/$N: ${out} ($(( $(date +%s) - start )) s, $CORES busy processes beside it, log $log)"
  echo "$line"
  grep -E '^(FAILED|ERROR) ' "$log" || true
  case "$out" in *failed*|*error*) fails=$((fails + 1)) ;; esac
  results+=("\"$(echo "$out" | sed 's/"/\\"/g')\"")
done
echo "{\"runs\": $N, \"runs_with_failures\": $fails, \"busy_processes\": $CORES, \"results\": [$(IFS=,; echo "${results[*]}")]}"
[ "$fails" -eq 0 ]
