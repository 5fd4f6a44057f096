#!/usr/bin/env bash
# Chaos check of the delivery guarantees (issue 5): 20,000 add tasks through the HTTP API into a
# private redis-server with AOF, 3 celeriac workers (-c 4) SIGKILLed and restarted every few seconds,
# redis-server killed and restarted once; then lost (must be 0), wrong, duplicates, the longest wait
# of a killed worker's task, and end-to-end throughput. Exit non-zero if anything accepted was lost or wrong.
#
#   bench/chaos/run.sh                         # release build, full run (20,000 tasks, 30 s lease)
#   bench/chaos/run.sh --short                 # 2,000 tasks, 2 kills, one redis restart, 5 s lease
#   CONFIG=debug bench/chaos/run.sh --short    # the debug binary (what `make chaos-short` runs)
#   bench/chaos/run.sh -n 5000 --kill-every 2 --lease-timeout 10 --keep    # see chaos.py --help
#
# The build and the run each take the machine-wide lock ($BUILD_LOCK, as in the Makefile), so they
# never overlap another build or benchmark. BUILD_LOCK= when the caller already holds it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD_LOCK=${BUILD_LOCK-flock /tmp/celeriac-build.lock}
CONFIG=${CONFIG:-release}
cd "$ROOT"

# Python with redis-py: $BENCH_PYTHON, else the project venv (made by `make venv`).
PY=${BENCH_PYTHON:-$ROOT/.run/venv/bin/python}
if [ ! -x "$PY" ]; then
  make --no-print-directory venv
fi
"$PY" -c 'import redis' || { echo "need redis-py in $PY (make venv)" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "redis-server is not installed (make apt)" >&2; exit 2; }

$BUILD_LOCK swift build -c "$CONFIG" --product celeriac
BIN=$ROOT/.build/$CONFIG/celeriac
[ -x "$BIN" ] || { echo "no $CONFIG binary at $BIN" >&2; exit 2; }

# Bounded: chaos.py caps itself (--timeout, 1500 s by default); this caps the whole run.
$BUILD_LOCK timeout --kill-after=30 1800 "$PY" "$HERE/chaos.py" --bin "$BIN" "$@"
