"""Bearer tokens and Prometheus metrics on the real processes (issue 11, items 1 and 2): `celeriac api`
and `celeriac worker --metrics-bind` with a tokens file, scraped by a real Prometheus server (Debian's
`prometheus`, installed by `make deps`) that authenticates with a bearer token; SIGHUP re-reads the
tokens file; no token text ever reaches a log."""
import json
import os
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request

import pytest

from conftest import LoggedProcess, REPO, child_env, free_port, tail, wait_for
from test_e2e_api import API, start_redis

READ = "read-token-5f1c2a9e8b7d4c3a"
SUBMIT = "submit-token-0a9b8c7d6e5f4321"
ADMIN = "admin-token-77aa66bb55cc44dd"
SCRAPER = "scraper-token-1234abcd5678ef90"
NEW = "rotated-token-c0ffee00deadbeef"
ALL_TOKENS = [READ, SUBMIT, ADMIN, SCRAPER, NEW]


def tokens_file(path, lines):
    path.write_text("# token  scopes  name\n" + "\n".join(lines) + "\n")


class AuthedAPI(API):
    def call(self, method, path, token=None, body=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        status, hdrs, payload, _ = self.request(method, path, body=body, headers=headers)
        return status, hdrs, payload


def get(port, path, token=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def secured(celeriac_bin, tmp_path):
    port, redis_proc, client = start_redis(tmp_path)
    url = f"redis://127.0.0.1:{port}/0"
    tokens = tmp_path / "tokens"
    tokens_file(tokens, [f"{READ} read reader", f"{SUBMIT} submit,read ci-backend",
                         f"{ADMIN} admin,read,submit ops  # trailing comment", f"{SCRAPER} read prometheus"])

    class Holder:
        pass

    holder = Holder()
    holder.url = url
    env = child_env(holder)
    env["CELERIAC_OUTBOX"] = str(tmp_path / "outbox")
    env["CELERIAC_AUTH_TOKENS_FILE"] = str(tokens)
    api_port, metrics_port = free_port(), free_port()
    worker = LoggedProcess("celeriac worker", [celeriac_bin, "worker", "--broker", url, "-c", "3", "-n", "auth@%h",
                                               "--metrics-bind", f"127.0.0.1:{metrics_port}", "-l", "debug"],
                           tmp_path / "worker.log", env=env, cwd=str(REPO))
    api = LoggedProcess("celeriac api", [celeriac_bin, "api", "--broker", url, "--bind", f"127.0.0.1:{api_port}",
                                         "-l", "debug"],
                        tmp_path / "api.log", env=env, cwd=str(REPO))
    try:
        worker.wait_log(" ready.", 20)
        api.wait_log("listening on", 20)
        wait_for(lambda: client.zcard("celeriac:workers") > 0, 10, "the worker's first heartbeat")
        yield {"api": AuthedAPI(api_port), "api_port": api_port, "metrics_port": metrics_port, "tokens": tokens,
               "api_proc": api, "worker": worker, "tmp": tmp_path, "redis": client}
    finally:
        api.stop(10)
        worker.stop(20)
        print("--- api log ---\n" + tail(api.log_path, 3000) + "\n--- worker log ---\n" + tail(worker.log_path, 3000))
        for log in (api.log_path, worker.log_path):
            text = log.read_text(errors="replace")
            leaked = [token for token in ALL_TOKENS if token in text or token[-12:] in text]
            assert not leaked, f"token text in {log.name}"
        redis_proc.kill()
        redis_proc.wait()


def test_each_scope_and_each_status_on_the_real_api(secured):
    api = secured["api"]
    add = {"task": "celery_example_2.add", "args": [1, 2]}
    status, headers, body = api.call("GET", "/queues")
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    assert headers["content-type"] == "application/problem+json" and body["status"] == 401
    status, headers, _ = api.call("GET", "/queues", token="not-a-token-of-the-file-000")
    assert status == 401 and 'error="invalid_token"' in headers["www-authenticate"]
    assert api.call("GET", "/queues", token=READ)[0] == 200
    status, headers, body = api.call("POST", "/tasks", token=READ, body=add)
    assert status == 403 and headers["content-type"] == "application/problem+json" and "submit" in body["detail"]
    status, _, accepted = api.call("POST", "/tasks", token=SUBMIT, body=add)
    assert status == 202
    assert api.call("GET", f"/tasks/{accepted['id']}", token=SUBMIT)[0] == 200
    assert api.call("POST", f"/tasks/{accepted['id']}/revoke", token=SUBMIT)[0] == 403
    assert api.call("POST", f"/tasks/{accepted['id']}/revoke", token=ADMIN)[0] in (202, 409)
    assert api.call("POST", "/dead-letters/nope/requeue", token=READ)[0] == 403
    assert api.call("POST", "/dead-letters/nope/requeue", token=ADMIN)[0] == 404
    assert api.call("GET", "/metrics")[0] == 401
    assert api.call("GET", "/metrics", token=READ)[0] == 200
    assert api.call("GET", "/healthz")[0] == 200 and api.call("GET", "/readyz")[0] == 200
    # The worker's endpoint: probes open, metrics behind the read scope.
    port = secured["metrics_port"]
    assert get(port, "/healthz")[0] == 200 and get(port, "/readyz")[0] == 200
    assert get(port, "/metrics")[0] == 401
    assert get(port, "/metrics", token=READ)[0] == 200


def test_sighup_rereads_the_tokens_file_in_the_api_and_the_worker(secured):
    api, port = secured["api"], secured["metrics_port"]
    assert api.call("GET", "/queues", token=NEW)[0] == 401
    tokens_file(secured["tokens"], [f"{NEW} read rotated"])
    for proc in (secured["api_proc"], secured["worker"]):
        proc.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: api.call("GET", "/queues", token=NEW)[0] == 200, 10, "the API to accept the new token")
    assert api.call("GET", "/queues", token=READ)[0] == 401
    wait_for(lambda: get(port, "/metrics", token=NEW)[0] == 200, 10, "the worker to accept the new token")
    assert get(port, "/metrics", token=READ)[0] == 401
    # A broken file keeps the tokens in force, and both processes live on.
    secured["tokens"].write_text("short read x\n")
    secured["api_proc"].proc.send_signal(signal.SIGHUP)
    secured["api_proc"].wait_log("keeping the 1 token(s) in force", 10)
    assert api.call("GET", "/queues", token=NEW)[0] == 200


def prometheus_query(port, query):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())["data"]["result"]


