"""Recompute a metric's history under one catalog version (usually a new current one).

The values are stored under *that* version — beside the series of the older versions, which
stay untouched (``MetricValue`` is keyed by metric version). Windows come from the stored
5-minute profiles (re-rolled from raw events where missing or built with another spec), so a
backfill reaches as far back as profiles or raw events exist.

:func:`request` records the backfill as a ``ComputationRun`` of kind ``backfill`` (the umbrella
run: which metric and version, which range, progress, status) with an audit record, in one
transaction; :func:`run` does the work (``manage.py backfill_metric`` calls it directly, the
``backfill_metric`` task on a worker). Each window gets its own ``backfill_window`` run. The
alert and trust hooks are not called: a recomputed history must not fire today's alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from catalog.models import Deployment, MetricVersion
from healthboard.audit import record_change
from metrics.engine import compute, runner, runs, windows
from metrics.engine.context import load
from metrics.models import ComputationRun, ComputeWatermark
from metrics.models import WindowProfile as StoredProfile

log = logging.getLogger(__name__)

__all__ = ["recent", "request", "run"]

Status = ComputationRun.Status
CHUNK = 24  # windows per unit (transaction)


def resolve_version(key: str, number: int | None = None) -> MetricVersion:
    qs = MetricVersion.objects.select_related("definition").filter(definition__key=key)
    version = qs.filter(number=number).first() if number is not None else qs.filter(is_current=True).first()
    if version is None:
        what = f"version {number}" if number is not None else "a current version"
        raise MetricVersion.DoesNotExist(f"metric {key!r} has no {what}")
    return version


def request(
    key: str,
    *,
    version: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    deployment_ids: Sequence[int] | None = None,
    actor=None,
    source: str = "system",
    reason: str = "",
) -> ComputationRun:
    """Record a backfill (umbrella run + audit record); ``run(run.pk)`` does it."""
    metric = resolve_version(key, version)
    if start is not None and end is not None and start >= end:
        raise ValueError("start must be before end")
    ids = sorted(set(deployment_ids or []))
    if ids:
        found = set(Deployment.objects.filter(pk__in=ids).values_list("pk", flat=True))
        if found != set(ids):
            raise Deployment.DoesNotExist(f"no deployment {', '.join(map(str, sorted(set(ids) - found)))}")
    with transaction.atomic():
        umbrella = ComputationRun.objects.create(
            kind=runs.BACKFILL,
            status=Status.PENDING,
            code_version=runs.code_version(),
            catalog_versions={key: metric.number},
            window_start=start,
            window_end=end,
            input_rows={"metric": key, "version": metric.number, "version_id": metric.pk, "deployments": ids},
        )
        record_change(
            action="metric.backfill",
            obj=metric,
            after={
                "metric": key,
                "version": metric.number,
                "start": start.isoformat() if start else None,
                "end": end.isoformat() if end else None,
                "deployments": ids or "all",
                "run": umbrella.pk,
            },
            reason=reason or f"recompute history of {key} under version {metric.number}",
            source=source,
            actor=actor,
        )
    return umbrella


def recent(key: str, limit: int = 5) -> list[ComputationRun]:
    """The latest backfill (umbrella) runs of metric ``key``, newest first (the catalog page)."""
    return list(
        ComputationRun.objects.filter(kind=runs.BACKFILL, input_rows__metric=key).order_by("-pk")[:limit]
    )


def _deployments(ids: Sequence[int]) -> list[int]:
    if ids:
        return list(ids)
    return sorted(set(StoredProfile.objects.values_list("deployment_id", flat=True).distinct()))


def _bounds(deployment_id: int, size: str, start: datetime | None, end: datetime | None):
    span = windows.SIZES[size]
    if start is None or end is None:
        agg = StoredProfile.objects.filter(deployment_id=deployment_id, segment="").aggregate(
            lo=Min("bucket_start"), hi=Max("bucket_start")
        )
        if agg["lo"] is None:
            return None
        start = start or agg["lo"]
        if end is None:
            # All stored history: through the last rolled bucket — ``compute_metrics`` may have
            # computed a range ahead of the watermark, which then stays behind it.
            end = agg["hi"] + windows.BUCKET
            watermark = ComputeWatermark.objects.filter(deployment_id=deployment_id).first()
            if watermark is not None:
                end = max(end, watermark.computed_through)
    end = min(end, windows.closed_until(timezone.now()))
    lo = windows.floor(start, span)
    hi = windows.floor(end, span)
    return (lo, hi) if hi > lo else None


def run(
    run_id: int, *, task_id: str = "", progress: Callable[[int, int, runner.Summary], None] | None = None
) -> runner.Summary:
    umbrella = ComputationRun.objects.get(pk=run_id, kind=runs.BACKFILL)
    info = umbrella.input_rows or {}
    metric = MetricVersion.objects.select_related("definition").get(pk=info["version_id"])
    ComputationRun.objects.filter(pk=run_id).update(
        status=Status.RUNNING, task_id=(task_id or "")[:64], started_at=timezone.now(), error=""
    )
    summary = runner.Summary()
    try:
        plan_list = []
        for deployment_id in _deployments(info.get("deployments") or []):
            bounds = _bounds(deployment_id, metric.window, umbrella.window_start, umbrella.window_end)
            if bounds is None:
                continue
            wins = [
                w for w in windows.ending_in(bounds[0], bounds[1], [metric.window]) if w.start >= bounds[0]
            ]
            plan_list.append((deployment_id, wins))
        total = sum(len(w) for _, w in plan_list)
        done = 0
        for deployment_id, wins in plan_list:
            ctx = load(deployment_id)
            plans = compute.plan(ctx, [metric])
            for i in range(0, len(wins), CHUNK):
                part = wins[i : i + CHUNK]
                summary.add(
                    runner.run_unit(
                        ctx, plans, [], part, task_id=task_id, kind=runs.BACKFILL_WINDOW, call_hooks=False
                    )
                )
                done += len(part)
                if progress is not None:
                    progress(done, total, summary)
        ComputationRun.objects.filter(pk=run_id).update(
            status=Status.SUCCEEDED,
            finished_at=timezone.now(),
            input_rows={
                **info,
                "windows": summary.windows,
                "values": summary.values,
                "buckets_rolled": summary.buckets,
            },
        )
    except BaseException as exc:
        runs.fail([umbrella], exc)
        raise
    return summary
