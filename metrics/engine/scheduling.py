"""Scheduling: per-deployment watermarks, leases, the beat tick's plan, one deployment's work.

* :func:`plan_tick` (beat, every minute) — which deployments have closed buckets beyond their
  watermark, or dirty buckets behind it, and are not being worked on; a new deployment's
  watermark starts ``COMPUTE_INITIAL_LOOKBACK_HOURS`` back (older history reaches the engine as
  dirty windows). At most ``COMPUTE_MAX_DEPLOYMENTS_PER_TICK`` per tick, most behind first.
* :func:`enqueue` — for each planned deployment: write a lease naming a fresh task id, then send
  the task with that id (an unsent task's lease is released; an unstarted one expires with its
  message after ``COMPUTE_QUEUE_SECONDS``). So the queue never piles up duplicates, and after a
  broker outage the next tick simply continues from the watermark.
* :func:`run_deployment` (the task body) — take the lease (or take it back: a redelivered task
  has the same id), compute at most ``COMPUTE_MAX_BUCKETS_PER_TASK`` buckets forward from the
  watermark, then the dirty windows behind it; renew the lease as it goes; release it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db.models import Min, Q
from django.utils import timezone

from catalog.models import Deployment
from metrics.engine import conf, runner, windows
from metrics.models import ComputeWatermark, DirtyWindow

log = logging.getLogger(__name__)

__all__ = ["acquire", "enqueue", "plan_tick", "release", "run_deployment"]


def _free(now: datetime, owner: str | None = None) -> Q:
    q = Q(lease_owner="") | Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    if owner:
        q |= Q(lease_owner=owner)
    return q


def initial_watermark(deployment: Deployment, now: datetime) -> datetime:
    """``COMPUTE_INITIAL_LOOKBACK_HOURS`` before the last closed window (not the deployment's
    ``started_at``: events may predate the registration; windows before the first event are
    skipped cheaply anyway)."""
    return windows.closed_until(now) - conf.initial_lookback()


def ensure_watermarks(now: datetime) -> int:
    """Create the watermark of every active deployment that has none."""
    missing = Deployment.objects.exclude(status=Deployment.Status.RETIRED).exclude(
        pk__in=ComputeWatermark.objects.values("deployment_id")
    )
    created = [
        ComputeWatermark(deployment_id=d.pk, computed_through=initial_watermark(d, now), updated_at=now)
        for d in missing.only("pk")
    ]
    ComputeWatermark.objects.bulk_create(created, ignore_conflicts=True)
    return len(created)


def plan_tick(now: datetime | None = None) -> list[int]:
    """Deployments with work to do and no live lease, most behind first (bounded)."""
    now = now or timezone.now()
    ensure_watermarks(now)
    closed = windows.closed_until(now)
    active = ComputeWatermark.objects.exclude(deployment__status=Deployment.Status.RETIRED).filter(_free(now))
    behind = set(active.filter(computed_through__lt=closed).values_list("deployment_id", flat=True))
    marks = dict(active.values_list("deployment_id", "computed_through"))
    first_dirty = (
        DirtyWindow.objects.filter(deployment_id__in=list(marks))
        .values("deployment_id")
        .annotate(first=Min("window_start"))
        .values_list("deployment_id", "first")
    )
    dirty = {d for d, first in first_dirty if first + windows.BUCKET <= marks[d]}
    wanted = behind | dirty
    return sorted(wanted, key=lambda d: (marks[d], d))[: conf.max_deployments_per_tick()]


def enqueue(send: Callable[[int, str], None], now: datetime | None = None) -> list[int]:
    """Lease and send one task per planned deployment; ``send(deployment_id, task_id)``."""
    now = now or timezone.now()
    sent = []
    for deployment_id in plan_tick(now):
        task_id = str(uuid.uuid4())
        leased = ComputeWatermark.objects.filter(_free(now), deployment_id=deployment_id).update(
            lease_owner=task_id, lease_until=now + conf.queue_expiry()
        )
        if not leased:
            continue
        try:
            send(deployment_id, task_id)
        except Exception:
            release(deployment_id, task_id)
            raise
        sent.append(deployment_id)
    return sent


def acquire(deployment_id: int, owner: str, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    if not ComputeWatermark.objects.filter(deployment_id=deployment_id).exists():
        deployment = Deployment.objects.filter(pk=deployment_id).first()
        if deployment is None:
            return False
        ComputeWatermark.objects.get_or_create(
            deployment_id=deployment_id,
            defaults={"computed_through": initial_watermark(deployment, now), "updated_at": now},
        )
    return bool(
        ComputeWatermark.objects.filter(_free(now, owner), deployment_id=deployment_id).update(
            lease_owner=owner, lease_until=now + conf.lease()
        )
    )


def renew(deployment_id: int, owner: str) -> None:
    ComputeWatermark.objects.filter(deployment_id=deployment_id, lease_owner=owner).update(
        lease_until=timezone.now() + conf.lease()
    )


def release(deployment_id: int, owner: str) -> None:
    ComputeWatermark.objects.filter(deployment_id=deployment_id, lease_owner=owner).update(
        lease_owner="", lease_until=None
    )


def run_deployment(deployment_id: int, *, owner: str, now: datetime | None = None) -> runner.Summary | None:
    """The work of one task: forward from the watermark (bounded), then dirty windows.

    Returns None when another task holds the deployment's lease."""
    now = now or timezone.now()
    if not acquire(deployment_id, owner, now):
        log.info("deployment %s is leased by another task; nothing to do", deployment_id)
        return None
    summary = runner.Summary()
    try:
        watermark = ComputeWatermark.objects.get(deployment_id=deployment_id)
        closed = windows.closed_until(now)
        start = watermark.computed_through
        end = min(closed, start + conf.max_buckets_per_task() * windows.BUCKET)
        if end > start:
            summary.add(
                runner.compute_range(
                    deployment_id,
                    start,
                    end,
                    task_id=owner,
                    advance_watermark=True,
                    progress=lambda *_: renew(deployment_id, owner),
                )
            )
        summary.add(runner.recompute_dirty(deployment_id, task_id=owner))
    finally:
        release(deployment_id, owner)
    return summary


def lag(now: datetime | None = None) -> dict[int, timedelta]:
    """How far each deployment's watermark is behind the closed windows (for the platform view)."""
    now = now or timezone.now()
    closed = windows.closed_until(now)
    return {
        d: max(timedelta(0), closed - t)
        for d, t in ComputeWatermark.objects.values_list("deployment_id", "computed_through")
    }
