"""Ingestion health per system and 1-minute bucket: accepted, duplicates, rejected by reason,
bytes — each request adds to its bucket with one upsert (``INSERT … ON CONFLICT DO UPDATE``
with increments), atomic across processes, in the same transaction as the records it counts.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from django.db import connection
from django.db.models import Sum


def bucket_of(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(second=0, microsecond=0)


def _param(value: datetime):
    return connection.ops.adapt_datetimefield_value(value) if connection.vendor == "sqlite" else value


def record(
    *,
    system_id: int,
    kind: str,
    moment: datetime,
    requests: int = 1,
    accepted: int = 0,
    duplicates: int = 0,
    rejected_reasons: Counter | dict | None = None,
    bytes_received: int = 0,
    refused_reason: str | None = None,
) -> None:
    """Add one request's outcome to its minute. ``refused_reason`` counts a whole request
    refused before its records were read (``too_large``, ``rate_limited``)."""
    bucket = _param(bucket_of(moment))
    reasons = Counter(rejected_reasons or {})
    rejected = sum(reasons.values())
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO metrics_ingestionstat "
            "(system_id, bucket, kind, requests, accepted, duplicates, rejected, bytes) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (system_id, bucket, kind) DO UPDATE SET "
            "requests = metrics_ingestionstat.requests + excluded.requests, "
            "accepted = metrics_ingestionstat.accepted + excluded.accepted, "
            "duplicates = metrics_ingestionstat.duplicates + excluded.duplicates, "
            "rejected = metrics_ingestionstat.rejected + excluded.rejected, "
            "bytes = metrics_ingestionstat.bytes + excluded.bytes",
            [system_id, bucket, kind, requests, accepted, duplicates, rejected, bytes_received],
        )
        rows = [(system_id, bucket, kind, reason, count, 0) for reason, count in sorted(reasons.items())]
        if refused_reason:
            rows.append((system_id, bucket, kind, refused_reason, 0, 1))
        if rows:
            cursor.executemany(
                "INSERT INTO metrics_ingestionrejection (system_id, bucket, kind, reason, records, requests) "
                "VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (system_id, bucket, kind, reason) DO UPDATE SET "
                "records = metrics_ingestionrejection.records + excluded.records, "
                "requests = metrics_ingestionrejection.requests + excluded.requests",
                rows,
            )


def ingest_rejection_rate(system, start: datetime, end: datetime, kind: str = "event") -> float | None:
    """Share of received records that were rejected in ``[start, end)``; None when none came.

    ``system`` is a System or its id. Duplicates count as received, not rejected.
    """
    from metrics.models import IngestionStat

    system_id = getattr(system, "pk", system)
    totals = IngestionStat.objects.filter(
        system_id=system_id, kind=kind, bucket__gte=bucket_of(start), bucket__lt=end
    ).aggregate(accepted=Sum("accepted"), duplicates=Sum("duplicates"), rejected=Sum("rejected"))
    received = sum(totals[k] or 0 for k in ("accepted", "duplicates", "rejected"))
    if not received:
        return None
    return (totals["rejected"] or 0) / received


def rejections_by_reason(system, start: datetime, end: datetime, kind: str | None = None) -> dict[str, int]:
    """``{reason: records}`` (whole refused requests count under their reason too)."""
    from metrics.models import IngestionRejection

    system_id = getattr(system, "pk", system)
    qs = IngestionRejection.objects.filter(system_id=system_id, bucket__gte=bucket_of(start), bucket__lt=end)
    if kind:
        qs = qs.filter(kind=kind)
    out: dict[str, int] = {}
    for reason, records, requests in qs.values_list("reason", "records", "requests"):
        out[reason] = out.get(reason, 0) + records + requests
    return out
