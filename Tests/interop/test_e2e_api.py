"""End to end: the real `celeriac api` and `celeriac worker` processes on a private redis-server,
driven over HTTP like a web backend would (issue 4's checks). Real SMTP through aiosmtpd."""
import asyncio
import contextlib
import email
import http.client
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from conftest import LoggedProcess, REPO, child_env, free_port, tail, wait_for


class API:
    def __init__(self, port):
        self.port = port

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
            hdrs = {"Content-Type": "application/json"} if data is not None else {}
            hdrs.update(headers or {})
            start = time.monotonic()
            conn.request(method, path, body=data, headers=hdrs)
            response = conn.getresponse()
            raw = response.read()
            elapsed = time.monotonic() - start
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = raw
            return response.status, dict((k.lower(), v) for k, v in response.getheaders()), payload, elapsed
        finally:
            conn.close()

    def wait_state(self, task_id, states=("SUCCESS", "FAILURE", "REVOKED"), timeout=20):
        seen = {}

        def done():
            status, _, body, _ = self.request("GET", f"/tasks/{task_id}")
            seen["last"] = (status, body)
            return body if status == 200 and body.get("state") in states else None

        try:
            return wait_for(done, timeout, f"task {task_id} to reach {states}")
        except BaseException:
            print("last seen:", seen.get("last"))
            raise


def start_redis(tmp_path):
    port = free_port()
    proc = subprocess.Popen([shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path), "--logfile", str(tmp_path / "redis.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)

    def up():
        try:
            return client.ping()
        except redis.exceptions.ConnectionError:
            return False

    wait_for(up, 10, "redis-server to answer PING")
    return port, proc, client


@contextlib.contextmanager
def running_system(celeriac_bin, tmp_path, smtp_url=None, concurrency=3, extra_env=None):
    """redis-server + `celeriac api` + `celeriac worker -c <concurrency>`, each a real process; emails go
    to the outbox under tmp_path, or to `smtp_url`; `extra_env` is added to both processes' environment."""
    port, redis_proc, client = start_redis(tmp_path)
    url = f"redis://127.0.0.1:{port}/0"

    class Redis:
        pass

    holder = Redis()
    holder.url = url
    env = child_env(holder)
    env["CELERIAC_OUTBOX"] = str(tmp_path / "outbox")
    if smtp_url:
        env["SMTP_URL"] = smtp_url
    env.update(extra_env or {})
    api_port = free_port()
    worker = LoggedProcess("celeriac worker", [celeriac_bin, "worker", "--broker", url, "-c", str(concurrency), "-n", "e2e@%h"],
                           tmp_path / "worker.log", env=env, cwd=str(REPO))
    api = LoggedProcess("celeriac api", [celeriac_bin, "api", "--broker", url, "--bind", f"127.0.0.1:{api_port}"],
                        tmp_path / "api.log", env=env, cwd=str(REPO))
    try:
        worker.wait_log(" ready.", 20)
        api.wait_log("listening on", 20)
        # The API accepts only task names a live worker registered: wait for the first heartbeat.
        wait_for(lambda: client.zcard("celeriac:workers") > 0, 10, "the worker's first heartbeat")
        yield {"api": API(api_port), "redis": client, "redis_proc": redis_proc, "outbox": tmp_path / "outbox",
               "worker": worker, "api_proc": api}
    finally:
        api.stop(10)
        worker.stop(20)
        print("--- api log ---\n" + tail(api.log_path, 3000) + "\n--- worker log ---\n" + tail(worker.log_path, 3000))
        if redis_proc.poll() is None:
            redis_proc.kill()
        redis_proc.wait()


@pytest.fixture
def system(celeriac_bin, tmp_path):
    with running_system(celeriac_bin, tmp_path) as running:
        yield running


def test_submit_then_poll_reaches_success_with_9(system):
    api = system["api"]
    status, headers, body, _ = api.request("POST", "/tasks", {"task": "celery_example_2.add", "args": [4, 5], "kwargs": {},
                                                              "queue": "celery", "countdown": 0, "eta": None,
                                                              "expires": None, "priority": None})
    assert status == 202, body
    assert headers["location"] == f"/tasks/{body['id']}"
    assert body["state"] == "PENDING"
    final = api.wait_state(body["id"])
    assert final["state"] == "SUCCESS" and final["result"] == 9
    assert final["worker"].startswith("e2e@")
    for key in ("submitted_at", "received_at", "started_at", "finished_at"):
        assert final[key], key


def test_long_poll_answers_with_the_result_of_a_countdown_task(system):
    """GET ?wait= parks until the worker publishes the result: a 2 s countdown comes back SUCCESS in one
    request, after a while (not at once, not after the whole wait)."""
    api = system["api"]
    status, _, body, _ = api.request("POST", "/tasks", {"task": "celery_example_2.add", "args": [20, 22], "countdown": 2})
    assert status == 202, body
    status, _, final, elapsed = api.request("GET", f"/tasks/{body['id']}?wait=20")
    assert status == 200 and final["state"] == "SUCCESS" and final["result"] == 42, final
    assert 0.5 <= elapsed < 10, f"answered after {elapsed:.2f} s"


def test_submission_is_answered_in_about_a_millisecond(system):
    api = system["api"]
    timings = []
    for i in range(50):
        status, _, body, elapsed = api.request("POST", "/tasks", {"task": "celery_example_2.add", "args": [i, 1]})
        assert status == 202, body
        timings.append(elapsed)
    timings.sort()
    median = timings[len(timings) // 2]
    print(f"POST /tasks over a new connection each: median {median * 1000:.2f} ms, max {timings[-1] * 1000:.2f} ms")
    assert median < 0.05, f"median submit latency {median * 1000:.1f} ms"


def test_register_answers_at_once_then_the_email_lands_in_the_outbox(system):
    api = system["api"]
    api.request("POST", "/register", {"email": "warmup@example.com"})
    status, headers, body, elapsed = api.request("POST", "/register", {"email": "ada@example.com"})
    assert status == 201, body
    assert elapsed < 0.05, f"/register took {elapsed * 1000:.1f} ms"
    assert headers["location"] == f"/users/{body['user_id']}"
    done = api.wait_state(body["activation_task_id"])
    assert done["state"] == "SUCCESS", done

    def mail():
        return [p for p in system["outbox"].glob("*ada@example.com.eml")]

    files = wait_for(mail, 10, "the activation email in the outbox")
    message = email.message_from_bytes(files[0].read_bytes())
    assert message["To"] == "ada@example.com"
    assert "/activate/" in message.get_payload()
    # The link's secret is a random token, never the user id.
    assert body["user_id"] not in message.get_payload()
    # Pending and emailed a moment ago: a repeat is rate-limited (once activated it is a 409).
    status, headers, problem, _ = api.request("POST", "/register", {"email": "ADA@example.com"})
    assert status == 429 and problem["field"] == "email" and int(headers["retry-after"]) > 0


@pytest.fixture
def slow_smtp(tmp_path):
    """A real SMTP server (aiosmtpd, STARTTLS required, a self-signed certificate the test trusts)
    that takes 0.5 s to accept each message."""
    from aiosmtpd.controller import Controller
    from mailserver import self_signed_certificate, server_tls_context

    cert, key = self_signed_certificate(tmp_path)
    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(0.5)
            received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content, time.monotonic()))
            return "250 OK queued"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=server_tls_context(cert, key),
                            require_starttls=True)
    controller.start()
    try:
        yield port, received, cert
    finally:
        controller.stop()


