"""Chaos check of Celeriac's delivery guarantees (issue 5): nothing accepted is lost.

On 127.0.0.1 only, in a scratch directory:
  * a private redis-server with AOF (`--appendonly yes --appendfsync always` by default: Redis then
    fsyncs a write before it replies, so a 202 means the message is on disk and not even a SIGKILL
    of redis-server can lose it; with `everysec` a SIGKILL may drop the last second of writes),
  * `celeriac api` and W worker processes (`celeriac worker -c 4 -n wK@%h`),
  * S submitter threads POSTing `celery_example_2.add(i, 1)` for i in 0..N-1 over keep-alive
    HTTP/1.1; a 503 (Redis down) or a refused connection is not an acceptance: it is counted and
    the same i is submitted again (bounded per task),
  * a chaos thread: every ~K seconds SIGKILL a random worker, note the messages it held (from the
    lease hash, after it is dead), start a replacement under the same name — while tasks are being
    submitted or wait in the queue, and at least --min-kills times; once, when
    `--redis-at` of the tasks are accepted, SIGKILL (or SIGTERM) redis-server and start it again on
    the same port and directory, with AOF,
  * a checker that reads `celery-task-meta-<id>` of every accepted id until each holds SUCCESS with
    result i + 1, or the deadline passes.

Then it prints accepted, lost (accepted, never SUCCESS by the deadline), wrong, failed, duplicates
(Celeriac's record `attempts` > 1: handed to a worker more than once — with prefetch that includes
messages a killed worker held but never started; the kill snapshot tells them apart), how long the longest-waiting task of a killed worker waited
(kill → its next `started_at`), kills, the restart, and end-to-end throughput. Exit 1 if anything
accepted was lost, wrong or failed; 2 if the harness itself could not run.

With --failover (bench/chaos/failover.py) Redis is a Sentinel-watched primary with two replicas instead,
the primary is SIGKILLed once (Sentinel promotes a replica), no worker is killed unless asked, and the
report adds the longest API unavailability and the 503s; --min-replicas-ack N goes to the API and the
workers, and only with it is a lost task a failure (without it the loss is printed).
"""
import argparse
import base64
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import redis

from failover import SentinelCluster, failover_chaos, failover_lines

TASK = "celery_example_2.add"
PREFIX = "celeriac:"
LEASES = PREFIX + "leases"
WORKERS = PREFIX + "workers"
DEAD = PREFIX + "dead"


class HarnessError(Exception):
    pass


def log(*parts):
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_date(text):
    if not text:
        return None
    if isinstance(text, bytes):
        text = text.decode()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def wait_until(condition, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError, redis.exceptions.TimeoutError):
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# processes


