"""Replay quarantined records through the live pipeline, after the configuration is fixed.

A record that is stored (or turns out to be a duplicate) is marked replayed; one that fails
again keeps its place in the quarantine with its new errors. Replays go through exactly the
validation and storage of a live request (``metrics.ingest.pipeline``), grouped into batches
of the request limit. Reference rows are appended to the version's current reference.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from metrics.ingest import conf, pipeline, reference, stats
from metrics.ingest.parse import Parsed, _loads
from metrics.models import QuarantinedRecord


def _group_key(record: QuarantinedRecord) -> tuple:
    context = record.context or {}
    if record.kind == QuarantinedRecord.Kind.REFERENCE:
        return (record.system_id, record.kind, context.get("model"), context.get("model_version"))
    return (record.system_id, record.kind, None, None)


def replay(queryset: QuerySet, *, actor=None, now: datetime | None = None) -> Counter:
    """Replay the pending records of ``queryset``; returns counts by result."""
    now = now or timezone.now()
    results: Counter = Counter()
    pending = list(queryset.filter(replayed_at__isnull=True).select_related("system").order_by("id"))
    groups: dict[tuple, list[QuarantinedRecord]] = defaultdict(list)
    for record in pending:
        groups[_group_key(record)].append(record)
    size = conf.max_events()
    for (_, kind, model, version), records in groups.items():
        for start in range(0, len(records), size):
            chunk = records[start : start + size]
            results.update(_replay_chunk(kind, chunk, model, version, actor=actor, now=now))
    return results


def _replay_chunk(kind, chunk, model, version, *, actor, now) -> Counter:
    system = chunk[0].system
    parsed_records = []
    unreadable = {}
    for position, record in enumerate(chunk):
        try:
            parsed_records.append(_loads(record.raw))
        except (ValueError, UnicodeDecodeError) as exc:
            parsed_records.append(None)
            unreadable[position] = f"invalid JSON: {exc}"
    raw_lines = [record.raw.encode() for record in chunk]
    parsed = Parsed(records=parsed_records, raw_lines=raw_lines, unreadable=unreadable)
    if kind == QuarantinedRecord.Kind.EVENT:
        outcome = pipeline.ingest_events(
            system, parsed, actor=actor, now=now, keep_rejected=False, count=False
        )
    elif kind == QuarantinedRecord.Kind.LABEL:
        outcome = pipeline.ingest_labels(system, parsed, now=now, keep_rejected=False, count=False)
    else:
        parsed.document = {"model": model, "model_version": version, "append": True}
        outcome = reference.ingest_reference(
            system, parsed, actor=actor, now=now, keep_rejected=False, count=False
        )

    results: Counter = Counter()
    with transaction.atomic():
        for position in outcome.accepted:
            _mark(chunk[position], QuarantinedRecord.ReplayResult.ACCEPTED, now)
            results["accepted"] += 1
        for position in outcome.duplicates:
            _mark(chunk[position], QuarantinedRecord.ReplayResult.DUPLICATE, now)
            results["duplicates"] += 1
        for rejection in outcome.rejected:
            record = chunk[rejection.index]
            record.errors = rejection.errors
            record.reason = rejection.reason[:40]
            record.replay_attempts += 1
            record.last_replay_at = now
            record.replay_result = QuarantinedRecord.ReplayResult.REJECTED
            record.save(
                update_fields=["errors", "reason", "replay_attempts", "last_replay_at", "replay_result"]
            )
            results["rejected"] += 1
        if results["accepted"] or results["duplicates"]:
            stats.record(
                system_id=system.id,
                kind=kind,
                moment=now,
                requests=0,
                accepted=results["accepted"],
                duplicates=results["duplicates"],
            )
    return results


def _mark(record: QuarantinedRecord, result: str, now: datetime) -> None:
    record.replayed_at = now
    record.last_replay_at = now
    record.replay_attempts += 1
    record.replay_result = result
    record.save(update_fields=["replayed_at", "last_replay_at", "replay_attempts", "replay_result"])


def retry_early_labels(now: datetime | None = None, *, max_age: timedelta = timedelta(days=1)) -> Counter:
    """Labels that arrived before their event: retried automatically for a day, at most
    every 5 minutes each (beat), then left for a person to replay or discard."""
    now = now or timezone.now()
    queryset = QuarantinedRecord.objects.filter(
        kind=QuarantinedRecord.Kind.LABEL,
        reason="unknown_event",
        replayed_at__isnull=True,
        received_at__gte=now - max_age,
    ).filter(Q(last_replay_at__isnull=True) | Q(last_replay_at__lte=now - timedelta(minutes=5)))
    return replay(queryset, now=now)


def describe(result: Counter) -> str:
    return json.dumps({k: result.get(k, 0) for k in ("accepted", "duplicates", "rejected")})
