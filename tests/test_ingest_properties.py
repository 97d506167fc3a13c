"""Properties of the ingest parser, validator and fast path over generated input (Hypothesis).

* Any JSON value in any field of any record: validation never raises; every record is either
  accepted or rejected with its index and ``{field: [message]}``, the field being one the record
  names (``features.x``, ``cohort.y``, an unknown key) — including NaN, ±Infinity, numbers past
  a double's range, odd timestamps and any Unicode (NUL, surrogate pairs, lone surrogates).
* Any request body: parsing gives records or a request-level error (400/413), nothing else.
* The msgspec fast path accepts a batch only when the reference validator accepts every record
  of it, and then yields the same rows (value for value, type for type), routes and bounds;
  a batch of plain valid events is taken by the fast path.

The example counts are small in the suite; ``make fuzz`` raises them (``FUZZ_PROPERTY_EXAMPLES``).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.ingest import fastpath
from metrics.ingest.context import load_context
from metrics.ingest.limits import IngestError
from metrics.ingest.parse import parse_records
from metrics.ingest.validate import EVENT_FIELDS, LABEL_FIELDS, validate_events, validate_labels
from tests.ingest_support import make_model

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_PROPERTY_EXAMPLES", "150"))
PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LIMITS = {"now": NOW, "retention_cutoff": NOW - timedelta(days=90), "max_future": timedelta(days=1)}

# --- values -------------------------------------------------------------------------------
text = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "\x00", "é", "😀", "x" * 300]
)
numbers = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([10**400, -(10**400), 0, -0.0, 1e308, 5e-324, 86_400_000, 86_400_001])
)
scalars = st.none() | st.booleans() | numbers | text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
zones = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-12))])
moments = st.datetimes(min_value=datetime(2026, 8, 1), max_value=datetime(2026, 11, 23), timezones=zones)
timestamps = (
    moments.map(lambda m: m.isoformat())
    | moments.map(lambda m: m.isoformat().replace("+00:00", "Z"))
    | st.datetimes(min_value=datetime(2026, 8, 1), max_value=datetime(2026, 11, 23)).map(datetime.isoformat)
    | st.sampled_from(
        ["2026-11-20", "2026-13-45T00:00:00Z", "2026-11-20T23:59:60Z", "20261120T100000Z", "now", ""]
    )
    | st.datetimes(timezones=zones).map(lambda m: m.isoformat())  # far past and future
)


def either(plausible):
    """Mostly plausible values, sometimes any JSON value, sometimes absent."""
    return st.one_of(plausible, plausible, json_values)


features = st.dictionaries(
    st.sampled_from(["income", "age", "region"]) | text,
    either(st.floats(-1e6, 1e6) | st.sampled_from(["eu", "us", "a\x00b"]) | st.none()),
    max_size=4,
)
cohorts = st.dictionaries(
    st.sampled_from(["sex", "age_band"]) | text,
    either(st.sampled_from(["f", "m", "30-45"]) | st.none()),
    max_size=3,
)
event_fields = {
    "event_id": either(st.uuids().map(lambda u: u.hex) | text | st.integers()),
    "model": either(st.sampled_from(["scorer", "other"]) | text),
    "model_version": either(st.sampled_from(["2.3.1", "9.9"]) | text),
    "environment": either(st.sampled_from(["prod", "canary", "not a slug"]) | text),
    "timestamp": either(timestamps),
    "latency_ms": either(st.floats(0, 5000) | st.none()),
    "error": either(st.booleans() | st.none()),
    "features": either(features | st.none()),
    "prediction": either(st.floats(0, 1) | st.integers(0, 1) | st.none()),
    "score": either(st.floats(0, 1) | st.none()),
    "label": either(st.floats(0, 1) | st.none()),
    "cohort": either(cohorts | st.none()),
}
events = st.fixed_dictionaries(
    {}, optional={**event_fields, **{name: json_values for name in ["extra", "Features", "\x00"]}}
)
records = st.lists(events | json_values, min_size=1, max_size=6)


@pytest.fixture
def ctx(system_a):
    make_model(system_a)
    return load_context(system_a)


def body_of(items: list, *, ndjson: bool) -> bytes:
    """As a client would send it; NaN/Infinity literals and huge integers included."""
    if ndjson:
        return "\n".join(json.dumps(item) for item in items).encode()
    return json.dumps({"events": items}).encode()


def allowed_names(record) -> set[str]:
    names = set(EVENT_FIELDS) | {"_record"}
    if isinstance(record, dict):
        names |= {str(key) for key in record}
        for part in ("features", "cohort"):
            if isinstance(record.get(part), dict):
                names |= {f"{part}.{key}" for key in record[part]}
        names |= {"features.income", "features.age", "features.region", "cohort.sex", "cohort.age_band"}
    return names


def assert_every_record_accounted(items: list, valid) -> None:
    rejected = {r.index: r for r in valid.rejected}
    assert sorted([*valid.indexes, *rejected]) == list(range(len(items)))
    assert len(valid.rows) == len(valid.indexes)
    for index, rejection in rejected.items():
        assert rejection.errors, rejection
        for name, messages in rejection.errors.items():
            assert name in allowed_names(items[index]), (name, items[index])
            assert messages and all(isinstance(m, str) and m for m in messages)
        json.dumps(rejection.as_response())  # the response can be written


def typed(rows: list[tuple]) -> list:
    """Rows with each value's type, so 1 and 1.0 (or True and 1) differ."""

    def tag(value):
        if isinstance(value, list):
            return [tag(v) for v in value]
        return (type(value).__name__, value)

    return [tag(list(row)) for row in rows]


