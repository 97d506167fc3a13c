"""Ingest a parsed batch: validate, register, store, quarantine, count — one transaction.

Used by the HTTP views and by the quarantine replay, so a replayed record goes through
exactly the rules a live one does. The response is DESIGN.md §10's
``{"accepted": N, "duplicates": N, "rejected": [{"index", "event_id", "errors"}]}``.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from metrics.ingest import conf, dirty, fastpath, partitions, stats, store
from metrics.ingest.context import ModelInfo, SystemContext, ensure_deployment, load_context
from metrics.ingest.parse import Parsed, parse_records, raw_text
from metrics.ingest.validate import Rejection, ValidEvents, validate_events, validate_labels


@dataclass
class Outcome:
    accepted: list[int] = field(default_factory=list)  # record indexes stored
    duplicates: list[int] = field(default_factory=list)  # record indexes that changed nothing
    rejected: list[Rejection] = field(default_factory=list)

    def response(self) -> dict:
        return {
            "accepted": len(self.accepted),
            "duplicates": len(self.duplicates),
            "rejected": [r.as_response() for r in self.rejected],
        }


def layout_id(info: ModelInfo) -> int:
    """The FeatureLayout row for the model's current features (created on first use).

    Looked up once per request and model (no process-wide cache: a cache could outlive a
    rolled-back or deleted row and point events at a layout that does not exist).
    """
    from metrics.models import FeatureLayout

    payload = {"numeric": info.numeric, "categorical": info.categorical, "cohorts": info.cohorts}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    found = FeatureLayout.objects.filter(model_id=info.id, digest=digest).values_list("id", flat=True).first()
    if found is None:
        try:
            with transaction.atomic():
                found = FeatureLayout.objects.create(model_id=info.id, digest=digest, **payload).id
        except IntegrityError:  # created concurrently
            found = FeatureLayout.objects.get(model_id=info.id, digest=digest).id
    return found


def quarantine(
    system_id: int,
    kind: str,
    parsed: Parsed,
    rejected: list[Rejection],
    received_at: datetime,
    context: dict | None = None,
) -> None:
    from metrics.models import QuarantinedRecord

    if not rejected:
        return
    QuarantinedRecord.objects.bulk_create(
        [
            QuarantinedRecord(
                kind=kind,
                system_id=system_id,
                index=r.index,
                event_id=_storable((r.event_id or "")[:128]),
                raw=_storable(raw_text(parsed, r.index)),
                context=_storable(context or {}),
                errors=_storable(r.errors),
                reason=r.reason[:40],
                received_at=received_at,
            )
            for r in rejected
        ],
        batch_size=1000,
    )


def _storable(value):
    """``value`` with every NUL character (in strings and keys) replaced by U+FFFD: a rejected
    record may carry NUL — in an unknown field's name, an unreadable NDJSON line — and
    PostgreSQL text and jsonb cannot store it."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(str(k)): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def ingest_events(
    system,
    parsed: Parsed,
    *,
    actor=None,
    body_bytes: int = 0,
    now: datetime | None = None,
    keep_rejected: bool = True,
    count: bool = True,
    ctx: SystemContext | None = None,
) -> Outcome:
    """Validate and store a batch of events of ``system`` (the token's system)."""
    now = now or timezone.now()
    ctx = ctx or load_context(system)
    valid = validate_events(
        parsed.records,
        ctx,
        now=now,
        retention_cutoff=partitions.retention_cutoff(now),
        max_future=timedelta(seconds=conf.future_tolerance_seconds()),
        unreadable=parsed.unreadable,
    )
    return _store_events(
        system,
        ctx,
        valid,
        parsed,
        actor=actor,
        body_bytes=body_bytes,
        now=now,
        keep_rejected=keep_rejected,
        count=count,
    )


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while a batch is processed.

    A batch allocates tens of thousands of short-lived containers that form no cycles; the
    collector's repeated passes over them cost 10-50% of the CPU of a request (measured).
    Reference counting still frees everything; the collector runs again afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def ingest_event_body(system, body: bytes, *, ndjson: bool, actor=None, body_bytes: int = 0) -> Outcome:
    """A request body of events: the msgspec fast path when every record is valid, else the
    reference path (``parse`` + ``validate_events``) that reports each record's errors."""
    with gc_paused():
        return _ingest_event_body(system, body, ndjson=ndjson, actor=actor, body_bytes=body_bytes)


