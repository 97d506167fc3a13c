"""The fast path for event batches in which every record is valid (the common case).

msgspec decodes the body straight into typed structs built from the system's catalog: one
struct per model, tagged by the ``model`` field, whose ``features`` and ``cohort`` are structs
of the declared names. So the JSON types, the declared features and cohorts, NaN / Infinity,
bounds and lengths are all checked in C while decoding; what is left for Python per event is
the route (model, version, environment) and building the storage row. Anything unusual — a
decode error, a value msgspec refuses, a value the slow path would convert (an integer
category, a boolean prediction) — makes :func:`validate_body` return ``None`` and the caller
takes the reference path (``parse`` + ``validate.validate_events``), which produces every
per-record error. So the fast path can only accept what the reference path accepts, and
stores the same rows: ``tests/test_ingest_fastpath.py`` compares both on the same batches.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Annotated

import msgspec
from msgspec import Meta
from msgspec.structs import astuple

from metrics.ingest.context import ModelInfo, SystemContext
from metrics.ingest.limits import PayloadTooLarge
from metrics.ingest.validate import (
    MAX_EVENT_ID,
    MAX_LATENCY_MS,
    MAX_TEXT,
    PENDING,
    ValidEvents,
    _route_state,
)

# The rules a record's values must meet, as msgspec types: checked in C while decoding.
# A bound on both sides also refuses NaN and ±Infinity (and JSON numbers beyond float range).
FLOAT_MAX = 1.7976931348623157e308
Finite = Annotated[float, Meta(ge=-FLOAT_MAX, le=FLOAT_MAX)]
Probability = Annotated[float, Meta(ge=0.0, le=1.0)]
Latency = Annotated[float, Meta(ge=0.0, le=MAX_LATENCY_MS)]
Text = Annotated[str, Meta(max_length=MAX_TEXT)]
EventId = Annotated[str, Meta(min_length=1, max_length=MAX_EVENT_ID)]
Timestamp = Annotated[datetime, Meta(tz=True)]


def _values_struct(name: str, fields: list[tuple[str, object]]) -> type:
    """A struct whose JSON keys are the declared names (any string), in declared order.

    Fields are named ``v0..vN`` and renamed to the declared names, so a feature may be called
    anything JSON allows; unknown keys are refused.
    """
    return msgspec.defstruct(
        name,
        [(f"v{i}", kind | None, None) for i, (_, kind) in enumerate(fields)],
        rename={f"v{i}": declared for i, (declared, _) in enumerate(fields)},
        forbid_unknown_fields=True,
        gc=False,
    )


@lru_cache(maxsize=256)
def _event_type(slug: str, numeric: tuple, categorical: tuple, cohorts: tuple, binary: bool) -> type:
    """The typed event struct of one model, tagged by its slug in the ``model`` field.

    Cached on the declaration itself, so a changed feature list builds a new type.
    """
    features = _values_struct("Features", [(n, Finite) for n in numeric] + [(c, Text) for c in categorical])
    cohort = _values_struct("Cohort", [(c, Text) for c in cohorts])
    return msgspec.defstruct(
        "Event",
        [
            ("event_id", EventId),
            ("model_version", str),
            ("environment", str),
            ("timestamp", Timestamp),
            ("latency_ms", Latency | None, None),
            ("error", bool | None, None),
            ("features", features | None, None),
            ("prediction", Finite | None, None),
            ("score", (Probability if binary else Finite) | None, None),
            ("label", Finite | None, None),
            ("cohort", cohort | None, None),
        ],
        tag_field="model",
        tag=slug,
        forbid_unknown_fields=True,
        gc=False,
    )


def _model_type(info: ModelInfo) -> type:
    return _event_type(
        info.slug, tuple(info.numeric), tuple(info.categorical), tuple(info.cohorts), info.is_binary
    )


@lru_cache(maxsize=64)
def _decoders(event_types: tuple) -> tuple[msgspec.json.Decoder, msgspec.json.Decoder]:
    """(whole-batch decoder, one-event decoder) for a system's models."""
    union = _union((*event_types, _Untagged))
    batch = msgspec.defstruct("Batch", [("events", list[union])], gc=False)
    return msgspec.json.Decoder(batch), msgspec.json.Decoder(union)


# A tag no model has: with at least two members the union makes the ``model`` tag required
# (a lone tagged struct would accept a record without it).
_Untagged = msgspec.defstruct("Untagged", [], tag_field="model", tag="\x00", forbid_unknown_fields=True)


def _union(types: tuple):
    from typing import Union

    return Union[types]  # noqa: UP007 - a runtime-built union of struct types


def decode(body: bytes, ctx: SystemContext, *, ndjson: bool, limit: int) -> list | None:
    """The typed events of a body whose every record is valid, or None (take the reference path)."""
    if not ctx.models:
        return None
    batch_decoder, event_decoder = _decoders(tuple(_model_type(info) for info in ctx.models.values()))
    try:
        if ndjson:
            lines = [line for line in body.split(b"\n") if line.strip()]
            if len(lines) > limit:
                raise PayloadTooLarge(
                    f"{len(lines)} events in one request; the limit is {limit}. Split them into several requests.",
                    {"events": [f"more than {limit} records"]},
                )
            decode_event = event_decoder.decode
            return [decode_event(line) for line in lines] if lines else None
        events = batch_decoder.decode(body).events
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if len(events) > limit:
        raise PayloadTooLarge(
            f"{len(events)} events in one request; the limit is {limit}. Split them into several requests.",
            {"events": [f"more than {limit} records"]},
        )
    return events or None


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
    if b"\\u0000" in body:
        return None  # a NUL character, which PostgreSQL text cannot store: rejected per record there
    events = decode(body, ctx, ndjson=ndjson, limit=limit)
    if events is None:
        return None
    stamps = [ev.timestamp for ev in events]
    min_ts, max_ts = min(stamps), max(stamps)
    if max_ts > now + max_future or min_ts < retention_cutoff:
        return None
    out = ValidEvents()
    rows = out.rows
    routes = out.routes
    route_state: dict[tuple, object] = {}
    # per model: (slug, numeric count, all-null numeric, all-null categorical, all-null cohort)
    shapes: dict[type, tuple] = {}
    for info in ctx.models.values():
        k = len(info.numeric)
        shapes[_model_type(info)] = (
            info.slug,
            k,
            [None] * k,
            [None] * len(info.categorical),
            [None] * len(info.cohorts),
        )
    for ev in events:
        if type(ev) is _Untagged:
            return None
        slug, k, no_numeric, no_categorical, no_cohort = shapes[type(ev)]
        route = (slug, ev.model_version, ev.environment)
        state = route_state.get(route)
        if state is None:
            state = route_state[route] = _route_state(ctx, ctx.models[slug], *route)
            if state is PENDING:
                out.pending_routes.add(route)
            elif type(state) is not int:
                return None
        feats = ev.features
        if feats is None:
            numeric, categorical = no_numeric[:], no_categorical[:]
        else:
            values = astuple(feats)
            numeric, categorical = list(values[:k]), list(values[k:])
        raw_cohort = ev.cohort
        cohort = no_cohort[:] if raw_cohort is None else list(astuple(raw_cohort))
        rows.append(
            (
                ev.timestamp,
                ev.latency_ms,
                ev.prediction,
                ev.score,
                ev.label,
                bool(ev.error),
                ev.event_id,
                numeric,
                categorical,
                cohort,
            )
        )
        routes.append(route)
    out.indexes = list(range(len(rows)))
    out.min_ts, out.max_ts = min_ts, max_ts
    return out
