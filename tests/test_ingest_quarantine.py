"""Quarantine: rejected records are kept, listed (scoped), and replayable after a fix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from metrics.ingest.read import load_window
from metrics.ingest.replay import retry_early_labels
from metrics.models import IngestionStat, PredictionEvent, QuarantinedRecord, ReferenceDataset
from tests.factories import FeatureFactory
from tests.ingest_support import (
    EVENTS_URL,
    LABELS_URL,
    REFERENCE_URL,
    event,
    ingest_token,
    make_model,
    post_json,
)

pytestmark = pytest.mark.django_db

PAGE = "/platform/quarantine/"
REPLAY = "/platform/quarantine/replay/"


@pytest.fixture
def setup(system_a):
    model, deployment = make_model(system_a)
    return {"system": system_a, "model": model, "deployment": deployment, "token": ingest_token(system_a)}


def _send_unknown_feature(client, setup, event_id="needs-colour", good_id="fine"):
    ev = event(event_id=event_id, features={"income": 1.0, "age": 2, "region": "eu", "colour": "red"})
    body = post_json(client, EVENTS_URL, setup["token"], {"events": [ev, event(event_id=good_id)]}).json()
    assert body["accepted"] == 1
    assert body["rejected"][0]["errors"] == {
        "features.colour": ["unknown feature (declared: income, age, region)"]
    }
    return QuarantinedRecord.objects.get(event_id=event_id)


def test_replay_after_adding_the_missing_feature_stores_the_record(client, setup):
    record = _send_unknown_feature(client, setup)
    # replaying before the fix changes nothing but the attempt count
    out = StringIO()
    call_command("replay_quarantine", "--system", "system-a", stdout=out)
    assert '"rejected": 1' in out.getvalue()
    record.refresh_from_db()
    assert record.replayed_at is None and record.replay_attempts == 1 and record.replay_result == "rejected"

    FeatureFactory(model=setup["model"], name="colour", type="categorical", position=3)
    out = StringIO()
    call_command("replay_quarantine", "--system", "system-a", stdout=out)
    assert '"accepted": 1' in out.getvalue()
    record.refresh_from_db()
    assert record.replayed_at is not None and record.replay_result == "accepted"
    stored = PredictionEvent.objects.get(event_id="needs-colour")
    assert stored.categorical == ["eu", "red"]
    # both layouts read back by name: the old event has no colour, the replayed one has
    now = datetime.now(UTC)
    window = load_window(setup["deployment"].pk, now - timedelta(hours=1), now + timedelta(hours=1))
    colours = dict(zip(window.event_id, window.categorical["colour"], strict=True))
    assert colours == {"fine": None, "needs-colour": "red"}
    # replaying again is a no-op (nothing pending)
    out = StringIO()
    call_command("replay_quarantine", stdout=out)
    assert out.getvalue().strip() == '{"accepted": 0, "duplicates": 0, "rejected": 0}'
    assert IngestionStat.objects.get(kind="event").accepted == 2


def test_replay_of_an_already_stored_event_is_a_duplicate(client, setup):
    record = _send_unknown_feature(client, setup, event_id="fine")  # same id as the good one
    FeatureFactory(model=setup["model"], name="colour", type="categorical", position=3)
    call_command("replay_quarantine", stdout=StringIO())
    record.refresh_from_db()
    assert record.replay_result == "duplicate" and record.replayed_at is not None
    assert PredictionEvent.objects.filter(event_id="fine").count() == 1


def test_label_before_its_event_is_retried_automatically(client, setup):
    body = post_json(
        client, LABELS_URL, setup["token"], {"labels": [{"event_id": "early", "label": 1}]}
    ).json()
    assert body["rejected"][0]["errors"]["event_id"][0].startswith("unknown event")
    post_json(client, EVENTS_URL, setup["token"], {"events": [event(event_id="early")]})
    result = retry_early_labels()
    assert result["accepted"] == 1
    assert PredictionEvent.objects.get(event_id="early").label == 1.0
    assert QuarantinedRecord.objects.get(kind="label").replay_result == "accepted"


def test_reference_rows_replay_into_the_current_reference(client, setup):
    rows = [{"features": {"income": float(i), "age": i, "region": "eu"}} for i in range(10)]
    bad = {"features": {"income": 1.0, "colour": "red"}}
    doc = {"model": "scorer", "model_version": "2.3.1", "events": [*rows, bad]}
    assert post_json(client, REFERENCE_URL, setup["token"], doc).json()["accepted"] == 10
    FeatureFactory(model=setup["model"], name="colour", type="categorical", position=3)
    # the layout changed: the appended row cannot join the old reference, and says why
    call_command("replay_quarantine", "--kind", "reference", stdout=StringIO())
    record = QuarantinedRecord.objects.get(kind="reference")
    assert "features changed" in record.errors["append"][0]
    assert ReferenceDataset.objects.get(is_current=True).row_count == 10


def test_quarantine_page_lists_only_visible_systems(client, setup, system_b, alice, bob):
    _send_unknown_feature(client, setup)
    make_model(system_b)
    post_json(
        client, EVENTS_URL, ingest_token(system_b), {"events": [event(event_id="b-bad", latency_ms=-1)]}
    )
    client.force_login(alice)
    page = client.get(PAGE)
    assert page.status_code == 200
    content = page.content.decode()
    assert "needs-colour" in content and "b-bad" not in content
    assert "unknown feature" in content and "Replay" in content
    client.force_login(bob)
    content = client.get(PAGE).content.decode()
    assert "b-bad" in content and "needs-colour" not in content


def test_replay_button_replays_and_other_teams_get_404(client, setup, alice, bob):
    record = _send_unknown_feature(client, setup)
    FeatureFactory(model=setup["model"], name="colour", type="categorical", position=3)
    client.force_login(bob)
    assert client.post(REPLAY, {"id": record.pk}).status_code == 404
    record.refresh_from_db()
    assert record.replayed_at is None
    client.force_login(alice)  # alice holds "ingest" on system A
    response = client.post(REPLAY, {"id": record.pk, "next": "status=all"})
    assert response.status_code == 302 and response["Location"].endswith("?status=all")
    record.refresh_from_db()
    assert record.replay_result == "accepted"
    assert PredictionEvent.objects.filter(event_id="needs-colour").exists()


def test_replay_all_matching_the_filter(client, setup, alice):
    for i in range(3):
        _send_unknown_feature(client, setup, event_id=f"c-{i}", good_id=f"g-{i}")
    FeatureFactory(model=setup["model"], name="colour", type="categorical", position=3)
    client.force_login(alice)
    client.post(REPLAY, {"all": "1", "system": "system-a", "reason": "unknown_feature"})
    assert QuarantinedRecord.objects.filter(replay_result="accepted").count() == 3


def test_page_requires_login(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
