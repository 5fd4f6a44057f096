"""chaos.py --failover: a Sentinel-watched primary with two replicas, SIGKILLed once mid-run (issue 13).

A primary, two replicas (`--replicaof`) and three `redis-sentinel` (quorum 2, down-after 1 s) on free
loopback ports; the API and the workers get the kombu-form `sentinel://…;…/0?master_name=…` URL.
Once --redis-at of the tasks are accepted the primary is SIGKILLed (no restart: Sentinel promotes a
replica). With --replica-lag S the replicas are first cut off for S seconds — `DEBUG SLEEP S` on each (they
cannot reconnect), then `CLIENT KILL TYPE replica` on the primary (what it had sent is delivered, nothing
after) — and the primary dies 0.8 S later: the writes of that window are on the primary only, as with a
partitioned or lagging replica. Without it, loopback replication keeps up within a millisecond and a
SIGKILL rarely finds a write the replicas lack. The report adds what a failover costs: the longest gap between two 202s, the 503s, and the
losses, which must be 0 with --min-replicas-ack (without it they are printed, not failed).
"""
import shutil
import threading
import time
from pathlib import Path

import redis
import redis.sentinel

MASTER = "mymaster"


class SentinelCluster:
    """The primary (index 0), two replicas and three Sentinels; `Proc`/`wait_until` come from chaos.py."""

    def __init__(self, directory, free_port, proc_class, wait_until, harness_error):
        self.directory = Path(directory)
        self.free_port = free_port
        self.Proc = proc_class
        self.wait_until = wait_until
        self.HarnessError = harness_error
        self.servers = []      # (port, Proc)
        self.sentinels = []    # (port, Proc)
        self.killed_port = None

    def start(self):
        server = shutil.which("redis-server") or "redis-server"
        sentinel = shutil.which("redis-sentinel")
        if sentinel is None:
            raise self.HarnessError("redis-sentinel is not installed (make apt installs it)")
        for k in range(3):
            port = self.free_port()
            d = self.directory / f"redis{k}"
            d.mkdir()
            argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d), "--save", "",
                    "--appendonly", "no", "--daemonize", "no", "--logfile", str(d / "redis.log")]
            if k > 0:
                argv += ["--replicaof", "127.0.0.1", str(self.servers[0][0]), "--enable-debug-command", "local"]
            self.servers.append((port, self.Proc(f"redis{k}", argv, d / "stdout")))
        primary = self.servers[0][0]
        for k in range(3):
            port = self.free_port()
            d = self.directory / f"sentinel{k}"
            d.mkdir()
            (d / "sentinel.conf").write_text(
                f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {d}\nlogfile {d / 'sentinel.log'}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {primary} 2\n"
                f"sentinel down-after-milliseconds {MASTER} 1000\nsentinel failover-timeout {MASTER} 5000\n"
                f"sentinel parallel-syncs {MASTER} 1\n")
            self.sentinels.append((port, self.Proc(f"sentinel{k}", [sentinel, str(d / "sentinel.conf")], d / "stdout")))

        def ready():
            info = redis.Redis(host="127.0.0.1", port=primary, socket_timeout=2).info("replication")
            if info.get("connected_slaves") != 2 or any(
                    info.get(f"slave{i}", {}).get("state") != "online" for i in range(2)):
                return False
            for port, _ in self.sentinels:
                s = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
                if len(s.sentinel_slaves(MASTER)) != 2 or len(s.sentinel_sentinels(MASTER)) != 2:
                    return False
            return True
        self.wait_until(ready, 60, "two replicas online and three Sentinels that know them and each other")

    @property
    def url(self):
        return ";".join(f"sentinel://127.0.0.1:{p}" for p, _ in self.sentinels) + f"/0?master_name={MASTER}"

    def client(self, **kwargs):
        """A redis-py client of whatever server is master now (it re-asks the Sentinels on reconnect)."""
        sentinel = redis.sentinel.Sentinel([("127.0.0.1", p) for p, _ in self.sentinels], socket_timeout=2)
        return sentinel.master_for(MASTER, **kwargs)

    def master_port(self):
        for port, _ in self.sentinels:
            try:
                addr = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2).sentinel_get_master_addr_by_name(MASTER)
                if addr:
                    return int(addr[1])
            except redis.exceptions.RedisError:
                continue
        return None

    def stall_replicas(self, seconds):
        """`DEBUG SLEEP seconds` on every replica (in the background), then the primary drops their links."""
        master = self.master_port()
        threads = []
        for port, _ in self.servers:
            if port == master:
                continue
            def sleep(port=port):
                try:
                    redis.Redis(host="127.0.0.1", port=port, socket_timeout=seconds + 10).execute_command("DEBUG", "SLEEP", seconds)
                except redis.exceptions.RedisError:
                    pass
            threads.append(threading.Thread(target=sleep, daemon=True))
        for t in threads:
            t.start()
        time.sleep(0.05)
        redis.Redis(host="127.0.0.1", port=master, socket_timeout=2).execute_command("CLIENT", "KILL", "TYPE", "replica")
        return threads

    def kill_primary(self):
        port, proc = next((p, q) for p, q in self.servers if p == self.master_port())
        self.killed_port = port
        proc.kill()
        return port

    def stop(self):
        for _, proc in self.sentinels + self.servers:
            if proc.alive():
                proc.kill()


