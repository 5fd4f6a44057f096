"""History benchmark (issue 9): GET /tasks with 100,000 stored tasks, on a private redis-server.

Seeds N tasks through the real write path (POST /tasks on `celeriac api`, 8 keep-alive clients), with a
`celeriac worker` running the `celery_example_2.add` ones meanwhile, so the history holds SUCCESS and
PENDING tasks of two names on two queues. Then times, one request at a time, REQUESTS requests each of:
  first page   GET /tasks?limit=50                          (aim: p50 < 20 ms)
  filtered     GET /tasks?state=SUCCESS&limit=50            (aim: p50 < 50 ms)
  two filters  GET /tasks?task=other.task&state=PENDING&limit=50
  no match     GET /tasks?task=other.task&state=SUCCESS&limit=50 (walks 2,000 records, answers a cursor)
  deep page    the first page's next_cursor, 20 pages down
Prints p50/p90/p99 in ms. Only the standard library.
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, path, proc, what, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"{what} did not answer {path}")


def seed(port, total, clients=8):
    bodies = [json.dumps({"task": "celery_example_2.add", "args": [1, 2]}).encode(),
              json.dumps({"task": "other.task", "queue": "other", "args": ["x"]}).encode()]
    counter = iter(range(total))
    lock = threading.Lock()
    failures = []

    def run():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while True:
            with lock:
                k = next(counter, None)
            if k is None:
                return
            c.request("POST", "/tasks", body=bodies[1 if k % 10 == 0 else 0], headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            if r.status != 202:
                failures.append(r.status)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        sys.exit(f"{len(failures)} submissions failed, e.g. {failures[:3]}")


def timed(port, path, n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    out = []
    body = None
    for _ in range(n):
        start = time.perf_counter()
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        out.append((time.perf_counter() - start) * 1000)
        if r.status != 200:
            sys.exit(f"GET {path}: {r.status} {body[:200]}")
    return out, json.loads(body)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="celeriac-history-")
    procs = []
    try:
        rport = free_port()
        procs.append(subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--dir", work], stdout=subprocess.DEVNULL))
        url = f"redis://127.0.0.1:{rport}/0"
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(rport), "ping"], capture_output=True).stdout.strip() != b"PONG":
            if time.monotonic() > deadline:
                sys.exit("redis-server did not start")
            time.sleep(0.05)
        aport = free_port()
        log = open(os.path.join(work, "api.log"), "w")
        api = subprocess.Popen([args.bin, "api", "--broker", url, "--bind", f"127.0.0.1:{aport}", "--allow-unknown-tasks",
                                "-l", "warning"], stdout=log, stderr=log)
        procs.append(api)
        wait_http(aport, "/readyz", api, "celeriac api")
        worker = subprocess.Popen([args.bin, "worker", "--broker", url, "-c", "4", "-l", "warning"],
                                  stdout=open(os.path.join(work, "worker.log"), "w"), stderr=subprocess.STDOUT)
        procs.append(worker)
        start = time.monotonic()
        seed(aport, args.n)
        seeded = time.monotonic() - start
        # Let the worker finish the add tasks (bounded), then stop it: a quiet machine for the timings.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if int(subprocess.run(["redis-cli", "-p", str(rport), "llen", "celery"], capture_output=True).stdout or 0) == 0:
                break
            time.sleep(0.5)
        worker.terminate()
        worker.wait(timeout=30)
        cards = {k: subprocess.run(["redis-cli", "-p", str(rport), "zcard", f"celeriac:index:{k}"],
                                   capture_output=True, text=True).stdout.strip()
                 for k in ("all", "state:SUCCESS", "state:PENDING", "task:other.task")}
        print(f"seeded {args.n} tasks over HTTP in {seeded:.1f} s; index sizes: {cards}")
        rows = []
        first, page = timed(aport, "/tasks?limit=50", args.requests)
        rows.append(("first page", first, 20))
        rows.append(("filtered state=SUCCESS", timed(aport, "/tasks?state=SUCCESS&limit=50", args.requests)[0], 50))
        rows.append(("task=other.task&state=PENDING",
                     timed(aport, "/tasks?task=other.task&state=PENDING&limit=50", args.requests)[0], 50))
        # No task matches: the smaller set (other.task, 10 %) is walked up to the 2,000-task scan budget.
        rows.append(("no match (scan budget)",
                     timed(aport, "/tasks?task=other.task&state=SUCCESS&limit=50", args.requests)[0], 50))
        cursor = page["next_cursor"]
        for _ in range(20):
            _, deeper = timed(aport, f"/tasks?limit=50&cursor={cursor}", 1)
            cursor = deeper["next_cursor"]
        rows.append(("page 21 by cursor", timed(aport, f"/tasks?limit=50&cursor={cursor}", args.requests)[0], 20))
        print(f"{os.cpu_count()} cores (a shared, loaded machine); {args.requests} sequential requests each, limit=50")
        print(f"{'what':32} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}  aim")
        for name, values, aim in rows:
            p50 = statistics.median(values)
            print(f"{name:32} {p50:8.2f} {pct(values, 90):8.2f} {pct(values, 99):8.2f}  p50 < {aim} ms {'ok' if p50 < aim else 'MISSED'}")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
