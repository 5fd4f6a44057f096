#!/usr/bin/env bash
# What one enqueue script call costs Redis (issues 8 and 15: the submit path's fixed cost per call).
# For each binary: `celeriac api` on a private redis-server whose commands `redis-cli MONITOR` captures
# while POST /tasks arrive one at a time (curl) and 7 and 32 at once (h2load -c1 -m7/-m32: the batcher
# sends one call per loop turn); then, per batch size 1, 7 and 32, a fresh redis-server under
# `valgrind --tool=callgrind` replays those calls with fresh task ids (replay.py) and prints the
# instructions per call and per task (deterministic: compare two builds with these, not wall time).
# COMMANDSTATS=1 adds Redis's own usec per call and task (wall time: noisy on a shared machine).
#
#   bench/script-cost/run.sh                                   # the release build of this tree
#   BINS="/tmp/celeriac-old .build/release/celeriac" BUILD_LOCK= bench/script-cost/run.sh   # A/B
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
HERE=$ROOT/bench/script-cost
PY=${BENCH_PYTHON:-$ROOT/.run/bench-venv/bin/python}
[ -x "$PY" ] || make --no-print-directory bench-venv
COUNT=${COUNT:-100}
source "$ROOT/bench/lib.sh"
bench_need valgrind callgrind_control h2load redis-server redis-cli curl
if [ -n "${BINS:-}" ]; then BENCH_BIN=${BINS%% *}; fi
bench_lock_and_build
bench_workdir script-cost
read -r -a binaries <<<"${BINS:-$BIN}"

capture() { # BIN DIR: DIR/monitor.txt
  local bin=$1 dir=$2 rport aport
  mkdir -p "$dir"
  rport=$(free_port); aport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --logfile "$dir/redis.log" &
  PIDS+=($!)
  until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.05; done
  redis-cli -p "$rport" monitor >"$dir/monitor.txt" &
  PIDS+=($!)
  "$bin" api --broker "redis://127.0.0.1:$rport" --bind "127.0.0.1:$aport" --allow-unknown-tasks -l warning \
    >"$dir/api.log" 2>&1 &
  PIDS+=($!)
  wait_http celeriac "http://127.0.0.1:$aport/readyz" "${PIDS[-1]}"
  printf '{"task":"celery_example_2.add","args":[1,2]}' >"$dir/body.json"
  for _ in 1 2 3 4 5; do
    curl -s -XPOST -H 'content-type: application/json' --data-binary @"$dir/body.json" "http://127.0.0.1:$aport/tasks" >/dev/null
  done
  for m in 7 32; do
    h2load -n $((m * 20)) -c 1 -m "$m" -H 'content-type: application/json' -d "$dir/body.json" \
      "http://127.0.0.1:$aport/tasks" >/dev/null
  done
  for _ in 1 2 3; do kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'; done
}

echo "instructions per enqueue call in redis-server $(redis-server --version | grep -o 'v=[0-9.]*') (callgrind, $COUNT calls after a warm-up past listpack size)"
for bin in "${binaries[@]}"; do
  dir=$WORK/$(basename "$bin").$RANDOM
  capture "$bin" "$dir"
  for b in 1 7 32; do
    port=$(free_port)
    valgrind --tool=callgrind --callgrind-out-file="$dir/cg.$b.%p" redis-server --port "$port" --bind 127.0.0.1 \
      --save '' --appendonly no --logfile "$dir/cg-redis.log" >/dev/null 2>&1 &
    PIDS+=($!)
    until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done
    "$PY" "$HERE/replay.py" --port "$port" --monitor "$dir/monitor.txt" --batch "$b" --count "$COUNT" \
      --warm $((200 / b + 10)) --callgrind "${PIDS[-1]}"
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'
    total=$(awk '/^(summary|totals):/ {print $2; exit}' "$dir"/cg.$b.*.1)
    printf '%s batch %2d: %9d instructions per call, %7d per task\n' "$bin" "$b" $((total / COUNT)) $((total / COUNT / b))
    if [ -n "${COMMANDSTATS:-}" ]; then
      port=$(free_port)
      redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --logfile "$dir/stats-redis.log" &
      PIDS+=($!)
      until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
      printf '%s ' "$bin"
      "$PY" "$HERE/replay.py" --port "$port" --monitor "$dir/monitor.txt" --batch "$b" --count 300 --warm $((200 / b + 10)) --stats
      kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'
    fi
  done
done
