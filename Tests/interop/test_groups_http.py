"""Groups, chords, chains and chunks across HTTP, Python Celery 5.7 and Celeriac workers (issue 14)."""
import pytest
import redis as redis_lib

from conftest import LoggedProcess, REPO, child_env, free_port, tail, wait_for
from test_e2e_api import API

GET_TIMEOUT = 30


@pytest.fixture
def api(celeriac_bin, redis_server, r, tmp_path):
    """`celeriac api` on the session's redis-server, ready once a worker's heartbeat names the tasks."""
    port = free_port()
    proc = LoggedProcess("celeriac api", [celeriac_bin, "api", "--broker", redis_server.url, "--bind", f"127.0.0.1:{port}"],
                         tmp_path / "api.log", env=child_env(redis_server), cwd=str(REPO))
    try:
        proc.wait_log("listening on", 20)
        yield API(port)
    finally:
        proc.stop(10)
        print("--- api log ---\n" + tail(proc.log_path, 3000))


def wait_for_worker(r):
    wait_for(lambda: r.zcard("celeriac:workers") > 0, 15, "a celeriac worker's heartbeat")


def add(a, b):
    return {"task": "celery_example_2.add", "args": [a, b]}


def test_a_group_submitted_over_http_is_restored_by_python(pyapp, celeriac_worker, api, r):
    wait_for_worker(r)
    status, _, body, _ = api.request("POST", "/groups", {"tasks": [add(i, i) for i in range(5)]})
    assert status == 202, body
    restored = pyapp.app.GroupResult.restore(body["id"])
    assert restored is not None, "GroupResult.restore found nothing under celery-taskset-meta-<id>"
    assert [res.id for res in restored.results] == [task["id"] for task in body["tasks"]]
    assert restored.get(timeout=GET_TIMEOUT) == [0, 2, 4, 6, 8]


def test_a_group_python_saved_is_read_over_http(pyapp, celeriac_worker, api, r):
    from celery import group

    saved = group(pyapp.add.s(i, 1) for i in range(4)).apply_async()
    saved.save()
    assert saved.get(timeout=GET_TIMEOUT) == [1, 2, 3, 4]
    status, _, body, _ = api.request("GET", f"/groups/{saved.id}?wait=5")
    assert status == 200, body
    assert body["state"] == "SUCCESS"
    assert body["results"] == [1, 2, 3, 4]
    assert [task["id"] for task in body["tasks"]] == [res.id for res in saved.results]


@pytest.fixture
def python_worker_on_pyonly(redis_server, tmp_path):
    """A Python Celery worker consuming only the queue `pyonly`, so the parts sent there surely run on it."""
    import sys
    from conftest import PYAPP
    worker = LoggedProcess("python celery worker (pyonly)",
                           [sys.executable, "-m", "celery", "-A", "celery_example_2", "worker", "--pool=solo", "-Q", "pyonly",
                            "-n", "pyonly@%h", "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                           tmp_path / "python-worker.log", env=child_env(redis_server), cwd=str(PYAPP))
    try:
        worker.wait_log(" ready.", timeout=60, what="the Python worker's 'ready.' line")
        yield worker
    finally:
        worker.stop(timeout=30)
        print(f"--- python worker log ---\n{tail(worker.log_path, 4000)}")


def test_chords_submitted_over_http_run_their_parts_on_python_and_celeriac_workers(pyapp, celeriac_worker, python_worker_on_pyonly, api, r):
    """Half of each HTTP chord's parts go to a queue only a Python worker consumes, half to one only the
    Celeriac worker consumes: whichever finishes the last part sends the callback with the list of
    results (in member order), exactly once."""
    wait_for_worker(r)
    chords = []
    for i in range(8):
        tasks = [dict(add(i, j), queue="pyonly" if j % 2 else "celery") for j in range(6)]
        status, _, body, _ = api.request("POST", "/groups", {"tasks": tasks, "callback": {"task": "celery_example_2.xsum"}})
        assert status == 202, body
        chords.append(body)
    for i, chord in enumerate(chords):
        assert pyapp.app.AsyncResult(chord["callback"]["id"]).get(timeout=GET_TIMEOUT * 2) == 6 * i + 15
        status, _, view, _ = api.request("GET", f"/groups/{chord['id']}?wait=5")
        assert view["state"] == "SUCCESS" and view["callback"]["result"] == 6 * i + 15, view
        assert view["results"] == [i + j for j in range(6)], view
    # Celeriac workers record who ran a task; Python workers don't write Celeriac's records.
    members = [task["id"] for chord in chords for task in chord["tasks"]]
    by_celeriac = sum(1 for tid in members if r.hget(f"celeriac:task:{tid}", "worker"))
    print(f"parts run by the Celeriac worker: {by_celeriac}, by the Python worker: {len(members) - by_celeriac}")
    assert by_celeriac == len(members) // 2
    assert python_worker_on_pyonly.log().count("succeeded") >= len(members) // 2


def test_a_chain_submitted_over_http_is_followed_by_python(pyapp, celeriac_worker, api, r):
    wait_for_worker(r)
    status, _, body, _ = api.request("POST", "/chains", {"tasks": [add(1, 2), {"task": "celery_example_2.add", "args": [10]},
                                                                   {"task": "celery_example_2.add", "args": [100]}]})
    assert status == 202, body
    assert body["status_url"] == f"/tasks/{body['task_ids'][-1]}"
    assert pyapp.app.AsyncResult(body["id"]).get(timeout=GET_TIMEOUT) == 113


def test_chunks_from_python_run_on_a_celeriac_worker(pyapp, celeriac_worker, r):
    pairs = list(zip(range(100), range(100)))
    as_group = pyapp.add.chunks(pairs, 10).group().apply_async()
    assert as_group.get(timeout=GET_TIMEOUT) == [[2 * i for i in range(k, k + 10)] for k in range(0, 100, 10)]
    # Without .group(), Celery's client sends the same group of celery.starmap tasks.
    direct = pyapp.add.chunks(pairs, 25).apply_async()
    assert direct.get(timeout=GET_TIMEOUT) == [[2 * i for i in range(k, k + 25)] for k in range(0, 100, 25)]
    assert pyapp.app.send_task("celery.starmap", kwargs={"task": pyapp.add.s(), "it": [[1, 2], [3, 4]]}).get(timeout=GET_TIMEOUT) == [3, 7]
