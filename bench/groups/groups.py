"""Group benchmark (issue 14): a 1,000-member group accepted in one `POST /groups`, and `GET /groups/{id}`
of such a group, on a private redis-server with the release `celeriac api`.

Method: N requests, one at a time, over one keep-alive HTTP/1.1 connection; the client times each round
trip (send to last byte read) with the monotonic clock. Each POST carries `--members` members
`{"task": "celery_example_2.add", "args": [i, i]}` (the API runs with --allow-unknown-tasks: no worker
takes them, so the queue is emptied between POSTs, untimed). Each POST is answered only after one Lua
script published every member, saved Celery's GroupResult and wrote every PENDING record. The GETs read
one group whose members all have a SUCCESS result document (written by the bench, as a worker would):
1,000 records and results read in one pipelined round trip. Printed: p50 / p90 / p99 / max in ms, the API process's CPU per POST (/proc), the script's time
in redis-server (INFO commandstats), and the
request and response sizes.
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "drain"))
from drain import free_port, start_redis, stop, tail, wait_until  # noqa: E402


def cpu_seconds(pid):
    """utime+stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(label, seconds):
    ms = [s * 1000 for s in seconds]
    return (f"{label:<34} n={len(ms):<4} p50 {percentile(ms, 50):7.2f} ms   p90 {percentile(ms, 90):7.2f} ms   "
            f"p99 {percentile(ms, 99):7.2f} ms   max {max(ms):7.2f} ms")


def timed(conn, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    start = time.monotonic()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    return time.monotonic() - start, response.status, raw


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the celeriac binary (release build)")
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("-n", "--requests", type=int, default=50)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="bench-groups-")
    redis_proc, redis_port, client = start_redis(workdir)
    api_port = free_port()
    log = os.path.join(workdir, "api.log")
    env = dict(os.environ, CELERIAC_THREADS="1")
    with open(log, "wb") as out:
        api = subprocess.Popen([args.bin, "api", "--broker", f"redis://127.0.0.1:{redis_port}/0", "--bind", f"127.0.0.1:{api_port}",
                                "--allow-unknown-tasks", "-l", "warning"], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        def ready():
            try:
                c = http.client.HTTPConnection("127.0.0.1", api_port, timeout=2)
                c.request("GET", "/readyz")
                return c.getresponse().status == 200
            except OSError:
                return False
        wait_until(ready, 20, "the API to answer /readyz", proc=api, log=log)
        body = json.dumps({"tasks": [{"task": "celery_example_2.add", "args": [i, i]} for i in range(args.members)]})
        conn = http.client.HTTPConnection("127.0.0.1", api_port, timeout=30)
        posts, group_id, accepted = [], None, b""
        cpu_before = None
        for i in range(args.requests + 3):
            if i == 3:
                cpu_before = cpu_seconds(api.pid)
            elapsed, status, raw = timed(conn, "POST", "/groups", body)
            if status != 202:
                sys.exit(f"POST /groups answered {status}: {raw[:300]!r}")
            if i >= 3:  # the first requests warm the connection pool and the script cache
                posts.append(elapsed)
            group_id, accepted = json.loads(raw)["id"], raw
            if i < args.requests + 2:
                client.delete("celery")  # untimed: keep the queue from growing across requests
        api_cpu = (cpu_seconds(api.pid) - cpu_before) / args.requests
        stats = client.info("commandstats")
        script = stats.get("cmdstat_evalsha") or stats.get("cmdstat_eval") or {}
        members = [task["id"] for task in json.loads(accepted)["tasks"]]
        assert client.llen("celery") == args.members, "the last group's members are all queued"
        pipe = client.pipeline(transaction=False)
        for index, member in enumerate(members):
            pipe.set(f"celery-task-meta-{member}", json.dumps({
                "status": "SUCCESS", "result": 2 * index, "traceback": None, "children": [],
                "date_done": "2026-11-29T00:00:00.000000+00:00", "task_id": member}), ex=86400)
        pipe.execute()
        gets, view = [], b""
        for i in range(args.requests + 3):
            elapsed, status, view = timed(conn, "GET", f"/groups/{group_id}")
            if status != 200:
                sys.exit(f"GET /groups answered {status}: {view[:300]!r}")
            if i >= 3:
                gets.append(elapsed)
        parsed = json.loads(view)
        assert parsed["state"] == "SUCCESS" and parsed["completed"] == args.members, parsed["state"]
        print(f"group of {args.members} members: request body {len(body)} bytes, 202 body {len(accepted)} bytes, "
              f"GET body {len(view)} bytes")
        print(summary(f"POST /groups ({args.members} members)", posts))
        print(f"  the API's CPU per POST (utime+stime, all threads): {api_cpu * 1000:.1f} ms")
        if script:
            print(f"  of which the publish script in redis-server: {script.get('usec_per_call', 0) / 1000:.2f} ms per call")
        print(summary(f"GET /groups/{{id}} ({args.members} members)", gets))
        target = 20
        print(f"target p50 < {target} ms: POST {'met' if percentile(posts, 50) * 1000 < target else 'MISSED'}, "
              f"GET {'met' if percentile(gets, 50) * 1000 < target else 'MISSED'}")
    finally:
        stop(api)
        stop(redis_proc)
        if api.returncode not in (0, None, -15):
            print(tail(log), file=sys.stderr)


if __name__ == "__main__":
    main()