def _ingest_event_body(system, body: bytes, *, ndjson: bool, actor, body_bytes: int) -> Outcome:
    now = timezone.now()
    ctx = load_context(system)
    valid = fastpath.validate_body(
        body,
        ctx,
        ndjson=ndjson,
        limit=conf.max_events(),
        now=now,
        retention_cutoff=partitions.retention_cutoff(now),
        max_future=timedelta(seconds=conf.future_tolerance_seconds()),
    )
    if valid is None:
        parsed = parse_records(body, ndjson=ndjson, key="events", limit=conf.max_events())
        return ingest_events(system, parsed, actor=actor, body_bytes=body_bytes, now=now, ctx=ctx)
    return _store_events(system, ctx, valid, None, actor=actor, body_bytes=body_bytes, now=now)


def _store_events(
    system,
    ctx: SystemContext,
    valid: ValidEvents,
    parsed: Parsed | None,
    *,
    actor,
    body_bytes: int,
    now: datetime,
    keep_rejected: bool = True,
    count: bool = True,
) -> Outcome:
    # Unknown versions / environments of known models: registered (audited) before storing.
    for model, version, environment in sorted(valid.pending_routes):
        ensure_deployment(ctx, model, version, environment, actor=actor)
    used = {route[0] for route in valid.routes}
    layouts = {slug: layout_id(ctx.models[slug]) for slug in used}
    deployment_ids = [ctx.routes[route] for route in valid.routes]
    layout_ids = [layouts[route[0]] for route in valid.routes]
    partitions.ensure_days(valid.min_ts, valid.max_ts)

    for attempt in (1, 2):
        try:
            with transaction.atomic():
                stored = store.insert_events(
                    system_id=system.id,
                    rows=valid.rows,
                    deployment_ids=deployment_ids,
                    layout_ids=layout_ids,
                    received_at=now,
                )
                if keep_rejected and valid.rejected:
                    quarantine(system.id, "event", parsed, valid.rejected, now)
                dirty.mark(dirty.late_windows(valid.rows, stored, deployment_ids, now), "late_event", now=now)
                if count:
                    stats.record(
                        system_id=system.id,
                        kind="event",
                        moment=now,
                        accepted=len(stored),
                        duplicates=len(valid.rows) - len(stored),
                        rejected_reasons=Counter(r.reason for r in valid.rejected),
                        bytes_received=body_bytes,
                    )
            break
        except (DatabaseError, psycopg.errors.CheckViolation) as exc:
            # A partition dropped or never seen by this process: refresh and retry once. The
            # COPY runs on a raw psycopg cursor, so its error is psycopg's, not Django's.
            if attempt == 2 or "no partition" not in str(exc):
                raise
            partitions.forget_known_days()
            partitions.ensure_days(valid.min_ts, valid.max_ts)

    stored_set = set(stored)
    outcome = Outcome(rejected=valid.rejected)
    for position, index in enumerate(valid.indexes):
        (outcome.accepted if position in stored_set else outcome.duplicates).append(index)
    return outcome


def ingest_labels(
    system,
    parsed: Parsed,
    *,
    body_bytes: int = 0,
    now: datetime | None = None,
    keep_rejected: bool = True,
    count: bool = True,
) -> Outcome:
    """Join labels to the system's events by event_id; unknown events are rejected."""
    now = now or timezone.now()
    valid = validate_labels(parsed.records, now=now, unreadable=parsed.unreadable)
    outcome = Outcome(rejected=list(valid.rejected))
    with transaction.atomic():
        found = store.lookup_events(system.id, list(valid.labels))
        updates = []
        late = []
        closed = dirty.closed_before(now)
        for event_id, (label, label_ts, index) in valid.labels.items():
            event = found.get(event_id)
            if event is None:
                outcome.rejected.append(
                    Rejection(
                        index,
                        event_id,
                        {
                            "event_id": [
                                f"unknown event: no event with this event_id in system {system.slug!r}"
                            ]
                        },
                        "unknown_event",
                    )
                )
                continue
            pk, ts, deployment_id, current = event
            if current is not None and current == label:
                outcome.duplicates.append(index)
                continue
            updates.append((pk, ts, label, label_ts.astimezone(UTC)))
            if ts < closed:  # the event's bucket may already be rolled up
                late.append((deployment_id, dirty.bucket_start(ts)))
            outcome.accepted.append(index)
        outcome.duplicates.extend(valid.superseded)  # earlier labels of a repeated event_id
        store.update_labels(updates)
        dirty.mark(late, "late_label", now=now)
        outcome.rejected.sort(key=lambda r: r.index)
        if keep_rejected:
            quarantine(system.id, "label", parsed, outcome.rejected, now)
        if count:
            stats.record(
                system_id=system.id,
                kind="label",
                moment=now,
                accepted=len(outcome.accepted),
                duplicates=len(outcome.duplicates),
                rejected_reasons=Counter(r.reason for r in outcome.rejected),
                bytes_received=body_bytes,
            )
    return outcome
