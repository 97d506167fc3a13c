"""The Celery application. Queues: ``ingest``, ``compute``, ``notify`` — heavy computation
never starves alert delivery because each queue can get its own workers."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthboard.settings")

QUEUES = ("ingest", "compute", "notify")

app = Celery("healthboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    # Each queue has its own exchange and routing key: queues left to Celery's defaults all
    # bind the default exchange with one key, and a task would be delivered to every queue.
    task_queues=tuple(Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES),
    task_default_exchange="compute",
    task_default_routing_key="compute",
    task_default_queue="compute",
    task_routes={
        "metrics.tasks.ingest_*": {"queue": "ingest"},
        "metrics.tasks.*": {"queue": "compute"},
        "metrics.tasks_compute.*": {"queue": "compute"},  # the computation engine (issue 5)
        "alerts.tasks.*": {"queue": "notify"},
    },
    # At-least-once: a task is acknowledged after it finishes, and a task whose worker
    # died is redelivered. Every task is therefore idempotent.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_track_started=True,
    task_serializer="json",
    accept_content=["json"],
    timezone="UTC",
    enable_utc=True,
    broker_connection_retry_on_startup=True,
)
app.autodiscover_tasks()
app.autodiscover_tasks(related_name="tasks_compute")  # metrics.tasks_compute (issue 5)


def _load_beat_schedule() -> None:
    from healthboard.beat import BEAT_SCHEDULE

    app.conf.beat_schedule = BEAT_SCHEDULE


_load_beat_schedule()
