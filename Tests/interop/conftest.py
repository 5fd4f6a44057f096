"""Fixtures for the interop tests: a private redis-server, the celeriac worker binary, a real Python
Celery worker, and the Python Celery app (`pyapp/`) pointed at that server.

Nothing here sleeps for a fixed time: every wait polls a condition (a log line, a Redis key, a
process exit) until a deadline, and fails with what it saw when the deadline passes.
"""
import gc
import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PYAPP = HERE / "pyapp"
FIXTURES = REPO / "Tests" / "Fixtures" / "celery-vectors"

if str(PYAPP) not in sys.path:
    sys.path.insert(0, str(PYAPP))


# ---------------------------------------------------------------------------------------------
# waiting helpers


def wait_for(condition, timeout, what, interval=0.02):
    """Polls `condition()` until it returns something truthy and returns that; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, limit=4000):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as error:
        return f"<no log: {error}>"
    return text[-limit:]


class LoggedProcess:
    """A child process whose stdout+stderr go to a log file the tests can read and wait on."""

    def __init__(self, name, argv, log_path, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        return self.log_path.read_text(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def wait_log(self, needle, timeout, what=None):
        """Waits until `needle` appears in the log; fails early (with the log) if the process exits."""
        deadline = time.monotonic() + timeout
        while True:
            if needle in self.log():
                return
            if not self.alive():
                pytest.fail(f"{self.name} exited with {self.proc.returncode} before {what or repr(needle)}; "
                            f"log:\n{tail(self.log_path)}")
            if time.monotonic() >= deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what or repr(needle)} from {self.name}; "
                            f"log:\n{tail(self.log_path)}")
            time.sleep(0.02)

    def stop(self, timeout=30):
        """SIGTERM (warm shutdown), then wait for the exit; SIGKILL only if it does not exit in time.
        Returns the exit status, or None when it had to be killed."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                self._log.close()
                return None
        self._log.close()
        return self.proc.returncode


# ---------------------------------------------------------------------------------------------
# redis-server


class RedisServer:
    def __init__(self, port, proc, directory):
        self.port = port
        self.proc = proc
        self.directory = directory
        self.url = f"redis://127.0.0.1:{port}/0"

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, db=0, socket_timeout=10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server not found on PATH: install it (`make apt` / apt-get install -y redis-server); "
                    "the interop tests need a real Redis and are never skipped")
    directory = tmp_path_factory.mktemp("redis")
    errors = []
    for _attempt in range(5):
        port = free_port()
        log = directory / f"redis-{port}.log"
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", str(directory), "--daemonize", "no",
                                 "--logfile", str(log)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        ready = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = client.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.02)
        client.close()
        if ready:
            server = RedisServer(port, proc, directory)
            yield server
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        errors.append(f"port {port}: exit {proc.returncode}: {tail(log, 800)}")
    pytest.fail("could not start redis-server on a free port:\n" + "\n".join(errors))


@pytest.fixture
def r(redis_server):
    """A Redis client on the test server; the database is emptied before every test."""
    client = redis_server.client()
    client.flushall()
    yield client
    client.close()


# ---------------------------------------------------------------------------------------------
# the Python Celery app


@pytest.fixture(scope="session")
def pyapp(redis_server):
    """The Python Celery app (Tests/interop/pyapp), configured from the environment for this server.
    Returns the `celery_example_2` module; `pyapp.fetch_url` is `celery_example.fetch_url`."""
    os.environ["CELERY_BROKER_URL"] = redis_server.url
    os.environ["CELERY_RESULT_BACKEND"] = redis_server.url
    module = importlib.import_module("celery_example_2")
    importlib.import_module("celery_example")
    assert module.app.conf.broker_url == redis_server.url, "pyapp was imported before the test server was known"
    module.fetch_url = sys.modules["celery_example"].fetch_url
    yield module
    # While the server is still up: let results that are still referenced (tracebacks of failed or
    # xfailed tests) forget their subscriptions, so their __del__ at exit does not try to reconnect.
    gc.collect()
    consumer = module.app.backend.result_consumer
    consumer.stop()
    consumer.subscribed_to.clear()
    module.app.close()


