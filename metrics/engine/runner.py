"""The computation engine's units of work — the same code for Celery workers, ``manage.py
compute_metrics`` and ``backfill_metric``.

A *unit* rolls up a set of 5-minute buckets of one deployment (one read per contiguous range)
and computes a list of windows, in one database transaction: profiles, metric values, the
runs' ``succeeded`` status, consumed dirty marks and the watermark commit together or not at
all (the runs themselves are committed ``running`` first, so a killed worker leaves a trace
the reaper finds). After the commit, :func:`metrics.engine.hooks.after_window` runs once per
distinct window end.

* :func:`compute_range` — every window ending in ``(start, end]`` (the forward pass of beat and
  ``compute_metrics``), in chunks that end on hour boundaries, so an hour's raw values come
  from the chunk's own read.
* :func:`recompute_dirty` — the dirty buckets behind the watermark (late events, late labels):
  re-roll them and recompute the windows that contain them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from metrics.engine import compute, conf, hooks, read, rollup, runs, windows
from metrics.engine.context import DeploymentContext, load
from metrics.engine.windows import Window
from metrics.models import ComputeWatermark, DirtyWindow
from metrics.models import WindowProfile as StoredProfile

log = logging.getLogger(__name__)

__all__ = ["Summary", "compute_range", "recompute_dirty"]

HOUR = timedelta(hours=1)


@dataclass
class Summary:
    windows: int = 0
    values: int = 0
    buckets: int = 0
    events: int = 0
    dirty_recomputed: int = 0
    dirty_dropped: int = 0
    run_ids: list[int] = field(default_factory=list)
    hook_errors: list[str] = field(default_factory=list)

    def add(self, other: Summary) -> None:
        self.windows += other.windows
        self.values += other.values
        self.buckets += other.buckets
        self.events += other.events
        self.dirty_recomputed += other.dirty_recomputed
        self.dirty_dropped += other.dirty_dropped
        self.run_ids += other.run_ids
        self.hook_errors += other.hook_errors


Progress = Callable[[int, int, Summary], None]


def _by_size(plans: Sequence[compute.MetricPlan]) -> dict[str, list[compute.MetricPlan]]:
    out: dict[str, list[compute.MetricPlan]] = {}
    for p in plans:
        out.setdefault(p.size, []).append(p)
    return out


def run_unit(
    ctx: DeploymentContext,
    plans: Sequence[compute.MetricPlan],
    roll: Sequence[tuple[datetime, datetime]],
    wins: Sequence[Window],
    *,
    task_id: str = "",
    kind: str = runs.WINDOW,
    watermark: tuple[datetime, datetime] | None = None,
    in_transaction: Callable[[], None] | None = None,
    call_hooks: bool = True,
) -> Summary:
    """Roll up ``roll`` ranges and compute ``wins``, atomically; then the hooks."""
    summary = Summary()
    plans_for = _by_size(plans)
    first = _first_event(ctx, roll, earliest=min((w.start for w in wins), default=None))
    # Windows before a deployment's first event are not computed (an idle deployment writes
    # nothing); from its first event on, every window is, so silence shows as freshness.
    wins = sorted(w for w in set(wins) if plans_for.get(w.size) and first is not None and w.end > first)
    if first is None:
        roll = []  # never had an event: nothing to roll up either
    started = runs.start(
        ctx.id,
        wins,
        task_id=task_id,
        kind=kind,
        reference_id=ctx.reference.pk if ctx.reference is not None else None,
    )
    try:
        with transaction.atomic():
            if in_transaction is not None:
                in_transaction()
            known: rollup.Profiles = {}
            ranges = []
            first_run = next(iter(started.values())).pk if started else None
            for lo, hi in roll:
                rolled = rollup.roll_up(ctx, lo, hi, run_id=first_run)
                known.update(rolled.profiles)
                ranges.append((lo, hi, rolled.columns))
                summary.buckets += rolled.buckets
                summary.events += rolled.events
            for w in wins:
                profiles, rerolled = rollup.load_profiles(
                    ctx, w.start, w.end, known=known, run_id=started[w].pk
                )
                summary.buckets += rerolled
                raw = next((cols for lo, hi, cols in ranges if lo <= w.start and w.end <= hi), None)
                result = compute.compute_window(
                    ctx, w, plans_for[w.size], profiles, raw=raw, run_id=started[w].pk
                )
                summary.values += compute.upsert(result.values)
                runs.finish(
                    started[w],
                    catalog_versions=result.catalog_versions,
                    input_rows={**result.input_rows, "rerolled_buckets": rerolled},
                    errors=result.errors,
                )
                summary.windows += 1
            if watermark is not None:
                _advance(ctx.id, *watermark, started)
    except BaseException as exc:
        runs.fail(list(started.values()), exc)
        raise
    summary.run_ids = [r.pk for r in started.values()]
    if call_hooks:
        # One hook call per run of consecutive window ends: (first end - 5m, last end] covers
        # exactly the windows computed here (a forward chunk is one call, not twelve).
        for lo, hi in _end_runs(sorted({w.end for w in wins})):
            report = hooks.after_window(ctx.id, lo - windows.BUCKET, hi)
            if report.errors:
                summary.hook_errors += report.errors
                runs.note([started[w].pk for w in wins if lo <= w.end <= hi], "\n".join(report.errors))
    return summary


def _end_runs(ends: Sequence[datetime]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for end in ends:
        if out and end - out[-1][1] == windows.BUCKET:
            out[-1] = (out[-1][0], end)
        else:
            out.append((end, end))
    return out


def _first_event(
    ctx: DeploymentContext, roll: Sequence[tuple[datetime, datetime]], *, earliest: datetime | None = None
) -> datetime | None:
    """Start of the deployment's first bucket with events: stored, in the ranges to roll, or —
    for a deployment never computed before that fell silent before those ranges — between
    ``earliest`` (the start of the longest window to compute) and the first range, so that its
    silence shows as growing freshness instead of no values at all."""
    first = StoredProfile.objects.filter(deployment_id=ctx.id, segment="", event_count__gt=0).aggregate(
        m=Min("bucket_start")
    )["m"]
    for lo, hi in roll:
        if first is not None and first <= lo:
            break
        newest = read.first_event_ts(ctx.id, lo, hi)
        if newest is not None:
            bucket = windows.floor(newest)
            first = bucket if first is None else min(first, bucket)
            break
    rolled_from = min((lo for lo, _ in roll), default=None)
    if first is None and rolled_from is not None and earliest is not None and earliest < rolled_from:
        earlier = read.first_event_ts(ctx.id, earliest, rolled_from)  # bounded: one window's span
        if earlier is not None:
            first = windows.floor(earlier)
    return first


def _advance(deployment_id: int, lo: datetime, hi: datetime, started) -> None:
    """Move the watermark to ``hi`` when it is absent or within ``[lo, hi)`` (never backwards,
    never over a gap)."""
    last_run = next(reversed(list(started.values())), None) if started else None
    now = timezone.now()
    updated = ComputeWatermark.objects.filter(
        deployment_id=deployment_id, computed_through__gte=lo, computed_through__lt=hi
    ).update(computed_through=hi, last_run=last_run, updated_at=now)
    if not updated and not ComputeWatermark.objects.filter(deployment_id=deployment_id).exists():
        ComputeWatermark.objects.create(
            deployment_id=deployment_id, computed_through=hi, last_run=last_run, updated_at=now
        )


def chunks(start: datetime, end: datetime, max_buckets: int = 12) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` cut at hour boundaries (and at most ``max_buckets`` buckets each)."""
    out = []
    lo = start
    while lo < end:
        hi = min(end, windows.floor(lo, HOUR) + HOUR, lo + max_buckets * windows.BUCKET)
        out.append((lo, hi))
        lo = hi
    return out


