#!/usr/bin/env bash
# HTTPServer vs Hummingbird 2, same machine, same wrk run: builds both hello-worlds in release,
# runs `wrk -t2 -c64 -d$DURATION --latency` against each, prints req/s, p99, peak RSS and the ratios.
# Aim (issue 3): at least 2x Hummingbird's req/s at no more than half its RSS.
#
#   bench/http/run.sh                      # DURATION=10s WARMUP=2s THREADS=<cores>
#   BUILD_LOCK= bench/http/run.sh          # when the caller already holds /tmp/celeriac-build.lock
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
THREADS=${THREADS:-$(nproc)}
OURS_PORT=${OURS_PORT:-18090}
HB_PORT=${HB_PORT:-18091}
HB_DIR=$ROOT/bench/http/hummingbird-hello

# Hold the shared build/benchmark lock for the whole run (builds and measurements alike).
if [ -n "${BUILD_LOCK-flock /tmp/celeriac-build.lock}" ]; then
  exec 9>/tmp/celeriac-build.lock
  echo "waiting for /tmp/celeriac-build.lock ..." >&2
  flock 9
fi

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

echo "building release binaries ..." >&2
swift build -c release --product http-hello >&2
swift build -c release --package-path "$HB_DIR" >&2
OURS_BIN=$ROOT/.build/release/http-hello
HB_BIN=$(swift build -c release --package-path "$HB_DIR" --show-bin-path)/HummingbirdHello

PID=""
cleanup() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi; }
trap cleanup EXIT

# measure NAME PORT CMD... → prints "NAME req/s p99 rssMB"
measure() {
  local name=$1 port=$2; shift 2
  "$@" >/dev/null 2>&1 &
  PID=$!
  local deadline=$((SECONDS + 20))
  until curl -sf "http://127.0.0.1:$port/" >/dev/null; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$PID" 2>/dev/null; then
      echo "$name did not start on port $port" >&2; exit 1
    fi
    sleep 0.1
  done
  wrk -t2 -c64 -d"$WARMUP" "http://127.0.0.1:$port/" >/dev/null
  local out
  out=$(wrk -t2 -c64 -d"$DURATION" --latency "http://127.0.0.1:$port/")
  local rps p99 rss
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$PID/status")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then grep "Non-2xx\|Socket errors" <<<"$out" | sed "s/^/$name: /" >&2; fi
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  echo "$name $rps $p99 $rss"
}

ours=$(measure celeriac "$OURS_PORT" "$OURS_BIN" "$OURS_PORT" "$THREADS")
theirs=$(measure hummingbird "$HB_PORT" "$HB_BIN" "$HB_PORT")

echo
echo "wrk -t2 -c64 -d$DURATION --latency, GET / → 'Hello, World!', $(nproc) cores, HTTPServer threads=$THREADS"
printf '%-12s %12s %10s %14s\n' server req/s p99 "peak RSS (MB)"
for line in "$ours" "$theirs"; do
  read -r name rps p99 rss <<<"$line"
  printf '%-12s %12s %10s %14s\n' "$name" "$rps" "$p99" "$rss"
done
read -r _ rps_ours _ rss_ours <<<"$ours"
read -r _ rps_hb _ rss_hb <<<"$theirs"
awk -v a="$rps_ours" -v b="$rps_hb" -v c="$rss_ours" -v d="$rss_hb" 'BEGIN {
  printf "ratio: %.2fx req/s, %.2fx RSS (aim: >= 2x req/s at <= 0.5x RSS)\n", a / b, c / d
}'
