#!/bin/sh
# One progress line per set-up phase, with its time; the phase's own output (pip, apt, compilers)
# goes to a log file whose path is printed if the phase fails.
#   scripts/phase.sh LABEL COMMAND [ARGS...]
set -u
label="$1"; shift
log="${TESTBED_SETUP_LOG:-build/setup.log}"
mkdir -p "$(dirname "$log")"
start=$(date +%s.%N)
printf '[setup] %s ...\n' "$label" >&2
printf '\n===== %s: %s (%s)\n' "$(date -u +%FT%TZ)" "$label" "$*" >>"$log"
"$@" >>"$log" 2>&1
rc=$?
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
if [ "$rc" -ne 0 ]; then
  printf '[setup] %s: FAILED after %s s (exit %s); the full output is in %s:\n' "$label" "$secs" "$rc" "$log" >&2
  tail -n 25 "$log" >&2
  exit "$rc"
fi
printf '[setup] %s: ready (%s s)\n' "$label" "$secs" >&2
