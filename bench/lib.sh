# Shared by the bench scripts (sourced after `set -euo pipefail` and `cd` to the repo root): the
# tool check, the machine-wide lock, the release build, a work dir whose processes die with the
# script, free ports, waiting for HTTP, and a private redis-server.

# bench_need TOOL...: fail at once, naming the first tool missing.
bench_need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (make apt)" >&2; exit 1; }
  done
}

# Holds /tmp/celeriac-build.lock for the whole run (build and measurements alike; BUILD_LOCK= when the
# caller holds it), builds the release binary and sets BIN (BENCH_BIN: that binary, no build).
bench_lock_and_build() {
  if [ -n "${BUILD_LOCK-flock /tmp/celeriac-build.lock}" ]; then
    exec 9>/tmp/celeriac-build.lock
    echo "waiting for /tmp/celeriac-build.lock ..." >&2
    flock 9
  fi
  # BENCH_BIN=/path/to/celeriac measures that binary as it is (A/B runs of two builds under one lock).
  if [ -n "${BENCH_BIN:-}" ]; then
    BIN=$BENCH_BIN
    return
  fi
  echo "building the release binary ..." >&2
  swift build -c release --product celeriac >&2
  BIN=$(pwd)/.build/release/celeriac
}

# bench_workdir NAME: WORK, a fresh directory, and PIDS, the processes killed (and WORK removed) on exit.
bench_workdir() {
  WORK=$(mktemp -d "/tmp/celeriac-$1.XXXXXX")
  PIDS=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  rm -rf "$WORK"
}
# stop_pid PID: SIGTERM, then SIGKILL if it is still there after 10 s (Flower has been seen ignoring a
# TERM under load, which left the bench waiting for it forever).
stop_pid() {
  kill "$1" 2>/dev/null || return 0
  local deadline=$((SECONDS + 10))
  while kill -0 "$1" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_http NAME URL PID [curl flags]: until URL answers 2xx (20 s at most, and the process must stay
# alive; each try at most 2 s, so a server that accepts and never answers cannot hang the bench);
# else prints $WORK/NAME.log and fails.
wait_http() {
  local deadline=$((SECONDS + 20))
  until curl -sf --max-time 2 -o /dev/null ${4:-} "$2"; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$3" 2>/dev/null; then
      echo "$1 did not come up at $2; its log:" >&2; cat "$WORK/$1.log" >&2 || true; exit 1
    fi
    sleep 0.1
  done
}

# A private redis-server (no persistence) in WORK: sets REDIS_PORT and RCLI (redis-cli for it).
bench_redis() {
  REDIS_PORT=$(free_port)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
    --logfile "$WORK/redis.log" >/dev/null 2>&1 &
  PIDS+=($!)
  RCLI=(redis-cli -p "$REDIS_PORT")
  local deadline=$((SECONDS + 10))
  until "${RCLI[@]}" ping >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "redis-server did not start" >&2; exit 1; }
    sleep 0.05
  done
}
