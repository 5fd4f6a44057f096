#!/usr/bin/env bash
# What bearer tokens and metrics cost (issue 11): the same run measures, alternately,
#  - hello (bench/http's http-hello, wrk -t2 -c64) plain vs behind RequestMetrics + BearerAuth with
#    a Prometheus backend (`http-hello PORT THREADS auth-metrics`, wrk sending the token);
#  - a 20,000-task drain (bench/drain/drain.py --only celeriac) plain vs with --metrics-bind, a tokens
#    file and /metrics scraped with a token every second.
# Each mode runs ROUNDS times (default 2, interleaved off/on) and the mean is compared. Aim: on costs at
# most 5 % of off.
#
#   bench/auth/run.sh                 # DURATION=10s ROUNDS=2 TASKS=20000 PARTS="hello drain"
#   PARTS=hello ROUNDS=3 bench/auth/run.sh   # hello only
#   BUILD_LOCK= bench/auth/run.sh     # when the caller already holds /tmp/celeriac-build.lock
#   BENCH_HELLO=/tmp/hello-a PARTS=hello bench/auth/run.sh   # a given http-hello binary, not built
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
PARTS=${PARTS:-hello drain}
TASKS=${TASKS:-20000}
THREADS=${THREADS:-$(nproc)}
PORT=${PORT:-18095}
METRICS_PORT=${METRICS_PORT:-18096}
TOKEN=bench-token-0123456789abcdef
PY=${BENCH_PYTHON:-$ROOT/.run/venv/bin/python}

if [ -n "${BUILD_LOCK-flock /tmp/celeriac-build.lock}" ]; then
  exec 9>/tmp/celeriac-build.lock
  echo "waiting for /tmp/celeriac-build.lock ..." >&2
  flock 9
fi
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }
[ -x "$PY" ] || make --no-print-directory venv
# BENCH_HELLO / BENCH_BIN: measure those binaries as they are (A/B runs of two builds), no build.
[ -n "${BENCH_HELLO:-}" ] || swift build -c release --product http-hello >&2
case " $PARTS " in *" drain "*) [ -n "${BENCH_BIN:-}" ] || swift build -c release --product celeriac >&2 ;; esac
HELLO=${BENCH_HELLO:-$ROOT/.build/release/http-hello}
BIN=${BENCH_BIN:-$ROOT/.build/release/celeriac}
WORK=$(mktemp -d)
PID=""
SCRAPER=""
cleanup() {
  for p in $PID $SCRAPER; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# hello MODE → req/s
hello() {
  local mode=$1 header=()
  if [ "$mode" = on ]; then
    "$HELLO" "$PORT" "$THREADS" auth-metrics >/dev/null 2>&1 &
    header=(-H "Authorization: Bearer $TOKEN")
  else
    "$HELLO" "$PORT" "$THREADS" >/dev/null 2>&1 &
  fi
  PID=$!
  local deadline=$((SECONDS + 20))
  until curl -sf "${header[@]}" "http://127.0.0.1:$PORT/" >/dev/null; do
    [ $SECONDS -lt $deadline ] && kill -0 "$PID" 2>/dev/null || { echo "http-hello ($mode) did not start" >&2; exit 1; }
    sleep 0.1
  done
  wrk -t2 -c64 -d2s "${header[@]}" "http://127.0.0.1:$PORT/" >/dev/null
  local out
  out=$(wrk -t2 -c64 -d"$DURATION" "${header[@]}" "http://127.0.0.1:$PORT/")
  if grep -q "Non-2xx" <<<"$out"; then echo "hello ($mode): non-2xx answers" >&2; exit 1; fi
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}

# drain MODE → tasks/s
drain() {
  local mode=$1 out
  if [ "$mode" = on ]; then
    echo "$TOKEN read,submit,admin bench" >"$WORK/tokens"
    (while sleep 1; do curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$METRICS_PORT/metrics"; done) &
    SCRAPER=$!
    out=$(CELERIAC_METRICS_BIND=127.0.0.1:$METRICS_PORT CELERIAC_AUTH_TOKENS_FILE=$WORK/tokens \
          timeout 900 "$PY" bench/drain/drain.py --bin "$BIN" --only celeriac -n "$TASKS")
    kill "$SCRAPER"; wait "$SCRAPER" 2>/dev/null || true; SCRAPER=""
  else
    out=$(env -u CELERIAC_METRICS_BIND -u CELERIAC_AUTH_TOKENS_FILE timeout 900 "$PY" bench/drain/drain.py --bin "$BIN" --only celeriac -n "$TASKS")
  fi
  sed -n 's/.* = \([0-9.]*\) tasks\/s.*/\1/p' <<<"$out" | tail -1
}

# cost = (off - on) / off: the share of the plain rate that auth + metrics take.
cost() { awk -v off="$1" -v on="$2" 'BEGIN { printf "%+.1f %%", (off - on) / off * 100 }'; }

declare -A sum=()
declare -A costs=()
for what in $PARTS; do
  for round in $(seq "$ROUNDS"); do
    declare -A rate=()
    for mode in off on; do
      rate[$mode]=$($what $mode)
      sum[${what}_$mode]=$(awk -v a="${sum[${what}_$mode]:-0}" -v b="${rate[$mode]}" 'BEGIN {print a + b}')
    done
    c=$(cost "${rate[off]}" "${rate[on]}")
    costs[$what]+="${costs[$what]:+, }$c"
    echo "round $round $what: off ${rate[off]}, on ${rate[on]}: cost $c" >&2
  done
done
echo
echo "auth + metrics, off vs on (mean of $ROUNDS interleaved rounds, $(nproc) cores; cost = (off - on) / off)"
for what in $PARTS; do
  awk -v w="$what" -v off="${sum[${what}_off]}" -v on="${sum[${what}_on]}" -v n="$ROUNDS" -v rounds="${costs[$what]}" 'BEGIN {
    unit = (w == "hello") ? "req/s" : "tasks/s"
    printf "%-6s off %10.0f %s   on %10.0f %s   COST %+.1f %% (aim: at most 5 %%; per round: %s)\n", w, off / n, unit, on / n, unit, (off - on) / off * 100, rounds
  }'
done
