"""The seam to the computation engine: windows whose raw events changed after they closed.

Ingestion marks the 5-minute bucket of a deployment dirty when a late event lands in it (the
bucket closed ``allowed lateness`` before the event arrived) or a label changes one of its
events. The engine (issue 5) claims dirty windows with :func:`claim`, recomputes their
profiles and the metric windows containing them, and is done: a claim deletes the rows in
the claimer's transaction, so a crash before commit leaves them for the next run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.utils import timezone

from metrics.ingest import conf

BUCKET_SECONDS = 300


def bucket_start(ts: datetime) -> datetime:
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % BUCKET_SECONDS, UTC)


def closed_before(received_at: datetime) -> datetime:
    """Events with ``ts`` before this fall in buckets that were closed at ``received_at``."""
    return bucket_start(received_at - timedelta(seconds=conf.allowed_lateness_seconds()))


def late_windows(rows, positions, deployment_ids, now: datetime) -> set[tuple[int, datetime]]:
    """Distinct ``(deployment, bucket start)`` of the stored rows whose bucket was closed."""
    closed = closed_before(now)
    buckets = {
        (deployment_ids[p], int(rows[p][0].timestamp()) // BUCKET_SECONDS)
        for p in positions
        if rows[p][0] < closed
    }
    return {(dep, datetime.fromtimestamp(b * BUCKET_SECONDS, UTC)) for dep, b in buckets}


def mark(windows: Iterable[tuple[int, datetime]], reason: str, *, now: datetime | None = None) -> int:
    """Upsert ``(deployment_id, bucket start)`` pairs; returns how many distinct ones."""
    pairs = sorted(set(windows))
    if not pairs:
        return 0
    now = now or timezone.now()
    sqlite = connection.vendor == "sqlite"
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO metrics_dirtywindow (deployment_id, window_start, reason, marked_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (deployment_id, window_start) DO UPDATE "
            "SET marked_at = excluded.marked_at, reason = excluded.reason",
            [
                (dep, adapt(start) if sqlite else start, reason, adapt(now) if sqlite else now)
                for dep, start in pairs
            ],
        )
    return len(pairs)


def claim(limit: int = 1000) -> list[tuple[int, datetime, str]]:
    """Take up to ``limit`` dirty windows (oldest mark first) for recomputation.

    Call inside ``transaction.atomic()``: the rows are deleted when that transaction commits,
    and on PostgreSQL concurrent claimers skip each other's rows (``SKIP LOCKED``).
    """
    from metrics.models import DirtyWindow

    qs = DirtyWindow.objects.order_by("marked_at")
    if connection.vendor == "postgresql":
        qs = qs.select_for_update(skip_locked=True)
    taken = list(qs.values_list("deployment_id", "window_start", "reason")[:limit])
    for dep, start, _ in taken:
        DirtyWindow.objects.filter(deployment_id=dep, window_start=start).delete()
    return taken
