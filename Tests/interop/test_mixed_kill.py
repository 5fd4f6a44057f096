"""A Python Celery worker and a celeriac worker consume the same queue; one of each is SIGKILLed
mid-way while it holds messages, replacements start, and every task still ends SUCCESS with the
right value (issue 5: nothing lost where Python workers share the queues).

Both sides keep kombu's rules: the Python worker runs with `task_acks_late` (a message stays in
kombu's `unacked` hash until its task finished) and `visibility_timeout` 5 s, and the celeriac
workers get `--visibility-timeout 5` too, so whichever side sweeps first hands a dead Python
worker's message back after 5 s; a dead celeriac worker's messages come back when its lease
(`--lease-timeout 3`) runs out.

Each victim is frozen with SIGSTOP first, so the test can check what it holds at that instant and
kill it (SIGKILL) only while it holds a message — the kill then strands work for certain:
  * celeriac: at least one delivery tag whose lease carries this process's token;
  * Python: inside a task (a task_prerun marker names it) whose result is not stored yet. With
    `worker_prefetch_multiplier=1` and late acks kombu has no BRPOP outstanding then; a kill while a
    BRPOP reply is in flight would lose that message (Celery's own pop-then-record window, which
    celeriac's atomic fetch closes) and is not what this test is about.
"""
import json
import os
import signal
import sys
import time

import pytest

from conftest import PYAPP, LoggedProcess, child_env, tail, wait_for

TASKS = 300
KILL_AFTER = 60           # results that must exist before the kills
PY_TASK_DELAY = 0.05      # seconds the Python worker spends in each task (in task_prerun)
VISIBILITY = 5
LEASE = 3
DEADLINE = 90             # seconds for every task to finish after the kills

# The Python worker's app: pyapp's Celery app (same `celery_example_2.add`), with late acks, one
# message prefetched, a short visibility timeout and a restore sweep every second.
WORKER_APP = f'''
import os
import time

import redis
from celery.signals import task_prerun

from celery_example_2 import app, add  # noqa: F401

app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    broker_transport_options={{"visibility_timeout": {VISIBILITY}, "unacked_restore_interval": 1,
                               "unacked_restore_throttle": 1}},
)
_marker = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])


@task_prerun.connect
def _entered(task_id=None, **_):
    _marker.set("test:py-running:%d" % os.getpid(), task_id)
    time.sleep({PY_TASK_DELAY})
'''


def results(r, ids):
    docs = r.mget([f"celery-task-meta-{tid}" for tid in ids])
    return {tid: json.loads(raw) for tid, raw in zip(ids, docs) if raw is not None}


def finished(r, ids):
    return sum(1 for doc in results(r, ids).values() if doc.get("status") in ("SUCCESS", "FAILURE"))


def start_python_worker(name, tmp_path, redis_server):
    env = child_env(redis_server)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    worker = LoggedProcess(f"python worker {name}",
                           [sys.executable, "-m", "celery", "-A", "mixed_kill_app", "worker", "--pool=solo", "-c", "1",
                            "-n", f"{name}@%h", "-l", "info", "--without-gossip", "--without-mingle",
                            "--without-heartbeat"],
                           tmp_path / f"{name}.log", env=env, cwd=str(PYAPP))
    return worker


def start_celeriac_worker(name, celeriac_bin, tmp_path, redis_server):
    return LoggedProcess(f"celeriac worker {name}",
                         [celeriac_bin, "worker", "--broker", redis_server.url, "-c", "3", "-n", f"{name}@%h",
                          "-l", "info", "--grace", "5", "--lease-timeout", str(LEASE),
                          "--visibility-timeout", str(VISIBILITY)],
                         tmp_path / f"{name}.log", env=child_env(redis_server))


def kill_celeriac_holding(worker, name, r):
    """SIGSTOP, and SIGKILL once the frozen worker holds a message; returns the task ids it held."""
    deadline = time.monotonic() + 20
    while True:
        os.kill(worker.pid, signal.SIGSTOP)
        # What the frozen worker had already sent (an ack of its last batch, say) reaches Redis before
        # this round trip ends; then its leases and their unacked entries are read in one step, so a
        # tag counts as held only while both are there.
        r.ping()
        tags = [tag for tag, token in r.hgetall("celeriac:leases").items() if token.decode().startswith(f"{name}@")]
        entries = r.hmget("unacked", tags) if tags else []
        held = [json.loads(e)[0]["headers"]["id"] for e in entries if e is not None]
        if held:
            worker.proc.kill()
            worker.proc.wait(timeout=10)
            return held
        os.kill(worker.pid, signal.SIGCONT)
        if time.monotonic() >= deadline:
            pytest.fail(f"celeriac worker {name} never held a message when frozen; log:\n{tail(worker.log_path)}")
        # Until it holds one again (it is consuming the backlog).
        wait_for(lambda: any(t.decode().startswith(f"{name}@") for t in r.hvals("celeriac:leases")), 10,
                 f"{name} to hold a message", interval=0.001)