def child_env(redis_server):
    env = dict(os.environ)
    env["CELERY_BROKER_URL"] = redis_server.url
    env["CELERY_RESULT_BACKEND"] = redis_server.url
    env["REDIS_URL"] = redis_server.url
    env["PYTHONPATH"] = os.pathsep.join([str(PYAPP)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    # The tests' HTTP servers are on loopback: never send those requests through a proxy.
    for key in ("NO_PROXY", "no_proxy"):
        env[key] = ",".join(filter(None, [env.get(key, ""), "127.0.0.1", "localhost"]))
    return env


# ---------------------------------------------------------------------------------------------
# the celeriac binary and workers


@pytest.fixture(scope="session")
def celeriac_bin():
    path = Path(os.environ.get("CELERIAC_BIN", REPO / ".build" / "debug" / "celeriac"))
    if not path.is_absolute():
        path = REPO / path
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"celeriac binary not found at {path}: build it with "
                    f"`swift build --product celeriac` (or `make test-interop`), or set CELERIAC_BIN")
    return str(path)


@pytest.fixture
def celeriac(celeriac_bin, redis_server, r):
    """Runs `celeriac <args…>` against the test server and returns the CompletedProcess."""

    def run(*args, timeout=30, check=True):
        done = subprocess.run([celeriac_bin, *args[:1], "--broker", redis_server.url, *args[1:]],
                              capture_output=True, text=True, timeout=timeout, env=child_env(redis_server),
                              stdin=subprocess.DEVNULL)
        if check and done.returncode != 0:
            pytest.fail(f"celeriac {' '.join(args)} exited {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}")
        return done

    return run


@pytest.fixture
def celeriac_worker(celeriac_bin, redis_server, r, tmp_path):
    """A celeriac worker (`-c 3`) on the test server, ready when the fixture returns; stopped with
    SIGTERM afterwards, and it must then exit 0 after a warm shutdown."""
    worker = LoggedProcess("celeriac worker",
                           [celeriac_bin, "worker", "--broker", redis_server.url, "-c", "3", "-n", "w1@%h",
                            "-l", "info", "--grace", "5"],
                           tmp_path / "celeriac-worker.log", env=child_env(redis_server), cwd=str(REPO))
    try:
        worker.wait_log(" ready.", timeout=20, what="the worker's 'ready.' line")
        yield worker
    finally:
        status = worker.stop(timeout=30)
        print(f"--- celeriac worker log ---\n{tail(worker.log_path, 6000)}")
    assert status == 0, f"celeriac worker did not stop warm on SIGTERM (exit {status}); log:\n{tail(worker.log_path)}"
    assert "Warm shutdown" in worker.log(), f"no warm shutdown line in the worker log:\n{tail(worker.log_path)}"


@pytest.fixture
def python_worker(redis_server, r, tmp_path):
    """A real Python Celery worker (solo pool) running Tests/interop/pyapp; stopped with SIGTERM."""
    worker = LoggedProcess("python celery worker",
                           [sys.executable, "-m", "celery", "-A", "celery_example_2", "worker", "--pool=solo",
                            "-c", "1", "-n", "py1@%h", "-l", "info", "--without-gossip", "--without-mingle",
                            "--without-heartbeat"],
                           tmp_path / "python-worker.log", env=child_env(redis_server), cwd=str(PYAPP))
    try:
        worker.wait_log(" ready.", timeout=60, what="the Python worker's 'ready.' line")
        yield worker
    finally:
        status = worker.stop(timeout=30)
        print(f"--- python worker log ---\n{tail(worker.log_path, 6000)}")
    assert status == 0, f"Python worker did not stop cleanly (exit {status}); log:\n{tail(worker.log_path)}"
