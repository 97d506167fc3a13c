"""Shared builders for the ingestion tests (tests/test_ingest_*.py)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from catalog.models import Environment, Model
from healthboard.models import ApiToken
from healthboard.tokens import issue_token
from tests.factories import (
    CohortAttributeFactory,
    DeploymentFactory,
    EnvironmentFactory,
    FeatureFactory,
    ModelFactory,
    ModelVersionFactory,
)

EVENTS_URL = "/api/v1/ingest/events"
LABELS_URL = "/api/v1/ingest/labels"
REFERENCE_URL = "/api/v1/ingest/reference"


def make_model(system, slug="scorer", task=Model.Task.BINARY_CLASSIFICATION, version="2.3.1", env="prod"):
    """scorer: income (numeric), age (numeric), region (categorical); cohorts sex, age_band."""
    model = ModelFactory(system=system, slug=slug, task=task)
    FeatureFactory(model=model, name="income", type="numeric", position=0)
    FeatureFactory(model=model, name="age", type="numeric", position=1)
    FeatureFactory(model=model, name="region", type="categorical", position=2)
    CohortAttributeFactory(model=model, name="sex", protected=True)
    CohortAttributeFactory(model=model, name="age_band")
    mv = ModelVersionFactory(model=model, version=version)
    environment = Environment.objects.filter(system=system, slug=env).first() or EnvironmentFactory(
        system=system, slug=env
    )
    deployment = DeploymentFactory(model_version=mv, environment=environment)
    return model, deployment


def ingest_token(system) -> str:
    _, raw = issue_token(kind=ApiToken.Kind.INGEST, system=system, name="test")
    return raw


def now_iso(delta: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) + delta).isoformat().replace("+00:00", "Z")


def event(**overrides) -> dict:
    base = {
        "event_id": uuid.uuid4().hex,
        "model": "scorer",
        "model_version": "2.3.1",
        "environment": "prod",
        "timestamp": now_iso(),
        "latency_ms": 12.5,
        "error": False,
        "features": {"income": 52000.0, "age": 41, "region": "eu"},
        "prediction": 1,
        "score": 0.83,
        "label": None,
        "cohort": {"sex": "f", "age_band": "30-45"},
    }
    base.update(overrides)
    return base


def auth(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def post_json(client, url: str, token: str | None, payload, **extra):
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    headers = auth(token) if token else {}
    return client.generic("POST", url, body, content_type="application/json", **headers, **extra)


def post_ndjson(client, url: str, token: str, records: list[dict], **extra):
    body = "\n".join(json.dumps(r) for r in records) + "\n"
    return client.generic("POST", url, body, content_type="application/x-ndjson", **auth(token), **extra)
