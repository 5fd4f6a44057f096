#!/usr/bin/env bash
# History benchmark (issue 9): GET /tasks p50/p90/p99 with 100,000 stored tasks (release build),
# first page and filtered pages; see history.py. Extra arguments go to history.py (-n, --requests).
#
#   bench/history/run.sh
#   BUILD_LOCK= bench/history/run.sh     # when the caller already holds /tmp/celeriac-build.lock
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
for tool in redis-server redis-cli python3; do
  command -v $tool >/dev/null || { echo "$tool is not installed (make apt)" >&2; exit 1; }
done
# Hold the shared build/benchmark lock for the whole run (build and measurements alike).
if [ -n "${BUILD_LOCK-flock /tmp/celeriac-build.lock}" ]; then
  exec 9>/tmp/celeriac-build.lock
  echo "waiting for /tmp/celeriac-build.lock ..." >&2
  flock 9
fi
swift build -c release --product celeriac >&2
timeout 900 python3 "$HERE/history.py" --bin "$ROOT/.build/release/celeriac" "$@"
