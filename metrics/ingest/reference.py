"""Reference (baseline) data per model version: upload, replace (audited), append, and the
statistics computed once per reference for the computation engine (DESIGN.md §3.1):

* numeric bin edges: ``unique(numpy.quantile(non-null values, [0.1 … 0.9]))`` per feature,
  and the same for ``score`` and ``prediction`` (prediction drift);
* categorical category lists (sorted distinct non-null values) per feature;
* null counts per feature.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from catalog.models import Deployment, ModelVersion
from healthboard.audit import record_change
from healthboard.models import AuditRecord
from metrics.ingest import stats, store
from metrics.ingest.context import check_version, ensure_version, load_context
from metrics.ingest.parse import Parsed
from metrics.ingest.pipeline import Outcome, quarantine
from metrics.ingest.validate import Rejection, _Errors, validate_events
from metrics.models import ReferenceDataset

DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def decile_edges(values: np.ndarray) -> list[float]:
    values = values[~np.isnan(values)]
    if values.size == 0:
        return []
    return [float(v) for v in np.unique(np.quantile(values, DECILES))]


def _decode(value):
    if value is None or isinstance(value, list):
        return value or []
    return json.loads(value)


def compute_statistics(reference: ReferenceDataset) -> None:
    """Fill edges, category lists and null counts from the stored rows (and save)."""
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT "numeric", categorical, score, prediction FROM metrics_referencerow WHERE reference_id = %s',
            [reference.pk],
        )
        rows = cursor.fetchall()
    numeric_names = reference.numeric_features
    categorical_names = reference.categorical_features
    n = len(rows)
    edges: dict[str, list[float]] = {}
    nulls: dict[str, int] = {}
    if numeric_names:
        matrix = (
            np.array([_decode(r[0]) for r in rows], dtype=np.float64).reshape(n, len(numeric_names))
            if n
            else np.empty((0, len(numeric_names)))
        )
        for j, name in enumerate(numeric_names):
            column = matrix[:, j]
            edges[name] = decile_edges(column)
            nulls[name] = int(np.isnan(column).sum())
    categories: dict[str, list[str]] = {}
    if categorical_names:
        decoded = [_decode(r[1]) for r in rows]
        for j, name in enumerate(categorical_names):
            values = [v[j] for v in decoded if j < len(v)]
            categories[name] = sorted({v for v in values if v is not None})
            nulls[name] = n - sum(1 for v in values if v is not None)
    output_edges = {}
    for key, column in (("score", 2), ("prediction", 3)):
        values = np.array([r[column] for r in rows], dtype=np.float64) if n else np.empty(0)
        output_edges[key] = decile_edges(values)
    reference.numeric_edges = edges
    reference.categories = categories
    reference.null_counts = nulls
    reference.output_edges = output_edges
    reference.row_count = n
    reference.stats_computed_at = timezone.now()
    reference.updated_at = reference.stats_computed_at
    reference.save()


def _summary(reference: ReferenceDataset) -> dict:
    return {
        "reference": reference.pk,
        "model_version": reference.model_version_id,
        "rows": reference.row_count,
        "source": reference.source,
    }


def _start_reference(model_version_id: int, layout: tuple, *, append: bool, actor, source, **extra):
    """The reference to add rows to: the current one when appending, else a new current one.

    Runs inside the caller's transaction; the current reference row is locked so concurrent
    chunks of the same upload serialise.
    """
    current = (
        ReferenceDataset.objects.select_for_update()
        .filter(model_version_id=model_version_id, is_current=True)
        .first()
    )
    numeric, categorical, cohorts = layout
    if append and current is not None:
        if (current.numeric_features, current.categorical_features, current.cohort_attributes) != (
            numeric,
            categorical,
            cohorts,
        ):
            return current, (
                "the model's features changed since this reference was started; "
                "send the whole reference again, the first request without append"
            )
        return current, None
    before = _summary(current) if current is not None else None
    if current is not None:
        current.is_current = False
        current.replaced_at = timezone.now()
        current.save(update_fields=["is_current", "replaced_at"])
    created = ReferenceDataset.objects.create(
        model_version_id=model_version_id,
        is_current=True,
        numeric_features=numeric,
        categorical_features=categorical,
        cohort_attributes=cohorts,
        created_by=getattr(actor, "username", "") or str(actor or ""),
        source=source,
        **extra,
    )
    record_change(
        action="reference.replace" if current is not None else "reference.create",
        obj=created,
        before=before,
        after=_summary(created),
        reason="reference data uploaded"
        if source == ReferenceDataset.Source.UPLOAD
        else "reference from traffic",
        source=AuditRecord.Source.SYSTEM
        if source == ReferenceDataset.Source.UPLOAD
        else AuditRecord.Source.API,
        actor=actor,
    )
    return created, None


def ingest_reference(
    system,
    parsed: Parsed,
    *,
    actor=None,
    body_bytes: int = 0,
    now: datetime | None = None,
    keep_rejected: bool = True,
    count: bool = True,
) -> Outcome:
    """``{"model", "model_version", "events": [...], "append": false}`` for the token's system."""
    now = now or timezone.now()
    doc = parsed.document
    model_slug = doc.get("model")
    version = doc.get("model_version")
    append = doc.get("append", False)
    context = {"model": model_slug, "model_version": version, "append": append}
    ctx = load_context(system)

    request_errors = _Errors()
    info = ctx.models.get(model_slug) if isinstance(model_slug, str) else None
    if model_slug is None:
        request_errors.add("model", "required", "is required")
    elif info is None:
        request_errors.add(
            "model",
            "unknown_model",
            f"unknown model {str(model_slug)[:64]!r} in system {system.slug!r} "
            f"(declared: {', '.join(sorted(ctx.models)) or 'none'})",
        )
    if version is None:
        request_errors.add("model_version", "required", "is required")
    elif (message := check_version(version)) is not None:
        request_errors.add("model_version", "invalid", message)
    if not isinstance(append, bool):
        request_errors.add("append", "type", "must be a boolean")

    outcome = Outcome()
    if request_errors.errors:
        # Every row carries the request's errors: nothing is stored, everything is kept.
        outcome.rejected = [
            Rejection(i, None, request_errors.errors, request_errors.reason)
            for i in range(len(parsed.records))
        ]
        valid = None
    else:
        valid = validate_events(
            parsed.records,
            ctx,
            now=now,
            retention_cutoff=None,
            max_future=None,
            unreadable=parsed.unreadable,
            reference=info,
            reference_version=version,
        )
        outcome.rejected = valid.rejected

    with transaction.atomic():
        if valid is not None:
            version_id = ensure_version(ctx, model_slug, version, actor=actor)
            layout = (list(info.numeric), list(info.categorical), list(info.cohorts))
            reference, problem = _start_reference(
                version_id, layout, append=append, actor=actor, source=ReferenceDataset.Source.UPLOAD
            )
            if problem:
                outcome.rejected = sorted(
                    [
                        *valid.rejected,
                        *(Rejection(i, None, {"append": [problem]}, "layout_changed") for i in valid.indexes),
                    ],
                    key=lambda r: r.index,
                )
            else:
                store.insert_reference_rows(reference.pk, valid.rows)
                reference.chunks += 1
                compute_statistics(reference)
                outcome.accepted = list(valid.indexes)
        if keep_rejected:
            quarantine(system.id, "reference", parsed, outcome.rejected, now, context=context)
        if count:
            stats.record(
                system_id=system.id,
                kind="reference",
                moment=now,
                accepted=len(outcome.accepted),
                rejected_reasons=Counter(r.reason for r in outcome.rejected),
                bytes_received=body_bytes,
            )
    return outcome


