"""Fixtures for the dashboard's browser tests (`make test-dashboard`): a private redis-server, the real
`celeriac api` with a tokens file (an admin token and a read-only one) and a `celeriac worker -E`, on free
ports, driven by headless Chromium through Selenium (Debian's `chromium` and `chromium-driver`).

Nothing sleeps for a fixed time: every wait polls a condition until a deadline and fails with what it
saw. A browser that cannot start FAILS the tests with the reason (never a skip). Screenshots go to
.run/dashboard-screenshots/.
"""
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHOTS = REPO / ".run" / "dashboard-screenshots"
ADMIN = "dashboard-admin-token-000000000001"
READER = "dashboard-reader-token-00000000001"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout, what, interval=0.02):
    """Polls `condition()` until it returns something truthy and returns that; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # a transient error (stale element, refused connection) is retried
            last_error = error
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_error!r})" if last_error else ""))
        time.sleep(interval)


class Stack:
    """The running API, worker and Redis, with a small JSON client that carries a token."""

    def __init__(self, base, redis_port, worker_name):
        self.base = base
        self.redis_port = redis_port
        self.worker_name = worker_name

    def call(self, method, path, body=None, token=ADMIN):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def submit(self, task, args=None, kwargs=None, queue=None):
        body = {"task": task, "args": args or [], "kwargs": kwargs or {}}
        if queue:
            body["queue"] = queue
        status, answer = self.call("POST", "/tasks", body)
        assert status == 202, f"POST /tasks answered {status}: {answer}"
        return answer["id"]

    def wait_state(self, task_id, states, timeout=20):
        return wait_for(lambda: (s := self.call("GET", f"/tasks/{task_id}")[1]) and s.get("state") in states and s,
                        timeout, f"task {task_id} to reach {states}")

    def redis(self, *argv):
        return subprocess.run(["redis-cli", "-p", str(self.redis_port), *argv], capture_output=True, text=True,
                              check=True).stdout.strip()


def _start(name, argv, scratch, env):
    log = open(scratch / f"{name}.log", "wb")
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            cwd=str(REPO), start_new_session=True)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    binary = os.environ.get("CELERIAC_BIN", str(REPO / ".build/debug/celeriac"))
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{binary} not found: build it with `swift build --product celeriac`")
    if not shutil.which("redis-server"):
        pytest.fail("redis-server not found: `make apt` (apt-get install redis-server)")
    scratch = tmp_path_factory.mktemp("dashboard")
    (scratch / "tokens").write_text(f"{ADMIN} read,submit,admin ops\n{READER} read viewer\n")
    redis_port, api_port = free_port(), free_port()
    url = f"redis://127.0.0.1:{redis_port}/0"
    env = dict(os.environ, CELERIAC_OUTBOX=str(scratch / "outbox"), NO_PROXY="127.0.0.1,localhost")
    procs = [_start("redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(scratch)], scratch, env)]
    wait_for(lambda: subprocess.run(["redis-cli", "-p", str(redis_port), "ping"], capture_output=True).stdout.strip() == b"PONG",
             10, "redis-server")
    procs.append(_start("api", [binary, "api", "--broker", url, "--bind", f"127.0.0.1:{api_port}",
                                "--auth-tokens-file", str(scratch / "tokens")], scratch, env))
    worker_name = f"dash-{api_port}@localhost"
    procs.append(_start("worker", [binary, "worker", "--broker", url, "-c", "2", "-E", "-n", worker_name], scratch, env))
    s = Stack(f"http://127.0.0.1:{api_port}", redis_port, worker_name)

    def up():
        for p in procs:
            if p.poll() is not None:
                logs = "\n".join(f"--- {f.name}\n{f.read_text(errors='replace')[-2000:]}" for f in scratch.glob("*.log"))
                pytest.fail(f"a process exited with {p.returncode} during start-up:\n{logs}")
        status, body = s.call("GET", "/workers")
        return status == 200 and any(w["name"] == worker_name for w in body["items"])
    wait_for(up, 30, "the API to answer and the worker's heartbeat")
    yield s
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.fixture(scope="session")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        pytest.fail(f"Selenium is not installed in this venv ({error}): `make venv`")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    for path, package in ((chromium, "chromium"), (driver_path, "chromium-driver")):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} not found: install Debian's {package} (`make apt`); the dashboard tests need headless Chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    except Exception as error:
        pytest.fail(f"headless Chromium could not start ({chromium}, {driver_path}): {error}")
    driver.set_page_load_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, stack, request):
    """The browser on the dashboard, logged out; a screenshot of the final state after each test."""
    browser.set_window_size(1280, 900)
    browser.get("about:blank")  # a fresh document: a hash-only navigation would keep the last test's page
    browser.get(stack.base + "/#/login")
    browser.execute_script("sessionStorage.clear()")
    yield browser
    browser.save_screenshot(str(SHOTS / f"{request.node.name}.png"))
