"""The whole periodic schedule in one place. Tasks land with their issues; each entry
names a task that exists in the code base."""

from __future__ import annotations

from datetime import timedelta

BEAT_SCHEDULE: dict[str, dict] = {
    "heartbeat": {
        "task": "healthboard.tasks.heartbeat",
        "schedule": timedelta(minutes=1),
        "options": {"queue": "notify", "expires": 55},
    },
    # alerts: escalation steps, notification planning + outbox delivery, evaluation retention
    "alerts-advance-escalations": {
        "task": "alerts.tasks.advance_escalations",
        "schedule": timedelta(minutes=1),
        "options": {"queue": "notify", "expires": 55},
    },
    "alerts-dispatch-notifications": {
        "task": "alerts.tasks.dispatch_notifications",
        "schedule": timedelta(seconds=15),
        "options": {"queue": "notify", "expires": 14},
    },
    "alerts-prune-evaluations": {
        "task": "alerts.tasks.prune_evaluations",
        "schedule": timedelta(days=1),
        "options": {"queue": "notify", "expires": 3600},
    },
    # ingestion: raw-event partitions ahead + retention; labels that arrived before their event
    "ingest-maintain-partitions": {
        "task": "metrics.tasks.ingest_maintain_partitions",
        "schedule": timedelta(hours=1),
        "options": {"queue": "ingest", "expires": 3000},
    },
    "ingest-retry-early-labels": {
        "task": "metrics.tasks.ingest_retry_early_labels",
        "schedule": timedelta(minutes=5),
        "options": {"queue": "ingest", "expires": 290},
    },
    # computation engine: closed windows from each deployment's watermark, dirty windows; reaper
    "compute-schedule": {
        "task": "metrics.tasks_compute.schedule",
        "schedule": timedelta(minutes=1),
        "options": {"queue": "compute", "expires": 55},
    },
    "compute-reap-stuck-runs": {
        "task": "metrics.tasks_compute.reap_stuck_runs",
        "schedule": timedelta(minutes=5),
        "options": {"queue": "compute", "expires": 290},
    },
}
