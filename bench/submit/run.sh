#!/usr/bin/env bash
# Submit benchmark (issue 15): how many tasks per second can a client hand to the queue over HTTP?
# Same run, same machine, one private redis-server (FLUSHALL between the three):
#   1. celeriac api (release, --allow-unknown-tasks, no worker running) under
#      `wrk -t2 -c32 -d$DURATION --latency -s post.lua`, POST /tasks {"task":"celery_example_2.add","args":[1,2]}
#   2. Flower 2.2 (the bench venv) on bench/drain/pyapp.py's Celery app (broker and result backend on the
#      same Redis), same wrk, POST /api/task/async-apply/celery_example_2.add {"args":[1,2]}
#   3. `redis-benchmark -t lpush -c 50 -n 200000`: the rate Redis itself takes LPUSHes at, the limit
# Prints req/s and latency p50/p99 of each, and the ratios ours/Flower and ours/LPUSH.
# Neither API has a worker consuming: both only validate, publish (LPUSH) and answer, and the messages
# pile up in Redis; --allow-unknown-tasks because Flower checks nothing but its own app's task table
# either (the registry check adds one cached lookup per request on ours).
#
#   bench/submit/run.sh                    # DURATION=10s WARMUP=2s CONNECTIONS=32
#   BUILD_LOCK= bench/submit/run.sh        # when the caller already holds /tmp/celeriac-build.lock
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
HERE=$ROOT/bench/submit
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-32}
TASK=celery_example_2.add

# Python with celery[redis] 5.7 and flower 2.2: $BENCH_PYTHON, else the bench venv (`make bench-venv`).
PY=${BENCH_PYTHON:-$ROOT/.run/bench-venv/bin/python}
[ -x "$PY" ] || make --no-print-directory bench-venv
"$PY" -c 'import celery, flower; assert flower.__version__.startswith("2.2"), flower.__version__' \
  || { echo "need flower==2.2.* and celery[redis] in $PY (make bench-venv)" >&2; exit 1; }
source "$ROOT/bench/lib.sh"
bench_need wrk redis-server redis-benchmark redis-cli curl python3
bench_lock_and_build
bench_workdir submit
bench_redis
URL=redis://127.0.0.1:$REDIS_PORT/0

# measure NAME URL BODY → "NAME req/s p50 p99 requests queued"; the server must already be up.
measure() {
  local name=$1 url=$2 body=$3 out
  BODY=$body wrk -t2 -c"$CONNECTIONS" -d"$WARMUP" -s "$HERE/post.lua" "$url" >/dev/null
  "${RCLI[@]}" flushall >/dev/null
  out=$(BODY=$body wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$HERE/post.lua" "$url")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
    grep "Non-2xx\|Socket errors" <<<"$out" | sed "s/^/$name: /" >&2
  fi
  local rps p50 p99 requests queued
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  queued=$("${RCLI[@]}" llen celery)
  echo "$name $rps $p50 $p99 $requests $queued"
}

stop_last() { stop_pid "${PIDS[-1]}"; unset 'PIDS[-1]'; }

# 1. Ours.
API_PORT=$(free_port)
"$BIN" api --broker "$URL" --bind "127.0.0.1:$API_PORT" --allow-unknown-tasks -l warning >"$WORK/celeriac.log" 2>&1 &
PIDS+=($!)
wait_http celeriac "http://127.0.0.1:$API_PORT/readyz" "${PIDS[-1]}"
ours=$(measure celeriac "http://127.0.0.1:$API_PORT/tasks" "{\"task\":\"$TASK\",\"args\":[1,2]}")
stop_last

# 2. Flower 2.2 on the drain benchmark's Celery app (it defines celery_example_2.add).
FLOWER_PORT=$(free_port)
FLOWER_UNAUTHENTICATED_API=true BENCH_REDIS_URL=$URL PYTHONPATH=$ROOT/bench/drain \
  "$PY" -m celery -A pyapp flower --address=127.0.0.1 --port="$FLOWER_PORT" --logging=warning >"$WORK/flower.log" 2>&1 &
PIDS+=($!)
wait_http flower "http://127.0.0.1:$FLOWER_PORT/healthcheck" "${PIDS[-1]}"
theirs=$(measure flower "http://127.0.0.1:$FLOWER_PORT/api/task/async-apply/$TASK" '{"args":[1,2]}')
stop_last

# 3. Redis's own LPUSH rate (50 clients, unpipelined).
"${RCLI[@]}" flushall >/dev/null
# --csv: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
lpush=$(redis-benchmark -p "$REDIS_PORT" -t lpush -c 50 -n 200000 --csv | tr -d '"' \
  | awk -F, '$1 == "LPUSH" {printf "redis-lpush %s %sms %sms 200000 -\n", $2, $5, $7}')

echo
echo "$(nproc) cores; wrk -t2 -c$CONNECTIONS -d$DURATION --latency (after a $WARMUP warm-up); redis-benchmark -t lpush -c 50 -n 200000"
printf '%-12s %10s %10s %10s %10s %10s\n' what req/s p50 p99 requests queued
for line in "$ours" "$theirs" "$lpush"; do
  read -r name rps p50 p99 requests queued <<<"$line"
  printf '%-12s %10s %10s %10s %10s %10s\n' "$name" "$rps" "$p50" "$p99" "$requests" "$queued"
done
read -r _ rps_ours _ <<<"$ours"
read -r _ rps_flower _ <<<"$theirs"
read -r _ rps_lpush _ <<<"$lpush"
awk -v a="$rps_ours" -v b="$rps_flower" -v c="$rps_lpush" 'BEGIN {
  printf "ratio ours/flower: %.1fx (aim >= 50x)   ours/redis-lpush: %.2fx (aim >= 0.35x)\n", a / b, a / c
}'
