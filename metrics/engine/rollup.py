"""The roll-up (DESIGN.md §2.1): raw events of closed 5-minute buckets → stored profiles.

:func:`roll_up` reads the raw events of a range of buckets of one deployment once, builds the
profiles of every (bucket, segment) in one vectorised pass (``metrics.compute.profiles``), and
upserts them as ``WindowProfile`` rows — replacing earlier rows of the same buckets, so a
re-roll (a late event, a late label, a new reference) leaves exactly the new profiles. Every
bucket gets an all-traffic row, empty ones included.

:func:`load_profiles` returns the stored profiles of a window, rolling up again the buckets
that are missing or were built with another spec (a new reference's bin edges, a changed
feature list) so that every profile merged into a window shares one spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from django.db import connection
from django.utils import timezone

from metrics.compute.profiles import (
    FORMAT_VERSION,
    CategoricalSummary,
    MinuteCounts,
    NumericSummary,
    Outcomes,
    WindowProfile,
    build_profiles,
)
from metrics.compute.sketch import LatencySketch
from metrics.engine import read, store, windows
from metrics.engine.context import DeploymentContext
from metrics.models import WindowProfile as StoredProfile

__all__ = ["RollUp", "load_profiles", "roll_up"]

Profiles = dict[datetime, dict[str, WindowProfile]]  # bucket start -> segment -> profile


@dataclass
class RollUp:
    profiles: Profiles = field(default_factory=dict)
    events: int = 0
    rows_written: int = 0
    buckets: int = 0
    columns: read.Columns | None = None  # the raw columns read (all of them)


def empty_profile(ctx: DeploymentContext, start: datetime) -> WindowProfile:
    spec = ctx.spec
    return WindowProfile(
        segment="",
        window_start=start,
        window_end=start + windows.BUCKET,
        task=spec.task,
        positive_label=spec.positive_label,
        count=0,
        error_count=0,
        minutes=MinuteCounts(),
        latency=LatencySketch(spec.relative_accuracy),
        numeric={
            name: NumericSummary.empty(np.asarray(e, dtype=np.float64))
            for name, e in spec.numeric_edges.items()
        },
        categorical={name: CategoricalSummary() for name in spec.categorical},
        outputs={
            name: NumericSummary.empty(np.asarray(e, dtype=np.float64))
            for name, e in (("score", spec.score_edges), ("prediction", spec.prediction_edges))
            if e is not None
        },
        outcomes=Outcomes(),
    )


def read_window(ctx: DeploymentContext, start: datetime, end: datetime) -> read.Columns:
    """Every column the roll-up needs of the deployment's raw events in ``[start, end)``."""
    return read.read_events(
        ctx.id,
        start,
        end,
        layouts=ctx.layouts,
        numeric=ctx.numeric,
        categorical=ctx.categorical,
        cohorts=ctx.cohorts,
    )


def profiles_of(ctx: DeploymentContext, cols: read.Columns) -> list:
    """The 5-minute profiles (all traffic and each cohort value) of ``cols``; none when empty."""
    if not cols.n:
        return []
    return build_profiles(
        ctx.spec,
        timestamps=cols.ts,
        latency_ms=cols.latency_ms,
        error=cols.error,
        numeric=cols.numeric,
        categorical=cols.categorical,
        prediction=cols.prediction,
        score=cols.score,
        label=cols.label,
        cohorts=cols.cohorts,
    )


def roll_up(ctx: DeploymentContext, start: datetime, end: datetime, *, run_id: int | None = None) -> RollUp:
    """Roll up the buckets in ``[start, end)`` (5-minute aligned) and store their profiles."""
    read_at = timezone.now()
    cols = read_window(ctx, start, end)
    built = profiles_of(ctx, cols)
    result = RollUp(events=cols.n, columns=cols)
    for bucket in windows.buckets(start, end):
        result.profiles[bucket] = {}
    for profile in built:
        result.profiles.setdefault(profile.window_start, {})[profile.segment] = profile
    newest_event: dict[datetime, datetime | None] = {}
    newest_label: dict[datetime, datetime | None] = {}
    if cols.n:
        seconds = int(windows.BUCKET.total_seconds())
        bucket_of = cols.ts // (seconds * 1_000_000_000)
        for code in np.unique(bucket_of).tolist():
            mask = bucket_of == code
            sub = read.Columns(int(mask.sum()), ts=cols.ts[mask], label_ts=cols.label_ts[mask])
            key = datetime.fromtimestamp(code * seconds, UTC)
            newest_event[key] = sub.newest("ts")
            newest_label[key] = sub.newest("label_ts")
    for bucket, segments in result.profiles.items():
        if "" not in segments:
            segments[""] = empty_profile(ctx, bucket)
    result.buckets = len(result.profiles)
    result.rows_written = _store(
        ctx, result.profiles, newest_event, newest_label, read_at, run_id, start, end
    )
    return result


