"""Cross-cutting tasks."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone


@shared_task(name="healthboard.tasks.heartbeat", ignore_result=True)
def heartbeat() -> str:
    """Records that beat and a worker are alive; the platform view reads it."""
    stamp = timezone.now().isoformat()
    cache.set("healthboard:worker-heartbeat", stamp, timeout=None)
    return stamp
