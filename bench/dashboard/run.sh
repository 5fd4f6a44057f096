#!/usr/bin/env bash
# Dashboard first paint (issue 9: under 1 s) in headless Chromium, release build, beside Flower 2.2's
# dashboard on the same Redis as the anchor; N cold loads each (see fcp.py). Extra arguments go to fcp.py
# (e.g. --loads 20, --no-flower).
#
#   bench/dashboard/run.sh
#   BUILD_LOCK= bench/dashboard/run.sh       # when the caller already holds /tmp/celeriac-build.lock
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"

# Python with Selenium and Flower: the test venv (`make venv`).
PY=${BENCH_PYTHON:-$ROOT/.run/venv/bin/python}
[ -x "$PY" ] || make --no-print-directory venv
"$PY" -c 'import selenium, flower' || { echo "need selenium and flower in $PY (make venv)" >&2; exit 1; }

# Hold the shared build/benchmark lock for the whole run: other load would show up in the timings.
if [ -n "${BUILD_LOCK-flock /tmp/celeriac-build.lock}" ]; then
  exec 9>/tmp/celeriac-build.lock
  echo "waiting for /tmp/celeriac-build.lock ..." >&2
  flock 9
fi
echo "building the release binary ..." >&2
swift build -c release --product celeriac >&2
timeout 600 "$PY" "$HERE/fcp.py" --bin "$ROOT/.build/release/celeriac" "$@"
