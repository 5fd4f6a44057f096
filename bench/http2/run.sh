#!/usr/bin/env bash
# HTTP/2 benchmark (issue 8), one run, one machine, the anchor beside us:
#   1. hello over h2c: `h2load -c 64 -m 10` on GET /healthz of `celeriac api` (release)
#   2. hello over HTTP/1.1: `wrk -t2 -c64` on the same route of the same server       aim: 1 >= 2
#   3. the anchor: the same h2load on `nghttpd` (Debian nghttp2-server) serving a static file of the
#      same size as our /healthz body ({"status": "ok"}, 16 bytes)                    printed: 1 / 3
#   4. POST /tasks over ONE h2c connection, 100 streams at once: `h2load -c 1 -m 100`
#   5. POST /tasks over ONE HTTP/1.1 connection: `wrk -t1 -c1`                         aim: 4 >= 10 x 5
# The API runs with --allow-unknown-tasks and no worker (as bench/submit): POST /tasks validates, enqueues
# on a private redis-server (FLUSHALL before each measurement) and answers 202.
#
#   bench/http2/run.sh                     # DURATION=10 (s) WARMUP=2 (s)
#   BUILD_LOCK= bench/http2/run.sh         # when the caller already holds /tmp/celeriac-build.lock
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
BODY='{"task":"celery_example_2.add","args":[1,2]}'
source "$ROOT/bench/lib.sh"
bench_need h2load nghttpd wrk redis-server redis-cli curl python3
bench_lock_and_build
bench_workdir h2bench
bench_redis

API_PORT=$(free_port)
"$BIN" api --broker "redis://127.0.0.1:$REDIS_PORT/0" --bind "127.0.0.1:$API_PORT" --allow-unknown-tasks -l warning \
  >"$WORK/celeriac.log" 2>&1 &
PIDS+=($!)
wait_http celeriac "http://127.0.0.1:$API_PORT/readyz" "${PIDS[-1]}"
curl -sf --http2-prior-knowledge -o /dev/null "http://127.0.0.1:$API_PORT/healthz" || { echo "no h2c on the API" >&2; exit 1; }

NG_PORT=$(free_port)
mkdir -p "$WORK/docroot"
printf '{"status": "ok"}' >"$WORK/docroot/healthz"
nghttpd --no-tls -d "$WORK/docroot" "$NG_PORT" >"$WORK/nghttpd.log" 2>&1 &
PIDS+=($!)
wait_http nghttpd "http://127.0.0.1:$NG_PORT/healthz" "${PIDS[-1]}" --http2-prior-knowledge

printf '%s' "$BODY" >"$WORK/body.json"
cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
LUA

# h2load_rps ARGS... → req/s (fails loudly on any failed/errored request)
h2load_rps() {
  local out
  h2load --warm-up-time="$WARMUP" -D "$DURATION" "$@" >/dev/null 2>&1 || true
  "${RCLI[@]}" flushall >/dev/null
  out=$(h2load --warm-up-time=1 -D "$DURATION" "$@" 2>&1)
  local failed
  failed=$(awk '/^requests:/ {print $10 + $12 + $14}' <<<"$out")
  [ "${failed:-1}" = 0 ] || { echo "h2load $*: failed/errored/timed out: $failed" >&2; grep -E "^requests:|^status codes:" <<<"$out" >&2; }
  awk '/^finished in/ {print $4}' <<<"$out"
}
# wrk_rps ARGS... → req/s
wrk_rps() {
  local out
  wrk --timeout 5s -d"${WARMUP}s" "$@" >/dev/null
  "${RCLI[@]}" flushall >/dev/null
  out=$(wrk --timeout 5s -d"${DURATION}s" "$@")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then grep "Non-2xx\|Socket errors" <<<"$out" | sed "s/^/wrk $*: /" >&2; fi
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}

API=http://127.0.0.1:$API_PORT
h2_hello=$(h2load_rps -c 64 -m 10 -t 2 "$API/healthz")
h1_hello=$(wrk_rps -t2 -c64 "$API/healthz")
ng_hello=$(h2load_rps -c 64 -m 10 -t 2 "http://127.0.0.1:$NG_PORT/healthz")
h2_post=$(h2load_rps -c 1 -m 100 -t 1 -d "$WORK/body.json" -H 'content-type: application/json' "$API/tasks")
queued=$("${RCLI[@]}" llen celery)
h1_post=$(wrk_rps -t1 -c1 -s "$WORK/post.lua" "$API/tasks")

echo
echo "$(nproc) cores, ${DURATION} s each after a ${WARMUP} s warm-up; celeriac api (release) with threads = cores"
printf '%-46s %12s\n' measurement req/s
printf '%-46s %12s\n' "hello h2c      h2load -c 64 -m 10 (ours)" "$h2_hello"
printf '%-46s %12s\n' "hello HTTP/1.1 wrk -t2 -c64 (ours)" "$h1_hello"
printf '%-46s %12s\n' "hello h2c      h2load -c 64 -m 10 (nghttpd)" "$ng_hello"
printf '%-46s %12s   (%s tasks queued)\n' "POST /tasks h2c, 1 connection, -m 100" "$h2_post" "$queued"
printf '%-46s %12s\n' "POST /tasks HTTP/1.1, 1 connection" "$h1_post"
awk -v a="$h2_hello" -v b="$h1_hello" -v c="$ng_hello" -v d="$h2_post" -v e="$h1_post" 'BEGIN {
  printf "ratio hello h2c / HTTP/1.1:           %.2fx (aim >= 1x)\n", a / b
  printf "ratio hello ours / nghttpd:           %.2fx\n", a / c
  printf "ratio POST one connection h2c / 1.1:  %.2fx (aim >= 10x)\n", d / e
}'