def sizes_of(plans: Iterable[compute.MetricPlan]) -> set[str]:
    return {p.size for p in plans}


def compute_range(
    deployment_id: int,
    start: datetime,
    end: datetime,
    *,
    task_id: str = "",
    advance_watermark: bool = True,
    progress: Progress | None = None,
    plans: Sequence[compute.MetricPlan] | None = None,
    kind: str = runs.WINDOW,
    call_hooks: bool = True,
) -> Summary:
    """Roll up every bucket in ``[start, end)`` and compute every window ending in ``(start, end]``.

    ``start`` / ``end`` are rounded to 5 minutes (start down, end down). With
    ``advance_watermark`` the deployment's watermark follows each committed chunk when it was
    absent or inside the chunk.
    """
    start, end = windows.floor(start), windows.floor(end)
    ctx = load(deployment_id)
    plans = list(plans) if plans is not None else compute.plan(ctx)
    sizes = sizes_of(plans)
    summary = Summary()
    parts = chunks(start, end)
    for i, (lo, hi) in enumerate(parts):
        wins = windows.ending_in(lo, hi, sizes)
        part = run_unit(
            ctx,
            plans,
            [(lo, hi)],
            wins,
            task_id=task_id,
            kind=kind,
            watermark=(lo, hi) if advance_watermark else None,
            call_hooks=call_hooks,
        )
        summary.add(part)
        if progress is not None:
            progress(i + 1, len(parts), summary)
    return summary


