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
}