@PROPERTY_SETTINGS
@given(items=records, ndjson=st.booleans())
def test_validation_accepts_or_rejects_every_record_with_its_fields(ctx, items, ndjson):
    parsed = parse_records(body_of(items, ndjson=ndjson), ndjson=ndjson, key="events", limit=10_000)
    valid = validate_events(parsed.records, ctx, unreadable=parsed.unreadable, **LIMITS)
    assert_every_record_accounted(parsed.records, valid)
    for row in valid.rows:
        ts, latency, prediction, score, label, error, event_id, numeric, categorical, cohort = row
        assert LIMITS["retention_cutoff"] <= ts <= NOW + LIMITS["max_future"]
        assert isinstance(event_id, str) and 0 < len(event_id) <= 128 and "\x00" not in event_id
        for number in (latency, prediction, score, label, *numeric):
            assert number is None or (type(number) is float and number - number == 0.0)
        for value in (*categorical, *cohort):
            assert value is None or (type(value) is str and "\x00" not in value)
        assert type(error) is bool


@PROPERTY_SETTINGS
@given(items=records)
def test_reference_rows_are_accepted_or_rejected_never_raise(ctx, items):
    parsed = parse_records(body_of(items, ndjson=False), ndjson=False, key="events", limit=10_000)
    info = ctx.models["scorer"]
    valid = validate_events(
        parsed.records,
        ctx,
        now=NOW,
        retention_cutoff=None,
        max_future=None,
        reference=info,
        reference_version="2.3.1",
    )
    assert_every_record_accounted(parsed.records, valid)


labels = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "event_id": either(st.uuids().map(lambda u: u.hex) | text),
            "label": either(st.integers(0, 1) | st.booleans() | st.floats()),
            "timestamp": either(timestamps),
            "extra": json_values,
        },
    )
    | json_values,
    max_size=6,
)