def test_register_answers_before_the_slow_smtp_delivery_then_the_email_arrives(celeriac_bin, tmp_path, slow_smtp):
    smtp_port, received, cert = slow_smtp
    with running_system(celeriac_bin, tmp_path, smtp_url=f"smtp://127.0.0.1:{smtp_port}",
                        extra_env={"SMTP_CA_FILE": str(cert)}) as running:
        api = running["api"]
        api.request("POST", "/register", {"email": "warm@example.com"})
        wait_for(lambda: len(received) >= 1, 15, "the warm-up email over SMTP")
        start = time.monotonic()
        status, _, body, elapsed = api.request("POST", "/register", {"email": "grace@example.com"})
        assert status == 201, body
        assert elapsed < 0.05, f"/register took {elapsed * 1000:.1f} ms"
        got = wait_for(lambda: [m for m in received if "grace@example.com" in m[1]], 15, "the email over SMTP")
        assert got[0][3] - start >= 0.5, "the email went out after the answer, from the worker"
        text = got[0][2].decode() if isinstance(got[0][2], bytes) else got[0][2]
        assert "/activate/" in text
        assert api.wait_state(body["activation_task_id"])["result"].startswith("sent via smtp://")


BAD_INPUTS = [
    ('{"task": "celery_example_2.add", "args": [1, 2]', 400, "body"),
    ('[1, 2]', 422, "body"),
    ('{"args": [1, 2]}', 422, "task"),
    ('{"task": 5}', 422, "task"),
    ('{"task": "celery_example_2.add", "args": {"a": 1}}', 422, "args"),
    ('{"task": "celery_example_2.add", "kwargs": [1]}', 422, "kwargs"),
    ('{"task": "celery_example_2.add", "priority": 12}', 422, "priority"),
    ('{"task": "celery_example_2.add", "countdown": -1}', 422, "countdown"),
    ('{"task": "celery_example_2.add", "eta": "tomorrow"}', 422, "eta"),
    ('{"task": "celery_example_2.add", "expires": "soon"}', 422, "expires"),
    ('{"task": "celery_example_2.add", "queue": ""}', 422, "queue"),
    ('{"task": "celery_example_2.add", "colour": "blue"}', 422, "colour"),
    ('{"task": "no.worker.has.this"}', 422, "task"),
    # Issue 10: each of these killed the API process (a trapping Double-to-Int conversion).
    ('{"task": "celery_example_2.add", "args": [1, 2], "expires": 1e19}', 422, "expires"),
    ('{"task": "celery_example_2.add", "args": [1, 2], "countdown": 1e300}', 422, "countdown"),
    ('{"task": "celery_example_2.add", "eta": "9999-12-31T23:59:59+00:00"}', 422, "eta"),
    ('', 400, "body"),
]


