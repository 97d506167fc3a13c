"""Ingestion throughput and rejections for the platform page, without re-reading closed hours.

``IngestionStat`` has one row per system, kind and *arrival* minute, so 50 systems make
72,000 rows a day and 6.5 M in the 90-day retention (``IngestionRejection`` one per reason and
minute): summing them on every page view costs hundreds of milliseconds. An hour that has
ended no longer changes (a request is counted in the minute it arrived), so the sums over
closed hours are cached, keyed by the database, the systems in scope and the hour range; only
the current hour is summed live. The key changes every hour, so an entry lives at most one
hour; a tool that writes statistics into past minutes (the demo seeding, with a back-dated
clock) is seen once the hour turns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import Sum
from django.db.models.functions import TruncHour

from metrics.models.ingestion import IngestionRejection, IngestionStat

CACHE_SECONDS = 3600
REJECTION_ROWS = 50


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _closed_and_live(
    name: str,
    system_ids: Iterable[int],
    since: datetime,
    until: datetime,
    query: Callable[[list[int], datetime, datetime], list[dict]],
) -> tuple[list[dict], list[dict]]:
    """``query`` over the closed hours from ``since``'s hour (cached) and over the current one."""
    ids = sorted(set(system_ids))
    start, current = _floor_hour(since), _floor_hour(until)
    # the database's name too: several databases (tests' workers, the benchmark) share one cache
    scope = f"{connection.settings_dict['NAME']}|{','.join(map(str, ids))}"
    digest = hashlib.sha1(scope.encode()).hexdigest()[:16]
    key = f"dashboards:{name}:v1:{digest}:{start:%Y%m%d%H}:{current:%Y%m%d%H}"
    closed = cache.get(key)
    if closed is None:
        closed = query(ids, start, current)
        cache.set(key, closed, CACHE_SECONDS)
    return closed, query(ids, max(start, current), until + timedelta(minutes=1))


def _hourly(ids: list[int], start: datetime, end: datetime) -> list[dict]:
    return list(
        IngestionStat.objects.filter(system_id__in=ids, bucket__gte=start, bucket__lt=end)
        .annotate(hour=TruncHour("bucket"))
        .values("hour")
        .annotate(accepted=Sum("accepted"), rejected=Sum("rejected"), duplicates=Sum("duplicates"))
        .order_by("hour")
    )


def hourly(system_ids: Iterable[int], since: datetime, until: datetime) -> list[dict]:
    """``[{"hour", "accepted", "rejected", "duplicates"}]`` for the hours from ``since``'s
    hour to ``until`` (the current hour partial), oldest first."""
    closed, live = _closed_and_live("throughput", system_ids, since, until, _hourly)
    return closed + live


def _by_reason(ids: list[int], start: datetime, end: datetime) -> list[dict]:
    return list(
        IngestionRejection.objects.filter(system_id__in=ids, bucket__gte=start, bucket__lt=end)
        .values("system__slug", "kind", "reason")
        .annotate(records=Sum("records"), requests=Sum("requests"))
        .order_by()
    )


def rejections(system_ids: Iterable[int], since: datetime, until: datetime) -> list[dict]:
    """Rejected records and refused requests per system, kind and reason over the range (from
    ``since``'s hour), most records first, at most ``REJECTION_ROWS`` rows."""
    totals: dict[tuple, dict] = {}
    for row in (
        row for part in _closed_and_live("rejections", system_ids, since, until, _by_reason) for row in part
    ):
        key = (row["system__slug"], row["kind"], row["reason"])
        total = totals.setdefault(key, {**row, "records": 0, "requests": 0})
        total["records"] += row["records"] or 0
        total["requests"] += row["requests"] or 0
    return sorted(totals.values(), key=lambda r: (-r["records"], -r["requests"]))[:REJECTION_ROWS]


def buckets(system_ids: Iterable[int], since: datetime, until: datetime, *, by_day: bool) -> list[dict]:
    """The hourly sums, or daily ones (a 90-day chart of 2,160 hourly points is mostly noise and
    serialisation), as ``{"start": ISO text, "minutes", "accepted", "rejected", "duplicates"}``
    oldest first; ``minutes`` is the bucket's length, for per-minute rates."""
    out: dict[datetime, dict] = {}
    for row in hourly(system_ids, since, until):
        start = row["hour"].replace(hour=0) if by_day else row["hour"]
        total = out.setdefault(
            start, {"minutes": 1440 if by_day else 60, "accepted": 0, "rejected": 0, "duplicates": 0}
        )
        for name in ("accepted", "rejected", "duplicates"):
            total[name] += row[name] or 0
    return [{"start": start.isoformat(), **total} for start, total in sorted(out.items())]
