"""The msgspec fast path accepts only what the reference validator accepts, and yields the
same rows; anything else falls back (and the reference path reports the errors)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from metrics.ingest import fastpath
from metrics.ingest.context import load_context
from metrics.ingest.parse import parse_records
from metrics.ingest.validate import validate_events
from tests.ingest_support import event, make_model, now_iso
from tests.test_ingest_validation import CASES

pytestmark = pytest.mark.django_db


@pytest.fixture
def ctx(system_a):
    make_model(system_a)
    return load_context(system_a)


def _both(ctx, events, ndjson=False):
    body = (
        ("\n".join(json.dumps(e) for e in events)).encode()
        if ndjson
        else json.dumps({"events": events}).encode()
    )
    now = datetime.now(UTC)
    kwargs = dict(now=now, retention_cutoff=now - timedelta(days=90), max_future=timedelta(days=1))
    fast = fastpath.validate_body(body, ctx, ndjson=ndjson, limit=10_000, **kwargs)
    parsed = parse_records(body, ndjson=ndjson, key="events", limit=10_000)
    slow = validate_events(parsed.records, ctx, **kwargs)
    return fast, slow


@pytest.mark.parametrize("ndjson", [False, True])
def test_valid_batches_give_the_same_rows(ctx, ndjson):
    events = [
        event(),
        event(features={"income": 1, "age": 2.5}, cohort={"sex": "m"}),  # ints, missing values
        event(features=None, cohort=None, latency_ms=None, prediction=None, score=None, error=None),
        event(timestamp=now_iso(-timedelta(hours=30)).replace("Z", "+02:00"), label=0, prediction=1.0),
        event(model_version="9.9", environment="canary"),  # to be registered
    ]
    fast, slow = _both(ctx, events, ndjson)
    assert fast is not None and not slow.rejected
    assert fast.rows == slow.rows
    assert fast.routes == slow.routes and fast.indexes == slow.indexes
    assert fast.pending_routes == slow.pending_routes == {("scorer", "9.9", "canary")}
    assert (fast.min_ts, fast.max_ts) == (slow.min_ts, slow.max_ts)


@pytest.mark.parametrize(("name", "mutate", "field", "message"), CASES, ids=[c[0] for c in CASES])
def test_every_invalid_record_falls_back(ctx, name, mutate, field, message):
    fast, slow = _both(ctx, [event(), mutate(event())])
    assert fast is None
    assert slow.rejected


@pytest.mark.parametrize(
    "overrides",
    [
        {"prediction": True},  # booleans are converted by the reference path
        {"features": {"income": 1.0, "age": 2.0, "region": 7}},  # an integer category
        {"cohort": {"sex": 1}},
        {"event_id": 12345},
    ],
)
def test_values_the_reference_path_converts_fall_back_and_are_accepted_there(ctx, overrides):
    fast, slow = _both(ctx, [event(**overrides)])
    assert fast is None
    assert not slow.rejected and len(slow.rows) == 1