def kill_python_in_task(worker, r):
    """SIGSTOP, and SIGKILL once the frozen worker is inside a task whose result is not stored yet
    (so that message is held in kombu's unacked hash and no BRPOP reply is in flight). Returns its id."""
    key = f"test:py-running:{worker.pid}"
    deadline = time.monotonic() + 20
    while True:
        os.kill(worker.pid, signal.SIGSTOP)
        running = r.get(key)
        if running is not None:
            task_id = running.decode()
            held = {json.loads(e)[0]["headers"]["id"] for e in r.hvals("unacked")}
            if r.get(f"celery-task-meta-{task_id}") is None and task_id in held:
                worker.proc.kill()
                worker.proc.wait(timeout=10)
                return task_id
        os.kill(worker.pid, signal.SIGCONT)
        if time.monotonic() >= deadline:
            pytest.fail(f"the Python worker was never caught inside a task; log:\n{tail(worker.log_path)}")
        # Until it enters its next task (its marker names another one), then freeze it again.
        wait_for(lambda: r.get(key) not in (None, running), 10, "the Python worker to start its next task",
                 interval=0.001)


def test_python_and_celeriac_workers_killed_on_a_shared_queue(pyapp, celeriac_bin, redis_server, r, tmp_path):
    (tmp_path / "mixed_kill_app.py").write_text(WORKER_APP)
    workers = []
    try:
        py1 = start_python_worker("py1", tmp_path, redis_server)
        workers.append(py1)
        py1.wait_log(" ready.", timeout=60, what="the Python worker's 'ready.' line")

        # The backlog is there before the celeriac worker starts, so the kills find both busy.
        sent = [pyapp.add.apply_async((i, 1)) for i in range(TASKS)]
        ids = [res.id for res in sent]
        expected = {res.id: i + 1 for i, res in enumerate(sent)}

        c1 = start_celeriac_worker("c1", celeriac_bin, tmp_path, redis_server)
        workers.append(c1)
        wait_for(lambda: finished(r, ids) >= KILL_AFTER, 60, f"{KILL_AFTER} results before the kills", interval=0.005)

        held_by_c1 = kill_celeriac_holding(c1, "c1", r)
        held_by_py1 = kill_python_in_task(py1, r)
        done_at_kill = finished(r, ids)
        assert done_at_kill < TASKS, "every task finished before the kills: nothing was mid-way"
        print(f"killed c1 holding {held_by_c1} and py1 inside {held_by_py1}; {done_at_kill}/{TASKS} done")
        assert held_by_c1, "the celeriac worker held nothing when it was killed"

        c2 = start_celeriac_worker("c2", celeriac_bin, tmp_path, redis_server)
        workers.append(c2)
        py2 = start_python_worker("py2", tmp_path, redis_server)
        workers.append(py2)
        c2.wait_log(" ready.", timeout=20, what="the replacement celeriac worker's 'ready.' line")
        py2.wait_log(" ready.", timeout=60, what="the replacement Python worker's 'ready.' line")

        def all_final():
            docs = results(r, ids)
            return len(docs) == TASKS and all(d.get("status") in ("SUCCESS", "FAILURE") for d in docs.values())
        try:
            wait_for(all_final, DEADLINE, f"all {TASKS} tasks to finish after the kills", interval=0.1)
        except pytest.fail.Exception:
            docs = results(r, ids)
            missing = [tid for tid in ids if tid not in docs]
            raise AssertionError(f"{len(missing)} task(s) lost, e.g. {missing[:5]}; queue {r.llen('celery')}, "
                                 f"unacked {r.hkeys('unacked')}, leases {r.hgetall('celeriac:leases')}") from None

        docs = results(r, ids)
        wrong = {tid: doc for tid, doc in docs.items() if doc.get("status") != "SUCCESS" or doc.get("result") != expected[tid]}
        assert not wrong, f"{len(wrong)} task(s) without the right SUCCESS: {list(wrong.items())[:3]}"
        for tid in held_by_c1 + [held_by_py1]:
            assert docs[tid]["status"] == "SUCCESS"
        # Both kinds of worker did part of the work (Celeriac's record names the node that ran a task;
        # a task only Python ran has no record).
        ran_by = [r.hget(f"celeriac:task:{tid}", "worker") for tid in ids]
        on_celeriac = sum(1 for w in ran_by if w is not None)
        assert 0 < on_celeriac < TASKS, f"{on_celeriac}/{TASKS} tasks ran on celeriac: the queue was not shared"
        wait_for(lambda: r.hlen("unacked") == 0 and r.zcard("unacked_index") == 0, 10, "every message acked")
        assert r.llen("celery") == 0
        assert r.llen("celeriac:dead") == 0, r.lrange("celeriac:dead", 0, -1)
    finally:
        for worker in reversed(workers):
            worker.stop(timeout=30)      # the killed ones are reaped already: this only closes their logs
            print(f"--- {worker.name} log ---\n{tail(worker.log_path, 3000)}")
