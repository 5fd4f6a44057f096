#!/usr/bin/env bash
# Group benchmark (issue 14): a 1,000-member POST /groups and GET /groups/{id}, p50/p90/p99 over 50
# requests each against the release `celeriac api` on a private redis-server. See groups.py for the
# method. Extra arguments go to groups.py (e.g. --members 10000, -n 200).
#
#   bench/groups/run.sh
#   BUILD_LOCK= bench/groups/run.sh          # when the caller already holds /tmp/celeriac-build.lock
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
timeout 600 "$PY" "$HERE/groups.py" --bin "$BIN" "$@"
