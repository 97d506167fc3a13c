"""The fast path for event batches in which every record is valid (the common case).

msgspec decodes the body straight into typed structs, checking JSON types in C; what is left
for Python per event is what depends on the system's catalog (route, declared features and
cohorts, timestamp bounds). Anything unusual — a decode error, a type msgspec refuses, NaN,
an unknown feature, a value the slow path would convert (an integer category, a boolean
prediction) — makes :func:`validate_body` return ``None`` and the caller takes the reference
path (``parse`` + ``validate.validate_events``), which produces every per-record error. So the
fast path can only accept what the reference path accepts, and stores the same rows:
``tests/test_ingest_fastpath.py`` compares both on the same batches.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from metrics.ingest.context import SystemContext
from metrics.ingest.limits import PayloadTooLarge
from metrics.ingest.validate import (
    MAX_EVENT_ID,
    MAX_LATENCY_MS,
    MAX_TEXT,
    PENDING,
    ValidEvents,
    _prepare,
    _route_state,
)

Feature = float | str | None


class Event(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    event_id: str
    model: str
    model_version: str
    environment: str
    timestamp: datetime
    latency_ms: float | None = None
    error: bool | None = None
    features: dict[str, Feature] | None = None
    prediction: float | None = None
    score: float | None = None
    label: float | None = None
    cohort: dict[str, str | None] | None = None


class Batch(msgspec.Struct, gc=False):
    events: list[Event]


_batch_decoder = msgspec.json.Decoder(Batch)
_event_decoder = msgspec.json.Decoder(Event)
_FLOATS = frozenset({float, type(None)})
_STRS = frozenset({str, type(None)})


def decode(body: bytes, *, ndjson: bool, limit: int) -> list[Event] | None:
    try:
        if ndjson:
            lines = [line for line in body.split(b"\n") if line.strip()]
            if len(lines) > limit:
                raise PayloadTooLarge(
                    f"{len(lines)} events in one request; the limit is {limit}. Split them into several requests.",
                    {"events": [f"more than {limit} records"]},
                )
            decode_event = _event_decoder.decode
            return [decode_event(line) for line in lines] if lines else None
        events = _batch_decoder.decode(body).events
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if len(events) > limit:
        raise PayloadTooLarge(
            f"{len(events)} events in one request; the limit is {limit}. Split them into several requests.",
            {"events": [f"more than {limit} records"]},
        )
    return events


def validate_body(
    body: bytes,
    ctx: SystemContext,
    *,
    ndjson: bool,
    limit: int,
    now: datetime,
    retention_cutoff: datetime,
    max_future: timedelta,
) -> ValidEvents | None:
    """Rows for a batch whose every record is valid, or None (take the reference path)."""
    events = decode(body, ndjson=ndjson, limit=limit)
    if events is None:
        return None
    for info in ctx.models.values():
        _prepare(info)
    out = ValidEvents()
    rows = out.rows
    routes = out.routes
    route_state: dict[tuple, object] = {}
    latest = now + max_future
    models_get = ctx.models.get
    min_ts = max_ts = None
    for ev in events:
        event_id = ev.event_id
        if not 0 < len(event_id) <= MAX_EVENT_ID:
            return None
        info = models_get(ev.model)
        if info is None:
            return None
        route = (ev.model, ev.model_version, ev.environment)
        state = route_state.get(route)
        if state is None:
            state = route_state[route] = _route_state(ctx, info, *route)
            if state is PENDING:
                out.pending_routes.add(route)
            elif type(state) is not int:
                return None
        ts = ev.timestamp
        if ts.tzinfo is None or ts > latest or ts < retention_cutoff:
            return None
        latency = ev.latency_ms
        if latency is not None and not 0.0 <= latency <= MAX_LATENCY_MS:
            return None  # also NaN
        score = ev.score
        if score is not None and (score - score != 0.0 or (info.binary and not 0.0 <= score <= 1.0)):
            return None
        prediction = ev.prediction
        label = ev.label
        if (prediction is not None and prediction - prediction != 0.0) or (
            label is not None and label - label != 0.0
        ):
            return None
        feats = ev.features
        if feats is None:
            numeric = [None] * len(info.numeric)
            categorical = [None] * len(info.categorical)
        else:
            if not feats.keys() <= info.known:
                return None
            get = feats.get
            numeric = list(map(get, info.numeric))
            categorical = list(map(get, info.categorical))
            if numeric and not set(map(type, numeric)) <= _FLOATS:
                return None
            if categorical and not (
                set(map(type, categorical)) <= _STRS
                and max(len(c) if c else 0 for c in categorical) <= MAX_TEXT
            ):
                return None
            if numeric and None not in numeric and sum(numeric) - sum(numeric) != 0.0:
                return None  # NaN / inf (the slow path names the feature)
        raw_cohort = ev.cohort
        if raw_cohort is None:
            cohort = [None] * len(info.cohorts)
        else:
            if not raw_cohort.keys() <= info.cohort_set:
                return None
            cohort = list(map(raw_cohort.get, info.cohorts))
            if cohort and max(len(c) if c else 0 for c in cohort) > MAX_TEXT:
                return None
        if min_ts is None or ts < min_ts:
            min_ts = ts
        if max_ts is None or ts > max_ts:
            max_ts = ts
        rows.append(
            (ts, latency, prediction, score, label, bool(ev.error), event_id, numeric, categorical, cohort)
        )
        routes.append(route)
    out.indexes = list(range(len(rows)))
    out.min_ts, out.max_ts = min_ts, max_ts
    return out
