"""Multi-host test on network namespaces (issue 13): Redis, the API, two workers and a client on five
"hosts" joined by veth pairs on a bridge (in a sixth namespace, so the machine's own network is never
touched; addresses 10.213.0.0/24 exist only inside these namespaces).

  redis 10.213.0.1 | api 10.213.0.2 | w1 10.213.0.3 | w2 10.213.0.4 | client 10.213.0.5

W1 (`--lease-timeout 3`) takes four slow tasks submitted by the client through the API; its link is cut
(`ip link set eth0 down` in its namespace) while it runs them; W2 starts and must finish them once W1's
lease runs out, plus four more submitted during the cut. Then W1's link comes back: its late results of
the four tasks must be fenced (its log says the lease passed on; no result document or record changes),
and nothing is lost or left held. Needs root (CI runs as root); fails — never skips — when namespaces
cannot be made. Cleans up (processes by pid, then namespaces) on every exit. Bounded: --timeout (90 s).

    python3 Tests/multihost/multihost.py --bin .build/debug/celeriac
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NET = "10.213.0"
HOSTS = {"redis": 1, "api": 2, "w1": 3, "w2": 4, "client": 5}
TASK = {"task": "celeriac.count", "kwargs": {"steps": 1, "interval": 5}}


class Failure(Exception):
    pass


def log(*parts):
    print(f"[multihost {time.strftime('%H:%M:%S')}]", *parts, flush=True)


class Hosts:
    """The namespaces, the bridge and the processes started in them; `close` undoes everything."""

    def __init__(self, scratch):
        self.tag = f"cq{os.getpid() % 100000}"
        self.ns = {name: f"{self.tag}-{name}" for name in list(HOSTS) + ["sw"]}
        self.made = []
        self.procs = []
        self.scratch = scratch

    def ip(self, *args, ns=None):
        argv = ["ip"] + (["-n", self.ns[ns]] if ns else []) + list(args)
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise Failure(f"`{' '.join(argv)}` failed ({done.returncode}): {done.stderr.strip()} "
                          "— this test needs root and network namespaces (ip netns, veth, bridge)")
        return done.stdout

    def build(self):
        for name, ns in self.ns.items():
            self.ip("netns", "add", ns)
            self.made.append(ns)
            self.ip("link", "set", "lo", "up", ns=name)
        self.ip("link", "add", "br0", "type", "bridge", ns="sw")
        self.ip("link", "set", "br0", "up", ns="sw")
        for name, octet in HOSTS.items():
            self.ip("link", "add", "eth0", "netns", self.ns[name], "type", "veth", "peer", "name", f"p-{name}",
                    "netns", self.ns["sw"])
            self.ip("link", "set", f"p-{name}", "master", "br0", ns="sw")
            self.ip("link", "set", f"p-{name}", "up", ns="sw")
            self.ip("addr", "add", f"{NET}.{octet}/24", "dev", "eth0", ns=name)
            self.ip("link", "set", "eth0", "up", ns=name)

    def run(self, host, argv, **kwargs):
        return subprocess.run(["ip", "netns", "exec", self.ns[host]] + argv, capture_output=True, text=True, **kwargs)

    def start(self, host, name, argv):
        out = open(self.scratch / f"{name}.log", "wb")
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns[host]] + argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def log_of(self, name):
        return (self.scratch / f"{name}.log").read_text(errors="replace")

    def close(self):
        for _, proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for _, proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def wait_until(what, timeout, condition, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Failure(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


class Scenario:
    def __init__(self, hosts, binary):
        self.h = hosts
        self.bin = binary
        self.broker = f"redis://{NET}.1:6379/0"
        self.api = f"http://{NET}.2:8000"

    def redis(self, *command):
        done = self.h.run("redis", ["redis-cli", "-h", f"{NET}.1", "-p", "6379", "--raw"] + list(command), timeout=10)
        if done.returncode != 0:
            raise Failure(f"redis-cli {command}: {done.stderr}")
        return done.stdout.rstrip("\n")

    def http(self, method, path, body=None):
        argv = ["curl", "-sS", "-m", "5", "-o", "-", "-w", "\n%{http_code}", "-X", method, self.api + path]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
        done = self.h.run("client", argv, timeout=15)
        text, _, code = done.stdout.rpartition("\n")
        return int(code or 0), text

    def worker(self, host):
        return self.h.start(host, host, [self.bin, "worker", "--broker", self.broker, "-c", "4", "-n", f"{host}@{host}",
                                         "--lease-timeout", "3", "-l", "info"])

    def registered(self, host):
        return any(name.startswith(f"{host}@") for name in self.redis("ZRANGE", "celeriac:workers", "0", "-1").split())

    def submit(self, count):
        ids = []
        for _ in range(count):
            code, text = self.http("POST", "/tasks", TASK)
            if code != 202:
                raise Failure(f"POST /tasks from the client host: {code} {text}")
            ids.append(json.loads(text)["id"])
        return ids

    def states(self, ids):
        out = {}
        for task_id in ids:
            code, text = self.http("GET", f"/tasks/{task_id}")
            out[task_id] = json.loads(text).get("state") if code == 200 else f"HTTP {code}"
        return out

    def snapshot(self, ids):
        """The stored result document and the record of each task, as Redis holds them."""
        return {i: (self.redis("GET", f"celery-task-meta-{i}"), self.redis("HGETALL", f"celeriac:task:{i}")) for i in ids}

    def run(self):
        h = self.h
        h.start("redis", "redis", ["redis-server", "--bind", f"{NET}.1", "--port", "6379", "--save", "", "--appendonly", "no",
                                   "--protected-mode", "no", "--dir", str(h.scratch)])
        wait_until("redis-server on the redis host", 15, lambda: self._alive() and self._ping())
        self.worker("w1")
        wait_until("w1 to register", 30, lambda: self.registered("w1"))
        h.start("api", "api", [self.bin, "api", "--broker", self.broker, "--bind", f"{NET}.2:8000", "-l", "warning"])
        wait_until("the API's /readyz from the client host", 30, lambda: self.http("GET", "/readyz")[0] == 200)

        held = self.submit(4)
        wait_until("w1 to hold the four tasks", 20,
                   lambda: sum(v.startswith("w1@") for v in self.redis("HVALS", "celeriac:leases").split()) == 4)
        cut = time.monotonic()
        h.ip("link", "set", "eth0", "down", ns="w1")
        log(f"w1's link is down while it runs {len(held)} tasks")
        self.worker("w2")
        wait_until("w2 to register", 30, lambda: self.registered("w2"))
        later = self.submit(4)
        everything = held + later
        wait_until("all 8 tasks to succeed on w2", 40,
                   lambda: all(s == "SUCCESS" for s in self.states(everything).values()), interval=0.5)
        log(f"all 8 succeeded {time.monotonic() - cut:.1f}s after the cut")
        before = self.snapshot(everything)
        for task_id in held:
            record = before[task_id][1].split("\n")
            fields = dict(zip(record[::2], record[1::2]))
            if not fields.get("worker", "").startswith("w2@") or int(fields.get("attempts", 0)) < 2:
                raise Failure(f"task {task_id} held by w1 was not redelivered to w2: record {fields}")

        h.ip("link", "set", "eth0", "up", ns="w1")
        log("w1's link is back")
        wait_until("w1 to find its four results fenced (its lease passed to another worker)", 30,
                   lambda: h.log_of("w1").count("its lease passed to another worker") >= 4, interval=0.2)
        wait_until("w1 to heartbeat again", 15, lambda: self.registered("w1"))
        after = self.snapshot(everything)
        changed = [i for i in everything if before[i] != after[i]]
        if changed:
            raise Failure(f"w1's late writes changed {len(changed)} task(s): "
                          + "; ".join(f"{i}: {before[i]} -> {after[i]}" for i in changed[:2]))
        states = self.states(everything)
        if any(s != "SUCCESS" for s in states.values()):
            raise Failure(f"tasks not SUCCESS after w1 came back: {states}")
        left = {k: self.redis(c, k) for c, k in (("LLEN", "celery"), ("HLEN", "unacked"), ("HLEN", "celeriac:leases"))}
        if any(v != "0" for v in left.values()):
            raise Failure(f"left held or queued: {left}")
        log("PASS: 8 of 8 tasks done once, w1's 4 late results fenced, nothing left held")

    def _ping(self):
        try:
            return self.redis("PING") == "PONG"
        except Failure:
            return False

    def _alive(self):
        return all(proc.poll() is None for _, proc in self.h.procs) or self._died()

    def _died(self):
        dead = [(name, proc.returncode) for name, proc in self.h.procs if proc.poll() is not None]
        raise Failure(f"exited early: {dead}: " + " | ".join(self.h.log_of(n)[-800:] for n, _ in dead))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--timeout", type=float, default=90)
    parser.add_argument("--keep", action="store_true", help="keep the logs even on success")
    args = parser.parse_args()
    for tool in ("ip", "redis-server", "redis-cli", "curl"):
        if shutil.which(tool) is None:
            print(f"multihost: FAIL: {tool} is not installed (make apt installs it)", flush=True)
            return 1
    scratch = Path(tempfile.mkdtemp(prefix="celeriac-multihost-"))
    hosts = Hosts(scratch)

    def on_signal(signum, _frame):
        raise Failure(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(Failure(f"over the {args.timeout:g}s bound")))
    signal.alarm(int(args.timeout))
    status = 1
    started = time.monotonic()
    try:
        hosts.build()
        Scenario(hosts, os.path.abspath(args.bin)).run()
        status = 0
    except (Failure, subprocess.TimeoutExpired) as error:
        print(f"multihost: FAIL: {error}", flush=True)
        for name, _ in hosts.procs:
            print(f"--- {name}.log (tail)\n{hosts.log_of(name)[-1500:]}", flush=True)
    finally:
        signal.alarm(0)
        hosts.close()
        if status == 0 and not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        if status != 0 or args.keep:
            print(f"multihost: logs kept in {scratch}", flush=True)
    print(f"multihost: {'PASS' if status == 0 else 'FAIL'} in {time.monotonic() - started:.1f}s", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
