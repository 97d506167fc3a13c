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
}
