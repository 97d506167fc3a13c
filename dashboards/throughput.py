"""Ingestion throughput per hour for the platform page, without re-reading closed hours.

``IngestionStat`` has one row per system, kind and *arrival* minute, so 50 systems make
72,000 rows a day and 6.5 M in the 90-day retention: summing them per hour on every page view
costs hundreds of milliseconds. An hour that has ended no longer changes (a request is counted
in the minute it arrived), so the hourly sums of closed hours are cached, keyed by the systems
in scope (and the database) and the hour range; only the current hour is summed live. The key changes every hour,
so a cache entry lives at most one hour; a tool that writes statistics into past minutes (the
demo seeding, with a back-dated clock) is seen once the hour turns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import Sum
from django.db.models.functions import TruncHour

from metrics.models.ingestion import IngestionStat

HOUR = timedelta(hours=1)
CACHE_SECONDS = 3600


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _sums(system_ids: list[int], start: datetime, end: datetime) -> list[dict]:
    return list(
        IngestionStat.objects.filter(system_id__in=system_ids, bucket__gte=start, bucket__lt=end)
        .annotate(hour=TruncHour("bucket"))
        .values("hour")
        .annotate(accepted=Sum("accepted"), rejected=Sum("rejected"), duplicates=Sum("duplicates"))
        .order_by("hour")
    )


def hourly(system_ids: Iterable[int], since: datetime, until: datetime) -> list[dict]:
    """``[{"hour", "accepted", "rejected", "duplicates"}]`` for the hours from ``since``'s
    hour to ``until`` (the current hour partial), oldest first."""
    ids = sorted(set(system_ids))
    start, current = _floor_hour(since), _floor_hour(until)
    # the database's name too: several databases (tests' workers, the benchmark) share one cache
    scope = f"{connection.settings_dict['NAME']}|{','.join(map(str, ids))}"
    digest = hashlib.sha1(scope.encode()).hexdigest()[:16]
    key = f"dashboards:throughput:v1:{digest}:{start:%Y%m%d%H}:{current:%Y%m%d%H}"
    closed = cache.get(key)
    if closed is None:
        closed = _sums(ids, start, current)
        cache.set(key, closed, CACHE_SECONDS)
    return closed + _sums(ids, max(start, current), until + timedelta(minutes=1))
