"""Celeriac against real Python Celery 5.7 on a real redis-server.

Python producers → the celeriac worker, a celeriac producer → a Python worker, failures crossing
the language boundary as exception types, ETA/expiry, and a poison message.
"""
import contextlib
import json
import signal
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery.exceptions import TaskRevokedError

from conftest import FIXTURES, free_port, wait_for

GET_TIMEOUT = 10


def stored(r, task_id):
    """The result document our side wrote, straight from Redis (None when absent)."""
    raw = r.get(f"celery-task-meta-{task_id}")
    return json.loads(raw) if raw is not None else None


# -- (a) a Python producer, our worker ------------------------------------------------------------


def test_python_delay_runs_on_celeriac_worker(pyapp, celeriac_worker, r):
    result = pyapp.add.delay(4, 5)
    assert result.get(timeout=GET_TIMEOUT) == 9
    assert result.state == "SUCCESS"
    # The worker logs after it has stored the result, so the line may trail get() slightly.
    celeriac_worker.wait_log(f"Task celery_example_2.add[{result.id}] succeeded", timeout=5,
                             what="the worker's success line")
    doc = stored(r, result.id)
    assert doc["status"] == "SUCCESS" and doc["result"] == 9 and doc["task_id"] == result.id
    assert r.ttl(f"celery-task-meta-{result.id}") > 0, "a result must expire like Celery's (SETEX)"
    # Acked: nothing is left held in kombu's unacked hash.
    assert r.hlen("unacked") == 0


def test_python_kwargs_and_floats_on_celeriac_worker(pyapp, celeriac_worker):
    assert pyapp.add.apply_async(kwargs={"a": 40, "b": 2}).get(timeout=GET_TIMEOUT) == 42
    assert pyapp.add.delay(1.5, 2).get(timeout=GET_TIMEOUT) == 3.5
    results = [pyapp.add.delay(i, i) for i in range(20)]
    assert [res.get(timeout=GET_TIMEOUT) for res in results] == [2 * i for i in range(20)]


# -- (b) our producer, a real Python worker -------------------------------------------------------


def test_celeriac_submit_runs_on_python_worker(python_worker, celeriac):
    submitted = celeriac("submit", "celery_example_2.add", "2", "3")
    task_id = submitted.stdout.strip().splitlines()[0]
    assert len(task_id) == 36, f"submit printed no task id: {submitted.stdout!r}"

    def result_ready():
        done = celeriac("result", task_id, check=False)
        if done.returncode == 1:
            return None  # none stored yet
        assert done.returncode == 0, f"celeriac result exited {done.returncode}: {done.stderr}"
        return json.loads(done.stdout)

    doc = wait_for(result_ready, GET_TIMEOUT, f"a result for {task_id} from the Python worker", interval=0.1)
    assert doc["status"] == "SUCCESS"
    assert doc["result"] == 5
    assert doc["task_id"] == task_id
    python_worker.wait_log(f"Task celery_example_2.add[{task_id}] succeeded", timeout=5,
                           what="the Python worker's success line")


