"""Server errors and contract gaps the fuzzers found (tests/test_api_fuzz.py,
tests/test_ingest_properties.py), each pinned by a plain request: all of these answered 500,
or a body the schema did not describe, before their fixes."""

from __future__ import annotations

import json

import pytest

from metrics.models import PredictionEvent, QuarantinedRecord
from tests.ingest_support import EVENTS_URL, LABELS_URL, event, ingest_token, make_model, post_json

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/alerts/?system=a%00b",
        "/api/v1/models/?system=%00",
        "/api/v1/metric-values/?segment=%00",
        "/api/v1/deployments/?x%00=1",
    ],
)
def test_a_nul_in_a_query_parameter_is_a_400_naming_it(client, alice, url):
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "NUL characters are not allowed in the URL."
    assert list(body["errors"]) == [url.split("?")[1].split("=")[0].replace("%00", "\\0")]


def test_a_nul_in_a_page_url_is_a_plain_400(client, alice):
    client.force_login(alice)
    assert client.get("/?system=%00").status_code == 400


def test_an_api_url_no_route_matches_is_a_json_404(client, alice):
    client.force_login(alice)
    response = client.post("/api/v1/deployments/null,null/reference", {}, content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"message": "Not found.", "errors": {}}
    assert client.get("/no-such-page/")["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/alerts/?deployment=%C2%B2", "deployment"),  # "²" is a digit to str.isdigit, not to int()
        ("/api/v1/metric-values/?deployment=" + "9" * 5000, "deployment"),
        ("/api/v1/systems/?limit=abc", "limit"),
        ("/api/v1/systems/?limit=0", "limit"),
        ("/api/v1/systems/?limit=1001", "limit"),
        ("/api/v1/systems/?offset=-1", "offset"),
        ("/api/v1/systems/?offset=" + "9" * 30, "offset"),
        ("/api/v1/metric-values/?start=", "start"),
    ],
)
def test_a_malformed_integer_or_time_parameter_is_a_400_naming_it(client, alice, url, name):
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [name]


def test_pagination_bounds_accept_their_limits(client, alice, system_a):
    client.force_login(alice)
    body = client.get("/api/v1/systems/?limit=1000&offset=0").json()
    assert [s["slug"] for s in body["results"]] == ["system-a"]


@pytest.mark.parametrize(
    "body", [[None, None], "text", {"metric": "feature_drift_psi\x00"}, {"metric": "x", "reason": "a\x00"}]
)
def test_a_backfill_body_that_is_not_an_object_or_holds_nul_is_a_400(client, catalog_admin, body):
    client.force_login(catalog_admin)
    response = client.post("/api/v1/backfills/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400


@pytest.fixture
def token(system_a):
    make_model(system_a)
    return ingest_token(system_a)


NUL_RECORDS = {
    "event_id": event(event_id="a\x00b"),
    "categorical feature": event(features={"income": 1.0, "age": 2.0, "region": "e\x00u"}),
    "cohort value": event(cohort={"sex": "f\x00"}),
    "unknown feature name": event(features={"inc\x00ome": 1.0}),
    "unknown cohort name": event(cohort={"s\x00ex": "f"}),
    "unknown field": event(**{"bad\x00key": 1}),
}


@pytest.mark.parametrize("what", NUL_RECORDS)
def test_a_nul_in_an_event_rejects_that_record_and_keeps_it_in_quarantine(client, token, what):
    good = event()
    response = post_json(client, EVENTS_URL, token, {"events": [good, NUL_RECORDS[what]]})
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1 and [r["index"] for r in body["rejected"]] == [1]
    assert PredictionEvent.objects.get().event_id == good["event_id"]
    quarantined = QuarantinedRecord.objects.get()
    assert "\x00" not in quarantined.raw + json.dumps(quarantined.errors)


def test_an_ndjson_line_with_a_raw_nul_byte_is_one_rejected_record(client, token):
    body = json.dumps(event()) + "\n\x00{\n"
    response = client.generic(
        "POST", EVENTS_URL, body, content_type="application/x-ndjson", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert [r["index"] for r in response.json()["rejected"]] == [1]


def test_a_label_for_an_event_id_with_nul_is_rejected(client, token):
    response = post_json(client, LABELS_URL, token, {"labels": [{"event_id": "a\x00", "label": 1}]})
    assert response.status_code == 200
    assert response.json()["rejected"][0]["errors"] == {"event_id": ["must not contain NUL characters"]}


def test_a_lone_surrogate_makes_a_json_body_unreadable_and_an_ndjson_line_rejected(client, token):
    lone = json.dumps({"events": [event(event_id="SURROGATE")]}).replace("SURROGATE", "\\ud800")
    response = post_json(client, EVENTS_URL, token, lone)
    assert response.status_code == 400
    assert response.json()["errors"] == {"body": ["invalid JSON"]}

    lines = (
        json.dumps(event()) + "\n" + json.dumps(event(event_id="SURROGATE")).replace("SURROGATE", "\\udc00")
    )
    response = client.generic(
        "POST", EVENTS_URL, lines, content_type="application/x-ndjson", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200
    assert response.json()["accepted"] == 1 and response.json()["rejected"][0]["index"] == 1


def test_a_surrogate_pair_is_a_character_like_any_other(client, token):
    pair = json.dumps({"events": [event(cohort={"sex": "SMILE"})]}).replace("SMILE", "\\ud83d\\ude00")
    response = post_json(client, EVENTS_URL, token, pair)
    assert response.status_code == 200 and response.json()["accepted"] == 1


@pytest.mark.parametrize(
    "value",
    [
        "0482-03-30T18:04:59+16:54",  # Python parses it, PostgreSQL refuses the offset
        "2026-02-30T00:00:00Z",  # well formed, no such day: parse_datetime raises
        "0001-01-01T00:00:00+05:00",  # before year 1 once in UTC
    ],
)
def test_an_odd_date_time_parameter_is_a_400_or_read_in_utc_never_a_500(client, alice, deployment_a, value):
    client.force_login(alice)
    quoted = value.replace("+", "%2B")
    for url in (
        f"/api/v1/metric-values/?end={quoted}",
        f"/api/v1/deployments/{deployment_a.pk}/trust/?window_end={quoted}",
    ):
        response = client.get(url)
        assert response.status_code in (200, 400, 404), (url, response.status_code)
    response = client.get(f"/api/v1/metric-values/?start={quoted}")
    assert response.status_code == (200 if value.startswith("0482") else 400)


@pytest.mark.parametrize(
    "url",
    [
        "/ds/distribution/?deployment={d}&feature=income&window=2026-02-30T00:00:00Z",
        "/ds/distribution/?deployment={d}&feature=income&window=0482-03-30T18:04:59%2B16:54",
        "/scenarios/?deployment={d}&period=2026-02-30T00:00:00Z",
        "/scenarios/?deployment={d}&period=0482-03-30T18:04:59%2B16:54",
    ],
)
def test_an_odd_date_time_in_a_dashboard_url_is_not_a_500(client, alice, deployment_a, url):
    client.force_login(alice)
    assert client.get(url.format(d=deployment_a.pk)).status_code in (200, 404)