class Proc:
    """A child with its output in a log file, in its own session (a Ctrl-C reaches only us)."""

    def __init__(self, name, argv, log_path):
        self.name = name
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self.started = time.time()

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        """SIGKILL and reap (bounded)."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._log.close()

    def stop(self, timeout=30):
        """SIGTERM, then SIGKILL if it does not exit in time. Returns the exit status or None when killed."""
        status = None
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                status = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        else:
            status = self.proc.returncode
        self._log.close()
        return status

    def tail(self, limit=1500):
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError as error:
            return f"<no log: {error}>"


class Redis:
    def __init__(self, directory, port, fsync):
        self.directory = directory
        self.port = port
        self.fsync = fsync
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        argv = [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.directory), "--appendonly", "yes", "--appendfsync", self.fsync, "--save", "",
                "--daemonize", "no", "--protected-mode", "yes", "--logfile", str(self.directory / "redis.log")]
        self.proc = Proc("redis-server", argv, self.directory / "redis.stdout")
        probe = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, socket_connect_timeout=1)
        try:
            def ready():
                if not self.proc.alive():
                    raise HarnessError(f"redis-server exited {self.proc.proc.returncode}: "
                                       f"{(self.directory / 'redis.log').read_text(errors='replace')[-1500:]}")
                return probe.ping()
            wait_until(ready, 60, "redis-server to answer PING (and finish loading its AOF)")
        finally:
            probe.close()


class Fleet:
    """The worker processes: start, SIGKILL, replace."""

    def __init__(self, args, broker_url, logs):
        self.args = args
        self.broker_url = broker_url
        self.logs = logs
        self.procs = {}          # k → Proc
        self.incarnation = {}    # k → count

    def argv(self, k):
        argv = [self.args.bin, "worker", "--broker", self.broker_url, "-c", str(self.args.concurrency),
                "-n", f"w{k}@%h", "-l", self.args.worker_loglevel, "--grace", "5", "--quiet"]
        if self.args.lease_timeout is not None:
            argv += ["--lease-timeout", str(self.args.lease_timeout)]
        if self.args.min_replicas_ack:
            argv += ["--min-replicas-ack", str(self.args.min_replicas_ack)]
        return argv

    def start(self, k):
        n = self.incarnation.get(k, 0) + 1
        self.incarnation[k] = n
        self.procs[k] = Proc(f"w{k}", self.argv(k), self.logs / f"worker-w{k}.{n}.log")
        return self.procs[k]

    def wait_registered(self, r, k, timeout=30):
        """Until worker k's current process has heartbeated (its pid is in its registry hash)."""
        proc = self.procs[k]

        def registered():
            if not proc.alive():
                raise HarnessError(f"worker w{k} exited {proc.proc.returncode}:\n{proc.tail()}")
            for name in r.zrange(WORKERS, 0, -1):
                if name.decode().startswith(f"w{k}@") and r.hget(PREFIX + "worker:" + name.decode(), "pid") == str(proc.pid).encode():
                    return True
            return False
        wait_until(registered, timeout, f"worker w{k} (pid {proc.pid}) to register")


# ---------------------------------------------------------------------------------------------
# the run


