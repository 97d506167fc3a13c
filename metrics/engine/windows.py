"""Window arithmetic (DESIGN.md §3): half-open ``[start, end)`` UTC windows aligned to their size.

Every window ends on a 5-minute boundary, so the unit of work is a *bucket end* ``E``: the
5-minute bucket ``[E - 5m, E)`` is rolled up, and every window ending at ``E`` is computed —
the 5-minute one always, the hour when ``E`` is on the hour, the day at midnight UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from metrics.engine import conf

BUCKET = conf.BUCKET
SIZES: dict[str, timedelta] = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "1d": timedelta(days=1)}
ORDER = {"5m": 0, "1h": 1, "1d": 2}


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def floor(moment: datetime, size: timedelta = BUCKET) -> datetime:
    moment = utc(moment)
    step = int(size.total_seconds())
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step, UTC)


def ceil(moment: datetime, size: timedelta = BUCKET) -> datetime:
    floored = floor(moment, size)
    return floored if floored == utc(moment) else floored + size


def closed_until(now: datetime) -> datetime:
    """Every bucket (and window) ending at or before this is closed at ``now``."""
    return floor(utc(now) - conf.allowed_lateness())


def buckets(start: datetime, end: datetime) -> Iterator[datetime]:
    """Bucket starts in ``[start, end)`` (both 5-minute aligned)."""
    t = start
    while t < end:
        yield t
        t += BUCKET


@dataclass(frozen=True, order=True)
class Window:
    end: datetime
    rank: int  # 0 = 5m, 1 = 1h, 2 = 1d: shorter windows of the same end first
    size: str

    @property
    def start(self) -> datetime:
        return self.end - SIZES[self.size]

    @property
    def span(self) -> timedelta:
        return SIZES[self.size]

    def __str__(self) -> str:
        return f"{self.size} [{self.start:%Y-%m-%d %H:%M}, {self.end:%Y-%m-%d %H:%M})"


def make(size: str, end: datetime) -> Window:
    return Window(utc(end), ORDER[size], size)


def ending_at(end: datetime, sizes: Iterable[str]) -> list[Window]:
    """The windows of ``sizes`` that end at the bucket end ``end`` (shortest first)."""
    end = utc(end)
    out = []
    for size in sorted(set(sizes), key=ORDER.__getitem__):
        if floor(end, SIZES[size]) == end:
            out.append(make(size, end))
    return out


def containing(bucket_start: datetime, sizes: Iterable[str]) -> list[Window]:
    """The windows of ``sizes`` that contain the bucket starting at ``bucket_start``."""
    out = []
    for size in sorted(set(sizes), key=ORDER.__getitem__):
        span = SIZES[size]
        out.append(make(size, floor(bucket_start, span) + span))
    return out


def ending_in(start: datetime, end: datetime, sizes: Iterable[str]) -> list[Window]:
    """Every window of ``sizes`` whose end is in ``(start, end]``, in computation order."""
    sizes = list(sizes)
    out: list[Window] = []
    t = ceil(utc(start) + timedelta(microseconds=1))
    while t <= end:
        out.extend(ending_at(t, sizes))
        t += BUCKET
    return out
