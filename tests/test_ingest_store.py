"""The bulk store: every column round-trips (PostgreSQL binary COPY encoded by hand, and the
SQLite executemany path), nulls and empty arrays included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection, transaction

from metrics.ingest import partitions, store
from metrics.ingest.context import load_context
from metrics.ingest.pipeline import layout_id
from metrics.models import EventKey, PredictionEvent
from tests.factories import DeploymentFactory, ModelFactory, ModelVersionFactory
from tests.ingest_support import make_model


def _rows():
    ts = datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    return [
        (ts, 12.5, 1.0, 0.83, None, False, "e-1", [52000.0, 41.0], ["eu"], ["30-45", "f"]),
        (
            ts.astimezone(plus_two),
            None,
            None,
            None,
            1.0,
            True,
            "é-2 ünïcode",
            [None, -0.0],
            [None],
            [None, None],
        ),
        (
            ts + timedelta(microseconds=1),
            0.0,
            0.0,
            1.0,
            0.0,
            False,
            "e-3",
            [1e308, -1e-308],
            ["a" * 256],
            ["x", "y"],
        ),
    ]


@pytest.mark.django_db
def test_every_column_round_trips(system_a):
    model, deployment = make_model(system_a)
    ctx = load_context(system_a)
    layout = layout_id(ctx.models[model.slug])
    rows = _rows()
    received = datetime(2026, 11, 20, 10, 0, 1, tzinfo=UTC)
    partitions.ensure_days(rows[0][0] - timedelta(days=1), rows[0][0] + timedelta(days=1))
    with transaction.atomic():
        stored = store.insert_events(
            system_id=system_a.pk,
            rows=rows,
            deployment_ids=[deployment.pk] * 3,
            layout_ids=[layout] * 3,
            received_at=received,
        )
    assert stored == [0, 1, 2]
    got = {e.event_id: e for e in PredictionEvent.objects.all()}
    for ts, latency, prediction, score, label, error, event_id, numeric, categorical, cohort in rows:
        event = got[event_id]
        assert event.ts == ts
        assert event.received_at == received
        assert (event.latency_ms, event.prediction, event.score, event.label) == (
            latency,
            prediction,
            score,
            label,
        )
        assert event.error is error
        assert event.numeric == numeric and event.categorical == categorical and event.cohort == cohort
        assert (
            event.system_id == system_a.pk
            and event.deployment_id == deployment.pk
            and event.layout_id == layout
        )
        key = EventKey.objects.get(system_id=system_a.pk, event_id=event_id)
        assert key.event_pk == event.pk and key.ts == ts


@pytest.mark.django_db
def test_model_without_features_stores_empty_arrays(system_a):
    model = ModelFactory(system=system_a, slug="bare")
    deployment = DeploymentFactory(model_version=ModelVersionFactory(model=model))
    layout = layout_id(load_context(system_a).models["bare"])
    now = datetime.now(UTC)
    with transaction.atomic():
        store.insert_events(
            system_id=system_a.pk,
            rows=[(now, None, None, None, None, False, "bare-1", [], [], [])],
            deployment_ids=[deployment.pk],
            layout_ids=[layout],
            received_at=now,
        )
    event = PredictionEvent.objects.get()
    assert (event.numeric, event.categorical, event.cohort) == ([], [], [])


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_batch_leaves_the_connection_usable(system_a):
    """The PostgreSQL key stage is a temp table: a rollback must not strand the connection."""
    _, deployment = make_model(system_a)
    layout = layout_id(load_context(system_a).models["scorer"])
    now = datetime.now(UTC)

    def batch(event_id):
        return dict(
            system_id=system_a.pk,
            rows=[(now, 1.0, 1.0, 0.5, None, False, event_id, [1.0, 2.0], ["eu"], ["a", "f"])],
            deployment_ids=[deployment.pk],
            layout_ids=[layout],
            received_at=now,
        )

    with pytest.raises(RuntimeError), transaction.atomic():
        store.insert_events(**batch("rolled-back"))
        raise RuntimeError("abort the transaction")
    with transaction.atomic():
        assert store.insert_events(**batch("kept")) == [0]
    with transaction.atomic():
        assert store.insert_events(**batch("kept")) == []  # a duplicate now
    assert list(PredictionEvent.objects.values_list("event_id", flat=True)) == ["kept"]
    assert connection.vendor in {"postgresql", "sqlite"}