@PROPERTY_SETTINGS
@given(items=labels)
def test_labels_are_accepted_or_rejected_never_raise(items):
    parsed = parse_records(json.dumps({"labels": items}).encode(), ndjson=False, key="labels", limit=10_000)
    valid = validate_labels(parsed.records, now=NOW)
    accepted = {index for _, _, index in valid.labels.values()}
    rejected = {r.index for r in valid.rejected}
    assert sorted([*accepted, *rejected, *valid.superseded]) == list(range(len(items)))
    for rejection in valid.rejected:
        record = items[rejection.index]
        names = (
            set(LABEL_FIELDS)
            | {"_record"}
            | ({str(k) for k in record} if isinstance(record, dict) else set())
        )
        assert rejection.errors and set(rejection.errors) <= names


@PROPERTY_SETTINGS
@given(body=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()), ndjson=st.booleans())
def test_any_body_parses_to_records_or_a_request_error(body, ndjson):
    try:
        parsed = parse_records(body, ndjson=ndjson, key="events", limit=50)
    except IngestError as exc:
        assert exc.status in (400, 413) and exc.errors
        return
    assert isinstance(parsed.records, list)
    assert set(parsed.unreadable) <= set(range(len(parsed.records)))


def assert_fast_path_agrees(ctx, items: list, ndjson: bool):
    body = body_of(items, ndjson=ndjson)
    fast = fastpath.validate_body(body, ctx, ndjson=ndjson, limit=10_000, **LIMITS)
    parsed = parse_records(body, ndjson=ndjson, key="events", limit=10_000)
    slow = validate_events(parsed.records, ctx, unreadable=parsed.unreadable, **LIMITS)
    if fast is not None:
        assert not slow.rejected, [r.errors for r in slow.rejected]
        assert typed(fast.rows) == typed(slow.rows)
        assert (fast.indexes, fast.routes, fast.pending_routes) == (
            slow.indexes,
            slow.routes,
            slow.pending_routes,
        )
        assert (fast.min_ts, fast.max_ts) == (slow.min_ts, slow.max_ts)
    return fast, slow


@PROPERTY_SETTINGS
@given(items=st.lists(events, min_size=1, max_size=5), ndjson=st.booleans())
def test_the_fast_path_accepts_only_what_the_validator_accepts_and_stores_the_same_rows(ctx, items, ndjson):
    assert_fast_path_agrees(ctx, items, ndjson)


plain_events = st.fixed_dictionaries(
    {
        "event_id": st.uuids().map(lambda u: u.hex) | st.sampled_from(["id\x00", "x" * 129]),
        "model": st.just("scorer"),
        "model_version": st.sampled_from(["2.3.1", "9.9"]),
        "environment": st.sampled_from(["prod", "canary"]),
        "timestamp": st.datetimes(
            min_value=datetime(2026, 9, 1), max_value=datetime(2026, 11, 20), timezones=zones
        ).map(lambda m: m.isoformat()),
    },
    optional={
        "latency_ms": st.floats(0, 86_400_000) | st.none(),
        "error": st.booleans() | st.none(),
        "features": st.fixed_dictionaries(
            {},
            optional={
                "income": st.floats(-1e300, 1e300) | st.none(),
                "age": st.floats(0, 120) | st.none(),
                "region": st.text(max_size=20) | st.sampled_from(["e\x00u", "x" * 257]) | st.none(),
            },
        )
        | st.none(),
        "prediction": st.floats(-1e9, 1e9) | st.none(),
        "score": st.floats(0, 1) | st.none(),
        "label": st.floats(0, 1) | st.none(),
        "cohort": st.fixed_dictionaries({}, optional={"sex": st.sampled_from(["f", "m"]) | st.none()})
        | st.none(),
    },
)


@PROPERTY_SETTINGS
@given(
    items=st.lists(plain_events, min_size=1, max_size=5, unique_by=lambda e: e["event_id"]),
    ndjson=st.booleans(),
)
def test_the_fast_path_takes_batches_of_plain_valid_events(ctx, items, ndjson):
    """Typed events, a few of them with a NUL or an over-long text; when the validator accepts
    the whole batch the fast path takes it."""
    fast, slow = assert_fast_path_agrees(ctx, items, ndjson)
    assert (fast is not None) == (not slow.rejected)
