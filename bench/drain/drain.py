"""Drain benchmark: how fast does ONE worker process empty a queue of N `celery_example_2.add` tasks?

For each worker (celeriac, then Celery prefork -c 2) on a private redis-server:
  1. FLUSHALL, then LPUSH the same N pre-built Celery protocol-2 messages (byte-identical to what
     kombu sends for `add.delay(a, b)`) to a staging list, pipelined.
  2. Start the worker and wait until it is idle and ready (celeriac: a connection blocked on the
     empty queue; Celery: its worker_ready signal wrote `bench:ready`).
  3. t0; RENAME the staging list to `celery` (the whole backlog appears at once).
  4. Done when every one of the N result keys `celery-task-meta-<id>` holds a SUCCESS document
     (checked server-side by a Lua script with a moving cursor, so polling costs almost nothing);
     a FAILURE stops the run. t1.
  5. Spot-check result values, stop the worker with SIGTERM.
Rate = N / (t1 - t0).
"""
import argparse
import base64
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
STAGING = "bench:staging"

# Returns how many keys from the start of KEYS hold SUCCESS; -(i+1) when key i holds another ready state.
CHECK = """
for i, key in ipairs(KEYS) do
  local raw = redis.call('GET', key)
  if not raw then return i - 1 end
  local ok, doc = pcall(cjson.decode, raw)
  if not ok or type(doc) ~= 'table' then return -i end
  local status = doc['status']
  if status ~= 'SUCCESS' then
    if status == 'FAILURE' or status == 'REVOKED' then return -i end
    return i - 1
  end
end
return #KEYS
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_messages(n, seed=1):
    """N envelopes exactly as kombu 5.7 LPUSHes `add.delay(a, b)` (json.dumps key order and separators)."""
    rng = random.Random(seed)
    messages = []
    for i in range(n):
        task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        a, b = i, rng.randrange(1000)
        body = json.dumps([[a, b], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}])
        envelope = {
            "body": base64.b64encode(body.encode()).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {
                "lang": "py", "task": "celery_example_2.add", "id": task_id, "shadow": None, "eta": None,
                "expires": None, "group": None, "group_index": None, "retries": 0, "timelimit": [None, None],
                "root_id": task_id, "parent_id": None, "argsrepr": repr((a, b)), "kwargsrepr": "{}",
                "origin": "gen0@bench", "ignore_result": False, "replaced_task_nesting": 0,
                "stamped_headers": None, "stamps": {},
            },
            "properties": {
                "correlation_id": task_id, "reply_to": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": "celery"}, "priority": 0,
                "body_encoding": "base64", "delivery_tag": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            },
        }
        messages.append((task_id, a + b, json.dumps(envelope)))
    return messages


def start_redis(workdir, replica_of=None):
    binary = shutil.which("redis-server")
    if not binary:
        sys.exit("redis-server not found on PATH (apt-get install -y redis-server)")
    for _ in range(5):
        port = free_port()
        extra = ["--replicaof", "127.0.0.1", str(replica_of)] if replica_of else []
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                 "--dir", workdir, "--logfile", os.path.join(workdir, f"redis-{port}.log")] + extra,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                client.ping()
                return proc, port, client
            except redis.exceptions.ConnectionError:
                time.sleep(0.02)
        proc.kill()
        proc.wait()
    sys.exit("could not start redis-server")


def wait_until(condition, timeout, what, proc=None, log=None):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the worker exited with {proc.returncode}\n{tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}\n{tail(log)}")
        time.sleep(0.01)


def tail(path, n=3000):
    if not path:
        return ""
    try:
        return Path(path).read_text(errors="replace")[-n:]
    except OSError:
        return ""


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime+stime of a process and its live children (prefork pool), in seconds."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def idle_and_blocked(client):
    """Ready = some client is blocked in a blocking command (BRPOP, BLMOVE, …) on the empty queue."""
    return any("b" in c.get("flags", "") for c in client.client_list())


def print_commandstats(client, n):
    """Redis's own account of the drain: calls and microseconds per command (Lua's inner calls included), per task."""
    stats = client.info("commandstats")
    rows = sorted(((k.removeprefix("cmdstat_"), v["calls"], v["usec"]) for k, v in stats.items()),
                  key=lambda row: -row[2])
    scripts = sum(row[2] for row in rows if row[0] in ("evalsha", "eval"))
    # The benchmark's own completion check (an EVALSHA doing about one GET per task) is counted too.
    print(f"  redis per task: {sum(row[1] for row in rows) / n:.1f} calls (inside scripts included), "
          f"{scripts / n:.1f} us in scripts, {(sum(row[2] for row in rows) - scripts) / n:.1f} us in all commands",
          flush=True)
    for name, calls, usec in rows:
        if calls >= n / 100:
            print(f"    {name:<18} {calls / n:7.2f} calls/task {usec / n:7.2f} us/task {usec / calls:7.2f} us/call",
                  flush=True)


def run_one(label, argv, env, cwd, ready, client, messages, timeout, logdir, redis_pid, stall, commandstats=False):
    client.flushall()
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(messages), 1000):
        pipe.lpush(STAGING, *[m[2] for m in messages[start:start + 1000]])
    pipe.execute()
    assert client.llen(STAGING) == len(messages)
    log = os.path.join(logdir, f"{label.split()[0]}.log")
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    try:
        wait_until(lambda: ready(client), 120, f"{label} to be ready", proc, log)
        check = client.register_script(CHECK)
        keys = [f"celery-task-meta-{m[0]}" for m in messages]
        done = 0
        if commandstats:
            client.config_resetstat()
        cpu0 = cpu_seconds(proc.pid), cpu_seconds(redis_pid)
        t0 = time.perf_counter()
        client.rename(STAGING, "celery")
        deadline = t0 + timeout
        progress_at = t0
        while done < len(keys):
            n = check(keys=keys[done:done + 500])
            if n > 0:
                progress_at = time.perf_counter()
            if n < 0:
                bad = keys[done - n - 1]
                raise RuntimeError(f"{label}: {bad} is not SUCCESS: {client.get(bad)!r}\n{tail(log)}")
            done += n
            if n == 500:
                continue
            if proc.poll() is not None:
                raise RuntimeError(f"{label}: the worker exited with {proc.returncode} after {done} results\n{tail(log)}")
            now = time.perf_counter()
            if now > deadline:
                raise RuntimeError(f"{label}: timed out after {timeout}s with {done}/{len(keys)} results\n{tail(log)}")
            if now - progress_at > stall:
                raise RuntimeError(f"{label}: no new result for {stall}s, {done}/{len(keys)} results\n{tail(log)}")
            time.sleep(0.005)
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds(proc.pid) - cpu0[0], cpu_seconds(redis_pid) - cpu0[1]
        if commandstats:
            print_commandstats(client, len(messages))
    finally:
        stop(proc)
    # Spot-check the values and that nothing is left behind.
    for task_id, expected, _ in random.Random(7).sample(messages, 200):
        doc = json.loads(client.get(f"celery-task-meta-{task_id}"))
        if doc["result"] != expected:
            raise RuntimeError(f"{label}: {task_id} result {doc['result']!r}, expected {expected}")
    leftover = client.llen("celery")
    if leftover:
        raise RuntimeError(f"{label}: {leftover} messages still queued after all results were written")
    return elapsed, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the celeriac binary (release build)")
    parser.add_argument("-n", "--tasks", type=int, default=20000)
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed for each drain")
    parser.add_argument("--stall", type=float, default=60,
                        help="give up when the next result in order has not appeared for this many seconds")
    parser.add_argument("--celeriac-concurrency", type=int, default=None,
                        help="celeriac -c (default: the worker's own default, the number of CPUs)")
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--only", choices=["celeriac", "celery"], default=None)
    parser.add_argument("--commandstats", action="store_true",
                        help="print Redis's calls and microseconds per command and per task for each drain")
    parser.add_argument("--replicas", type=int, default=0, help="replicas of the private redis-server (issue 13's cost check)")
    parser.add_argument("--min-replicas-ack", type=int, default=0, help="the celeriac worker's --min-replicas-ack")
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)

    workdir = tempfile.mkdtemp(prefix="celeriac-drain-")
    redis_proc, port, client = start_redis(workdir)
    url = f"redis://127.0.0.1:{port}/0"
    replicas = [start_redis(workdir, replica_of=port) for _ in range(args.replicas)]
    if replicas:
        deadline = time.monotonic() + 30
        while client.info("replication").get("connected_slaves", 0) < args.replicas or any(
                r.info("replication").get("master_link_status") != "up" for _, _, r in replicas):
            if time.monotonic() > deadline:
                sys.exit("the replicas did not sync within 30 s")
            time.sleep(0.05)
    env = dict(os.environ, BENCH_REDIS_URL=url, REDIS_URL=url,
               PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH", "")])))
    print(f"redis-server on 127.0.0.1:{port}; {args.tasks} celery_example_2.add messages", flush=True)
    messages = build_messages(args.tasks)
    rates = {}
    try:
        if args.only in (None, "celeriac"):
            argv = [args.bin, "worker", "--broker", url, "-l", "warning", "--quiet", "-n", "bench@%h"]
            if args.celeriac_concurrency:
                argv += ["-c", str(args.celeriac_concurrency)]
            if args.min_replicas_ack:
                argv += ["--min-replicas-ack", str(args.min_replicas_ack)]
            label = (f"celeriac worker (-c {args.celeriac_concurrency or 'default=' + str(os.cpu_count())}, "
                     f"{args.replicas} replica(s), --min-replicas-ack {args.min_replicas_ack})")
            elapsed, cpu = run_one(label, argv, env, str(HERE), idle_and_blocked, client, messages, args.timeout,
                                   workdir, redis_proc.pid, args.stall, args.commandstats)
            rates["celeriac"] = args.tasks / elapsed
            print(f"{label}: {args.tasks} tasks in {elapsed:.2f} s = {rates['celeriac']:.0f} tasks/s "
                  f"(CPU: worker {cpu[0]:.2f} s, redis {cpu[1]:.2f} s)", flush=True)
        if args.only in (None, "celery"):
            c = args.celery_concurrency
            argv = [sys.executable, "-m", "celery", "-A", "pyapp", "worker", "--pool=prefork", "-c", str(c),
                    "-l", "warning", "-n", "benchpy@%h"]
            label = f"celery 5.7 prefork worker (-c {c})"
            elapsed, cpu = run_one(label, argv, env, str(HERE), lambda r: r.exists("bench:ready"), client, messages,
                                   args.timeout, workdir, redis_proc.pid, args.stall, args.commandstats)
            rates["celery"] = args.tasks / elapsed
            print(f"{label}: {args.tasks} tasks in {elapsed:.2f} s = {rates['celery']:.0f} tasks/s "
                  f"(CPU: worker+pool {cpu[0]:.2f} s, redis {cpu[1]:.2f} s)", flush=True)
        if len(rates) == 2:
            print(f"ratio celeriac/celery: {rates['celeriac'] / rates['celery']:.1f}x", flush=True)
    except RuntimeError as error:
        print(f"FAILED: {error}\n(logs kept in {workdir})", file=sys.stderr, flush=True)
        return 1
    finally:
        client.close()
        redis_proc.terminate()
        redis_proc.wait(timeout=30)
        for proc, _, r in replicas:
            r.close()
            proc.terminate()
            proc.wait(timeout=30)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
