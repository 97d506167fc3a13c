"""Catalog API: GET /api/v1/catalog/metrics/ (with versions) and detail; catalog admins create
versions with POST …/{key}/versions/ (reason required, same service and audit as the UI)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from catalog.models import CatalogChangeRequest, Environment, MetricVersion
from healthboard.models import AuditRecord
from healthboard.tokens import issue_token
from tests.catalog_support import current, deployment_in
from tests.factories import SystemFactory

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.catalog_fixtures"]

LIST = "/api/v1/catalog/metrics/"


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_reading_needs_a_signed_in_user():
    assert api().get(LIST).status_code in (401, 403)


def test_the_list_has_every_metric_with_its_versions(sre_user, admin_a):
    from catalog import services

    services.create_metric_version(
        "latency_p95_ms", {"critical_threshold": 1500.0}, reason="GPU", actor=admin_a
    )
    response = api(sre_user).get(LIST, {"limit": 100})
    assert response.status_code == 200
    body = response.json()
    items = {item["key"]: item for item in body["results"]}
    assert body["count"] == 33 and len(items) == 33
    p95 = items["latency_p95_ms"]
    assert p95["name"] == "Latency p95" and p95["pillar"] == "performance"
    assert p95["current_version"] == 2 and p95["critical_threshold"] == 1500.0
    assert [v["number"] for v in p95["versions"]] == [1, 2]
    assert p95["versions"][1] == {
        "number": 2,
        "is_current": True,
        "created_at": p95["versions"][1]["created_at"],
        "created_by": "carol",
        "change_reason": "GPU",
    }
    fairness = api(sre_user).get(LIST, {"pillar": "fairness"}).json()
    assert {i["key"] for i in fairness["results"]} == {
        "demographic_parity_difference",
        "disparate_impact_ratio",
        "equal_opportunity_difference",
        "equalized_odds_difference",
        "group_accuracy_gap",
    }
    assert [i["key"] for i in api(sre_user).get(LIST, {"q": "freshness"}).json()["results"]] == [
        "data_freshness_s",
        "label_freshness_s",
    ]


def test_the_detail_has_full_versions_and_the_playbook(sre_user):
    response = api(sre_user).get(f"{LIST}error_rate/")
    assert response.status_code == 200
    body = response.json()
    assert body["key"] == "error_rate" and body["current_version"] == 1
    assert body["versions"][0]["warn_threshold"] == 0.01 and "**Check, in order**" in body["playbook"]
    assert api(sre_user).get(f"{LIST}nope/").status_code == 404


def test_a_personal_token_reads_the_catalog(sre_user):
    _, raw = issue_token(kind="personal", user=sre_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(f"{LIST}f1/").status_code == 200


def test_a_catalog_admin_creates_a_version_with_a_reason(admin_a):
    response = api(admin_a).post(
        f"{LIST}latency_p95_ms/versions/",
        {"critical_threshold": 1500, "reason": "GPU pool is slower", "base_version": 1},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"] == 2 and body["critical_threshold"] == 1500.0 and body["created_by"] == "carol"
    assert current("latency_p95_ms").number == 2
    record = AuditRecord.objects.get(action="catalog.metric.version_created")
    assert record.source == "api" and record.reason == "GPU pool is slower" and record.actor == admin_a
    assert record.diff["critical_threshold"] == [1000.0, 1500.0]
    versions = api(admin_a).get(f"{LIST}latency_p95_ms/versions/").json()
    assert [v["number"] for v in versions] == [1, 2]


def test_bad_requests_change_nothing(admin_a):
    client = api(admin_a)
    url = f"{LIST}latency_p95_ms/versions/"
    missing_reason = client.post(url, {"critical_threshold": 1500}, format="json")
    assert missing_reason.status_code == 400 and "reason" in missing_reason.json()["errors"]
    unknown = client.post(url, {"critical": 1500, "reason": "x"}, format="json")
    assert unknown.status_code == 400 and "critical" in unknown.json()["errors"]
    inverted = client.post(url, {"warn_threshold": 5000, "reason": "x"}, format="json")
    assert inverted.status_code == 400 and "critical_threshold" in inverted.json()["errors"]
    stale = client.post(url, {"warn_threshold": 400, "reason": "x", "base_version": 9}, format="json")
    assert stale.status_code == 400
    same = client.post(url, {"warn_threshold": 500, "reason": "x"}, format="json")
    assert same.status_code == 400 and "Nothing changed" in str(same.json())
    assert MetricVersion.objects.filter(definition__key="latency_p95_ms").count() == 1
    assert not AuditRecord.objects.filter(action__startswith="catalog.").exists()


@pytest.mark.parametrize("fixture", ["sre_user", "executive_user"])
def test_sre_and_executive_users_get_403_and_nothing_changes(request, fixture):
    user = request.getfixturevalue(fixture)
    response = api(user).post(
        f"{LIST}latency_p95_ms/versions/", {"critical_threshold": 1500, "reason": "let me"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["message"] == "Only catalog admins may change the catalog."
    assert MetricVersion.objects.filter(definition__key="latency_p95_ms").count() == 1
    assert not AuditRecord.objects.filter(action__startswith="catalog.").exists()


def test_four_eyes_answers_202_with_the_pending_change(settings, admin_a):
    settings.CATALOG_FOUR_EYES = True
    deployment_in(SystemFactory(slug="credit-risk"), "prod", Environment.Kind.PRODUCTION)
    response = api(admin_a).post(
        f"{LIST}error_rate/versions/", {"critical_threshold": 0.1, "reason": "loosen"}, format="json"
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending" and CatalogChangeRequest.objects.get().pk == body["pending_change"]
    assert current("error_rate").number == 1


def test_the_effective_policy_endpoint(admin_a, sre_user):
    from catalog import services

    deployment = deployment_in(SystemFactory(slug="credit-risk"))
    services.set_threshold_override(
        "error_rate", scope="deployment", target=deployment, warn_threshold=0.02, reason="x", actor=admin_a
    )
    body = api(admin_a).get(f"{LIST}error_rate/policy/", {"deployment": deployment.pk}).json()
    assert body == {
        "metric": "error_rate",
        "metric_version": 1,
        "direction": "lower_is_better",
        "warn": 0.02,
        "critical": 0.05,
        "for_windows": 2,
        "source": "deployment",
        "sources": {"warn": "deployment", "critical": "catalog", "for_windows": "catalog"},
    }
    # A deployment the user cannot see is a 404.
    assert api(sre_user).get(f"{LIST}error_rate/policy/", {"deployment": deployment.pk}).status_code == 404


def test_a_catalog_admin_can_post_with_a_personal_token(admin_a):
    _, raw = issue_token(kind="personal", user=admin_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.post(
        f"{LIST}latency_p95_ms/versions/", {"critical_threshold": 1500, "reason": "token"}, format="json"
    )
    assert response.status_code == 201
    assert AuditRecord.objects.get(action="catalog.metric.version_created").actor == admin_a
