#!/usr/bin/env bash
# Idle benchmark (issue 15): an idle worker's CPU (% of one core) and threads with -Q a,b,c -c 8, the
# idle API's too, and submit→start latency p50/p99 of 200 tasks submitted one at a time through
# POST /tasks on an idle system. See idle.py for the method. Extra arguments go to idle.py
# (e.g. --idle-seconds 60, -n 1000, --only latency).
#
#   bench/idle/run.sh
#   BUILD_LOCK= bench/idle/run.sh          # when the caller already holds /tmp/celeriac-build.lock
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"

# Python with redis-py: $BENCH_PYTHON, else the bench venv (`make bench-venv`).
PY=${BENCH_PYTHON:-$ROOT/.run/bench-venv/bin/python}
[ -x "$PY" ] || make --no-print-directory bench-venv
"$PY" -c 'import redis' || { echo "need redis-py in $PY (make bench-venv)" >&2; exit 1; }

# Holds the shared build/benchmark lock for the whole run: other load would show up in the numbers.
source "$ROOT/bench/lib.sh"
bench_lock_and_build

# Bounded: about 30 s idle, 200 tasks at a few ms each; the cap is for a hang.
timeout 600 "$PY" "$HERE/idle.py" --bin "$BIN" "$@"
