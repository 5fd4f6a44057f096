"""Issue 12: a Celeriac task's progress as Python Celery reads it."""
import time


def test_progress_ofACeleriacTask_isReadByPythonsAsyncResultInfo(pyapp, celeriac_worker):
    # celeriac.count(steps, interval): PROGRESS {"current", "total"} after each step, then returns steps.
    result = pyapp.app.send_task("celeriac.count", args=[15, 0.2])
    seen = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if result.state == "PROGRESS" and result.info.get("current", 0) >= 2:
            seen = dict(result.info)
            break
        time.sleep(0.05)
    assert seen is not None, f"never saw PROGRESS with current >= 2 (last state {result.state}, info {result.info!r})"
    assert seen["total"] == 15 and 2 <= seen["current"] <= 15
    assert not result.ready(), "a custom state is not a ready state"
    # A waiting get() is not ended by the PROGRESS publishes: it returns the final value.
    assert result.get(timeout=30) == 15
    assert result.state == "SUCCESS" and result.info == 15


def test_pythonsControlRateLimit_setsAGlobalLimitOnCeleriacWorkers_live(pyapp, celeriac_worker, r):
    replies = pyapp.app.control.rate_limit("celeriac.count", "2/s", reply=True, timeout=5)
    assert replies and all(next(iter(reply.values())) == {"ok": "new rate limit set successfully"} for reply in replies), replies
    assert r.hget("celeriac:rate-limits", "celeriac.count") == b"2/s"
    start = time.monotonic()
    results = [pyapp.app.send_task("celeriac.count", args=[0, 0]) for _ in range(7)]
    assert [result.get(timeout=30) for result in results] == [0] * 7
    assert time.monotonic() - start >= 2.5, "7 starts at 2/s take at least 3 s"
    # An unknown task and a bad rate are refused as Celery refuses them; None removes the limit.
    assert next(iter(pyapp.app.control.rate_limit("no.such", "2/s", reply=True, timeout=5)[0].values())) == {"error": "unknown task"}
    bad = next(iter(pyapp.app.control.rate_limit("celeriac.count", "2/d", reply=True, timeout=5)[0].values()))
    assert "error" in bad
    pyapp.app.control.rate_limit("celeriac.count", None, reply=True, timeout=5)
    assert r.hget("celeriac:rate-limits", "celeriac.count") is None
