"""Idle benchmark (issue 15): what an idle Celeriac costs, and how fast an idle system starts a task.

On a private redis-server, release binaries:
  (a) Idle cost. A worker started with `-Q a,b,c -c 8` and an API, both idle. After they are ready
      (the worker blocked in Redis, the API answering /readyz) and a settling pause, their CPU over
      --idle-seconds: utime+stime ticks from /proc/<pid>/stat (all threads, living and ended), as a % of
      one core; redis-server's CPU over the same window (what their idle round trips cost Redis);
      thread counts (/proc/<pid>/task); the Redis connections each holds (CLIENT LIST, counted after the
      worker is ready and again after the API is).
  (b) Submit→start latency. A default worker (-Q celery) and the API; N tasks submitted one at a time
      with `POST /tasks` over one keep-alive connection, each on an idle system (the previous task is
      SUCCESS and the worker is blocked in Redis again). Method: the client reads CLOCK_REALTIME just
      before it sends the request (t_send); the worker stamps `received_at` (the moment its fetch
      returned the message) and `started_at` (the moment the task function began) in the task record,
      with microsecond resolution and the same clock (one machine). Read back by `GET /tasks/<id>`.
      Printed p50/p99/max of: the POST round trip; t_send→received_at; t_send→started_at; and the
      server-side part submitted_at→received_at (the API's stamp to the worker's); and the worker's
      part received_at→started_at (its fetch: decoding, the script's round trip, the task's start).
"""
import argparse
import datetime
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "drain"))
from drain import free_port, idle_and_blocked, start_redis, stop, tail, wait_until  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def start(argv, log):
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def http_ok(port, path):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path)
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def client_count(client):
    return len(client.client_list()) - 1  # minus this one


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(label, seconds):
    ms = [s * 1000 for s in seconds]
    return f"  {label:<40} p50 {percentile(ms, 50):7.3f} ms   p99 {percentile(ms, 99):7.3f} ms   max {max(ms):7.3f} ms"


def stamp(text):
    return datetime.datetime.fromisoformat(text).timestamp()


def idle_cost(args, url, client, redis_pid, workdir):
    client.flushall()
    base = client_count(client)
    worker = start([args.bin, "worker", "--broker", url, "-Q", "a,b,c", "-c", "8", "-l", "warning", "--quiet",
                    "-n", "idle@%h"], os.path.join(workdir, "idle-worker.log"))
    api = None
    try:
        wait_until(lambda: idle_and_blocked(client), 60, "the worker to block in Redis", worker,
                   os.path.join(workdir, "idle-worker.log"))
        time.sleep(args.settle)
        worker_connections = client_count(client) - base
        port = free_port()
        api = start([args.bin, "api", "--broker", url, "--bind", f"127.0.0.1:{port}", "-l", "warning"],
                    os.path.join(workdir, "idle-api.log"))
        wait_until(lambda: http_ok(port, "/readyz"), 60, "the API to be ready", api, os.path.join(workdir, "idle-api.log"))
        time.sleep(args.settle)
        pids = {"worker": worker.pid, "api": api.pid, "redis-server": redis_pid}
        before = {name: cpu_ticks(pid) for name, pid in pids.items()}
        t0 = time.monotonic()
        time.sleep(args.idle_seconds)
        elapsed = time.monotonic() - t0
        after = {name: cpu_ticks(pid) for name, pid in pids.items()}
        api_connections = client_count(client) - base - worker_connections
        print(f"(a) idle for {elapsed:.1f} s after a {args.settle:.0f} s settle; worker -Q a,b,c -c 8, API default threads",
              flush=True)
        for name, pid in pids.items():
            ticks = after[name] - before[name]
            pct = ticks / TICKS / elapsed * 100
            print(f"  {name:<13} CPU {pct:6.3f} % of a core ({ticks} ticks of 1/{TICKS} s)   threads {threads(pid)}",
                  flush=True)
        print(f"  Redis connections: worker {worker_connections}, API {api_connections}", flush=True)
        if worker.poll() is not None or api.poll() is not None:
            raise RuntimeError("a process exited during the idle window\n" + tail(os.path.join(workdir, "idle-worker.log")))
    finally:
        stop(worker)
        if api is not None:
            stop(api)


