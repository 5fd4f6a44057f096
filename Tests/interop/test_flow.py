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
