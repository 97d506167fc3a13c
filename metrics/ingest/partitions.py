"""Day partitions of the raw-event table (PostgreSQL) and raw-event retention (both).

``maintain()`` is what the beat task runs: create the partitions of the next
``INGEST_PARTITIONS_AHEAD_DAYS`` days, drop those wholly older than the retention
(``RAW_EVENT_RETENTION_DAYS``), and delete the dedup keys and housekeeping rows that went
with them. Ingestion calls ``ensure_days`` for the days of a batch, so an in-retention day
without a partition (a back-fill, or a database that beat has not visited yet) is created on
the spot; a per-process cache keeps that to one catalogue query per new day.
On SQLite there are no partitions: retention deletes rows.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from metrics.ingest import conf

log = logging.getLogger(__name__)

TABLE = "metrics_predictionevent"
_known_days: set[date] = set()


def partition_name(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def retention_cutoff(now: datetime | None = None, days: int | None = None) -> datetime:
    """Raw events before this instant are dropped (midnight UTC, ``days`` days back)."""
    now = now or timezone.now()
    days = conf.retention_days() if days is None else days
    return day_start(now.astimezone(UTC).date() - timedelta(days=days))


def is_partitioned() -> bool:
    return connection.vendor == "postgresql"


def existing_days() -> set[date]:
    """Days that have a partition (PostgreSQL)."""
    if not is_partitioned():
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
            [TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    days = set()
    prefix = f"{TABLE}_p"
    for name in names:
        if name.startswith(prefix):
            try:
                days.add(datetime.strptime(name[len(prefix) :], "%Y%m%d").date())
            except ValueError:
                continue
    return days


def create_partition(day: date) -> bool:
    """Create the partition of ``day`` unless it exists; True when created."""
    start, end = day_start(day), day_start(day + timedelta(days=1))
    name = partition_name(day)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
            if cursor.fetchone()[0]:
                return False
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {TABLE} FOR VALUES FROM (%s) TO (%s)",
                [start, end],
            )
        log.info("created raw-event partition %s", name)
        return True
    except DatabaseError:
        # A concurrent creator won the race (duplicate type/relation): fine if it exists now.
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
            if cursor.fetchone()[0]:
                return False
        raise


def ensure_days(first: datetime | None, last: datetime | None) -> None:
    """Make sure every day in [first, last] has a partition (PostgreSQL; no-op elsewhere)."""
    if not is_partitioned() or first is None or last is None:
        return
    day, end = first.astimezone(UTC).date(), last.astimezone(UTC).date()
    wanted = set()
    while day <= end:
        if day not in _known_days:
            wanted.add(day)
        day += timedelta(days=1)
    if not wanted:
        return
    present = existing_days()
    _known_days.update(present)
    for day in sorted(wanted - present):
        create_partition(day)
        _known_days.add(day)


def forget_known_days() -> None:
    _known_days.clear()


def create_ahead(days_ahead: int | None = None, now: datetime | None = None) -> list[date]:
    """Create the partitions from yesterday to ``days_ahead`` days ahead; return the new ones."""
    if not is_partitioned():
        return []
    days_ahead = conf.partitions_ahead_days() if days_ahead is None else days_ahead
    today = (now or timezone.now()).astimezone(UTC).date()
    created = []
    present = existing_days()
    for offset in range(-1, days_ahead + 1):
        day = today + timedelta(days=offset)
        if day not in present and create_partition(day):
            created.append(day)
    _known_days.update(present | set(created))
    return created


def drop_expired(retention_days: int | None = None, now: datetime | None = None) -> dict:
    """Drop partitions (or delete rows, on SQLite) older than the retention; prune keys."""
    cutoff = retention_cutoff(now, retention_days)
    dropped: list[str] = []
    deleted_rows = 0
    if is_partitioned():
        for day in sorted(existing_days()):
            if day_start(day + timedelta(days=1)) <= cutoff:
                name = partition_name(day)
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(f"DROP TABLE IF EXISTS {name}")
                _known_days.discard(day)
                dropped.append(name)
                log.info("dropped raw-event partition %s (retention)", name)
    else:
        from metrics.models import PredictionEvent

        deleted_rows, _ = PredictionEvent.objects.filter(ts__lt=cutoff).delete()
    from metrics.models import EventKey, IngestionRejection, IngestionStat, RateLimitCounter

    keys, _ = EventKey.objects.filter(ts__lt=cutoff).delete()
    IngestionStat.objects.filter(bucket__lt=cutoff).delete()
    IngestionRejection.objects.filter(bucket__lt=cutoff).delete()
    RateLimitCounter.objects.filter(window_start__lt=timezone.now() - timedelta(hours=1)).delete()
    return {
        "cutoff": cutoff,
        "dropped_partitions": dropped,
        "deleted_rows": deleted_rows,
        "deleted_keys": keys,
    }


def maintain(now: datetime | None = None) -> dict:
    created = create_ahead(now=now)
    result = drop_expired(now=now)
    result["created_partitions"] = [partition_name(day) for day in created]
    return result
