"""Every validation rule of the ingest API, each with the error message it produces."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from catalog.models import Deployment, Environment, Model, ModelVersion
from healthboard.models import AuditRecord
from metrics.models import PredictionEvent, QuarantinedRecord
from tests.ingest_support import EVENTS_URL, event, ingest_token, make_model, now_iso, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(system_a):
    model, deployment = make_model(system_a)
    return {"system": system_a, "model": model, "deployment": deployment, "token": ingest_token(system_a)}


def _drop(key):
    def mutate(ev):
        ev.pop(key)
        return ev

    return mutate


def _set(**values):
    def mutate(ev):
        ev.update(values)
        return ev

    return mutate


def _feature(**values):
    def mutate(ev):
        ev["features"] = {**ev["features"], **values}
        return ev

    return mutate


def _cohort(**values):
    def mutate(ev):
        ev["cohort"] = {**ev["cohort"], **values}
        return ev

    return mutate


CASES = [
    # required fields
    ("missing event_id", _drop("event_id"), "event_id", "is required"),
    ("missing model", _drop("model"), "model", "is required"),
    ("missing model_version", _drop("model_version"), "model_version", "is required"),
    ("missing environment", _drop("environment"), "environment", "is required"),
    ("missing timestamp", _drop("timestamp"), "timestamp", "is required"),
    # types
    ("event_id object", _set(event_id={"a": 1}), "event_id", "must be a string, got object"),
    ("event_id empty", _set(event_id=""), "event_id", "must be 1 to 128 characters"),
    ("event_id too long", _set(event_id="x" * 129), "event_id", "must be 1 to 128 characters"),
    ("model number", _set(model=7), "model", "must be a string, got number"),
    ("version not a string", _set(model_version=2), "model_version", "must be a version string"),
    ("environment not a slug", _set(environment="prod eu!"), "environment", "must be a slug"),
    ("error not a boolean", _set(error="no"), "error", "must be a boolean, got string"),
    ("prediction string", _set(prediction="yes"), "prediction", "must be a number or a boolean, got string"),
    ("label object", _set(label={}), "label", "must be a number or a boolean, got object"),
    ("score string", _set(score="0.3"), "score", "must be a number, got string"),
    ("score above 1", _set(score=1.5), "score", "must be between 0 and 1 for a binary classification model"),
    ("features not an object", _set(features=[1, 2]), "features", "must be an object, got array"),
    ("cohort not an object", _set(cohort="f"), "cohort", "must be an object, got string"),
    ("unknown top-level field", _set(colour="red"), "colour", "unknown field"),
    # latency
    ("latency negative", _set(latency_ms=-1), "latency_ms", "must be ≥ 0"),
    ("latency string", _set(latency_ms="12"), "latency_ms", "must be a number, got string"),
    ("latency huge", _set(latency_ms=1e300), "latency_ms", "must be at most 86400000"),
    # timestamps
    ("timestamp garbage", _set(timestamp="yesterday"), "timestamp", "is not an ISO 8601 timestamp"),
    ("timestamp number", _set(timestamp=1700000000), "timestamp", "must be an ISO 8601 string, got number"),
    ("timestamp naive", _set(timestamp="2026-11-20T10:00:00"), "timestamp", "has no timezone"),
    (
        "timestamp 2 days ahead",
        _set(timestamp=now_iso(timedelta(days=2))),
        "timestamp",
        "more than 1 day in the future",
    ),
    (
        "timestamp before retention",
        _set(timestamp=now_iso(-timedelta(days=400))),
        "timestamp",
        "older than the raw-event retention",
    ),
    # features
    (
        "unknown feature",
        _feature(colour="red"),
        "features.colour",
        "unknown feature (declared: income, age, region)",
    ),
    (
        "numeric feature with a string",
        _feature(income="52k"),
        "features.income",
        "must be a number, got string",
    ),
    ("numeric feature with a boolean", _feature(age=True), "features.age", "must be a number, got boolean"),
    (
        "categorical feature with an object",
        _feature(region={"x": 1}),
        "features.region",
        "must be a string, got object",
    ),
    (
        "categorical feature with a float",
        _feature(region=1.5),
        "features.region",
        "must be a string, got number",
    ),
    # cohorts
    (
        "unknown cohort attribute",
        _cohort(planet="mars"),
        "cohort.planet",
        "unknown cohort attribute (declared: age_band, sex)",
    ),
    ("cohort value a list", _cohort(sex=["f"]), "cohort.sex", "must be a string, got array"),
    # unknown model
    (
        "unknown model",
        _set(model="ranker"),
        "model",
        "unknown model 'ranker' in system 'system-a' (declared: scorer)",
    ),
]


@pytest.mark.parametrize(("name", "mutate", "field", "message"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_rejects_with_a_message_naming_field_and_reason(
    client, setup, name, mutate, field, message
):
    bad = mutate(event())
    response = post_json(client, EVENTS_URL, setup["token"], {"events": [event(), bad]})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["accepted"] == 1
    assert body["duplicates"] == 0
    [rejected] = body["rejected"]
    assert rejected["index"] == 1
    assert field in rejected["errors"], rejected
    assert any(message in m for m in rejected["errors"][field]), rejected["errors"][field]
    assert PredictionEvent.objects.count() == 1
    record = QuarantinedRecord.objects.get()
    assert record.index == 1 and record.kind == "event"
    assert record.errors == rejected["errors"]


@pytest.mark.parametrize(
    ("literal", "field"),
    [
        ('"income": NaN', "features.income"),
        ('"income": Infinity', "features.income"),
        ('"income": -Infinity', "features.income"),
    ],
)
def test_nan_and_infinity_are_rejected_per_record(client, setup, literal, field):
    good = json.dumps(event())
    bad = json.dumps(event(features={"income": 1.0, "age": 2, "region": "eu"})).replace(
        '"income": 1.0', literal
    )
    response = post_json(client, EVENTS_URL, setup["token"], f'{{"events": [{good}, {bad}]}}')
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1
    assert body["rejected"][0]["errors"][field] == ["must be finite (NaN and Infinity are not allowed)"]
    # the payload is kept as received, NaN included, so it can be replayed after a fix
    assert literal.split(": ")[1] in QuarantinedRecord.objects.get().raw


def test_nan_latency_and_huge_numbers(client, setup):
    bad_latency = json.dumps(event()).replace('"latency_ms": 12.5', '"latency_ms": NaN')
    huge = json.dumps(event()).replace('"score": 0.83', '"score": 1e999')
    big_int = json.dumps(event()).replace('"age": 41', '"age": ' + "9" * 400)
    response = post_json(
        client, EVENTS_URL, setup["token"], f'{{"events": [{bad_latency}, {huge}, {big_int}]}}'
    )
    assert response.status_code == 200
    rejected = {r["index"]: r["errors"] for r in response.json()["rejected"]}
    assert rejected[0] == {"latency_ms": ["must be finite (NaN and Infinity are not allowed)"]}
    assert rejected[1] == {"score": ["must be finite (NaN and Infinity are not allowed)"]}
    assert rejected[2] == {"features.age": ["is out of range for a double-precision number"]}


def test_several_errors_in_one_record_are_all_reported(client, setup):
    bad = event(latency_ms=-3, features={"income": "x", "colour": "red"}, timestamp="nope")
    response = post_json(client, EVENTS_URL, setup["token"], {"events": [bad]})
    errors = response.json()["rejected"][0]["errors"]
    assert set(errors) == {"latency_ms", "features.income", "features.colour", "timestamp"}


def test_record_that_is_not_an_object(client, setup):
    response = post_json(client, EVENTS_URL, setup["token"], {"events": [event(), 42, "x"]})
    body = response.json()
    assert body["accepted"] == 1
    assert [r["errors"] for r in body["rejected"]] == [
        {"_record": ["must be a JSON object, got number"]},
        {"_record": ["must be a JSON object, got string"]},
    ]


def test_missing_feature_is_stored_as_null(client, setup):
    response = post_json(
        client,
        EVENTS_URL,
        setup["token"],
        {"events": [event(features={"region": "us"}, cohort={"sex": "m"})]},
    )
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    stored = PredictionEvent.objects.get()
    assert stored.numeric == [None, None]
    assert stored.categorical == ["us"]
    assert stored.cohort == [None, "m"]  # cohort order: age_band, sex


def test_values_are_stored_in_declared_feature_order(client, setup):
    ev = event(features={"region": "eu", "age": 30, "income": 1.5}, label=True, prediction=False)
    post_json(client, EVENTS_URL, setup["token"], {"events": [ev]})
    stored = PredictionEvent.objects.get()
    assert stored.numeric == [1.5, 30.0]
    assert stored.label == 1.0 and stored.prediction == 0.0
    assert stored.deployment_id == setup["deployment"].pk
    assert stored.system_id == setup["system"].pk


def test_unknown_version_and_environment_are_registered_and_audited(client, setup):
    ev = event(model_version="3.0.0", environment="staging-eu")
    response = post_json(client, EVENTS_URL, setup["token"], {"events": [ev, event(model_version="3.0.0")]})
    assert response.json()["accepted"] == 2
    version = ModelVersion.objects.get(model=setup["model"], version="3.0.0")
    environment = Environment.objects.get(system=setup["system"], slug="staging-eu")
    assert version.auto_registered and environment.auto_registered
    assert environment.kind == Environment.Kind.STAGING
    assert Deployment.objects.filter(model_version=version).count() == 2  # staging-eu and prod
    actions = set(
        AuditRecord.objects.filter(source=AuditRecord.Source.SYSTEM).values_list("action", flat=True)
    )
    assert {"model_version.auto_register", "environment.auto_register", "deployment.auto_register"} <= actions
    record = AuditRecord.objects.get(action="model_version.auto_register")
    assert record.actor_name == "ingest:system-a"
    assert PredictionEvent.objects.filter(deployment__model_version=version).count() == 2


def test_unknown_model_is_not_registered(client, setup):
    post_json(client, EVENTS_URL, setup["token"], {"events": [event(model="ghost")]})
    assert not Model.objects.filter(slug="ghost").exists()


def test_regression_model_accepts_any_finite_score(client, system_a):
    make_model(system_a, slug="pricer", task=Model.Task.REGRESSION)
    token = ingest_token(system_a)
    response = post_json(client, EVENTS_URL, token, {"events": [event(model="pricer", score=1234.5)]})
    assert response.json()["accepted"] == 1
