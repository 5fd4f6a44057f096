"""The Celery app the drain benchmark runs under Python's prefork worker: the same task name the
celeriac binary registers (`celery_example_2.add`). Broker and backend come from BENCH_REDIS_URL."""
import os

import redis
from celery import Celery
from celery.signals import worker_ready

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

app = Celery("pyapp", broker=URL, backend=URL)
app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                timezone="UTC", enable_utc=True, broker_connection_retry_on_startup=True)


@app.task(name="celery_example_2.add")
def add(a, b):
    return a + b


@worker_ready.connect
def _mark_ready(sender=None, **_):
    # -l warning hides the "ready." line; the benchmark waits on this key instead.
    client = redis.Redis.from_url(URL)
    client.set("bench:ready", str(getattr(sender, "hostname", "celery")))
    client.close()
