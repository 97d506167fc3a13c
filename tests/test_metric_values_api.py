"""GET /api/v1/metric-values/, /api/v1/runs/{id} and /metrics: contract shape and scoping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from healthboard import access
from metrics.models import ComputationRun
from tests.factories import MetricValueFactory, MetricVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def values(deployment_a, deployment_b):
    run = ComputationRun.objects.create(
        deployment=deployment_a, task_id="t-1", code_version="abc", status="succeeded"
    )
    latency = MetricVersionFactory(definition__key="test_latency")
    fairness = MetricVersionFactory(
        definition__key="test_fairness", pillar="fairness", sensitive=True, direction="lower_is_better"
    )
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    own = MetricValueFactory(
        metric_version=latency, deployment=deployment_a, window_start=start, run=run, value=150.0
    )
    MetricValueFactory(
        metric_version=latency,
        deployment=deployment_a,
        window_start=start + timedelta(hours=1),
        segment="region=eu",
        value=180.0,
    )
    MetricValueFactory(
        metric_version=fairness,
        deployment=deployment_a,
        window_start=start,
        attribute="sex",
        value=0.12,
        details={"groups": {"f": {"rate": 0.4, "count": 50}}},
    )
    MetricValueFactory(metric_version=latency, deployment=deployment_b, window_start=start, value=999.0)
    return {"own": own, "run": run, "start": start}


def test_items_follow_the_contract(client, alice, values, deployment_a):
    client.force_login(alice)
    body = client.get("/api/v1/metric-values/", {"metric": "test_latency", "segment": ""}).json()
    assert body["count"] == 1
    item = body["results"][0]
    assert set(item) == {
        "metric",
        "metric_version",
        "deployment",
        "feature",
        "segment",
        "attribute",
        "window_start",
        "window_end",
        "value",
        "status",
        "sample_size",
        "details",
        "run",
    }
    assert item["metric"] == "test_latency" and item["metric_version"] == 1
    assert item["deployment"] == deployment_a.pk and item["feature"] is None and item["attribute"] is None
    assert item["segment"] == "" and item["value"] == 150.0 and item["run"] == values["run"].pk


def test_other_teams_values_are_never_listed(client, alice, values, deployment_b):
    client.force_login(alice)
    listed = client.get("/api/v1/metric-values/").json()["results"]
    assert {v["deployment"] for v in listed} == {values["own"].deployment_id}
    assert client.get("/api/v1/metric-values/", {"deployment": deployment_b.pk}).json()["count"] == 0


def test_sensitive_values_need_view_sensitive(client, alice, values, system_a):
    client.force_login(alice)
    keys = {v["metric"] for v in client.get("/api/v1/metric-values/").json()["results"]}
    assert "test_fairness" not in keys
    access.grant(system_a, [access.VIEW_SENSITIVE], user=alice)
    listed = client.get("/api/v1/metric-values/", {"metric": "test_fairness"}).json()["results"]
    assert listed[0]["attribute"] == "sex" and listed[0]["details"]["groups"]["f"]["count"] == 50


def test_time_filters_and_bad_input(client, alice, values):
    client.force_login(alice)
    start = values["start"]
    later = client.get(
        "/api/v1/metric-values/", {"start": (start + timedelta(minutes=30)).isoformat()}
    ).json()
    assert [v["value"] for v in later["results"]] == [180.0]
    response = client.get("/api/v1/metric-values/", {"start": "yesterday"})
    assert response.status_code == 400 and "start" in response.json()["errors"]
    assert client.get("/api/v1/metric-values/", {"deployment": "x"}).status_code == 400


def test_run_lineage_is_scoped(client, alice, bob, values):
    run = values["run"]
    client.force_login(alice)
    body = client.get(f"/api/v1/runs/{run.pk}/").json()
    assert body["task_id"] == "t-1" and body["code_version"] == "abc"
    client.force_login(bob)
    assert client.get(f"/api/v1/runs/{run.pk}/").status_code == 404


def test_prometheus_exposition_is_scoped(client, alice, values):
    client.force_login(alice)
    response = client.get("/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'metric="test_latency"' in text and 'segment="region=eu"' in text
    assert " 180.0" in text and " 999.0" not in text and "test_fairness" not in text