class Run:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.accepted = {}           # id → i
        self.next_index = 0
        self.given_up = []           # indices never accepted
        self.retried = {"503": 0, "422": 0, "connection": 0, "other": 0}
        self.unexpected = {}         # HTTP status other than 202/503 → [count, first body]
        self.submit_started = None
        self.submit_finished = None
        self.done = {}               # id → check time (monotonic)
        self.wrong = {}              # id → (expected, got)
        self.failed = {}             # id → document
        self.kills = []              # (k, wall time, messages it held)
        self.held = {}               # task id → [kill wall times]
        self.held_seen = set()       # (tag, token)
        self.held_states = {}        # record state at the kill (STARTED: running; RECEIVED: prefetched) → count
        self.redis_restart = None    # dict
        self.failover = None         # dict (--failover)
        self.accept_times = []       # monotonic time of every 202
        self.statuses = {}           # HTTP status to POST /tasks → count
        self.stop_chaos = threading.Event()
        self.stop_all = threading.Event()
        self.errors = []

    # -- submitting ----------------------------------------------------------------------------

    def take_index(self):
        with self.lock:
            if self.next_index >= self.args.n:
                return None
            i = self.next_index
            self.next_index += 1
            return i

    def submitter(self, host, port):
        conn = None
        while not self.stop_all.is_set():
            i = self.take_index()
            if i is None:
                break
            body = json.dumps({"task": TASK, "args": [i, 1]}).encode()
            give_up_at = time.monotonic() + self.args.submit_timeout
            while True:
                if self.stop_all.is_set():
                    return
                status = None
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(host, port, timeout=30)
                    # Retries of one submission carry one key: a 503 whose write reached Redis before
                    # it died must not become a second task when the client tries again.
                    conn.request("POST", "/tasks", body=body, headers={"Content-Type": "application/json",
                                                                       "Idempotency-Key": f"chaos-{self.args.seed}-{i}"})
                    response = conn.getresponse()
                    payload = response.read()
                    status = response.status
                    if response.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException):
                    # The API is never restarted, so this should not happen; no reply means not accepted.
                    if conn is not None:
                        conn.close()
                    conn = None
                    with self.lock:
                        self.retried["connection"] += 1
                if status is not None:
                    with self.lock:
                        self.statuses[status] = self.statuses.get(status, 0) + 1
                if status == 202:
                    task_id = json.loads(payload)["id"]
                    with self.lock:
                        self.accepted[task_id] = i
                        self.accept_times.append(time.monotonic())
                    break
                if status is not None:
                    key = "503" if status == 503 else "422" if status == 422 else "other"
                    with self.lock:
                        self.retried[key] += 1
                        if status != 503:
                            seen = self.unexpected.setdefault(status, [0, payload[:300]])
                            seen[0] += 1
                if time.monotonic() >= give_up_at:
                    with self.lock:
                        self.given_up.append(i)
                    break
                time.sleep(0.05 if status == 503 else 0.02)
        if conn is not None:
            conn.close()

    # -- checking ------------------------------------------------------------------------------

    def check_once(self, r):
        """One pass over accepted ids without a final document yet; returns how many are outstanding."""
        with self.lock:
            pending = [(tid, i) for tid, i in self.accepted.items()
                       if tid not in self.done and tid not in self.wrong and tid not in self.failed]
        outstanding = len(pending)
        for start in range(0, len(pending), 1000):
            chunk = pending[start:start + 1000]
            docs = r.mget(["celery-task-meta-" + tid for tid, _ in chunk])
            now = time.monotonic()
            for (tid, i), raw in zip(chunk, docs):
                if raw is None:
                    continue
                doc = json.loads(raw)
                status = doc.get("status")
                if status == "SUCCESS":
                    if doc.get("result") == i + 1:
                        self.done[tid] = now
                    else:
                        self.wrong[tid] = (i + 1, doc.get("result"))
                    outstanding -= 1
                elif status in ("FAILURE", "REVOKED"):
                    self.failed[tid] = doc
                    outstanding -= 1
        return outstanding

    # -- chaos ---------------------------------------------------------------------------------

    def snapshot_held(self, r, k, at):
        """After worker k is dead: the messages it still held (lease tokens `wK@…|…`) → their task ids."""
        def read():
            leases = r.hgetall(LEASES)
            mine = [(tag, token) for tag, token in leases.items()
                    if token.decode().startswith(f"w{k}@") and (tag, token) not in self.held_seen]
            entries = r.hmget("unacked", [tag for tag, _ in mine]) if mine else []
            return mine, entries
        mine, entries = wait_until(lambda: read(), 60, "the lease hash after a kill")
        ids = []
        for (tag, token), entry in zip(mine, entries):
            self.held_seen.add((tag, token))
            if entry is None:
                continue
            envelope = json.loads(entry)[0]
            task_id = envelope.get("headers", {}).get("id")
            if task_id:
                self.held.setdefault(task_id, []).append(at)
                ids.append(task_id)
        # Was it running (STARTED) or only fetched ahead (RECEIVED with prefetch, PENDING before the
        # fetch marks records)? Only a running one can have executed its handler.
        if ids:
            pipe = r.pipeline(transaction=False)
            for task_id in ids:
                pipe.hget(PREFIX + "task:" + task_id, "state")
            for state in pipe.execute():
                name = state.decode() if state else "none"
                self.held_states[name] = self.held_states.get(name, 0) + 1
        return len(mine)

    def chaos(self, fleet, redis_server):
        rng = random.Random(self.args.seed)
        r = redis.Redis(host="127.0.0.1", port=redis_server.port, socket_timeout=5, socket_connect_timeout=2)
        try:
            restart_after = int(self.args.n * self.args.redis_at)
            next_kill = time.monotonic() + self.args.kill_every * rng.uniform(0.5, 1.5)
            while not self.stop_chaos.is_set():
                time.sleep(0.02)
                if self.redis_restart is None and (len(self.accepted) >= restart_after or self.submit_finished is not None):
                    self.restart_redis(redis_server)
                    continue
                if time.monotonic() < next_kill:
                    continue
                if len(self.kills) >= self.args.max_kills:
                    if self.redis_restart is not None:
                        return
                    continue
                # Killing only makes sense while there is work to take: stop once everything was
                # submitted and the queue is empty (held messages of dead workers wait for their lease).
                submitting = self.submit_finished is None
                try:
                    busy = submitting or r.llen("celery") > 0
                except redis.exceptions.RedisError:
                    busy = True
                if not busy and len(self.kills) >= self.args.min_kills and self.redis_restart is not None:
                    return
                k = rng.randrange(1, self.args.workers + 1)
                victim = fleet.procs[k]
                at = time.time()
                victim.kill()
                held = self.snapshot_held(r, k, at)
                self.kills.append((k, at, held))
                log(f"kill #{len(self.kills)}: SIGKILL w{k} (pid {victim.pid}), it held {held} message(s)")
                fleet.start(k)
                fleet.wait_registered(r, k)
                next_kill = time.monotonic() + self.args.kill_every * rng.uniform(0.5, 1.5)
        except Exception as error:     # noqa: BLE001 — reported, and the run fails
            self.errors.append(f"chaos thread: {error!r}")
            self.stop_all.set()
        finally:
            r.close()

    def restart_redis(self, redis_server):
        sig = signal.SIGKILL if self.args.redis_signal == "KILL" else signal.SIGTERM
        accepted_before = len(self.accepted)
        at = time.time()
        if sig == signal.SIGKILL:
            redis_server.proc.kill()
        else:
            redis_server.proc.stop(timeout=60)
        down_at = time.time()
        log(f"redis-server: SIG{self.args.redis_signal} at {accepted_before} accepted; down for {self.args.redis_down}s")
        time.sleep(self.args.redis_down)     # the outage itself: submissions meanwhile get 503
        redis_server.start()
        back = time.time()
        self.redis_restart = {"signal": self.args.redis_signal, "at": at, "down_s": back - down_at,
                              "accepted_before": accepted_before}
        log(f"redis-server: back after {back - down_at:.2f}s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the celeriac binary")
    parser.add_argument("-n", type=int, default=None, help="tasks to submit (default 20000; --short 2000)")
    parser.add_argument("--short", action="store_true",
                        help="CI mode: 2,000 tasks, 2 kills, one redis restart, --lease-timeout 5 unless given")
    parser.add_argument("--kill-every", type=float, default=None, help="mean seconds between kills (default 3; short 1.5)")
    parser.add_argument("--min-kills", type=int, default=None,
                        help="keep killing (even when idle) until this many kills (default 6; short 2)")
    parser.add_argument("--max-kills", type=int, default=None, help="never more kills than this (default 40; short 2)")
    parser.add_argument("--workers", type=int, default=3, help="worker processes (default 3)")
    parser.add_argument("--concurrency", "-c", type=int, default=4, help="-c of each worker (default 4)")
    parser.add_argument("--lease-timeout", type=float, default=None,
                        help="workers' --lease-timeout in seconds (default: the worker's own, 30; short 5)")
    parser.add_argument("--threads", type=int, default=8, help="submitting threads (default 8)")
    parser.add_argument("--redis-at", type=float, default=0.4, help="restart redis-server once this share of -n is accepted")
    parser.add_argument("--redis-signal", choices=["KILL", "TERM"], default="KILL",
                        help="how redis-server is stopped (default KILL: no shutdown fsync to hide behind)")
    parser.add_argument("--redis-down", type=float, default=1.0, help="seconds redis-server stays down (default 1)")
    parser.add_argument("--appendfsync", choices=["always", "everysec"], default="always",
                        help="Redis AOF fsync policy (default always: a 202 is on disk before it is sent)")
    parser.add_argument("--submit-timeout", type=float, default=60, help="seconds one task may be retried before giving up")
    parser.add_argument("--deadline", type=float, default=None,
                        help="seconds after the last kill/submission to wait for the last result (default 2×lease + 60)")
    parser.add_argument("--timeout", type=float, default=1500, help="hard cap on the whole run, seconds")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the kill schedule (default: random, printed)")
    parser.add_argument("--worker-loglevel", default="info")
    parser.add_argument("--failover", action="store_true",
                        help="Sentinel mode: primary + 2 replicas + 3 Sentinels, the primary SIGKILLed once at --redis-at "
                             "(default 0.4), 5,000 tasks, no worker kills unless --min-kills/--max-kills say so")
    parser.add_argument("--replica-lag", type=float, default=0,
                        help="with --failover: stall both replicas this many seconds (DEBUG SLEEP) and kill the primary 0.8 into it")
    parser.add_argument("--min-replicas-ack", type=int, default=0,
                        help="--min-replicas-ack of the API and the workers (with --failover: losses then fail the run)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, AOF) even on success")
    parser.add_argument("--workdir", default=None, help="scratch directory parent (default: system temp)")
    args = parser.parse_args()
    short = args.short
    if args.failover:
        args.n = args.n if args.n is not None else (1000 if short else 5000)
        args.min_kills = args.min_kills if args.min_kills is not None else 0
        args.max_kills = args.max_kills if args.max_kills is not None else 0
    args.n = args.n if args.n is not None else (2000 if short else 20000)
    args.kill_every = args.kill_every if args.kill_every is not None else (1.5 if short else 3.0)
    args.min_kills = args.min_kills if args.min_kills is not None else (2 if short else 6)
    args.max_kills = args.max_kills if args.max_kills is not None else (2 if short else 40)
    args.max_kills = max(args.max_kills, args.min_kills)
    if args.lease_timeout is None and short:
        args.lease_timeout = 5.0
    lease = args.lease_timeout if args.lease_timeout is not None else 30.0
    args.deadline = args.deadline if args.deadline is not None else 2 * lease + 60
    args.seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    if not (os.path.isfile(args.bin) and os.access(args.bin, os.X_OK)):
        print(f"chaos: no celeriac binary at {args.bin}", file=sys.stderr)
        return 2

    scratch = Path(tempfile.mkdtemp(prefix="celeriac-chaos-", dir=args.workdir))
    (scratch / "redis").mkdir()
    logs = scratch / "logs"
    logs.mkdir()
    log(f"scratch {scratch}; seed {args.seed}; n {args.n}; lease {lease:g}s; "
        + (f"Sentinel failover, --min-replicas-ack {args.min_replicas_ack}" if args.failover else f"appendfsync {args.appendfsync}"))

    run = Run(args)
    procs = []
    redis_server = Redis(scratch / "redis", free_port(), args.appendfsync)
    cluster = SentinelCluster(scratch / "redis", free_port, Proc, wait_until, HarnessError) if args.failover else None
    fleet = None
    api = None
    status = 2
    hard_deadline = time.monotonic() + args.timeout

    def on_signal(signum, _frame):
        run.stop_all.set()
        run.stop_chaos.set()
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)

    try:
        if cluster is not None:
            cluster.start()
            url = cluster.url
            r = cluster.client(socket_timeout=10, socket_connect_timeout=2)
        else:
            redis_server.start()
            url = f"redis://127.0.0.1:{redis_server.port}/0"
            r = redis.Redis(host="127.0.0.1", port=redis_server.port, socket_timeout=10, socket_connect_timeout=2)
        fleet = Fleet(args, url, logs)
        for k in range(1, args.workers + 1):
            fleet.start(k)
        for k in range(1, args.workers + 1):
            fleet.wait_registered(r, k)
        api_port = free_port()
        api_argv = [args.bin, "api", "--broker", url, "--bind", f"127.0.0.1:{api_port}", "-l", "warning"]
        if args.min_replicas_ack:
            api_argv += ["--min-replicas-ack", str(args.min_replicas_ack)]
        api = Proc("api", api_argv, logs / "api.log")

        def api_ready():
            if not api.alive():
                raise HarnessError(f"celeriac api exited {api.proc.returncode}:\n{api.tail()}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", api_port, timeout=2)
                c.request("GET", "/readyz")
                ok = c.getresponse().status == 200
                c.close()
                return ok
            except OSError:
                return False
        wait_until(api_ready, 30, "the API's /readyz")

        # Go: submitters, chaos, checker (this thread).
        run.submit_started = time.time()
        t0 = time.monotonic()
        submitters = [threading.Thread(target=run.submitter, args=("127.0.0.1", api_port), daemon=True)
                      for _ in range(args.threads)]
        for t in submitters:
            t.start()
        if cluster is not None:
            chaos = threading.Thread(target=failover_chaos, args=(run, cluster, log), daemon=True)
        else:
            chaos = threading.Thread(target=run.chaos, args=(fleet, redis_server), daemon=True)
        chaos.start()

        settle_deadline = None
        outstanding = None
        last_report = time.monotonic()
        while True:
            if run.stop_all.is_set():
                break
            if run.submit_finished is None and not any(t.is_alive() for t in submitters):
                run.submit_finished = time.time()
                log(f"submitted: {len(run.accepted)} accepted in {run.submit_finished - run.submit_started:.1f}s; "
                    f"retried {run.retried}")
            try:
                outstanding = run.check_once(r)
            except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError, redis.exceptions.TimeoutError):
                outstanding = None
            chaos_over = not chaos.is_alive()
            if run.submit_finished is not None and chaos_over:
                if settle_deadline is None:
                    settle_deadline = time.monotonic() + args.deadline
                if outstanding == 0:
                    break
                if time.monotonic() >= settle_deadline:
                    log(f"deadline: {outstanding} accepted task(s) still without a result")
                    break
            if time.monotonic() >= hard_deadline:
                run.errors.append(f"hard timeout ({args.timeout:.0f}s) reached")
                run.stop_all.set()
                run.stop_chaos.set()
                break
            if time.monotonic() - last_report >= 5:
                last_report = time.monotonic()
                log(f"progress: accepted {len(run.accepted)}/{args.n}, done {len(run.done)}, kills {len(run.kills)}")
            time.sleep(0.2)
        t_check = time.monotonic()
        run.stop_chaos.set()
        chaos.join(timeout=120)
        for t in submitters:
            t.join(timeout=60)

        status = report(run, r, args, lease, redis_server, t0, t_check)
        r.close()
    except HarnessError as error:
        print(f"chaos: harness error: {error}", file=sys.stderr)
        status = 2
    except KeyboardInterrupt as error:
        print(f"chaos: interrupted ({error})", file=sys.stderr)
        status = 2
    finally:
        run.stop_all.set()
        run.stop_chaos.set()
        # API and workers together (a warm shutdown each), then redis-server.
        children = ([api] if api is not None else []) + (list(fleet.procs.values()) if fleet is not None else [])
        for proc in children:
            if proc.alive():
                proc.proc.send_signal(signal.SIGTERM)
        for proc in children:
            proc.stop(timeout=15)
        if redis_server.proc is not None:
            redis_server.proc.stop(timeout=30)
        if cluster is not None:
            cluster.stop()
        if status == 0 and not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print(f"chaos: logs and AOF kept in {scratch}", file=sys.stderr)
    return status


