#!/usr/bin/env bash
# Drain benchmark: 20,000 celery_example_2.add tasks drained by ONE celeriac worker process (default
# concurrency) vs Celery 5.7's prefork worker -c 2, on a private redis-server. Prints both rates and
# the ratio. Extra arguments go to drain.py (e.g. -n 5000, --only celeriac, --timeout 300).
#
#   bench/drain/run.sh
#
# The build and the timed runs each take the machine-wide lock ($BUILD_LOCK, as in the Makefile),
# so they never overlap another build or benchmark. BUILD_LOCK= when the caller already holds it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD_LOCK=${BUILD_LOCK-flock /tmp/celeriac-build.lock}
cd "$ROOT"

# Python with celery[redis] 5.7: $BENCH_PYTHON, else the project venv (made by `make venv`).
PY=${BENCH_PYTHON:-$ROOT/.run/venv/bin/python}
if [ ! -x "$PY" ]; then
  make --no-print-directory venv
fi
"$PY" -c 'import celery, redis; assert celery.__version__ == "5.7.0", celery.__version__' \
  || { echo "need celery[redis]==5.7.0 in $PY" >&2; exit 1; }

$BUILD_LOCK swift build -c release --product celeriac
BIN=$ROOT/.build/release/celeriac
[ -x "$BIN" ] || { echo "no release binary at $BIN" >&2; exit 1; }

# Bounded: drain.py gives each drain --timeout seconds (600 by default); this caps the whole run.
$BUILD_LOCK timeout 1800 "$PY" "$HERE/drain.py" --bin "$BIN" "$@"