# --- dirty windows ---------------------------------------------------------------------------


def _contiguous(starts: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    ranges: list[tuple[datetime, datetime]] = []
    for bucket in sorted(set(starts)):
        if ranges and ranges[-1][1] == bucket:
            ranges[-1] = (ranges[-1][0], bucket + windows.BUCKET)
        else:
            ranges.append((bucket, bucket + windows.BUCKET))
    return ranges


def recompute_dirty(deployment_id: int, *, task_id: str = "", limit: int | None = None) -> Summary:
    """Re-roll the deployment's dirty buckets that the forward pass already computed and
    recompute every window containing them (up to the watermark); drop marks that a later
    roll-up already covered. Marks beyond the watermark stay for the forward pass to pass."""
    limit = limit or conf.dirty_batch()
    summary = Summary()
    watermark = ComputeWatermark.objects.filter(deployment_id=deployment_id).first()
    if watermark is None:
        return summary
    through = watermark.computed_through
    marks = list(
        DirtyWindow.objects.filter(
            deployment_id=deployment_id, window_start__lte=through - windows.BUCKET
        ).order_by("window_start")[:limit]
    )
    if not marks:
        return summary
    rolled_at = dict(
        StoredProfile.objects.filter(
            deployment_id=deployment_id, segment="", bucket_start__in=[m.window_start for m in marks]
        ).values_list("bucket_start", "computed_at")
    )
    margin = conf.dirty_margin()
    covered = [
        m for m in marks if m.window_start in rolled_at and rolled_at[m.window_start] >= m.marked_at + margin
    ]
    todo = [m for m in marks if m not in covered]
    if covered:
        with transaction.atomic():
            for m in covered:
                DirtyWindow.objects.filter(
                    deployment_id=deployment_id, window_start=m.window_start, marked_at=m.marked_at
                ).delete()
        summary.dirty_dropped = len(covered)
    if not todo:
        return summary
    ctx = load(deployment_id)
    plans = compute.plan(ctx)
    sizes = sizes_of(plans)
    wins = set()
    for m in todo:
        for w in windows.containing(m.window_start, sizes):
            if w.end <= through:  # later windows are the forward pass's
                wins.add(w)
    buckets = [m.window_start for m in todo]

    def claim() -> None:
        # Take the marks we recompute before the raw events are read: a mark made while we run
        # waits for our commit (we hold the row) and is then inserted again, so none is lost.
        qs = DirtyWindow.objects.filter(deployment_id=deployment_id, window_start__in=buckets)
        if connection.vendor == "postgresql":
            list(qs.select_for_update().values_list("window_start", flat=True))
        qs.delete()

    part = run_unit(ctx, plans, _contiguous(buckets), sorted(wins), task_id=task_id, in_transaction=claim)
    part.dirty_recomputed = len(todo)
    summary.add(part)
    return summary
