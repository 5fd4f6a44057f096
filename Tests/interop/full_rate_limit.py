"""Issue 12's full rate-limit check (`make test-rate-limit`, ~25 s; not in `make test-interop`, whose
shorter variants are RateLimitWorkerTests and test_flow.py): three workers `-c 8`, a global 20/s, 400
tasks: no one-second window holds more than 22 starts, the run takes at least 19 s, and unthrottled
tasks on the same queue finish meanwhile."""
import time
from datetime import datetime

from conftest import LoggedProcess, child_env, tail


def test_aGlobal20PerSecond_holdsAcrossThreeWorkers(pyapp, celeriac_bin, redis_server, r, tmp_path):
    workers = [LoggedProcess(f"worker {n}", [celeriac_bin, "worker", "--broker", redis_server.url, "-c", "8",
                                              "-n", f"rate{n}@%h", "-l", "warning", "--grace", "5"],
                             tmp_path / f"w{n}.log", env=child_env(redis_server)) for n in range(3)]
    try:
        deadline = time.monotonic() + 30
        while len(pyapp.app.control.ping(timeout=0.5)) < 3 and time.monotonic() < deadline:
            pass
        replies = pyapp.app.control.rate_limit("celeriac.count", "20/s", reply=True, timeout=5)
        assert replies, "no worker answered rate_limit"
        start = time.monotonic()
        limited = [pyapp.app.send_task("celeriac.count", args=[0, 0]) for _ in range(400)]
        quick = [pyapp.add.delay(i, i) for i in range(20)]
        assert [q.get(timeout=10) for q in quick] == [2 * i for i in range(20)]
        quick_done = time.monotonic() - start
        assert [res.get(timeout=60) for res in limited] == [0] * 400
        elapsed = time.monotonic() - start
        assert quick_done < 5, f"unthrottled tasks waited {quick_done:.1f} s behind the limited ones"
        assert elapsed >= 19, f"400 tasks at 20/s took only {elapsed:.1f} s"
        done = sorted(datetime.fromisoformat(res.date_done.isoformat()).timestamp() for res in limited)
        worst = max(sum(1 for t in done if s <= t < s + 1) for s in done)
        assert worst <= 22, f"{worst} tasks finished within one second at 20/s"
        print(f"400 tasks at 20/s: {elapsed:.1f} s, busiest second {worst}, unthrottled done after {quick_done:.1f} s")
    finally:
        pyapp.app.control.rate_limit("celeriac.count", None, reply=True, timeout=5)
        for w in workers:
            w.stop(timeout=30)
        print(tail(workers[0].log_path, 2000))
