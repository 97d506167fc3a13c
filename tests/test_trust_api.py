"""Trust and readiness API: content, scoping by access (404 for others), what changed."""

from __future__ import annotations

import pytest

from healthboard import access
from healthboard.tokens import issue_token
from metrics.trust import service
from tests.trust.helpers import HOUR, T0, healthy, metric, value

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(deployment_a):
    healthy(deployment_a)
    value(deployment_a, metric("demographic_parity_difference"), 0.31, attribute="sex")
    return service.compute_trust(deployment_a.pk, T0, T0 + HOUR)


def test_trust_endpoint_returns_the_latest_score_with_its_explanation(client, alice, deployment_a, scored):
    client.force_login(alice)
    body = client.get(f"/api/v1/deployments/{deployment_a.pk}/trust/").json()
    assert body["id"] == scored.pk and body["readiness"] == "blocked"
    assert body["score"] == pytest.approx(scored.score)
    assert {p["pillar"] for p in body["pillars"]} >= {
        "performance",
        "fairness",
        "reliability",
        "data_quality",
    }
    assert body["contributions"][0]["metric"] == "demographic_parity_difference"
    assert body["reasons"][0]["code"] == "metric_critical"
    assert body["weight_profile"]["name"] == "balanced"
    assert set(body["lineage"]["metric_values"]) == set(scored.metric_value_ids)


def test_readiness_endpoint_is_the_gate(client, alice, deployment_a, scored):
    client.force_login(alice)
    body = client.get(f"/api/v1/deployments/{deployment_a.pk}/readiness/").json()
    assert body["readiness"] == "blocked"
    assert body["reasons"][0]["metric"] == "demographic_parity_difference"
    assert body["containment"]["canary_share"] == 0.0
    assert body["system"] == "system-a" and body["trust_score"] == scored.pk


def test_readiness_without_a_score_is_staged_and_trust_is_404(client, alice, deployment_a):
    client.force_login(alice)
    assert client.get(f"/api/v1/deployments/{deployment_a.pk}/readiness/").json()["readiness"] == "staged"
    assert client.get(f"/api/v1/deployments/{deployment_a.pk}/trust/").status_code == 404


def test_outsiders_get_404_for_trust_readiness_and_changes(client, bob, deployment_a, scored):
    client.force_login(bob)
    for suffix in ("trust/", "readiness/", "trust/changes/"):
        response = client.get(f"/api/v1/deployments/{deployment_a.pk}/{suffix}")
        assert response.status_code == 404, suffix
        assert "demographic_parity" not in response.content.decode()


def test_personal_token_reads_readiness_and_anonymous_is_refused(client, alice, bob, deployment_a, scored):
    _, raw = issue_token(kind="personal", user=alice)
    url = f"/api/v1/deployments/{deployment_a.pk}/readiness/"
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}").json()["readiness"] == "blocked"
    _, other = issue_token(kind="personal", user=bob)
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 404
    assert client.get(url).status_code in (401, 403)


def test_history_and_changes(client, alice, deployment_a, scored):
    end = T0 + 2 * HOUR
    healthy(deployment_a, end=end)
    value(deployment_a, metric("demographic_parity_difference"), 0.05, attribute="sex", end=end)
    later = service.compute_trust(deployment_a.pk, end - HOUR, end)
    client.force_login(alice)
    body = client.get(f"/api/v1/deployments/{deployment_a.pk}/trust/?history=5").json()
    assert [p["id"] for p in body["history"]] == [scored.pk, later.pk]
    changes = client.get(f"/api/v1/deployments/{deployment_a.pk}/trust/changes/").json()
    assert changes["change"] == pytest.approx(later.score - scored.score)
    assert changes["by_metric"][0]["metric"] == "demographic_parity_difference"
    assert changes["by_pillar"][0]["pillar"] == "fairness"
    assert client.get(f"/api/v1/deployments/{deployment_a.pk}/trust/?history=x").status_code == 400
    assert client.get(f"/api/v1/deployments/{deployment_a.pk}/trust/changes/?to=999999").status_code == 404


def test_sensitive_fairness_values_need_view_sensitive(client, alice, deployment_a, system_a):
    healthy(deployment_a)
    value(deployment_a, metric("demographic_parity_difference", sensitive=True), 0.31, attribute="sex")
    service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    client.force_login(alice)  # view_system only
    trust = client.get(f"/api/v1/deployments/{deployment_a.pk}/trust/").json()
    readiness = client.get(f"/api/v1/deployments/{deployment_a.pk}/readiness/").json()
    for reason in (trust["reasons"][0], readiness["reasons"][0]):
        assert reason["metric"] == "demographic_parity_difference" and reason["code"] == "metric_critical"
        assert reason["value"] is None and "0.31" not in reason["message"]
        assert "value hidden" in reason["message"]
    fair = next(c for c in trust["contributions"] if c["metric"] == "demographic_parity_difference")
    assert fair["worst"]["value"] is None
    assert all(
        i["value"] is None
        for i in trust["lineage"]["inputs"]
        if i["metric"] == "demographic_parity_difference"
    )
    assert "0.31" not in client.get(f"/deployments/{deployment_a.pk}/trust/").content.decode()
    access.grant(system_a, [access.VIEW_SENSITIVE], user=alice)
    trust = client.get(f"/api/v1/deployments/{deployment_a.pk}/trust/").json()
    assert trust["reasons"][0]["value"] == 0.31 and "0.31" in trust["reasons"][0]["message"]