def failover_chaos(run, cluster, log):
    """The chaos thread of --failover: one primary SIGKILL once --redis-at of -n are accepted; then
    waits for a Sentinel to name another master and for a 202 after the kill (or the deadline)."""
    at_count = int(run.args.n * run.args.redis_at)
    while not run.stop_chaos.is_set() and len(run.accepted) < at_count and run.submit_finished is None:
        time.sleep(0.01)
    if run.stop_chaos.is_set():
        return
    lag = run.args.replica_lag
    stalls = cluster.stall_replicas(lag) if lag > 0 else []
    if lag > 0:
        time.sleep(0.8 * lag)
    accepted_before = len(run.accepted)
    killed_mono = time.monotonic()
    port = cluster.kill_primary()
    run.failover = {"at_mono": killed_mono, "accepted_before": accepted_before, "port": port}
    log(f"failover: SIGKILL primary :{port} at {accepted_before} accepted"
        + (f", {0.8 * lag:.2f}s into a {lag:g}s replica stall" if lag > 0 else ""))
    for t in stalls:
        t.join(timeout=lag + 10)
    deadline = killed_mono + 60
    while time.monotonic() < deadline and not run.stop_chaos.is_set():
        new = cluster.master_port()
        if new is not None and new != port:
            run.failover["promoted_s"] = time.monotonic() - killed_mono
            run.failover["new_port"] = new
            log(f"failover: Sentinel names :{new} master after {run.failover['promoted_s']:.2f}s")
            return
        time.sleep(0.05)
    run.errors.append("no replica was promoted within 60 s of the primary's SIGKILL")


def failover_lines(run, args, duplicates, lost):
    """Report lines of a failover run and the problems that fail it."""
    lines, problems = [], []
    times = sorted(run.accept_times)
    fo = getattr(run, "failover", None)
    gap, gap_at = 0.0, None
    for a, b in zip(times, times[1:]):
        if b - a > gap:
            gap, gap_at = b - a, a
    promoted = fo["at_mono"] + fo["promoted_s"] if fo and "promoted_s" in fo else None
    after = [t for t in times if promoted is not None and t >= promoted]
    first_after = (after[0] - promoted) if after else None
    ack = args.min_replicas_ack
    bound = args.workers * args.concurrency * 4 + 64   # every message the workers may hold, plus one completion batch
    if fo:
        lines.append(f"chaos: failover: replicas cut off (DEBUG SLEEP + CLIENT KILL TYPE replica) "
                     f"{0.8 * args.replica_lag:.2f}s before the kill" if args.replica_lag > 0 else "chaos: failover: no replica stall (replication keeps up)")
        lines.append(f"chaos: failover: primary :{fo['port']} SIGKILLed after {fo['accepted_before']} accepted; "
                     + (f"Sentinel promoted :{fo['new_port']} after {fo['promoted_s']:.2f}s" if "new_port" in fo else "no promotion seen"))
    lines.append(f"chaos: failover: longest API unavailability (gap between two 202s) {gap:.2f}s"
                 + (f", starting {gap_at - fo['at_mono']:+.2f}s from the kill" if fo and gap_at is not None else "")
                 + (f"; first 202 {first_after:.2f}s after the promotion" if first_after is not None else "; no 202 after the promotion")
                 + f"; 503s {run.statuses.get(503, 0)}; statuses {dict(sorted(run.statuses.items()))}")
    lines.append(f"chaos: failover: --min-replicas-ack {ack}: lost {len(lost)} of {len(run.accepted)} accepted; "
                 f"duplicates {duplicates} (bound {bound})")
    bad = {s: c for s, c in run.statuses.items() if s not in (202, 503)}
    if bad:
        problems.append(f"HTTP statuses other than 202/503 during the failover: {bad}")
    if fo is None or "new_port" not in fo:
        problems.append("the failover did not happen")
    if ack > 0 and lost:
        problems.append(f"{len(lost)} accepted task(s) lost with --min-replicas-ack {ack} (false 202s)")
    if ack > 0 and duplicates > bound:
        problems.append(f"{duplicates} duplicates exceed the bound {bound}")
    if not after:
        problems.append("the API never accepted a task after the promotion")
    return lines, problems
