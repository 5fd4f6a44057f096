#!/usr/bin/env bash
# `make run`: a private redis-server under .run/ (unless REDIS_URL is set), the API and a worker.
# Everything stops on Ctrl-C.
set -euo pipefail
RUN_DIR=${RUN_DIR:-.run}; REDIS_PORT=${REDIS_PORT:-6399}; API_BIND=${API_BIND:-127.0.0.1:8080}
BIN=${BIN:-.build/debug/celeriac}
mkdir -p "$RUN_DIR/redis" "$RUN_DIR/outbox" "$RUN_DIR/logs"
pids=()
cleanup() { trap - INT TERM EXIT; for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; echo "stopped."; }
trap cleanup INT TERM EXIT
if [ -z "${REDIS_URL:-}" ]; then
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN_DIR/redis" --appendonly yes \
    --save "" --logfile "$RUN_DIR/logs/redis.log" --daemonize no &
  pids+=($!)
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
export CELERIAC_OUTBOX=${CELERIAC_OUTBOX:-$RUN_DIR/outbox}
echo "redis:   $REDIS_URL"
echo "outbox:  $CELERIAC_OUTBOX"
if "$BIN" api --help >/dev/null 2>&1; then
  "$BIN" api --broker "$REDIS_URL" --bind "$API_BIND" & pids+=($!)
  echo "api:     http://$API_BIND"
fi
"$BIN" worker --broker "$REDIS_URL" -c 3 -l info & pids+=($!)
echo "worker:  -c 3 (logs below). Ctrl-C stops everything."
wait -n "${pids[@]}"
