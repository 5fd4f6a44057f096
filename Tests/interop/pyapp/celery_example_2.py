"""The Python side of the interop tests: a Celery app whose task names match the ones the
Celeriac binary registers (`celery_example_2.add`, `celery_example.fetch_url`).

Broker and result backend come from the environment (CELERY_BROKER_URL / CELERY_RESULT_BACKEND),
so the tests point it at their private redis-server before importing this module.
"""
import os

from celery import Celery

BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", BROKER_URL)

app = Celery("celery_example_2", broker=BROKER_URL, backend=RESULT_BACKEND,
             include=["celery_example"])
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    timezone="UTC",
    enable_utc=True,
    broker_connection_retry_on_startup=True,
)


# typing=False: Celery would otherwise check the arguments in the producer, and the tests want
# bad calls such as add.delay(4) to reach the worker, which must answer with a TypeError.
@app.task(name="celery_example_2.add", typing=False)
def add(a, b):
    return a + b


@app.task(name="celery_example_2.xsum", typing=False)
def xsum(numbers):
    return sum(numbers)