def test_every_worker_flag_has_an_environment_fallback(pyapp, celeriac_bin, redis_server, tmp_path):
    """Configured only through the environment (flags would win): the worker takes REDIS_URL and the
    CELERIAC_* variables; a bad value is an error naming the variable."""
    from conftest import LoggedProcess, child_env

    env = child_env(redis_server)
    env.update({"CELERIAC_CONCURRENCY": "5", "CELERIAC_QUEUES": "envq,celery", "CELERIAC_HOSTNAME": "envw@%h",
                "CELERIAC_TASK_EVENTS": "1", "CELERIAC_WORKER_GRACE": "7", "CELERIAC_LOGLEVEL": "info"})
    worker = LoggedProcess("celeriac worker", [celeriac_bin, "worker"], tmp_path / "env-worker.log", env=env)
    try:
        worker.wait_log(" ready.", timeout=20, what="the worker's 'ready.' line")
        log = worker.log()
        assert "concurrency: 5 (swift tasks)" in log and "task events: ON" in log and "envw@" in log
        assert ".> envq " in log
        assert pyapp.add.apply_async((2, 3), queue="envq").get(timeout=GET_TIMEOUT) == 5
    finally:
        assert worker.stop(timeout=30) == 0
    env["CELERIAC_CONCURRENCY"] = "many"
    done = subprocess.run([celeriac_bin, "worker"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "CELERIAC_CONCURRENCY='many'" in done.stderr, done.stderr


def test_celeriac_result_exits_1_when_none(celeriac):
    done = celeriac("result", "00000000-0000-4000-8000-000000000000", check=False)
    assert done.returncode == 1
    assert done.stdout == ""


# -- (c) failures keep their exception type ------------------------------------------------------


@pytest.mark.parametrize("call, needle", [
    (lambda add: add.delay(4), "missing"),
    (lambda add: add.delay("a", 1), "can only concatenate str"),
    (lambda add: add.delay(1, 2, 3), "positional"),
    (lambda add: add.apply_async(kwargs={"a": 1, "c": 2}), "'c'"),
], ids=["missing-arg", "string-arg", "too-many-args", "unknown-kwarg"])
def test_type_errors_reach_python_as_type_error(pyapp, celeriac_worker, r, call, needle):
    result = call(pyapp.add)
    with pytest.raises(TypeError) as caught:
        result.get(timeout=GET_TIMEOUT)
    assert type(caught.value) is TypeError  # the builtin itself, not a look-alike
    assert needle in str(caught.value)
    assert result.state == "FAILURE"
    doc = stored(r, result.id)
    assert doc["result"]["exc_type"] == "TypeError"
    assert doc["result"]["exc_module"] == "builtins"
    assert doc["traceback"], "a FAILURE carries a traceback text"


def test_fetch_url_unreachable_raises_fetch_error(pyapp, celeriac_worker, r):
    url = f"http://127.0.0.1:{free_port()}/nothing-listens-here"  # a port that was just free: refused
    result = pyapp.fetch_url.delay(url)
    with pytest.raises(Exception) as caught:
        result.get(timeout=GET_TIMEOUT + 10)
    assert type(caught.value).__name__ == "FetchError"
    assert url in str(caught.value)
    doc = stored(r, result.id)
    assert doc["status"] == "FAILURE"
    assert doc["result"]["exc_type"] == "FetchError"
    assert doc["result"]["exc_module"] == "celeriac.errors"


# -- (d) the seed's producer: fetch_url against a local HTTP server ------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/sleep"):
            time.sleep(1)  # the task's workload: a slow upstream, one second per request
        status = 404 if self.path.startswith("/missing") else 200
        body = b"ok\n" if status == 200 else b"no\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.hits.append(self.path)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_python_fetch_url_runs_on_celeriac_worker(pyapp, celeriac_worker, http_server):
    base = f"http://127.0.0.1:{http_server.server_address[1]}"
    result = pyapp.fetch_url.delay(base + "/hello")
    assert result.get(timeout=GET_TIMEOUT) == 200
    assert "/hello" in http_server.hits, "the worker never reached the test's HTTP server"
    # A non-2xx status is a result, not a failure.
    assert pyapp.fetch_url.delay(base + "/missing").get(timeout=GET_TIMEOUT) == 404


def test_concurrency_3_runs_three_one_second_tasks_in_well_under_two_seconds(pyapp, celeriac_worker, http_server, r):
    """-c 3 is real: three tasks that each wait 1 s on a slow upstream, queued together, finish in well
    under 2 s (one after another they would take 3 s). Timed on the worker's own task records."""
    base = f"http://127.0.0.1:{http_server.server_address[1]}"
    results = [pyapp.fetch_url.delay(f"{base}/sleep/{i}") for i in range(3)]
    assert [res.get(timeout=GET_TIMEOUT) for res in results] == [200, 200, 200]
    records = [r.hgetall(f"celeriac:task:{res.id}") for res in results]
    starts = [datetime.fromisoformat(rec[b"started_at"].decode()) for rec in records]
    ends = [datetime.fromisoformat(rec[b"finished_at"].decode()) for rec in records]
    span = (max(ends) - min(starts)).total_seconds()
    assert max(starts) < min(ends), "the three tasks ran at the same time"
    assert 1.0 <= span < 1.8, f"three 1 s tasks took {span:.2f} s with -c 3"


# -- (e) countdown and expires -------------------------------------------------------------------


def test_countdown_runs_after_the_delay(pyapp, celeriac_worker, r):
    started = time.time()
    result = pyapp.add.apply_async((1, 2), countdown=1)
    assert result.get(timeout=GET_TIMEOUT) == 3
    elapsed = time.time() - started
    assert elapsed >= 1.0, f"ran {elapsed:.3f}s after apply_async(countdown=1)"
    done = datetime.fromisoformat(stored(r, result.id)["date_done"])
    assert done >= datetime.fromtimestamp(started + 1.0, timezone.utc)


@pytest.mark.parametrize("limits", [dict(time_limit=1e300), dict(soft_time_limit=1e19), dict(time_limit=-5)])
def test_a_message_with_an_out_of_range_time_limit_fails_and_the_worker_lives(pyapp, celeriac_worker, r, limits):
    """Issue 10: Python sends time limits as floats in the `timelimit` header; one out of range used to
    kill the worker (a trapping conversion to a timer). Now it is a FAILURE InvalidTaskError plus a
    dead letter naming the header, and the same worker process runs the next task."""
    pid = celeriac_worker.proc.pid
    result = pyapp.add.apply_async((1, 2), **limits)
    with pytest.raises(Exception) as raised:
        result.get(timeout=GET_TIMEOUT)
    assert type(raised.value).__name__ == "InvalidTaskError", raised.value
    assert "headers.timelimit" in str(raised.value)
    assert pyapp.add.delay(2, 3).get(timeout=GET_TIMEOUT) == 5
    assert celeriac_worker.proc.poll() is None and celeriac_worker.proc.pid == pid, "the worker died"


def test_expired_message_is_revoked(pyapp, celeriac_worker, r):
    expires = datetime.now(timezone.utc) - timedelta(seconds=60)
    result = pyapp.add.apply_async((1, 2), expires=expires)
    with pytest.raises(TaskRevokedError):
        result.get(timeout=GET_TIMEOUT)
    assert result.state == "REVOKED"
    doc = stored(r, result.id)
    assert doc["result"]["exc_type"] == "TaskRevokedError"
    assert doc["result"]["exc_message"] == ["expired"]
    celeriac_worker.wait_log(f"Discarding revoked task: celery_example_2.add[{result.id}]", timeout=5,
                             what="the worker's revoke line")


# -- (f) a poison message ------------------------------------------------------------------------


def test_poison_message_is_dead_lettered_and_worker_survives(pyapp, celeriac_worker, r):
    raw = (FIXTURES / "handmade-task-v4-POISON-two-element-body.json").read_bytes()
    poison_id = json.loads(raw)["headers"]["id"]
    r.lpush("celery", raw)

    entries = wait_for(lambda: r.lrange("celeriac:dead", 0, -1), GET_TIMEOUT, "an entry in celeriac:dead")
    assert len(entries) == 1
    entry = json.loads(entries[0])
    assert entry["field"] == "body"
    assert "3 elements" in entry["reason"]
    assert entry["message"].encode() == raw, "the dead letter keeps the message as received"
    assert entry["task_id"] == poison_id

    # The worker is still alive and still working.
    assert celeriac_worker.alive()
    assert pyapp.add.delay(20, 22).get(timeout=GET_TIMEOUT) == 42
    assert r.llen("celery") == 0 and r.hlen("unacked") == 0
    # Whoever waits on the poisoned id learns why instead of waiting forever.
    assert stored(r, poison_id)["status"] == "FAILURE"


# -- more of the wire: priorities, unregistered names, a shared queue, warm shutdown --------------


def test_python_priority_band_is_consumed(pyapp, celeriac_worker, r):
    # kombu puts priority 9 in the list "celery\x06\x169"; the worker pops every band.
    result = pyapp.add.apply_async((4, 4), priority=9)
    assert result.get(timeout=GET_TIMEOUT) == 8


def test_unregistered_task_raises_not_registered(pyapp, celeriac_worker, r):
    from celery.exceptions import NotRegistered

    result = pyapp.app.send_task("celery_example_2.nope", args=(1,))
    with pytest.raises(NotRegistered):
        result.get(timeout=GET_TIMEOUT)
    assert r.llen("celery") == 0 and r.hlen("unacked") == 0


def test_ignore_result_writes_no_result(pyapp, celeriac_worker, r):
    result = pyapp.add.apply_async((1, 2), ignore_result=True)
    celeriac_worker.wait_log(f"Task celery_example_2.add[{result.id}] succeeded", timeout=GET_TIMEOUT,
                             what="the worker's success line")
    assert r.get(f"celery-task-meta-{result.id}") is None


def test_celeriac_countdown_and_priority_on_python_worker(python_worker, celeriac):
    started = time.time()
    task_id = celeriac("submit", "celery_example_2.add", "20", "3", "--countdown", "1", "--priority", "9").stdout.split()[0]

    def result_ready():
        done = celeriac("result", task_id, check=False)
        return json.loads(done.stdout) if done.returncode == 0 else None

    doc = wait_for(result_ready, GET_TIMEOUT, f"a result for {task_id} from the Python worker", interval=0.1)
    assert doc["status"] == "SUCCESS" and doc["result"] == 23
    assert time.time() - started >= 1.0


def test_celeriac_and_python_workers_share_a_queue(pyapp, celeriac_worker, python_worker, r):
    results = [pyapp.add.delay(i, 1) for i in range(200)]
    assert [res.get(timeout=GET_TIMEOUT * 2) for res in results] == [i + 1 for i in range(200)]
    assert r.llen("celery") == 0
    wait_for(lambda: r.hlen("unacked") == 0, 5, "every message acked")


class _BlockingHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.hit.set()
        self.server.release.wait(30)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _worker_running_a_blocked_task(pyapp, celeriac_bin, redis_server, tmp_path, grace):
    """A celeriac worker with `--grace` whose one task (fetch_url) is stuck on an HTTP server that
    answers only when the test is done. Yields (worker, result)."""
    from conftest import LoggedProcess, child_env

    server = ThreadingHTTPServer(("127.0.0.1", 0), _BlockingHandler)
    server.hit, server.release = threading.Event(), threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    worker = LoggedProcess("celeriac worker", [celeriac_bin, "worker", "--broker", redis_server.url, "-c", "2",
                                               "--grace", str(grace), "-l", "info"],
                           tmp_path / "celeriac-worker.log", env=child_env(redis_server))
    try:
        worker.wait_log(" ready.", timeout=20, what="the worker's 'ready.' line")
        result = pyapp.fetch_url.delay(f"http://127.0.0.1:{server.server_address[1]}/slow")
        assert server.hit.wait(GET_TIMEOUT), "the task never reached the HTTP server"
        yield worker, result
    finally:
        server.release.set()
        worker.stop(timeout=30)
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _assert_handed_back(worker, result, r):
    """The message is back at the front of its queue the way kombu restores it: redelivered flags set,
    nothing left in unacked."""
    assert "Restoring 1 unacknowledged message(s)" in worker.log(), worker.log()[-3000:]
    assert r.hlen("unacked") == 0 and r.zcard("unacked_index") == 0
    queued = [json.loads(m) for m in r.lrange("celery", 0, -1)]
    assert [m["headers"]["id"] for m in queued] == [result.id]
    assert queued[0]["headers"]["redelivered"] is True
    assert queued[0]["properties"]["delivery_info"]["redelivered"] is True


def test_warm_shutdown_past_grace_hands_the_message_back(pyapp, celeriac_bin, redis_server, r, tmp_path):
    """SIGTERM while a task outlives --grace: the message goes back to the queue, and a Python worker
    can run it afterwards."""
    with _worker_running_a_blocked_task(pyapp, celeriac_bin, redis_server, tmp_path, grace=1) as (worker, result):
        assert r.hlen("unacked") == 1, "a running task is held in kombu's unacked hash"
        status = worker.stop(timeout=30)
        assert status == 0, f"exit {status}; log:\n{worker.log()[-3000:]}"
        _assert_handed_back(worker, result, r)
    # The abandoned attempt must not write a result after the hand-back.
    assert r.get(f"celery-task-meta-{result.id}") is None


@pytest.mark.parametrize("signals", [("SIGTERM", "SIGTERM"), ("SIGINT", "SIGINT"), ("SIGQUIT",)])
def test_second_signal_or_sigquit_is_a_cold_shutdown_that_hands_the_task_back(
        signals, pyapp, celeriac_bin, redis_server, r, tmp_path):
    """Celery's signals: the first SIGTERM/SIGINT is warm (here with a 10-minute --grace), a second one,
    or SIGQUIT, is cold: the running task is handed back at once instead of waited for, and the worker
    exits without a lease having to run out."""
    with _worker_running_a_blocked_task(pyapp, celeriac_bin, redis_server, tmp_path, grace=600) as (worker, result):
        if len(signals) == 2:
            worker.proc.send_signal(getattr(signal, signals[0]))
            worker.wait_log("Hitting Ctrl+C again", timeout=10, what="the warm-shutdown notice")
        worker.proc.send_signal(getattr(signal, signals[-1]))
        worker.proc.wait(timeout=30)
        _assert_handed_back(worker, result, r)


# -- canvas, and what Python does that a Swift worker must match --


def test_chain_continues_on_celeriac_worker(pyapp, celeriac_worker, r):
    from celery import chain

    result = chain(pyapp.add.s(1, 2), pyapp.add.s(10), pyapp.add.si(5, 5)).apply_async()
    assert result.parent.parent.get(timeout=GET_TIMEOUT) == 3
    assert result.parent.get(timeout=GET_TIMEOUT) == 13
    assert result.get(timeout=GET_TIMEOUT) == 10


def test_link_callback_runs_on_celeriac_worker(pyapp, celeriac_worker, r):
    callback_id = "cb000000-0000-4000-8000-000000000001"
    first = pyapp.add.apply_async((1, 1), link=pyapp.add.s(100).set(task_id=callback_id))
    assert first.get(timeout=GET_TIMEOUT) == 2
    assert pyapp.app.AsyncResult(callback_id).get(timeout=GET_TIMEOUT) == 102


def test_big_ints_stay_exact_ints_like_pythons(pyapp, celeriac_worker):
    for a, b in [(2**62, 2**62), (10**30, 1), (-(10**25), 10**25 - 7), (2**64, -(2**63))]:
        value = pyapp.add.delay(a, b).get(timeout=GET_TIMEOUT)
        assert value == a + b and isinstance(value, int), (a, b, value)


def test_group_runs_on_celeriac_worker(pyapp, celeriac_worker, r):
    from celery import group

    result = group(pyapp.add.s(i, i) for i in range(10)).apply_async()
    assert result.get(timeout=GET_TIMEOUT) == [2 * i for i in range(10)]
    # Each member's result document names its group, as a Python worker writes it.
    doc = json.loads(r.get(f"celery-task-meta-{result.results[0].id}"))
    assert doc["group_id"] == result.id


def test_chord_runs_on_celeriac_worker(pyapp, celeriac_worker, r):
    from celery import chord

    result = chord(pyapp.add.s(i, i) for i in range(5))(pyapp.xsum.s())
    assert result.get(timeout=GET_TIMEOUT) == sum(2 * i for i in range(5))
    # The chord's keys go once the callback is out (the callback may finish first); a 'done' mark stays
    # for late duplicates.
    wait_for(lambda: all(k.decode().endswith(".c") for k in r.keys("celery-taskset-meta-*")), 10,
             "only the chord's done mark left")


def test_chord_with_a_failing_part_fails_its_callback_with_chord_error(pyapp, celeriac_worker, r):
    from celery import chord
    from celery.exceptions import ChordError

    result = chord([pyapp.add.s(1, 1), pyapp.add.s(1, "x")])(pyapp.xsum.s())
    # As with Celery's own workers, get() raises the failed part's TypeError when that part had already
    # failed as get() began (it checks the parents first), and the callback's ChordError otherwise …
    with pytest.raises((TypeError, ChordError)):
        result.get(timeout=GET_TIMEOUT)
    # … and the callback itself never ran: its result is Celery's ChordError naming the part.
    callback = pyapp.app.AsyncResult(result.id)
    wait_for(lambda: callback.ready(), GET_TIMEOUT, "the callback's result")
    assert callback.state == "FAILURE"
    assert isinstance(callback.result, ChordError)
    assert "Dependency" in str(callback.result) and "TypeError" in str(callback.result)


def test_chord_parts_shared_by_python_and_celeriac_workers(pyapp, celeriac_worker, python_worker, r):
    """Both kinds of worker run header tasks of the same chords: whoever finishes the last part sends
    the callback, exactly once."""
    from celery import chord

    results = [chord(pyapp.add.s(i, j) for j in range(6))(pyapp.xsum.s()) for i in range(10)]
    assert [res.get(timeout=GET_TIMEOUT * 2) for res in results] == [6 * i + 15 for i in range(10)]


def test_link_error_errback_gets_the_failed_task_id(pyapp, celeriac_worker, r):
    """An errback Celery cannot call in-process is sent as a task with the failed task's id first."""
    errback_id = "eb000000-0000-4000-8000-000000000001"
    failed = pyapp.add.apply_async((1, "x"), link_error=pyapp.add.s("!").set(task_id=errback_id))
    with pytest.raises(TypeError):
        failed.get(timeout=GET_TIMEOUT)
    assert pyapp.app.AsyncResult(errback_id).get(timeout=GET_TIMEOUT) == failed.id + "!"


# -- monitoring: Celery events, as Flower reads them ------------------------------------------------


def test_events_reach_a_python_event_receiver_the_way_flower_reads_them(pyapp, celeriac_bin, redis_server, r, tmp_path):
    """With -E our worker's task events, and always its worker events, are what Celery's own event
    receiver (Flower's) understands: the task shows up SUCCESS with its args and result, the worker online
    with a heartbeat, then offline."""
    from celery.events.state import State
    from conftest import LoggedProcess, child_env

    state = State()
    types = []

    def on_event(event):
        types.append(event["type"])
        state.event(event)

    with pyapp.app.connection_for_read() as connection:
        receiver = pyapp.app.events.Receiver(connection, handlers={"*": on_event})
        listener = threading.Thread(target=lambda: receiver.capture(limit=None, timeout=None, wakeup=False), daemon=True)
        listener.start()
        wait_for(lambda: r.execute_command("PUBSUB", "NUMPAT") >= 1, 10, "the event receiver's subscription")
        worker = LoggedProcess("celeriac worker", [celeriac_bin, "worker", "--broker", redis_server.url, "-E",
                                                   "-n", "ev1@%h", "-l", "info"],
                               tmp_path / "celeriac-worker.log", env=child_env(redis_server))
        try:
            worker.wait_log(" ready.", timeout=20, what="the worker's 'ready.' line")
            assert "task events: ON" in worker.log()
            result = pyapp.add.delay(4, 5)
            assert result.get(timeout=GET_TIMEOUT) == 9
            wait_for(lambda: result.id in state.tasks and state.tasks[result.id].state == "SUCCESS", 10,
                     "the task's events")
            task = state.tasks[result.id]
            assert task.name == "celery_example_2.add" and task.args == "(4, 5)" and task.result == "9"
            assert task.runtime is not None and task.runtime >= 0
            wait_for(lambda: "worker-heartbeat" in types, 10, "a worker-heartbeat event")
            node = next(w for name, w in state.workers.items() if name.startswith("ev1@"))
            assert node.alive and node.sw_ident == "celeriac"
            assert worker.stop(timeout=30) == 0
            wait_for(lambda: "worker-offline" in types, 10, "the worker-offline event")
            assert types.index("worker-online") < types.index("task-received") < types.index("task-started") \
                < types.index("task-succeeded")
        finally:
            worker.stop(timeout=30)
            receiver.should_stop = True
            listener.join(timeout=10)


def test_remote_control_inspect_and_revoke_from_python(pyapp, celeriac_worker, r, tmp_path):
    """`celery inspect` and `app.control` reach our worker through kombu's pidbox: ping, registered,
    active queues, stats, switching task events on and off, and Python's revoke of a waiting task."""
    inspect = pyapp.app.control.inspect(timeout=5, limit=1)  # one worker: done at its reply
    wait_for(lambda: r.execute_command("PUBSUB", "NUMSUB", "/0.celery.pidbox")[1] >= 1, 10,
             "the worker's remote-control subscription")
    pong = inspect.ping()
    node = next(name for name in (pong or {}) if name.startswith("w1@"))
    assert pong[node] == {"ok": "pong"}
    assert "celery_example_2.add" in inspect.registered()[node]
    assert [q["name"] for q in inspect.active_queues()[node]] == ["celery"]
    assert inspect.stats()[node]["pool"]["max-concurrency"] == 3
    replies = pyapp.app.control.enable_events(reply=True, timeout=5, limit=1)
    assert {node: {"ok": "task events enabled"}} in replies
    replies = pyapp.app.control.disable_events(reply=True, timeout=5, limit=1)
    assert {node: {"ok": "task events disabled"}} in replies
    # Python's revoke: a task waiting for its countdown never runs on our worker.
    waiting = pyapp.add.apply_async((1, 1), countdown=30)
    wait_for(lambda: r.zcard("celeriac:scheduled") == 1, 10, "the countdown task in the scheduled set")
    replies = pyapp.app.control.revoke(waiting.id, reply=True, timeout=5, limit=1)
    assert any(node in reply and "flagged as revoked" in reply[node]["ok"] for reply in replies), replies
    assert waiting.state == "REVOKED"


def test_groups_and_chords_inside_chains_run_on_celeriac_worker(pyapp, celeriac_worker, r):
    """A group in a chain (Celery turns `group | task` into a chord) and a chain as a chord's body,
    all sent on by our worker, read back by Python."""
    from celery import chain, chord, group

    ending_in_a_group = chain(pyapp.add.s(1, 1), group(pyapp.add.s(10), pyapp.add.s(20))).apply_async()
    assert ending_in_a_group.get(timeout=GET_TIMEOUT) == [12, 22]
    through_a_chord = chain(pyapp.add.s(1, 1), group(pyapp.add.s(10), pyapp.add.s(20)), pyapp.xsum.s(),
                            pyapp.add.s(1000)).apply_async()
    assert through_a_chord.get(timeout=GET_TIMEOUT) == 1034
    chained_body = chord([pyapp.add.s(1, 1), pyapp.add.s(2, 2)])(chain(pyapp.xsum.s(), pyapp.add.s(100)))
    assert chained_body.get(timeout=GET_TIMEOUT) == 106


def test_sigterm_always_ends_worker_and_api_with_exit_0(celeriac_bin, redis_server, r, tmp_path):
    """A warm shutdown is a success every time, whichever of the signal handlers acts first (once in
    a few stops the worker used to finish before its service group saw the signal, and exit 1)."""
    from conftest import LoggedProcess, child_env, free_port

    for i in range(12):
        worker = LoggedProcess("celeriac worker", [celeriac_bin, "worker", "--quiet", "-n", f"stop{i}@%h"],
                               tmp_path / f"stop-worker-{i}.log", env=child_env(redis_server))
        worker.wait_log(" ready.", timeout=20, what="the worker's 'ready.' line")
        assert worker.stop(timeout=30) == 0, worker.log()[-2000:]
    for i in range(4):
        port = free_port()
        api = LoggedProcess("celeriac api", [celeriac_bin, "api", "--bind", f"127.0.0.1:{port}"],
                            tmp_path / f"stop-api-{i}.log", env=child_env(redis_server))
        api.wait_log("listening", timeout=20, what="the API's listening line")
        assert api.stop(timeout=30) == 0, api.log()[-2000:]
