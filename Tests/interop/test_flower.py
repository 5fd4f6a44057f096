"""Flower 2.2 and `celery inspect` against a Celeriac worker see what they see with a Python worker
(issue 11, item 3): the worker page renders with its queues, an unregistered task is FAILURE
NotRegistered, and `inspect scheduled` / `inspect stats` carry Celery's fields. Real processes only:
redis-server, `celeriac worker -E`, `celeriac api`, Flower on a free port, the `celery` command."""
import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from celery import Celery

from conftest import LoggedProcess, REPO, child_env, free_port, tail, wait_for
from test_e2e_api import API

NODE = "flower1@celeriac-test"


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")
    except OSError:
        return None, ""


@pytest.fixture
def monitored(celeriac_bin, redis_server, r, tmp_path):
    """A celeriac worker with task events (-Q celery,flowerq), the API, and Flower 2.2 on the test server."""
    env = child_env(redis_server)
    env["FLOWER_UNAUTHENTICATED_API"] = "true"
    api_port, flower_port = free_port(), free_port()
    worker = LoggedProcess("celeriac worker", [celeriac_bin, "worker", "--broker", redis_server.url, "-c", "2", "-n", NODE,
                                               "-E", "-Q", "celery,flowerq"], tmp_path / "worker.log", env=env, cwd=str(REPO))
    api = LoggedProcess("celeriac api", [celeriac_bin, "api", "--broker", redis_server.url, "--bind", f"127.0.0.1:{api_port}"],
                        tmp_path / "api.log", env=env, cwd=str(REPO))
    flower = LoggedProcess("flower", [sys.executable, "-m", "celery", "--broker", redis_server.url, "--result-backend",
                                      redis_server.url, "flower", "--address=127.0.0.1", f"--port={flower_port}",
                                      "--logging=info"], tmp_path / "flower.log", env=env)
    procs = (worker, api, flower)
    try:
        try:
            import flower as flower_module
        except ImportError:
            pytest.fail("Flower is not installed in the test venv: `make venv` installs flower==2.2.*")
        assert flower_module.__version__.startswith("2.2"), flower_module.__version__
        worker.wait_log(" ready.", 20)
        api.wait_log("listening on", 20)
        wait_for(lambda: r.zcard("celeriac:workers") > 0, 10, "the worker's first heartbeat")

        def flower_up():
            if not flower.alive():
                pytest.fail(f"Flower exited with {flower.proc.returncode}:\n{tail(flower.log_path)}")
            return http_get(f"http://127.0.0.1:{flower_port}/healthcheck")[0] == 200

        wait_for(flower_up, 30, "Flower's /healthcheck")

        def flower_hears_events():
            status, body = http_get(f"http://127.0.0.1:{flower_port}/workers?json=1")
            return status == 200 and any(w.get("hostname") == NODE for w in json.loads(body).get("data", []))

        # Its event receiver is subscribed once a heartbeat of ours reached it: no task event can be missed.
        wait_for(flower_hears_events, 30, "Flower to hear the worker's heartbeat events", interval=0.2)
        yield {"api": API(api_port), "flower": f"http://127.0.0.1:{flower_port}", "env": env, "url": redis_server.url}
    finally:
        for proc in reversed(procs):
            proc.stop(20)
        for proc in procs:
            print(f"--- {proc.name} log ---\n{tail(proc.log_path, 3000)}")


def inspect(monitored, method):
    done = subprocess.run([sys.executable, "-m", "celery", "--broker", monitored["url"], "inspect", method, "--json",
                           "-d", NODE, "--timeout", "5"], capture_output=True, text=True, timeout=60, env=monitored["env"])
    assert done.returncode == 0, f"celery inspect {method}: {done.stdout} {done.stderr}"
    return json.loads(done.stdout)[NODE]


def test_flowers_worker_page_renders_and_lists_the_workers_queues(monitored):
    status, page = http_get(f"{monitored['flower']}/worker/{NODE}")
    assert status == 200, page[-2000:]
    for queue in ("celery", "flowerq"):
        assert f"<td>{queue}</td>" in page, f"queue {queue} is not on Flower's worker page"
    assert "Uptime" in page or "uptime" in page


def test_an_unregistered_task_is_failure_notregistered_in_flower(monitored):
    client = Celery(broker=monitored["url"], backend=monitored["url"])
    task_id = client.send_task("no.such.task", args=(1,)).id
    client.close()

    def failed():
        status, body = http_get(f"{monitored['flower']}/api/task/info/{task_id}")
        return json.loads(body) if status == 200 and json.loads(body).get("state") == "FAILURE" else None

    info = wait_for(failed, 20, "Flower to show the unregistered task as FAILURE")
    assert "NotRegistered" in (info.get("exception") or ""), info
    assert monitored["api"].wait_state(task_id)["error"]["type"] == "NotRegistered"


def test_inspect_scheduled_lists_a_countdown_task_and_stats_have_celerys_fields(monitored):
    api = monitored["api"]
    status, _, done, _ = api.request("POST", "/tasks", {"task": "celery_example_2.add", "args": [2, 3]})
    assert status == 202 and api.wait_state(done["id"])["state"] == "SUCCESS"
    status, _, later, _ = api.request("POST", "/tasks", {"task": "celery_example_2.add", "args": [4, 5], "countdown": 120,
                                                         "queue": "flowerq", "priority": 3})
    assert status == 202

    def listed():
        entries = inspect(monitored, "scheduled")
        return [e for e in entries if e["request"]["id"] == later["id"]]

    entry = wait_for(listed, 20, "the countdown task in `celery inspect scheduled`", interval=0.3)[0]
    assert entry["eta"] == later["eta"] and entry["priority"] == 3
    assert entry["request"]["name"] == "celery_example_2.add" and entry["request"]["args"] == [4, 5]
    assert entry["request"]["delivery_info"]["routing_key"] == "flowerq" and entry["request"]["acknowledged"] is False

    stats = inspect(monitored, "stats")
    assert stats["total"] == {"celery_example_2.add": 1}
    assert isinstance(stats["uptime"], int) and stats["uptime"] >= 0
    assert stats["rusage"]["maxrss"] > 0 and stats["rusage"]["utime"] >= 0
    assert stats["pool"]["max-concurrency"] == 2 and "processes" in stats["pool"]
    queues = inspect(monitored, "active_queues")
    assert sorted(q["name"] for q in queues) == ["celery", "flowerq"]
    assert all("alias" in q and "queue_arguments" in q and "binding_arguments" in q for q in queues)
