"""The ingest API contract (DESIGN.md §10): shapes, limits, auth, labels, reference data."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from catalog.models import Deployment
from healthboard import access
from healthboard.models import ApiToken, AuditRecord
from healthboard.tokens import issue_token, revoke_token
from metrics.ingest.stats import ingest_rejection_rate, rejections_by_reason
from metrics.models import (
    DirtyWindow,
    EventKey,
    IngestionRejection,
    IngestionStat,
    PredictionEvent,
    QuarantinedRecord,
    ReferenceDataset,
    ReferenceRow,
)
from tests.factories import UserFactory
from tests.ingest_support import (
    EVENTS_URL,
    LABELS_URL,
    REFERENCE_URL,
    auth,
    event,
    ingest_token,
    make_model,
    now_iso,
    post_json,
    post_ndjson,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(system_a):
    model, deployment = make_model(system_a)
    return {"system": system_a, "model": model, "deployment": deployment, "token": ingest_token(system_a)}


def _rows():
    return sorted(
        PredictionEvent.objects.values_list(
            "event_id",
            "ts",
            "latency_ms",
            "error",
            "prediction",
            "score",
            "label",
            "numeric",
            "categorical",
            "cohort",
        )
    )


# --- response shape, mixed batches, duplicates ---------------------------------------------


def test_mixed_batch_stores_exactly_the_valid_ones_and_quarantines_the_rest(client, setup):
    events = [
        event(event_id="ok-1"),
        event(event_id="bad-1", features={"income": "lots"}),
        event(event_id="ok-2"),
        event(event_id="bad-2", model="nope"),
        event(event_id="ok-3"),
    ]
    response = post_json(client, EVENTS_URL, setup["token"], {"events": events})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"accepted", "duplicates", "rejected"}
    assert body["accepted"] == 3 and body["duplicates"] == 0
    assert [(r["index"], r["event_id"]) for r in body["rejected"]] == [(1, "bad-1"), (3, "bad-2")]
    assert set(PredictionEvent.objects.values_list("event_id", flat=True)) == {"ok-1", "ok-2", "ok-3"}
    quarantined = {q.event_id: q for q in QuarantinedRecord.objects.all()}
    assert set(quarantined) == {"bad-1", "bad-2"}
    assert json.loads(quarantined["bad-1"].raw) == events[1]  # the raw payload is kept
    assert quarantined["bad-1"].reason == "type" and quarantined["bad-2"].reason == "unknown_model"


def test_repeated_event_id_is_a_duplicate_and_changes_nothing(client, setup):
    first = event(event_id="e-1", score=0.1)
    assert post_json(client, EVENTS_URL, setup["token"], {"events": [first]}).json()["accepted"] == 1
    again = event(event_id="e-1", score=0.9, latency_ms=99.0)
    response = post_json(
        client, EVENTS_URL, setup["token"], {"events": [again, again, event(event_id="e-2")]}
    )
    assert response.json() == {"accepted": 1, "duplicates": 2, "rejected": []}
    assert PredictionEvent.objects.get(event_id="e-1").score == 0.1
    assert PredictionEvent.objects.count() == 2 and EventKey.objects.count() == 2


def test_event_id_is_unique_per_system_not_globally(client, setup, system_b):
    make_model(system_b)
    token_b = ingest_token(system_b)
    assert (
        post_json(client, EVENTS_URL, setup["token"], {"events": [event(event_id="same")]}).json()["accepted"]
        == 1
    )
    assert (
        post_json(client, EVENTS_URL, token_b, {"events": [event(event_id="same")]}).json()["accepted"] == 1
    )


def test_ndjson_and_json_give_the_same_result(client, setup, system_b):
    make_model(system_b)
    token_b = ingest_token(system_b)
    ts = now_iso()
    events = [
        event(event_id="n-1", timestamp=ts),
        event(event_id="n-2", timestamp=ts, features={"income": None, "region": "us"}),
        event(event_id="n-3", timestamp=ts, latency_ms=-1),
        event(event_id="n-1", timestamp=ts),
    ]
    as_json = post_json(client, EVENTS_URL, setup["token"], {"events": events}).json()
    as_ndjson = post_ndjson(client, EVENTS_URL, token_b, events).json()
    assert as_json == as_ndjson
    assert as_json["accepted"] == 2 and as_json["duplicates"] == 1 and len(as_json["rejected"]) == 1
    by_system = {
        system: sorted(
            PredictionEvent.objects.filter(system=system).values_list(
                "event_id", "numeric", "categorical", "cohort"
            )
        )
        for system in (setup["system"], system_b)
    }
    assert by_system[setup["system"]] == by_system[system_b]


def test_ndjson_line_that_is_not_json_is_one_rejected_record(client, setup):
    body = json.dumps(event(event_id="good")) + "\n{not json\n" + json.dumps(event(event_id="good-2")) + "\n"
    response = client.generic(
        "POST", EVENTS_URL, body, content_type="application/x-ndjson", **auth(setup["token"])
    )
    assert response.status_code == 200
    body_json = response.json()
    assert body_json["accepted"] == 2
    [rejected] = body_json["rejected"]
    assert rejected["index"] == 1 and rejected["errors"]["_record"][0].startswith("invalid JSON")
    assert QuarantinedRecord.objects.get().raw == "{not json"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "The body is not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"evnts": []}', 'has no "events" list'),
        ('{"events": {"a": 1}}', '"events" must be a list'),
        ("", "The request body is empty"),
    ],
)
def test_unreadable_body_is_a_400_with_a_message(client, setup, body, message):
    response = post_json(client, EVENTS_URL, setup["token"], body)
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert PredictionEvent.objects.count() == 0


def test_gzip_body(client, setup):
    raw = json.dumps({"events": [event(), event()]}).encode()
    response = client.generic(
        "POST",
        EVENTS_URL,
        gzip.compress(raw),
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        **auth(setup["token"]),
    )
    assert response.json()["accepted"] == 2


def test_accepted_events_are_committed_and_counted(client, setup):
    post_json(client, EVENTS_URL, setup["token"], {"events": [event(), event(), event(latency_ms=-1)]})
    stat = IngestionStat.objects.get(system=setup["system"], kind="event")
    assert (stat.requests, stat.accepted, stat.duplicates, stat.rejected) == (1, 2, 0, 1)
    assert stat.bytes > 0
    assert IngestionRejection.objects.get(system=setup["system"]).reason == "out_of_range"
    now = datetime.now(UTC)
    assert (
        ingest_rejection_rate(setup["system"], now - timedelta(hours=1), now + timedelta(minutes=1)) == 1 / 3
    )
    assert rejections_by_reason(setup["system"], now - timedelta(hours=1), now + timedelta(minutes=1)) == {
        "out_of_range": 1
    }
    assert ingest_rejection_rate(setup["system"], now - timedelta(hours=3), now - timedelta(hours=2)) is None


# --- auth ----------------------------------------------------------------------------------


def test_missing_token_is_401(client, setup):
    response = post_json(client, EVENTS_URL, None, {"events": [event()]})
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert PredictionEvent.objects.count() == 0


def test_wrong_token_is_401(client, setup):
    response = post_json(client, EVENTS_URL, "hbi_not-a-real-token", {"events": [event()]})
    assert response.status_code == 401
    assert "message" in response.json()


def test_revoked_token_is_401(client, setup):
    token = ApiToken.objects.get(kind=ApiToken.Kind.INGEST, system=setup["system"])
    revoke_token(token, reason="test")
    assert post_json(client, EVENTS_URL, setup["token"], {"events": [event()]}).status_code == 401
    assert post_json(client, LABELS_URL, setup["token"], {"labels": []}).status_code == 401


def test_personal_token_cannot_ingest(client, setup, alice):
    _, personal = issue_token(kind=ApiToken.Kind.PERSONAL, user=alice)
    assert post_json(client, EVENTS_URL, personal, {"events": [event()]}).status_code == 401


def test_session_cookie_cannot_ingest(client, setup, alice):
    client.force_login(alice)
    assert post_json(client, EVENTS_URL, None, {"events": [event()]}).status_code == 401


def test_ingest_token_on_a_read_endpoint_is_401(client, setup):
    response = client.get("/api/v1/deployments/", **auth(setup["token"]))
    assert response.status_code == 401


def test_token_of_system_a_cannot_write_system_b(client, setup, system_b):
    make_model(system_b, slug="scorer-b")
    response = post_json(client, EVENTS_URL, setup["token"], {"events": [event(model="scorer-b")]})
    body = response.json()
    assert body["accepted"] == 0
    assert "unknown model 'scorer-b' in system 'system-a'" in body["rejected"][0]["errors"]["model"][0]
    assert not PredictionEvent.objects.filter(system=system_b).exists()
    # even with the same model slug in both systems, A's token writes A's model only
    make_model(system_b)  # "scorer" in B too
    post_json(client, EVENTS_URL, setup["token"], {"events": [event(event_id="x-1")]})
    stored = PredictionEvent.objects.get(event_id="x-1")
    assert stored.system_id == setup["system"].pk
    assert Deployment.objects.get(pk=stored.deployment_id).environment.system_id == setup["system"].pk


# --- limits --------------------------------------------------------------------------------


class CountingStream(io.RawIOBase):
    """A request body that yields bytes forever and counts what was read."""

    def __init__(self):
        self.read_bytes = 0

    def read(self, size=-1):
        size = 65536 if size is None or size < 0 else size
        self.read_bytes += size
        return b" " * size

    def readline(self, size=-1):
        return self.read(size)


def test_oversized_content_length_is_413_without_reading_the_body(client, setup):
    stream = CountingStream()
    response = client.generic(
        "POST",
        EVENTS_URL,
        b"",
        content_type="application/json",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
        **{"wsgi.input": stream},
        **auth(setup["token"]),
    )
    assert response.status_code == 413
    assert stream.read_bytes == 0
    assert "limit is 10485760 bytes" in response.json()["message"]
    refused = IngestionRejection.objects.get(system=setup["system"], reason="too_large")
    assert refused.requests == 1


def test_oversized_chunked_body_is_413_after_reading_at_most_the_limit(client, setup):
    stream = CountingStream()
    response = client.generic(
        "POST",
        EVENTS_URL,
        b"",
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": stream},
        **auth(setup["token"]),
    )
    assert response.status_code == 413
    assert stream.read_bytes <= 10 * 1024 * 1024 + 65536


def test_gzip_bomb_is_413(client, setup):
    bomb = gzip.compress(b" " * (20 * 1024 * 1024))
    response = client.generic(
        "POST",
        EVENTS_URL,
        bomb,
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        **auth(setup["token"]),
    )
    assert response.status_code == 413


def test_more_than_10000_events_is_413(client, setup):
    response = post_json(client, EVENTS_URL, setup["token"], {"events": [{}] * 10_001})
    assert response.status_code == 413
    assert "10001 events in one request; the limit is 10000" in response.json()["message"]
    lines = "{}\n" * 10_001
    response = client.generic(
        "POST", EVENTS_URL, lines, content_type="application/x-ndjson", **auth(setup["token"])
    )
    assert response.status_code == 413


def test_rate_limit_is_429_with_retry_after(client, setup, settings):
    settings.INGEST_RATE_LIMIT_PER_MINUTE = 2
    settings.REDIS_URL = ""  # the database counter (Redis has its own test below)
    for _ in range(2):
        assert post_json(client, EVENTS_URL, setup["token"], {"events": [event()]}).status_code == 200
    response = post_json(client, EVENTS_URL, setup["token"], {"events": [event()]})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "Rate limit of 2 requests per minute" in response.json()["message"]
    assert PredictionEvent.objects.count() == 2
    # the limit is per token: another token of the same system is not throttled
    other = ingest_token(setup["system"])
    assert post_json(client, EVENTS_URL, other, {"events": [event()]}).status_code == 200
    assert IngestionRejection.objects.get(reason="rate_limited").requests == 1


def test_a_tenant_far_over_its_limit_is_spread_over_the_minute(settings):
    """10x the limit: a sixth of the minute's requests per 10 s, never the whole minute at once."""
    from metrics.ingest import limits

    settings.REDIS_URL = ""
    start = 1_790_000_040.0  # a minute boundary
    accepted = {}
    for i in range(600):  # 600 requests in the minute, limit 60
        moment = start + i * 0.1
        try:
            limits.check_rate_limit("token:spread", limit=60, now=moment)
        except limits.Throttled as throttled:
            assert 1 <= int(throttled.headers["Retry-After"]) <= 10
            assert "at most 10 per 10 s" in throttled.body()["message"]
        else:
            accepted[int((moment - start) // 10)] = accepted.get(int((moment - start) // 10), 0) + 1
    assert accepted == {window: 10 for window in range(6)}  # 60 in all, 10 in every 10 s
    assert limits.rate_windows(600) == ((10, 100), (60, 600))
    assert limits.rate_windows(5) == ((10, 5), (60, 5))  # small limits keep their whole burst


def test_rate_limit_with_redis(client, setup, settings):
    import redis

    url = "redis://127.0.0.1:6379/5"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    settings.REDIS_URL = url
    settings.INGEST_RATE_LIMIT_PER_MINUTE = 1
    assert post_json(client, EVENTS_URL, setup["token"], {"events": [event()]}).status_code == 200
    response = post_json(client, EVENTS_URL, setup["token"], {"events": [event()]})
    assert response.status_code == 429 and response["Retry-After"]


# --- labels --------------------------------------------------------------------------------


def test_labels_join_events_by_event_id(client, setup):
    old = now_iso(-timedelta(hours=2))
    post_json(
        client,
        EVENTS_URL,
        setup["token"],
        {"events": [event(event_id="l-1", timestamp=old), event(event_id="l-2"), event(event_id="l-3")]},
    )
    labels = [
        {"event_id": "l-1", "label": 1},
        {"event_id": "l-2", "label": False, "timestamp": now_iso()},
        {"event_id": "missing", "label": 1},
        {"event_id": "l-3"},
    ]
    response = post_json(client, LABELS_URL, setup["token"], {"labels": labels})
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0
    assert {r["index"]: r["errors"] for r in body["rejected"]} == {
        2: {"event_id": ["unknown event: no event with this event_id in system 'system-a'"]},
        3: {"label": ["is required"]},
    }
    stored = dict(PredictionEvent.objects.values_list("event_id", "label"))
    assert stored == {"l-1": 1.0, "l-2": 0.0, "l-3": None}
    assert PredictionEvent.objects.get(event_id="l-1").label_ts is not None
    # a label for an unknown event is quarantined, replayable once the event arrives
    assert sorted(QuarantinedRecord.objects.filter(kind="label").values_list("reason", flat=True)) == [
        "required",
        "unknown_event",
    ]
    # the same label again changes nothing: a duplicate
    again = post_json(
        client, LABELS_URL, setup["token"], {"labels": [{"event_id": "l-1", "label": 1}]}
    ).json()
    assert again == {"accepted": 0, "duplicates": 1, "rejected": []}
    # a late label marks the closed 5-minute window of its event dirty for recomputation
    dirty = DirtyWindow.objects.get(reason="late_label", deployment=setup["deployment"])
    ts = PredictionEvent.objects.get(event_id="l-1").ts
    assert dirty.window_start <= ts < dirty.window_start + timedelta(minutes=5)


def test_labels_cannot_touch_another_systems_events(client, setup, system_b):
    make_model(system_b)
    token_b = ingest_token(system_b)
    post_json(client, EVENTS_URL, setup["token"], {"events": [event(event_id="secret")]})
    body = post_json(client, LABELS_URL, token_b, {"labels": [{"event_id": "secret", "label": 1}]}).json()
    assert body["accepted"] == 0 and body["rejected"][0]["errors"]["event_id"][0].startswith("unknown event")
    assert PredictionEvent.objects.get(event_id="secret").label is None


def test_late_event_marks_its_window_dirty(client, setup):
    post_json(client, EVENTS_URL, setup["token"], {"events": [event(timestamp=now_iso(-timedelta(hours=3)))]})
    post_json(client, EVENTS_URL, setup["token"], {"events": [event()]})
    assert DirtyWindow.objects.filter(reason="late_event").count() == 1


# --- reference data ------------------------------------------------------------------------


def _reference_rows(n, offset=0):
    return [
        {
            "features": {"income": float(i + offset), "age": i % 7, "region": ["eu", "us", "apac"][i % 3]},
            "score": (i % 10) / 10,
            "prediction": i % 2,
            "label": (i + 1) % 2,
            "cohort": {"sex": "f" if i % 2 else "m"},
        }
        for i in range(n)
    ]


def test_reference_upload_stores_rows_and_computes_bin_edges_once(client, setup):
    import numpy as np

    rows = _reference_rows(200)
    doc = {"model": "scorer", "model_version": "2.3.1", "events": rows}
    response = post_json(client, REFERENCE_URL, setup["token"], doc)
    assert response.json() == {"accepted": 200, "duplicates": 0, "rejected": []}
    ref = ReferenceDataset.objects.get(is_current=True)
    assert ref.row_count == 200 and ReferenceRow.objects.filter(reference=ref).count() == 200
    income = np.array([r["features"]["income"] for r in rows])
    ages = np.array([r["features"]["age"] for r in rows], dtype=float)
    deciles = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert ref.numeric_edges["income"] == list(np.unique(np.quantile(income, deciles)))
    assert ref.numeric_edges["age"] == list(np.unique(np.quantile(ages, deciles)))  # duplicates dropped
    assert len(ref.numeric_edges["age"]) < 9
    assert ref.categories == {"region": ["apac", "eu", "us"]}
    assert ref.output_edges["score"] == list(np.unique(np.quantile([r["score"] for r in rows], deciles)))
    assert ref.numeric_features == ["income", "age"] and ref.cohort_attributes == ["age_band", "sex"]
    assert AuditRecord.objects.filter(action="reference.create").count() == 1


def test_reference_replace_is_audited_and_append_adds_chunks(client, setup):
    doc = {"model": "scorer", "model_version": "2.3.1", "events": _reference_rows(50)}
    post_json(client, REFERENCE_URL, setup["token"], doc)
    first = ReferenceDataset.objects.get(is_current=True)
    post_json(client, REFERENCE_URL, setup["token"], {**doc, "events": _reference_rows(30, 1000)})
    second = ReferenceDataset.objects.get(is_current=True)
    assert second.pk != first.pk and second.row_count == 30
    first.refresh_from_db()
    assert not first.is_current and first.replaced_at is not None and first.row_count == 50
    replaced = AuditRecord.objects.get(action="reference.replace")
    assert replaced.before["reference"] == first.pk and replaced.after["reference"] == second.pk
    body = post_json(
        client, REFERENCE_URL, setup["token"], {**doc, "events": _reference_rows(20, 5000), "append": True}
    ).json()
    assert body["accepted"] == 20
    second.refresh_from_db()
    assert second.is_current and second.row_count == 50 and second.chunks == 2
    assert max(second.numeric_edges["income"]) > 1000  # recomputed over both chunks


def test_reference_for_unknown_model_is_quarantined_row_by_row(client, setup):
    doc = {"model": "ghost", "model_version": "1", "events": _reference_rows(3)}
    body = post_json(client, REFERENCE_URL, setup["token"], doc).json()
    assert body["accepted"] == 0 and len(body["rejected"]) == 3
    assert body["rejected"][0]["errors"]["model"][0].startswith("unknown model 'ghost'")
    assert QuarantinedRecord.objects.filter(kind="reference").count() == 3
    assert QuarantinedRecord.objects.filter(kind="reference").first().context["model"] == "ghost"


def test_reference_for_a_new_version_registers_it(client, setup):
    doc = {"model": "scorer", "model_version": "9.9.9", "events": _reference_rows(5)}
    assert post_json(client, REFERENCE_URL, setup["token"], doc).json()["accepted"] == 5
    ref = ReferenceDataset.objects.get()
    assert ref.model_version.version == "9.9.9" and ref.model_version.auto_registered


def test_reference_from_a_window_of_a_deployments_traffic(client, setup, alice):
    events = [
        event(
            features={"income": float(i), "age": i, "region": "eu"}, timestamp=now_iso(-timedelta(minutes=30))
        )
        for i in range(40)
    ]
    post_json(client, EVENTS_URL, setup["token"], {"events": events})
    url = f"/api/v1/deployments/{setup['deployment'].pk}/reference"
    window = {
        "start": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "end": datetime.now(UTC).isoformat(),
    }
    client.force_login(alice)
    # alice may view system A but not change it
    assert client.post(url, window, content_type="application/json").status_code == 403
    access.grant(setup["system"], [access.CHANGE], user=alice)
    response = client.post(url, window, content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["accepted"] == 40 and body["duplicates"] == 0 and body["rejected"] == []
    ref = ReferenceDataset.objects.get(is_current=True)
    assert ref.source == "deployment" and ref.source_deployment_id == setup["deployment"].pk
    assert ref.row_count == 40 and len(ref.numeric_edges["income"]) == 9
    assert AuditRecord.objects.filter(action="reference.create", actor=alice).exists()
    # an empty window is a 400, a bad window too
    empty = {"start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"}
    assert client.post(url, empty, content_type="application/json").status_code == 400
    assert client.post(url, {"start": "x"}, content_type="application/json").status_code == 400


def test_reference_from_window_of_an_invisible_deployment_is_404(client, setup):
    outsider = UserFactory(username="mallory")
    client.force_login(outsider)
    url = f"/api/v1/deployments/{setup['deployment'].pk}/reference"
    response = client.post(url, {"start": now_iso(), "end": now_iso()}, content_type="application/json")
    assert response.status_code == 404
