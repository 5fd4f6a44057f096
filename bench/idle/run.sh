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

# Hold the shared build/benchmark lock for the whole run: other load would show up as idle CPU.
if [ -n "${BUILD_LOCK-flock /tmp/celeriac-build.lock}" ]; then
  exec 9>/tmp/celeriac-build.lock
  echo "waiting for /tmp/celeriac-build.lock ..." >&2
  flock 9
fi
echo "building the release binary ..." >&2
swift build -c release --product celeriac >&2
BIN=$ROOT/.build/release/celeriac

# Bounded: about 30 s idle, 200 tasks at a few ms each; the cap is for a hang.
timeout 600 "$PY" "$HERE/idle.py" --bin "$BIN" "$@"
