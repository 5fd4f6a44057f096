"""GET /events (issue 9): a real Python Celery worker started with -E shows up in the API's
Server-Sent Events stream — its task events and its heartbeats — read over HTTP like a browser's
EventSource would, with ids a later request can resume from."""
import json
import sys
import threading
import urllib.request

from conftest import PYAPP, REPO, LoggedProcess, child_env, free_port, tail, wait_for


def read_events(port, seconds, last_event_id=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/events?timeout={seconds}")
    if last_event_id:
        request.add_header("Last-Event-ID", last_event_id)
    with urllib.request.urlopen(request, timeout=seconds + 10) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        text = response.read().decode()
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line and not line.startswith(":"))
        if "event" in fields:
            events.append(fields)
    return events


def test_aPythonWorkerWithEvents_showsUpInTheStream(celeriac_bin, redis_server, r, tmp_path):
    port = free_port()
    api = LoggedProcess("celeriac api", [celeriac_bin, "api", "--broker", redis_server.url, "--bind", f"127.0.0.1:{port}",
                                         "--allow-unknown-tasks"], tmp_path / "api.log", env=child_env(redis_server), cwd=str(REPO))
    worker = None
    try:
        api.wait_log("listening on", 20)
        worker = LoggedProcess("python celery worker -E",
                               [sys.executable, "-m", "celery", "-A", "celery_example_2", "worker", "--pool=solo", "-c", "1",
                                "-n", "pyev@%h", "-E", "-l", "info", "--without-gossip", "--without-mingle"],
                               tmp_path / "python-worker.log", env=child_env(redis_server), cwd=str(PYAPP))
        worker.wait_log(" ready.", timeout=60, what="the Python worker's 'ready.' line")
        # The API subscribes to the event channels when its first client comes: open the stream, then submit.
        seen = []
        patterns = r.execute_command("PUBSUB", "NUMPAT")  # the worker's own pidbox pattern, say
        reader = threading.Thread(target=lambda: seen.extend(read_events(port, 8)))
        reader.start()
        wait_for(lambda: r.execute_command("PUBSUB", "NUMPAT") > patterns, 10, "the API's subscription to celeryev")
        body = json.dumps({"task": "celery_example_2.add", "args": [2, 3]}).encode()
        submitted = urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/tasks", data=body,
                                                                  headers={"Content-Type": "application/json"}), timeout=10)
        task_id = json.loads(submitted.read())["id"]
        reader.join(30)
        assert any(e["event"] == "task-succeeded" and json.loads(e["data"]).get("uuid") == task_id for e in seen), \
            [e["event"] for e in seen]
        assert any(e["event"] == "task-received" and json.loads(e["data"])["hostname"].startswith("pyev@") for e in seen)
        assert any(e["event"] == "worker-heartbeat" and json.loads(e["data"])["hostname"].startswith("pyev@") for e in seen)
        # A later request resumes after an id it saw (all of this process's ring is still there).
        first = seen[0]["id"]
        resumed = read_events(port, 1, last_event_id=first)
        assert resumed and resumed[0]["event"] != "reset", resumed[:2]
        assert read_events(port, 1, last_event_id="feedbeef-1")[0]["event"] == "reset"
    finally:
        if worker:
            worker.stop(timeout=30)
            print(f"--- python worker log ---\n{tail(worker.log_path, 3000)}")
        api.stop(10)
        print(f"--- api log ---\n{tail(api.log_path, 3000)}")
