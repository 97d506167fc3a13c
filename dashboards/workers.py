"""What the platform page shows about the Celery workers: queue depth and task durations.

Durations come from the rows the tasks already write, not from a separate timing store:

* compute — ``ComputationRun``: the runs of one unit of work (one roll-up + its windows, one
  transaction) share ``started_at``; the unit took ``max(finished_at) - started_at``. A unit
  with a failed run counts as a failure. Runs without a Celery task id come from the
  ``compute_metrics`` / ``backfill_metric`` commands and are listed apart.
* notify — ``DeliveryAttempt.duration_ms`` per delivery attempt of the outbox (a failure is
  any outcome but ``delivered``), and the outbox wait ``Notification.created_at →
  delivered_at`` (grouping wait + retries + transport).

The other tasks (beat's schedule tick, partition maintenance, escalation steps) write no row
with a duration; the page says so rather than inventing one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db.models import Count, Max, Q

from alerts.models import DeliveryAttempt, Notification
from metrics.models import ComputationRun

QUEUES = ("ingest", "compute", "notify", "celery")
MAX_ROWS = 5000  # newest units / attempts summarised per task; the page stays bounded
UNTIMED_TASKS = (
    "metrics.tasks_compute.schedule",
    "metrics.tasks.ingest_maintain_partitions",
    "metrics.tasks.ingest_retry_early_labels",
    "alerts.tasks.advance_escalations",
    "alerts.tasks.prune_evaluations",
)
COMPUTE_TASKS = {
    # (run kind, started by a Celery task?) -> what started it
    ("window", True): "metrics.tasks_compute.compute_deployment",
    ("window", False): "compute_metrics command",
    ("backfill_window", True): "metrics.tasks_compute.backfill_metric",
    ("backfill_window", False): "backfill_metric command",
}


@dataclass(frozen=True)
class TaskDurations:
    task: str
    queue: str
    unit: str  # what one measured duration is
    count: int
    failures: int
    p50_s: float | None
    p95_s: float | None
    max_s: float | None
    newest: datetime | None


def summarise(
    task: str,
    queue: str,
    unit: str,
    durations_s: Sequence[float | None],
    failures: int,
    newest,
) -> TaskDurations:
    """Count (``None`` durations: still running), failures and the p50 / p95 / max of the
    finished durations (linear-interpolated percentiles)."""
    values = np.asarray([d for d in durations_s if d is not None], dtype=float)
    if values.size:
        p50, p95 = (float(v) for v in np.percentile(values, [50, 95]))
        top = float(values.max())
    else:
        p50 = p95 = top = None
    return TaskDurations(task, queue, unit, len(durations_s), failures, p50, p95, top, newest)


def compute_durations(deployment_ids: Iterable[int], since: datetime) -> list[TaskDurations]:
    """Units of work of the compute queue started since ``since`` on these deployments."""
    units = (
        ComputationRun.objects.filter(
            deployment_id__in=list(deployment_ids),
            kind__in=["window", "backfill_window"],
            started_at__gte=since,
        )
        .values("deployment_id", "kind", "task_id", "started_at")
        .annotate(
            finished=Max("finished_at"),
            failed=Count("id", filter=Q(status=ComputationRun.Status.FAILED)),
            running=Count("id", filter=Q(finished_at__isnull=True)),
        )
        .order_by("-started_at")[:MAX_ROWS]
    )
    grouped: dict[str, list] = defaultdict(list)
    for unit in units:
        grouped[COMPUTE_TASKS[(unit["kind"], bool(unit["task_id"]))]].append(unit)
    out = []
    for task, rows in sorted(grouped.items()):
        out.append(
            summarise(
                task,
                "compute",
                "unit of work (roll-up + windows)",
                [
                    None
                    if r["running"] or r["finished"] is None
                    else (r["finished"] - r["started_at"]).total_seconds()
                    for r in rows
                ],
                sum(1 for r in rows if r["failed"]),
                max(r["started_at"] for r in rows),
            )
        )
    return out


def notify_durations(system_ids: Iterable[int], since: datetime) -> list[TaskDurations]:
    """Delivery attempts and outbox waits of notifications about these systems' incidents."""
    system_ids = list(system_ids)
    attempts = list(
        DeliveryAttempt.objects.filter(
            notification__incident__system_id__in=system_ids, started_at__gte=since
        )
        .order_by("-started_at")
        .values_list("duration_ms", "outcome", "started_at")[:MAX_ROWS]
    )
    waits = list(
        Notification.objects.filter(incident__system_id__in=system_ids, created_at__gte=since)
        .order_by("-created_at")
        .values_list("created_at", "delivered_at", "status")[:MAX_ROWS]
    )
    out = []
    if attempts:
        out.append(
            summarise(
                "alerts.tasks.dispatch_notifications",
                "notify",
                "delivery attempt (transport)",
                [ms / 1000 for ms, _, _ in attempts],
                sum(1 for _, outcome, _ in attempts if outcome != DeliveryAttempt.Outcome.DELIVERED),
                attempts[0][2],
            )
        )
    if waits:
        out.append(
            summarise(
                "notification outbox",
                "notify",
                "created → delivered (wait + retries)",
                [(done - created).total_seconds() for created, done, _ in waits if done is not None],
                sum(1 for _, _, status in waits if status == Notification.Status.DEAD),
                waits[0][0],
            )
        )
    return out


def queue_depths() -> tuple[list[tuple[str, int]], str]:
    """Celery queue lengths when the broker is Redis (LLEN of each queue), else an explanation."""
    url = getattr(settings, "CELERY_BROKER_URL", "") or ""
    if not url.startswith(("redis://", "rediss://")):
        return [], "The broker is not Redis; queue depth is not available."
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=0.3, socket_timeout=0.3)
        return [(q, int(client.llen(q))) for q in QUEUES], ""
    except Exception as exc:  # the page must render when the broker is down
        return [], f"Broker unreachable: {exc.__class__.__name__}"