def test_bad_input_is_a_problem_json_naming_the_field_and_nothing_is_queued(system):
    api = system["api"]
    for body, status, field in BAD_INPUTS:
        got, headers, problem, _ = api.request("POST", "/tasks", body)
        assert got == status, (body, problem)
        assert headers["content-type"] == "application/problem+json", body
        assert problem["field"] == field, (body, problem)
    got, _, problem, _ = api.request("POST", "/tasks", "x" * (2 << 20))
    assert got == 413, problem
    got, _, problem, _ = api.request("POST", "/tasks", "<task/>", headers={"Content-Type": "text/xml"})
    assert got == 415 and problem["field"] == "Content-Type"
    got, _, problem, _ = api.request("GET", "/tasks/00000000-0000-4000-8000-000000000000")
    assert got == 404 and problem["field"] == "id"
    got, _, problem, _ = api.request("POST", "/register", {"email": "not-an-email"})
    assert got == 422 and problem["field"] == "email"
    assert system["redis"].llen("celery") == 0
    assert system["api_proc"].alive() and system["worker"].alive()


def test_redis_down_is_503_with_retry_after_never_a_hang_or_a_false_202(system):
    api = system["api"]
    assert api.request("GET", "/readyz")[0] == 200
    system["redis_proc"].kill()
    system["redis_proc"].wait()
    status, headers, problem, elapsed = api.request("POST", "/tasks", {"task": "celery_example_2.add", "args": [1, 2]})
    assert status == 503, problem
    assert "retry-after" in headers
    assert elapsed < 5
    assert api.request("GET", "/readyz")[0] == 503
    assert api.request("GET", "/healthz")[0] == 200
    assert system["api_proc"].alive(), "the API survives Redis going away"


def test_revoke_and_dead_letters_over_http(system):
    api = system["api"]
    status, _, body, _ = api.request("POST", "/tasks", {"task": "celery_example_2.add", "args": [1, 1], "countdown": 30})
    assert status == 202
    status, _, revoked, _ = api.request("POST", f"/tasks/{body['id']}/revoke")
    assert status == 202 and revoked["state"] == "REVOKED"
    assert api.request("GET", f"/tasks/{body['id']}")[2]["state"] == "REVOKED"
    # Revoke is idempotent, and it is not DELETE: the task stays readable, and DELETE is no route.
    assert api.request("POST", f"/tasks/{body['id']}/revoke")[:3:2] == (202, {"id": body["id"], "state": "REVOKED"})
    status, headers, _, _ = api.request("DELETE", f"/tasks/{body['id']}")
    assert status == 405 and "DELETE" not in headers.get("allow", "")
    assert api.request("POST", "/tasks/never-submitted/revoke")[0] == 404
    poison = (REPO / "Tests/Fixtures/celery-vectors/handmade-task-v4-POISON-two-element-body.json").read_bytes()
    system["redis"].lpush("celery", poison)
    letters = wait_for(lambda: api.request("GET", "/dead-letters")[2]["items"], 10, "the poison message in /dead-letters")
    assert letters[0]["field"] == "body"
    assert api.request("POST", "/dead-letters/nope/requeue")[0] == 404