def test_a_real_prometheus_scrapes_the_api_and_the_worker_with_a_token(secured, tmp_path):
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed: run `make deps` (apt-get install --no-install-recommends prometheus)"
    scraper_token = tmp_path / "scraper-token"
    scraper_token.write_text(SCRAPER)
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: celeriac-api
    authorization: {{type: Bearer, credentials_file: {scraper_token}}}
    static_configs: [{{targets: ["127.0.0.1:{secured['api_port']}"]}}]
  - job_name: celeriac-worker
    authorization: {{type: Bearer, credentials_file: {scraper_token}}}
    static_configs: [{{targets: ["127.0.0.1:{secured['metrics_port']}"]}}]
""")
    prometheus = LoggedProcess("prometheus", [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                              f"--web.listen-address=127.0.0.1:{port}"], tmp_path / "prometheus.log")
    try:
        prometheus.wait_log("Server is ready to receive web requests", 30)
        api = secured["api"]
        count = 7
        ids = []
        for i in range(count):
            status, _, body = api.call("POST", "/tasks", token=SUBMIT, body={"task": "celery_example_2.add", "args": [i, 1]})
            assert status == 202
            ids.append(body["id"])
        wait_for(lambda: all(api.call("GET", f"/tasks/{i}", token=READ)[2]["state"] == "SUCCESS" for i in ids), 30,
                 "every task to succeed")

        def value(query):
            result = prometheus_query(port, query)
            return float(result[0]["value"][1]) if result else None

        wait_for(lambda: value('sum(up{job=~"celeriac-.*"})') == 2, 30, "both targets up in Prometheus")
        wait_for(lambda: value('sum(celeriac_tasks_total{task="celery_example_2.add",outcome="succeeded"})') == count, 30,
                 f"Prometheus to count {count} succeeded tasks")
        assert value('sum(celeriac_api_submissions_total{task="celery_example_2.add",queue="celery"})') == count
        assert value('sum(celeriac_task_runtime_seconds_count{task="celery_example_2.add"})') == count
        assert value('sum(celeriac_http_requests_total{route="/tasks",method="POST",status="202"})') == count
        assert value('sum(celeriac_redis_connects_total{job="celeriac-worker"})') >= 1
        assert value('sum(celeriac_queue_length{job="celeriac-worker",queue="celery"})') == 0
    finally:
        prometheus.stop(10)
        print("--- prometheus log ---\n" + tail(prometheus.log_path, 2000))
