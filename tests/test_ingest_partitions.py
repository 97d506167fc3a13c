"""Raw-event partitions (PostgreSQL) and retention (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from metrics.ingest import partitions
from metrics.models import EventKey, PredictionEvent
from tests.ingest_support import EVENTS_URL, event, ingest_token, make_model, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(system_a):
    _model, deployment = make_model(system_a)
    return {"system": system_a, "deployment": deployment, "token": ingest_token(system_a)}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


needs_postgres = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="partitions exist on PostgreSQL only"
)


def _table_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


@needs_postgres
def test_partitioned_table_with_brin_index():
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'metrics_predictionevent'")
        assert cursor.fetchone()[0] == "p"  # partitioned
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'metrics_predictionevent' AND indexdef LIKE '%%brin%%'"
        )
        assert "(ts)" in cursor.fetchone()[0]


@needs_postgres
def test_partitions_are_created_ahead(settings):
    settings.INGEST_PARTITIONS_AHEAD_DAYS = 3
    future = datetime.now(UTC) + timedelta(days=30)
    created = partitions.create_ahead(now=future)
    expected = [(future + timedelta(days=d)).date() for d in range(-1, 4)]
    assert created == expected
    for day in expected:
        assert _table_exists(partitions.partition_name(day))
    assert partitions.create_ahead(now=future) == []  # idempotent


@needs_postgres
def test_ingest_creates_a_missing_in_retention_partition(client, setup):
    day = (datetime.now(UTC) - timedelta(days=20)).replace(hour=12)
    name = partitions.partition_name(day.date())
    assert not _table_exists(name)
    response = post_json(client, EVENTS_URL, setup["token"], {"events": [event(timestamp=_iso(day))]})
    assert response.json()["accepted"] == 1
    assert _table_exists(name)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {name}")
        assert cursor.fetchone()[0] == 1


@needs_postgres
def test_a_partition_dropped_behind_the_process_cache_is_recreated_and_the_batch_kept(client, setup):
    """The per-process cache says the day exists; the table is gone: retry once, nothing lost."""
    day = (datetime.now(UTC) - timedelta(days=10)).replace(hour=6)
    first = post_json(client, EVENTS_URL, setup["token"], {"events": [event(timestamp=_iso(day))]})
    assert first.json()["accepted"] == 1
    name = partitions.partition_name(day.date())
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {name}")  # as retention in another process would
    assert day.date() in partitions._known_days

    response = post_json(client, EVENTS_URL, setup["token"], {"events": [event(timestamp=_iso(day))]})
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    assert _table_exists(name)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {name}")
        assert cursor.fetchone()[0] == 1


@needs_postgres
def test_retention_drops_old_partitions_with_their_events_and_keys(client, setup, settings):
    old = (datetime.now(UTC) - timedelta(days=10)).replace(hour=6)
    recent = datetime.now(UTC) - timedelta(hours=1)
    post_json(
        client,
        EVENTS_URL,
        setup["token"],
        {
            "events": [
                event(event_id="old", timestamp=_iso(old)),
                event(event_id="new", timestamp=_iso(recent)),
            ]
        },
    )
    old_name = partitions.partition_name(old.date())
    assert _table_exists(old_name)
    settings.RAW_EVENT_RETENTION_DAYS = 5
    result = partitions.maintain()
    assert old_name in result["dropped_partitions"]
    assert not _table_exists(old_name)
    assert list(PredictionEvent.objects.values_list("event_id", flat=True)) == ["new"]
    assert list(EventKey.objects.values_list("event_id", flat=True)) == ["new"]
    assert result["deleted_keys"] == 1
    # today's partition and the ones ahead survive
    assert _table_exists(partitions.partition_name(datetime.now(UTC).date()))
    # an event older than the retention is now rejected with a reason, never a 500
    body = post_json(client, EVENTS_URL, setup["token"], {"events": [event(timestamp=_iso(old))]}).json()
    assert "older than the raw-event retention" in body["rejected"][0]["errors"]["timestamp"][0]


def test_retention_on_any_database_removes_old_events(client, setup, settings):
    old = datetime.now(UTC) - timedelta(days=10)
    post_json(
        client,
        EVENTS_URL,
        setup["token"],
        {"events": [event(event_id="old", timestamp=_iso(old)), event(event_id="new")]},
    )
    settings.RAW_EVENT_RETENTION_DAYS = 5
    partitions.drop_expired()
    assert list(PredictionEvent.objects.values_list("event_id", flat=True)) == ["new"]
    assert list(EventKey.objects.values_list("event_id", flat=True)) == ["new"]


def test_maintenance_task_runs(settings):
    from metrics.tasks import ingest_maintain_partitions

    result = ingest_maintain_partitions()
    assert set(result) == {"created", "dropped", "deleted_rows", "deleted_keys"}