def _store(ctx, profiles: Profiles, newest_event, newest_label, read_at, run_id, start, end) -> int:
    reference_id = ctx.reference.pk if ctx.reference is not None else None
    rows = []
    for bucket, segments in profiles.items():
        for segment, profile in segments.items():
            rows.append(
                StoredProfile(
                    deployment_id=ctx.id,
                    bucket_start=bucket,
                    segment=segment,
                    profile=profile.to_dict(),
                    format_version=FORMAT_VERSION,
                    event_count=profile.count,
                    reference_id=reference_id,
                    spec_digest=ctx.digest,
                    newest_event_at=newest_event.get(bucket) if segment == "" else None,
                    newest_label_at=newest_label.get(bucket) if segment == "" else None,
                    computed_at=read_at,
                    run_id=run_id,
                )
            )
    # Segments that no longer occur in a re-rolled bucket go; the rest are upserted.
    new_keys = {(row.bucket_start, row.segment) for row in rows}
    gone = [
        pk
        for pk, bucket, segment in StoredProfile.objects.filter(
            deployment_id=ctx.id, bucket_start__gte=start, bucket_start__lt=end
        ).values_list("pk", "bucket_start", "segment")
        if (bucket, segment) not in new_keys
    ]
    if gone:
        StoredProfile.objects.filter(pk__in=gone).delete()
    store.upsert_profiles(rows)
    return len(rows)


def _contiguous(starts: list[datetime]) -> list[tuple[datetime, datetime]]:
    ranges: list[tuple[datetime, datetime]] = []
    for bucket in sorted(starts):
        if ranges and ranges[-1][1] == bucket:
            ranges[-1] = (ranges[-1][0], bucket + windows.BUCKET)
        else:
            ranges.append((bucket, bucket + windows.BUCKET))
    return ranges


def load_profiles(
    ctx: DeploymentContext, start: datetime, end: datetime, *, known: Profiles | None = None, run_id=None
) -> tuple[Profiles, int]:
    """Profiles of every bucket in ``[start, end)``: stored ones, plus ``known`` (just built),
    rolling up missing or stale buckets. Returns the profiles and how many buckets were rolled."""
    known = known or {}
    out: Profiles = {b: dict(segs) for b, segs in known.items() if start <= b < end}
    wanted = [b for b in windows.buckets(start, end) if b not in out]
    if not wanted:
        return out, 0
    fresh: set[datetime] = set()
    rows = StoredProfile.objects.filter(
        deployment_id=ctx.id, bucket_start__gte=start, bucket_start__lt=end, spec_digest=ctx.digest
    ).values_list("bucket_start", "segment", "profile")
    if connection.vendor == "sqlite":
        rows = rows.iterator(chunk_size=2000)
    stored: Profiles = {}
    for bucket, segment, data in rows:
        if bucket in out:
            continue
        stored.setdefault(bucket, {})[segment] = data
    for bucket, segments in stored.items():
        if "" not in segments:
            continue  # a bucket without its all-traffic row is incomplete: roll it again
        out[bucket] = {segment: WindowProfile.from_dict(data) for segment, data in segments.items()}
        fresh.add(bucket)
    missing = [b for b in wanted if b not in fresh]
    rolled = 0
    for lo, hi in _contiguous(missing):
        result = roll_up(ctx, lo, hi, run_id=run_id)
        out.update(result.profiles)
        rolled += result.buckets
    return out, rolled