def latency(args, url, client, workdir):
    client.flushall()
    wlog, alog = os.path.join(workdir, "lat-worker.log"), os.path.join(workdir, "lat-api.log")
    worker = start([args.bin, "worker", "--broker", url, "-l", "warning", "--quiet", "-n", "lat@%h"], wlog)
    port = free_port()
    api = start([args.bin, "api", "--broker", url, "--bind", f"127.0.0.1:{port}", "-l", "warning"], alog)
    body = json.dumps({"task": "celery_example_2.add", "args": [1, 2]})
    headers = {"Content-Type": "application/json"}
    try:
        wait_until(lambda: idle_and_blocked(client), 60, "the worker to block in Redis", worker, wlog)
        wait_until(lambda: http_ok(port, "/readyz"), 60, "the API to be ready", api, alog)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def submit():
            t_send = time.time()
            conn.request("POST", "/tasks", body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, data, t_send, time.time()

        # The API accepts the name once the worker's heartbeat has registered it.
        deadline = time.monotonic() + 30
        while (status := submit())[0] != 202:
            if time.monotonic() > deadline:
                raise RuntimeError(f"POST /tasks never answered 202: {status[0]} {status[1][:300]!r}")
            time.sleep(0.05)
        rows = []
        for i in range(args.tasks + args.warmup):
            wait_until(lambda: idle_and_blocked(client), 10, "the worker to block again", worker, wlog)
            status, data, t_send, t_answered = submit()
            if status != 202:
                raise RuntimeError(f"POST /tasks: {status} {data[:300]!r}")
            task_id = json.loads(data)["id"]
            conn.request("GET", f"/tasks/{task_id}?wait=10")
            view = json.loads(conn.getresponse().read())
            if view["state"] != "SUCCESS":
                raise RuntimeError(f"task {task_id} is {view['state']} after 10 s: {view}")
            if i >= args.warmup:
                rows.append((t_answered - t_send, stamp(view["received_at"]) - t_send,
                             stamp(view["started_at"]) - t_send,
                             stamp(view["received_at"]) - stamp(view["submitted_at"]),
                             stamp(view["started_at"]) - stamp(view["received_at"])))
            time.sleep(args.gap)
        conn.close()
        print(f"(b) submit→start on an idle system: {args.tasks} tasks one at a time (after {args.warmup} warm-up), "
              f"default worker (-Q celery), {args.gap * 1000:.0f} ms apart", flush=True)
        for k, label in enumerate(["POST /tasks round trip", "t_send → received_at (worker has it)",
                                   "t_send → started_at (task runs)", "submitted_at → received_at (server side)",
                                   "received_at → started_at (worker side)"]):
            print(summary(label, [row[k] for row in rows]), flush=True)
    finally:
        stop(worker)
        stop(api)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the celeriac binary (release build)")
    parser.add_argument("--idle-seconds", type=float, default=20)
    parser.add_argument("--settle", type=float, default=3, help="seconds after readiness before the idle window")
    parser.add_argument("-n", "--tasks", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--gap", type=float, default=0.02, help="pause after each task, seconds")
    parser.add_argument("--only", choices=["idle", "latency"], default=None)
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)
    workdir = tempfile.mkdtemp(prefix="celeriac-idle-")
    redis_proc, port, client = start_redis(workdir)
    url = f"redis://127.0.0.1:{port}/0"
    print(f"redis-server on 127.0.0.1:{port}; {os.cpu_count()} cores", flush=True)
    try:
        if args.only in (None, "idle"):
            idle_cost(args, url, client, redis_proc.pid, workdir)
        if args.only in (None, "latency"):
            latency(args, url, client, workdir)
    except RuntimeError as error:
        print(f"FAILED: {error}\n(logs kept in {workdir})", file=sys.stderr, flush=True)
        return 1
    finally:
        client.close()
        redis_proc.terminate()
        redis_proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
