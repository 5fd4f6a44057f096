#!/usr/bin/env bash
# Where the time goes (issue 15): perf's cpu-clock sampler (hardware counters are not available in this
# VM, `perf stat -e instructions` says <not supported>) with DWARF call chains, on
#   submit-api.txt   the release `celeriac api` (--allow-unknown-tasks) under wrk -t2 -c32 on POST /tasks
#   drain-worker.txt one release worker draining 20,000 add tasks (bench/drain/drain.py --only celeriac)
# Each summary (bench/profiles/categorise.py) splits the samples by concern (JSON, Redis client, HTTP,
# syscalls by caller, locking, Swift concurrency runtime), inclusive shares, libraries, leaf functions.
# Perf slows the process (DWARF unwinding copies 8 KB of stack per sample): read shares, not rates.
#
#   bench/profiles/run.sh                  # writes bench/profiles/*.txt (PART=api|drain, KEEP=1 keeps perf data)
#   BUILD_LOCK= bench/profiles/run.sh      # when the caller already holds /tmp/celeriac-build.lock
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
FREQ=${FREQ:-499}         # samples/s for the API (8 s); the drain is short, so DRAIN_FREQ
DRAIN_FREQ=${DRAIN_FREQ:-1999}
PART=${PART:-all}   # api, drain or all
PY=${BENCH_PYTHON:-$ROOT/.run/bench-venv/bin/python}
[ -x "$PY" ] || make --no-print-directory bench-venv
command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
DEMANGLE=$(command -v swift-demangle || echo "$(dirname "$(readlink -f "$(command -v swift)")")/swift-demangle")

if [ -n "${BUILD_LOCK-flock /tmp/celeriac-build.lock}" ]; then
  exec 9>/tmp/celeriac-build.lock
  echo "waiting for /tmp/celeriac-build.lock ..." >&2
  flock 9
fi
swift build -c release --product celeriac >&2
BIN=$ROOT/.build/release/celeriac

WORK=$(mktemp -d /tmp/celeriac-profile.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
summarise() { perf script -i "$1" 2>/dev/null | "$DEMANGLE" | "$PY" "$HERE/categorise.py" "$2"; }

# 1. POST /tasks.
if [ "$PART" != drain ]; then
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" >/dev/null 2>&1 &
PIDS+=($!)
REDIS_PID=$!
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.05; done
API_PORT=$(free_port)
"$BIN" api --broker "redis://127.0.0.1:$REDIS_PORT/0" --bind "127.0.0.1:$API_PORT" --allow-unknown-tasks -l warning \
  >"$WORK/api.log" 2>&1 &
PIDS+=($!)
API_PID=$!
until curl -sf -o /dev/null "http://127.0.0.1:$API_PORT/readyz"; do sleep 0.1; done
URL=http://127.0.0.1:$API_PORT/tasks
wrk -t2 -c32 -d2s -s "$ROOT/bench/submit/post.lua" "$URL" >/dev/null
a0=$(ticks $API_PID); r0=$(ticks $REDIS_PID)
perf record -q -F "$FREQ" --call-graph dwarf -e cpu-clock -o "$WORK/api.perf" -p $API_PID -- sleep 8 2>/dev/null &
PERF=$!
rate=$(wrk -t2 -c32 -d8s -s "$ROOT/bench/submit/post.lua" "$URL" | awk '/Requests\/sec/ {print $2}')
wait $PERF
a1=$(ticks $API_PID); r1=$(ticks $REDIS_PID)
{
  echo "# wrk -t2 -c32 -d8s POST /tasks under perf: $rate req/s (perf slows it); CPU over the 8 s:" \
       "api $(( (a1 - a0) ))/800 ticks, redis-server $(( (r1 - r0) ))/800 ticks (of 1,600 on 2 cores)"
  summarise "$WORK/api.perf" "celeriac api, POST /tasks"
} >"$HERE/submit-api.txt"
echo "wrote $HERE/submit-api.txt" >&2
fi

# 2. The drain: drain.py starts the worker through a wrapper that runs it under perf.
[ "$PART" != api ] || exit 0
# perf starts the worker (attaching with -p to a pid that has not exec'd yet records nothing), and on
# drain.py's SIGTERM it writes its data and ends the worker with SIGTERM.
cat >"$WORK/worker-under-perf.sh" <<EOF
#!/usr/bin/env bash
exec perf record -q -F $DRAIN_FREQ --call-graph dwarf -e cpu-clock -o "$WORK/drain.perf" -- "$BIN" "\$@"
EOF
chmod +x "$WORK/worker-under-perf.sh"
timeout 900 "$PY" "$ROOT/bench/drain/drain.py" --bin "$WORK/worker-under-perf.sh" --only celeriac -n 20000 \
  | tee "$WORK/drain.out" >&2
{
  echo "# bench/drain/drain.py --only celeriac -n 20000 under perf: $(grep -o '= [0-9]* tasks/s.*' "$WORK/drain.out")"
  summarise "$WORK/drain.perf" "celeriac worker, drain of 20,000 add tasks (includes ~1 s idle before)"
} >"$HERE/drain-worker.txt"
echo "wrote $HERE/drain-worker.txt" >&2
