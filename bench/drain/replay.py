"""Deterministic Redis cost of a drain: capture one worker's commands, replay them under callgrind.

Wall-clock drains swing +-15-20 % on a shared machine; instructions executed by redis-server for the
same commands do not (+-0.5 %). So:
  1. capture: drain N tasks (default 2,000) with one worker while MONITOR records every command;
     the worker's top-level commands (EVALSHA, LRANGE) and the scripts it loaded are kept in a file.
  2. replay: a fresh redis-server under valgrind --tool=callgrind gets the same N messages in
     `celery` and the captured commands in order on one connection; prints redis-server
     instructions per task (and EVALSHA microseconds, which valgrind inflates ~40x).
A script can be swapped for an edited copy with the same KEYS/ARGV layout (--sub NAME=FILE, names
as --dump writes them), so a Lua change is measured before it is ported to Swift. A change of the
layout needs a capture from the new binary. Run captures under the build lock (they start a worker).

  flock /tmp/celeriac-build.lock python bench/drain/replay.py capture --bin B --out /tmp/b.pkl
  python bench/drain/replay.py replay /tmp/b.pkl [--dump DIR] [--sub fetch_peeked=edited.lua]
"""
import argparse, glob, hashlib, os, pickle, re, socket, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import drain  # noqa: E402
import redis  # noqa: E402

ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("a"): 7, ord("b"): 8, ord('"'): 34, ord("\\"): 92}


def monitor_args(text):
    """The quoted arguments of one MONITOR line (sdscatrepr escaping) as bytes."""
    args, i = [], 0
    while i < len(text):
        if text[i] == 32:
            i += 1
            continue
        i, cur = i + 1, bytearray()
        while text[i] != 34:
            if text[i] == 92:
                if text[i + 1] == ord("x"):
                    cur.append(int(text[i + 2:i + 4], 16))
                    i += 4
                else:
                    cur.append(ESCAPES[text[i + 1]])
                    i += 2
            else:
                cur.append(text[i])
                i += 1
        args.append(bytes(cur))
        i += 1
    return args


def capture(args):
    workdir = tempfile.mkdtemp(prefix="celeriac-replay-")
    proc_redis, port, client = drain.start_redis(workdir)
    url = f"redis://127.0.0.1:{port}/0"
    messages = [m[2] for m in drain.build_messages(args.tasks)]
    client.lpush(drain.STAGING, *messages)
    worker = subprocess.Popen([args.bin, "worker", "--broker", url, "-l", "warning", "--quiet", "-n", "bench@%h"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, REDIS_URL=url))
    try:
        drain.wait_until(lambda: drain.idle_and_blocked(client), 60, "the worker to be ready", worker)
        mon = socket.create_connection(("127.0.0.1", port))
        mon.sendall(b"MONITOR\r\n")
        mon.settimeout(0.2)
        buf = bytearray()

        def pump():
            try:
                while data := mon.recv(1 << 20):
                    buf.extend(data)
            except socket.timeout:
                pass
        pump()
        client.rename(drain.STAGING, "celery")
        keys = [f"celery-task-meta-{m[0]}" for m in drain.build_messages(args.tasks)]
        deadline = time.monotonic() + 300
        while client.exists(*keys) < len(keys) and time.monotonic() < deadline:
            pump()
        pump()
    finally:
        drain.stop(worker)
        proc_redis.terminate()
    commands = []
    for line in bytes(buf).split(b"\r\n"):
        m = re.match(rb"\+[\d.]+ \[\d+ ([^\]]+)\] (.*)$", line, re.S)
        if m and m.group(1) != b"lua":
            commands.append(monitor_args(m.group(2)))
    with open(args.out, "wb") as out:
        pickle.dump({"messages": messages, "commands": commands}, out)
    print(f"{len(commands)} commands for {len(messages)} tasks in {args.out}")


def script_name(source):
    for name, mark in (("fetch_peeked", b"higherListHasOne"), ("store_results", b"tp_flush"), ("fetch", b"local want")):
        if mark in source:
            return name
    return "script-" + hashlib.sha1(source).hexdigest()[:8]


def replay(args):
    data = pickle.load(open(args.capture, "rb"))
    messages, commands = data["messages"], data["commands"]
    scripts = {hashlib.sha1(c[2]).hexdigest().encode(): c[2] for c in commands
               if c[0].lower() == b"script" and c[1].lower() == b"load"}
    subs = dict(s.split("=", 1) for s in args.sub)
    workdir = tempfile.mkdtemp(prefix="celeriac-replay-")
    port = drain.free_port()
    server = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir}/cg.out", "redis-server",
                               "--port", str(port), "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_timeout=600)
    drain.wait_until(lambda: _pings(client), 60, "redis-server under valgrind")
    try:
        shas = {}
        for sha, source in scripts.items():
            name = script_name(source)
            if args.dump:
                Path(args.dump, name + ".lua").write_bytes(source)
            shas[sha] = client.script_load(Path(subs[name]).read_bytes() if name in subs else source).encode()
        top = [c for c in commands if c[0].lower() in (b"evalsha", b"lrange")]
        for _ in range(args.rounds):
            client.flushall()
            client.lpush("celery", *messages)
            client.config_resetstat()
            subprocess.run(["callgrind_control", "-z", str(server.pid)], capture_output=True)
            conn = client.connection_pool.get_connection()
            for c in top:
                if c[0].lower() == b"evalsha":
                    c = [c[0], shas[c[1]]] + c[2:]
                conn.send_command(*c, check_health=False)
                conn.read_response(disable_decoding=True)
            client.connection_pool.release(conn)
            subprocess.run(["callgrind_control", "-d", str(server.pid)], capture_output=True)
            dump = max(glob.glob(f"{workdir}/cg.out*"), key=os.path.getmtime)
            instructions = next(int(l.split()[1]) for l in open(dump) if l.startswith("totals:"))
            stats = client.info("commandstats")
            n = len(messages)
            print(f"redis-server {instructions / n / 1000:.1f}k instructions/task; "
                  f"{stats['cmdstat_evalsha']['calls'] / n:.2f} EVALSHA/task; results {len(client.keys('celery-task-meta-*'))}/{n}")
    finally:
        server.terminate()
        server.wait(timeout=60)


def _pings(client):
    try:
        return client.ping()
    except redis.exceptions.ConnectionError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("capture")
    c.add_argument("--bin", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("-n", "--tasks", type=int, default=2000)
    r = sub.add_parser("replay")
    r.add_argument("capture")
    r.add_argument("--sub", action="append", default=[], help="NAME=FILE: replay with this script source instead")
    r.add_argument("--dump", help="write the captured scripts' sources to this directory")
    r.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    capture(args) if args.mode == "capture" else replay(args)


if __name__ == "__main__":
    main()
