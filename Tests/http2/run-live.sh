#!/usr/bin/env bash
# `make test-http2`: a private redis-server, the API (HTTP/2 on by default) and a worker on free ports,
# then live.sh with real clients; everything is stopped on exit.
set -euo pipefail
BIN=${BIN:-.build/debug/celeriac}; PY=${PY:-python3}; RUN_DIR=${RUN_DIR:-.run}
mkdir -p "$RUN_DIR/logs"
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port=$(free_port); api_port=$(free_port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --logfile "$RUN_DIR/logs/http2-redis.log" & pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
url="redis://127.0.0.1:$redis_port/0"
"$BIN" api --broker "$url" --bind "127.0.0.1:$api_port" >"$RUN_DIR/logs/http2-api.log" 2>&1 & pids=($! "${pids[@]}")
"$BIN" worker --broker "$url" -c 2 >"$RUN_DIR/logs/http2-worker.log" 2>&1 & pids=($! "${pids[@]}")
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$api_port/healthz" && break; sleep 0.1; done
"$(dirname "$0")/live.sh" "http://127.0.0.1:$api_port" "$PY"
grep -q ' HTTP/2' "$RUN_DIR/logs/http2-api.log" || { echo "FAIL: access log does not name HTTP/2" >&2; exit 1; }
grep -q ' HTTP/1.1' "$RUN_DIR/logs/http2-api.log" || { echo "FAIL: access log does not name HTTP/1.1" >&2; exit 1; }