def report(run, r, args, lease, redis_server, t0, t_check):
    ids = list(run.accepted)
    attempts, started, finished = {}, {}, {}
    for start in range(0, len(ids), 1000):
        pipe = r.pipeline(transaction=False)
        for tid in ids[start:start + 1000]:
            pipe.hmget(PREFIX + "task:" + tid, "attempts", "started_at", "finished_at")
        for tid, (a, s, f) in zip(ids[start:start + 1000], pipe.execute()):
            attempts[tid] = int(a or 0)
            started[tid] = parse_date(s)
            finished[tid] = parse_date(f)
    lost = [tid for tid in ids if tid not in run.done and tid not in run.wrong and tid not in run.failed]
    duplicates = sum(1 for a in attempts.values() if a > 1)
    extra = sum(a - 1 for a in attempts.values() if a > 1)
    # A killed worker's task: from the kill to the start of its next run (the last attempt's started_at;
    # a task held at several kills is measured from the last kill before that start).
    waits = []
    for tid, kills in run.held.items():
        s = started.get(tid)
        if s is None:
            continue
        before = [k for k in kills if k <= s]
        if before:
            waits.append((s - max(before), tid))
    waits.sort()
    longest = waits[-1] if waits else None
    rerun = sum(1 for tid in run.held if attempts.get(tid, 0) > 1)
    held_total = sum(held for _, _, held in run.kills)
    finish_times = sorted(f for tid, f in finished.items() if f is not None and tid in run.done)
    elapsed = (finish_times[-1] - run.submit_started) if finish_times else float("nan")
    p99 = (finish_times[int(0.99 * (len(finish_times) - 1))] - run.submit_started) if finish_times else float("nan")
    submit_s = (run.submit_finished or time.time()) - run.submit_started
    # Tasks Redis has that no client was told about (a 503 whose write reached Redis before it died).
    accepted_set = set(ids)
    orphans = 0
    for key in r.scan_iter(match=PREFIX + "task:*", count=2000):
        if key.decode()[len(PREFIX) + 5:] not in accepted_set:
            orphans += 1
    leftovers = {"queue": r.llen("celery"), "unacked": r.hlen("unacked"), "dead letters": r.llen(DEAD),
                 "scheduled": r.zcard(PREFIX + "scheduled")}
    retried = run.retried
    rs = run.redis_restart

    lines = [
        f"chaos: tasks {args.n}, workers {args.workers} x -c {args.concurrency}, lease {lease:g}s, "
        + (f"Sentinel failover, --min-replicas-ack {args.min_replicas_ack}" if args.failover else f"appendfsync {args.appendfsync}")
        + f", seed {args.seed}",
        f"chaos: accepted {len(ids)} (202); retried after 503 {retried['503']}, after 422 {retried['422']}, "
        f"after a connection error {retried['connection']}, other {retried['other']}; gave up {len(run.given_up)}",
        f"chaos: lost {len(lost)}, wrong {len(run.wrong)}, failed {len(run.failed)}",
        f"chaos: duplicates {duplicates} (attempts>1: given to a worker more than once; {extra} extra deliveries)",
        f"chaos: kills {len(run.kills)} (SIGKILL, every ~{args.kill_every:g}s); messages held by killed workers {held_total}; "
        + (f"longest wait of a killed worker's task {longest[0]:.2f}s (task {longest[1]})" if longest
           else "longest wait of a killed worker's task n/a (none held)"),
        f"chaos: killed workers' tasks: {len(run.held)}, by record state at the kill: "
        f"{', '.join(f'{k} {v}' for k, v in sorted(run.held_states.items())) or 'none'} "
        f"(STARTED ones may have run twice); {rerun} now have attempts>1; waits kill→next start: "
        + (f"min {waits[0][0]:.2f}s, median {waits[len(waits) // 2][0]:.2f}s, max {waits[-1][0]:.2f}s" if waits else "none"),
        (f"chaos: redis restart: SIG{rs['signal']} after {rs['accepted_before']} accepted, back in {rs['down_s']:.2f}s "
         f"(AOF, same port and dir)") if rs else "chaos: redis restart: none" if args.failover else "chaos: redis restart: did not happen",
        f"chaos: throughput {len(run.done) / elapsed:.0f} tasks/s end-to-end ({len(run.done)} done in {elapsed:.1f}s, "
        f"99% in {p99:.1f}s); submit {len(ids) / submit_s:.0f}/s over {submit_s:.1f}s",
        f"chaos: left in redis: {', '.join(f'{k} {v}' for k, v in leftovers.items())}; "
        f"orphans (enqueued, but the client never learned the id: its retries carry an Idempotency-Key, so this must be 0) {orphans}",
    ]
    for tid, (want, got) in list(run.wrong.items())[:5]:
        lines.append(f"chaos:   wrong {tid}: want {want}, got {got!r}")
    for tid, doc in list(run.failed.items())[:5]:
        lines.append(f"chaos:   failed {tid}: {json.dumps(doc)[:300]}")
    for tid in lost[:10]:
        lines.append(f"chaos:   lost {tid} (add({run.accepted[tid]}, 1)): record {r.hgetall(PREFIX + 'task:' + tid)}")
    for status, (count, payload) in sorted(run.unexpected.items()):
        lines.append(f"chaos:   HTTP {status} x{count} to POST /tasks (retried; Redis down should be 503), first body {payload!r}")
    for error in run.errors:
        lines.append(f"chaos:   harness: {error}")
    lossy = args.failover and not args.min_replicas_ack    # a loss is the number measured, not a failure
    if args.failover:
        more, problems = failover_lines(run, args, duplicates, lost)
        lines += more + [f"chaos:   FAILOVER PROBLEM: {problem}" for problem in problems]
    ok = ((not lost or lossy) and not run.wrong and not run.failed and not run.given_up and not run.errors
          and (not orphans or lossy) and not (args.failover and problems))
    lines.append("chaos: PASS" if ok else "chaos: FAIL")
    print("\n".join(lines), flush=True)
    if run.errors:
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