def reference_from_window(
    deployment: Deployment, start: datetime, end: datetime, *, actor
) -> ReferenceDataset:
    """Replace the version's reference with the deployment's own events in ``[start, end)``."""
    from metrics.ingest.read import current_layout, load_window

    data = load_window(deployment.pk, start, end)
    if len(data) == 0:
        raise ValueError(
            f"deployment {deployment.pk} has no events in [{start.isoformat()}, {end.isoformat()})"
        )
    version: ModelVersion = deployment.model_version
    numeric, categorical, cohorts = current_layout(version.model_id)
    n = len(data)

    def column(values: np.ndarray, i: int):
        value = values[i]
        return None if value != value else float(value)  # NaN -> None

    rows = []
    for i in range(n):
        rows.append(
            (
                data.ts[i].item().replace(tzinfo=UTC),
                column(data.latency_ms, i),
                column(data.prediction, i),
                column(data.score, i),
                column(data.label, i),
                bool(data.error[i]),
                data.event_id[i],
                [column(data.numeric[name], i) for name in numeric],
                [data.categorical[name][i] for name in categorical],
                [data.cohort[name][i] for name in cohorts],
            )
        )
    with transaction.atomic():
        reference, _ = _start_reference(
            version.pk,
            (numeric, categorical, cohorts),
            append=False,
            actor=actor,
            source=ReferenceDataset.Source.DEPLOYMENT,
            source_deployment=deployment,
            window_start=start,
            window_end=end,
        )
        store.insert_reference_rows(reference.pk, rows)
        reference.chunks = 1
        compute_statistics(reference)
    return reference
