#!/usr/bin/env bash
# `make run`: a private redis-server under .run/ (unless REDIS_URL is set), the API and a worker.
# Everything stops on Ctrl-C.
set -euo pipefail
RUN_DIR=${RUN_DIR:-.run}; REDIS_PORT=${REDIS_PORT:-6399}; API_BIND=${API_BIND:-127.0.0.1:8080}
BIN=${BIN:-.build/debug/celeriac}
mkdir -p "$RUN_DIR/redis" "$RUN_DIR/outbox" "$RUN_DIR/logs"
# Children run in their own sessions, so the terminal's Ctrl-C reaches only this script, which
# then stops them in order: one SIGTERM to the API and the worker (a warm shutdown), and Redis only
# after they are gone (a warm shutdown still writes to it). A second Ctrl-C is passed on (cold).
pids=()
redis_pid=""
cleanup() {
  trap - TERM EXIT
  trap 'for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done' INT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  # A second Ctrl-C interrupts `wait`: keep waiting until each process is really gone.
  for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do wait "$p" 2>/dev/null || true; done; done
  if [ -n "$redis_pid" ]; then kill -TERM "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  echo "stopped."
}
trap cleanup INT TERM EXIT
if [ -z "${REDIS_URL:-}" ]; then
  setsid redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN_DIR/redis" --appendonly yes \
    --save "" --logfile "$RUN_DIR/logs/redis.log" --daemonize no &
  redis_pid=$!
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
export CELERIAC_OUTBOX=${CELERIAC_OUTBOX:-$RUN_DIR/outbox}
echo "redis:   $REDIS_URL"
echo "outbox:  $CELERIAC_OUTBOX"
if "$BIN" api --help >/dev/null 2>&1; then
  setsid "$BIN" api --broker "$REDIS_URL" --bind "$API_BIND" & pids+=($!)
  echo "api:     http://$API_BIND"
  echo "dashboard: http://$API_BIND/  (open; with --auth-tokens-file it asks for a token)"
fi
# -E: task events, so the dashboard's task list and pages update live.
setsid "$BIN" worker --broker "$REDIS_URL" -c 3 -E -l info & pids+=($!)
echo "worker:  -c 3 -E (logs below). Ctrl-C stops everything."
wait -n "${pids[@]}" ${redis_pid:+"$redis_pid"}
