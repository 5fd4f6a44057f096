"""The contract check (`make test-contract`): Schemathesis 4 runs every check (`--checks all`) on
openapi.yaml against the real `celeriac api`, with a real `celeriac worker` and a private redis-server
on free ports. Bounded (`--max-examples`, `--max-time`) so that it fits in `make test`.

The API runs with --allow-unknown-tasks: a schema cannot name the tasks live workers registered, so
generated task names are accepted, queued and then failed by the worker as NotRegistered (as Celery
does), instead of answering 422. The one rule JSON Schema cannot state (dates at most ten years
ahead of now) is handled in contract_hooks.py.

Exit status: Schemathesis's (0 when nothing failed); any harness problem fails with a clear message.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MAX_EXAMPLES = os.environ.get("CONTRACT_MAX_EXAMPLES", "12")
MAX_TIME = os.environ.get("CONTRACT_MAX_TIME", "40")
# A fixed seed by default, so that a red run can be replayed; CONTRACT_SEED=<n> explores further.


def fail(message):
    print(f"test-contract: {message}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout, what, procs):
    deadline = time.monotonic() + timeout
    while not condition():
        for name, proc, log in procs:
            if proc.poll() is not None:
                fail(f"{name} exited with {proc.returncode} while waiting for {what}:\n{Path(log).read_text(errors='replace')[-3000:]}")
        if time.monotonic() > deadline:
            fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def main():
    binary = os.environ.get("CELERIAC_BIN", str(REPO / ".build/debug/celeriac"))
    st = Path(sys.executable).with_name("st")
    for path, hint in ((binary, "build it with `swift build --product celeriac`"), (str(st), "pip install schemathesis (make venv)"),
                       (shutil.which("redis-server") or "", "apt-get install redis-server (make apt)")):
        if not path or not os.access(path, os.X_OK):
            fail(f"{path or 'redis-server'} not found: {hint}")
    scratch = Path(tempfile.mkdtemp(prefix="celeriac-contract-"))
    redis_port, api_port = free_port(), free_port()
    url = f"redis://127.0.0.1:{redis_port}/0"
    env = dict(os.environ, CELERIAC_OUTBOX=str(scratch / "outbox"), NO_PROXY="127.0.0.1,localhost",
               SCHEMATHESIS_HOOKS="contract_hooks", PYTHONPATH=str(HERE))
    procs = []

    def start(name, argv):
        log = scratch / f"{name}.log"
        proc = subprocess.Popen(argv, stdout=open(log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=str(REPO), start_new_session=True)
        procs.append((name, proc, log))
        return log

    try:
        start("redis", [shutil.which("redis-server"), "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--dir", str(scratch)])
        wait_for(lambda: subprocess.run(["redis-cli", "-p", str(redis_port), "ping"], capture_output=True).stdout.strip() == b"PONG",
                 10, "redis-server", procs)
        worker_log = start("worker", [binary, "worker", "--broker", url, "-c", "4", "-n", "contract@localhost"])
        start("api", [binary, "api", "--broker", url, "--bind", f"127.0.0.1:{api_port}", "--allow-unknown-tasks"])
        wait_for(lambda: " ready." in worker_log.read_text(errors="replace"), 20, "the worker's ready line", procs)
        wait_for(lambda: http_ok(f"http://127.0.0.1:{api_port}/readyz"), 20, "the API's /readyz", procs)
        started = time.monotonic()
        # From the scratch directory: Schemathesis writes .schemathesis/ where it runs.
        done = subprocess.run([str(st), "run", str(REPO / "openapi.yaml"), "--url", f"http://127.0.0.1:{api_port}",
                               "--checks", "all", "--max-examples", MAX_EXAMPLES, "--max-time", MAX_TIME, "--seed", os.environ.get("CONTRACT_SEED", "1"),
                               # One worker: with two threads, Hypothesis's lambda-source cache hit CPython 3.11's
                               # "AST constructor recursion depth mismatch" (a tool error, 1 run in 3 here).
                               "--workers", "1", "--request-timeout", "15", "--no-color"],
                              cwd=str(scratch), env=env)
        print(f"test-contract: schemathesis exited {done.returncode} after {time.monotonic() - started:.1f}s")
        for name, proc, log in procs:
            if proc.poll() is not None:
                fail(f"{name} died during the run (exit {proc.returncode}):\n{Path(log).read_text(errors='replace')[-3000:]}")
        if done.returncode != 0:
            print("--- api log (tail) ---\n" + (scratch / "api.log").read_text(errors="replace")[-3000:])
        return done.returncode
    finally:
        for _, proc, _ in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
