"""Schemathesis against the OpenAPI schema the API serves (DESIGN.md §10, §12; issue 9).

Every operation of the schema is called in-process through Django's WSGI handler, inside the
test's transaction, so it runs on PostgreSQL and SQLite alike and needs no server. Requests
carry a personal token of a user who holds every permission on system A (and every role), or
A's ingest token, so they reach the views and not only the 401. Phases: the schema's examples,
coverage (boundary and negative values of every parameter), fuzzing (positive and negative
data), then stateful sequences that carry real ids from list answers into detail and action
calls (links schemathesis infers, plus the catalog's key links below).

Every answer must be non-5xx, documented (status code, content type, headers, body schema),
reject schema-violating requests (4xx) and accept schema-valid ones — with two deliberate
exceptions configured below, each with its reason — and every ingest answer must account for
each record sent.

A last test walks every operation once with real objects, so success bodies are checked
against their schemas too (random ids mostly meet 404s).

In the suite the example count is small and generation deterministic; ``make fuzz`` runs the
same tests longer and randomised: ``FUZZ_EXAMPLES`` (per operation and phase),
``FUZZ_STATEFUL_EXAMPLES`` (scenarios of up to 8 calls), ``FUZZ_RANDOM=1``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import timedelta
from types import SimpleNamespace

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings

from alerts.evaluate import evaluate_window
from alerts.models import Alert, Incident
from alerts.testing import metric, value, window
from healthboard import access
from healthboard.models import ApiToken
from healthboard.tokens import hash_token, issue_token
from metrics.models import ComputationRun, MetricValue
from metrics.trust.service import compute_trust
from tests.factories import UserFactory
from tests.ingest_support import event, make_model, now_iso
from tests.trust import helpers as trust

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
STATEFUL_EXAMPLES = int(os.environ.get("FUZZ_STATEFUL_EXAMPLES", "8"))
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"
# Fixed secrets: the auth provider is consulted while the tests are collected, before any
# database exists; the fixture stores the tokens under these secrets.
TOKENS = {"personal": "hbp_fuzz-personal-token", "ingest": "hbi_fuzz-ingest-token"}
INGEST_RECORDS_KEY = {
    "/api/v1/ingest/events": "events",
    "/api/v1/ingest/labels": "labels",
    "/api/v1/ingest/reference": "events",
}

CONFIG = {
    "generation": {"max-examples": EXAMPLES, "deterministic": not RANDOM},
    "phases": {"stateful": {"max-steps": 8}},
    "operations": [
        {
            # By contract (DESIGN.md §10) an ingest request answers 200 even when its records break
            # the Event schema: each such record is listed in `rejected`, the others stored.
            # `ingest_accounting` checks that instead.
            "include-path-regex": "^/api/v1/ingest/",
            "checks": {"negative_data_rejection": {"enabled": False}},
        },
        {
            # A schema-valid backfill names a metric, version and deployments that must exist
            # (and a start before its end): a schema cannot say "an existing metric key".
            "include-name": "POST /api/v1/backfills/",
            "checks": {"positive_data_acceptance": {"enabled": False}},
        },
        {
            # The window must end after it starts and hold some of the deployment's events.
            "include-name": "POST /api/v1/deployments/{id}/reference",
            "checks": {"positive_data_acceptance": {"enabled": False}},
        },
        {
            # Alert actions depend on the alert's state (only a firing or pending alert can be
            # acknowledged or resolved) and a silence needs an end, ends_at or duration_minutes.
            "include-path-regex": "^/api/v1/alerts/\\{id\\}/(acknowledge|resolve|silence)/$",
            "checks": {"positive_data_acceptance": {"enabled": False}},
        },
    ],
}
# Links schemathesis does not infer: catalog metrics are addressed by their key, not an id.
CATALOG_KEY_LINKS = {
    "GetMetric": "/api/v1/catalog/metrics/{key}/",
    "GetMetricVersions": "/api/v1/catalog/metrics/{key}/versions/",
    "GetMetricPolicy": "/api/v1/catalog/metrics/{key}/policy/",
}


def openapi_document() -> dict:
    """The document ``/api/v1/schema/`` serves (the same generator), plus the key links."""
    document = json.loads(
        OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
    )
    operation_ids = {
        path: document["paths"][path]["get"]["operationId"] for path in CATALOG_KEY_LINKS.values()
    }
    links = document["paths"]["/api/v1/catalog/metrics/"]["get"]["responses"]["200"].setdefault("links", {})
    for name, path in CATALOG_KEY_LINKS.items():
        links[name] = {
            "operationId": operation_ids[path],
            "parameters": {"key": "$response.body#/results/0/key"},
        }
    return document


_django = WSGIHandler()
SENT = Counter()  # requests per test module run, for the README's figures (FUZZ_STATS)


def wsgi_app(environ, start_response):
    SENT["requests"] += 1
    return _django(environ, start_response)


@pytest.fixture(scope="module", autouse=True)
def count_requests():
    """With ``FUZZ_STATS=file``, append how many requests this process sent (one line per
    xdist worker; ``make fuzz`` adds them up)."""
    yield
    if path := os.environ.get("FUZZ_STATS"):
        with open(path, "a") as stats:
            stats.write(f"{SENT['requests']}\n")


schema = schemathesis.openapi.from_dict(openapi_document(), config=schemathesis.Config.from_dict(CONFIG))
schema.app = wsgi_app
schemathesis.serializer.alias("application/x-ndjson", "text/plain")  # the NDJSON body is a string


def token_for(operation) -> str:
    return TOKENS["ingest" if operation.path in INGEST_RECORDS_KEY else "personal"]


@schema.auth(refresh_interval=None)
class BearerToken:
    """The ingest token for ingest operations, the personal token for the others."""

    def get(self, case, ctx):
        return token_for(case.operation)

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def records_sent(case) -> int | None:
    body = case.body
    if isinstance(body, str):  # NDJSON: one record per non-blank line
        return sum(1 for line in body.encode().split(b"\n") if line.strip())
    records = body.get(INGEST_RECORDS_KEY[case.operation.path]) if isinstance(body, dict) else None
    return len(records) if isinstance(records, list) else None


@schemathesis.check
def ingest_accounting(ctx, response, case):
    """Every record of a 200 ingest answer is accounted for: accepted + duplicates + rejected
    equals the records sent, each rejection names a record that exists and gives its errors."""
    if case.operation.path not in INGEST_RECORDS_KEY or case.method.upper() != "POST":
        return None
    if response.status_code != 200:
        return None
    data = response.json()
    indexes = [rejection["index"] for rejection in data["rejected"]]
    assert len(set(indexes)) == len(indexes), f"a record is rejected twice: {indexes}"
    assert all(rejection["errors"] for rejection in data["rejected"]), "a rejection without errors"
    sent = records_sent(case)
    if sent is not None:
        assert all(0 <= i < sent for i in indexes), f"rejected index beyond the {sent} records: {indexes}"
        counted = data["accepted"] + data["duplicates"] + len(indexes)
        assert counted == sent, f"{sent} records sent, {counted} accounted for"
    return True


@pytest.fixture
def api_world(db, system_a, system_b):
    """System A with a model, a deployment, metric values, two trust scores and a firing alert
    with its incident; system B likewise with an alert; a user with every role and every
    permission on A (none on B); the two tokens."""
    # In-process requests must not close the test's connection (Django's test client does the same).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    _, deployment = make_model(system_a)
    _, foreign = make_model(system_b)
    psi = metric("feature_drift_psi")
    for dep in (deployment, foreign):
        value(psi, dep, 0, 0.3, feature="income")
        evaluate_window(dep.pk, *window(0), now=window(0)[1] + timedelta(minutes=2))
    for hour in (1, 2):
        trust.healthy(deployment, end=trust.T0 + hour * trust.HOUR)
        compute_trust(deployment.pk, trust.T0 + (hour - 1) * trust.HOUR, trust.T0 + hour * trust.HOUR)
    user = UserFactory(username="fuzzer", roles=list(access.ROLES))
    access.grant(system_a, list(access.SYSTEM_PERMISSIONS), user=user)
    personal, _ = issue_token(kind=ApiToken.Kind.PERSONAL, user=user, name="fuzz")
    ingest, _ = issue_token(kind=ApiToken.Kind.INGEST, system=system_a, name="fuzz")
    for token, secret in ((personal, TOKENS["personal"]), (ingest, TOKENS["ingest"])):
        ApiToken.objects.filter(pk=token.pk).update(token_hash=hash_token(secret))
    # The fuzzer sends hundreds of ingest requests a minute with one token; throttling them
    # would hide the endpoints behind 429s (the limiter has its own tests and the load run).
    with override_settings(INGEST_RATE_LIMIT_PER_MINUTE=10**9):
        yield SimpleNamespace(
            system=system_a, deployment=deployment, alert=Alert.objects.get(system=system_a)
        )
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


FUZZ_SETTINGS = settings(
    deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=not RANDOM
)


@schema.parametrize()
@FUZZ_SETTINGS
def test_operation(case, api_world):
    case.call_and_validate()


def test_stateful_sequences(api_world):
    """Sequences of up to 8 calls, each answer checked as above."""
    answers: Counter[tuple[str, int]] = Counter()

    class Sequences(schema.as_state_machine()):
        def after_call(self, response, case):
            super().after_call(response, case)
            answers[(case.operation.label, response.status_code)] += 1

    Sequences.run(settings=settings(FUZZ_SETTINGS, max_examples=STATEFUL_EXAMPLES, stateful_step_count=8))
    # The links carried real ids from list answers into calls on single objects.
    reached = {label for (label, status), _ in answers.items() if "{" in label and 200 <= status < 300}
    assert reached, sorted(answers.items())


def real_object_calls(world) -> list[tuple[str, dict]]:
    """One valid request per operation, on the world's real objects, in an order that works
    (events before the labels and the window reference that need them)."""
    deployment, alert = world.deployment, world.alert
    model = deployment.model_version.model
    ev = event(model=model.slug, model_version=deployment.model_version.version)
    route = {"model": model.slug, "model_version": deployment.model_version.version}
    window_around_now = {"start": now_iso(-timedelta(hours=1)), "end": now_iso(timedelta(hours=1))}
    return [
        ("GET /api/v1/systems/", {"query": {"limit": 10}}),
        ("GET /api/v1/systems/{id}/", {"path_parameters": {"id": world.system.pk}}),
        ("GET /api/v1/models/", {"query": {"system": world.system.slug}}),
        ("GET /api/v1/models/{id}/", {"path_parameters": {"id": model.pk}}),
        ("GET /api/v1/deployments/", {"query": {"model": model.slug}}),
        ("GET /api/v1/deployments/{id}/", {"path_parameters": {"id": deployment.pk}}),
        (
            "GET /api/v1/deployments/{id}/trust/",
            {"path_parameters": {"id": deployment.pk}, "query": {"history": 2}},
        ),
        ("GET /api/v1/deployments/{id}/trust/changes/", {"path_parameters": {"id": deployment.pk}}),
        ("GET /api/v1/deployments/{id}/readiness/", {"path_parameters": {"id": deployment.pk}}),
        ("POST /api/v1/ingest/events", {"body": {"events": [ev, {**ev, "event_id": ""}]}}),
        (
            "POST /api/v1/ingest/events",
            {"body": "\n".join(json.dumps(e) for e in [ev, event()]), "media_type": "application/x-ndjson"},
        ),
        ("POST /api/v1/ingest/labels", {"body": {"labels": [{"event_id": ev["event_id"], "label": 1}]}}),
        ("POST /api/v1/ingest/reference", {"body": {**route, "events": [event()]}}),
        (
            "POST /api/v1/deployments/{id}/reference",
            {"path_parameters": {"id": deployment.pk}, "body": window_around_now},
        ),
        (
            "GET /api/v1/metric-values/",
            {"query": {"deployment": deployment.pk, "start": "2026-01-01T00:00:00Z"}},
        ),
        (
            "GET /api/v1/metric-values/{id}/",
            {"path_parameters": {"id": MetricValue.objects.filter(deployment=deployment).first().pk}},
        ),
        ("GET /api/v1/runs/", {}),
        (
            "GET /api/v1/runs/{id}/",
            {"path_parameters": {"id": ComputationRun.objects.filter(deployment=deployment).first().pk}},
        ),
        ("GET /api/v1/alerts/", {"query": {"state": "firing", "deployment": deployment.pk}}),
        ("GET /api/v1/alerts/{id}/", {"path_parameters": {"id": alert.pk}}),
        (
            "POST /api/v1/alerts/{id}/acknowledge/",
            {"path_parameters": {"id": alert.pk}, "body": {"comment": "looking"}},
        ),
        (
            "POST /api/v1/alerts/{id}/silence/",
            {"path_parameters": {"id": alert.pk}, "body": {"reason": "deploy", "duration_minutes": 30}},
        ),
        (
            "POST /api/v1/alerts/{id}/resolve/",
            {"path_parameters": {"id": alert.pk}, "body": {"comment": "fixed"}},
        ),
        ("GET /api/v1/incidents/", {"query": {"state": "open"}}),
        (
            "GET /api/v1/incidents/{id}/",
            {"path_parameters": {"id": Incident.objects.get(system=world.system).pk}},
        ),
        ("GET /api/v1/catalog/metrics/", {"query": {"q": "drift"}}),
        ("GET /api/v1/catalog/metrics/{key}/", {"path_parameters": {"key": "feature_drift_psi"}}),
        ("GET /api/v1/catalog/metrics/{key}/versions/", {"path_parameters": {"key": "feature_drift_psi"}}),
        (
            "GET /api/v1/catalog/metrics/{key}/policy/",
            {"path_parameters": {"key": "feature_drift_psi"}, "query": {"deployment": deployment.pk}},
        ),
        (
            "POST /api/v1/catalog/metrics/{key}/versions/",
            {
                "path_parameters": {"key": "feature_drift_psi"},
                "body": {"warn_threshold": 0.12, "reason": "fewer false alarms"},
            },
        ),
        (
            "POST /api/v1/backfills/",
            {"body": {"metric": "feature_drift_psi", "deployments": [deployment.pk], "reason": "new bins"}},
        ),
        ("GET /api/v1/backfills/{id}/", {"path_parameters": {"id": "BACKFILL"}}),
    ]


def test_every_operation_answers_a_valid_request_on_real_objects_as_documented(api_world):
    """The fuzzers mostly meet ids that do not exist (404); this walks every operation once
    with real objects, so each success body is checked against its schema too."""
    calls = real_object_calls(api_world)
    operations = {result.ok().label: result.ok() for result in schema.get_all_operations()}
    assert {label for label, _ in calls} == set(operations), "an operation without a real-object call"
    backfill = None
    for label, kwargs in calls:
        if "body" in kwargs:
            kwargs.setdefault("media_type", "application/json")
        if kwargs.get("path_parameters", {}).get("id") == "BACKFILL":
            kwargs["path_parameters"]["id"] = backfill
        operation = operations[label]
        response = operation.Case(**kwargs).call_and_validate(
            headers={"Authorization": f"Bearer {token_for(operation)}"}
        )
        assert 200 <= response.status_code < 300, (label, response.status_code, response.text[:300])
        if label == "POST /api/v1/backfills/":
            backfill = response.json()["id"]
