"""The catalog UI: list with search and pillar filter, definition page with history and diff,
the two-step edit (preview with backtest, then save), rollback, overrides, weight profiles and
the four-eyes queue; only catalog admins change anything."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from catalog import services
from catalog.models import (
    CatalogChangeRequest,
    Environment,
    MetricVersion,
    ThresholdOverride,
    WeightProfileVersion,
)
from healthboard import access
from healthboard.models import AuditRecord
from tests.catalog_support import current, deployment_in, edit_data, seed_values
from tests.factories import SystemFactory

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.catalog_fixtures"]


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- reading ------------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get(reverse("catalog:metric-list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_list_searches_and_filters_by_pillar(client, sre_user):
    client.force_login(sre_user)
    response = client.get(reverse("catalog:metric-list"))
    assert response.status_code == 200
    assert response.content.count(b"data-metric=") == 33
    response = client.get(reverse("catalog:metric-list"), {"q": "latency_p9"})
    keys = re.findall(r'data-metric="([^"]+)"', response.content.decode())
    assert keys == ["latency_p95_ms", "latency_p99_ms"]
    response = client.get(reverse("catalog:metric-list"), {"pillar": "fairness"})
    keys = set(re.findall(r'data-metric="([^"]+)"', response.content.decode()))
    assert keys == {
        "demographic_parity_difference",
        "disparate_impact_ratio",
        "equal_opportunity_difference",
        "equalized_odds_difference",
        "group_accuracy_gap",
    }
    assert b"Edit (new version)" not in client.get(reverse("catalog:metric-detail", args=["f1"])).content


def test_the_definition_page_shows_history_diff_playbook_and_audit(client, admin_a, sre_user):
    services.create_metric_version(
        "latency_p95_ms", {"critical_threshold": 1500.0}, reason="GPU pool is slower", actor=admin_a
    )
    client.force_login(sre_user)
    response = client.get(reverse("catalog:metric-detail", args=["latency_p95_ms"]))
    assert response.status_code == 200
    page = text(response)
    assert 'data-version="2"' in page and 'data-version="1"' in page
    assert "GPU pool is slower" in page and "carol" in page
    assert 'data-changed="critical_threshold"' in page  # default diff: previous vs current
    assert "<del>1000</del>" in page and "<ins>1500</ins>" in page
    assert "catalog.metric.version_created" in page
    assert "<strong>Check, in order</strong>" in page and "<ol>" in page
    # Any two versions, side by side.
    response = client.get(reverse("catalog:metric-detail", args=["latency_p95_ms"]), {"a": 2, "b": 1})
    assert "<del>1500</del>" in text(response) and "<ins>1000</ins>" in text(response)


def test_unknown_metrics_are_404(client, sre_user):
    client.force_login(sre_user)
    assert client.get(reverse("catalog:metric-detail", args=["nope"])).status_code == 404


# --- editing ------------------------------------------------------------------------------------


def test_edit_previews_a_diff_and_backtest_then_saves_a_version(client, admin_a):
    deployment = deployment_in(SystemFactory(slug="checkout"))
    seed_values(current("latency_p95_ms"), deployment, [600, 1100, 1600])
    client.force_login(admin_a)
    url = reverse("catalog:metric-edit", args=["latency_p95_ms"])
    assert client.get(url).status_code == 200
    v1 = current("latency_p95_ms")
    data = edit_data(v1, critical_threshold="1500", reason="GPU pool is slower", step="preview")

    response = client.post(url, data)
    assert response.status_code == 200
    page = text(response)
    assert 'data-changed="critical_threshold"' in page and "GPU pool is slower" in page
    row = re.search(rf'data-backtest-deployment="{deployment.pk}".*?</tr>', page).group(0)
    cells = dict(re.findall(r'data-col="([a-z-]+)">(\d+)<', row))
    assert cells == {"old-warn": "1", "old-critical": "2", "new-warn": "2", "new-critical": "1"}
    assert current("latency_p95_ms").number == 1  # the preview saved nothing

    response = client.post(url, {**data, "step": "confirm"})
    assert response.status_code == 302 and response["Location"] == reverse(
        "catalog:metric-detail", args=["latency_p95_ms"]
    )
    v2 = current("latency_p95_ms")
    assert (v2.number, v2.critical_threshold, v2.created_by, v2.change_reason) == (
        2,
        1500.0,
        admin_a,
        "GPU pool is slower",
    )
    assert v2.playbook == v1.playbook and v2.params == v1.params
    record = AuditRecord.objects.get(action="catalog.metric.version_created")
    assert record.source == "ui" and record.diff["critical_threshold"] == [1000.0, 1500.0]
    assert record.request_id  # stamped by the request-id middleware


def test_the_backtest_says_no_data_yet(client, admin_a):
    client.force_login(admin_a)
    v1 = current("calibration_error")
    response = client.post(
        reverse("catalog:metric-edit", args=["calibration_error"]),
        edit_data(v1, warn_threshold="0.06", reason="less noise", step="preview"),
    )
    assert "data-backtest-empty" in text(response) and "No data yet" in text(response)


def test_the_reason_is_required_and_bad_values_are_reported(client, admin_a):
    client.force_login(admin_a)
    url = reverse("catalog:metric-edit", args=["latency_p95_ms"])
    v1 = current("latency_p95_ms")
    response = client.post(url, edit_data(v1, critical_threshold="1500", step="confirm"))
    assert response.status_code == 400 and "This field is required" in text(response)
    response = client.post(url, edit_data(v1, critical_threshold="100", reason="oops", step="preview"))
    assert response.status_code == 400 and "critical threshold must be" in text(response)
    response = client.post(url, edit_data(v1, reason="nothing", step="preview"))
    assert response.status_code == 400 and "Nothing changed" in text(response)
    response = client.post(
        url, edit_data(v1, critical_threshold="1500", reason="x", base_version="7", step="confirm")
    )
    assert response.status_code == 409
    assert MetricVersion.objects.filter(definition__key="latency_p95_ms").count() == 1


@pytest.mark.parametrize("fixture", ["sre_user", "executive_user"])
def test_sre_and_executive_users_cannot_edit_and_change_nothing(client, request, fixture):
    user = request.getfixturevalue(fixture)
    client.force_login(user)
    v1 = current("latency_p95_ms")
    data = edit_data(v1, critical_threshold="1500", reason="let me", step="confirm")
    assert client.get(reverse("catalog:metric-edit", args=["latency_p95_ms"])).status_code == 403
    assert client.post(reverse("catalog:metric-edit", args=["latency_p95_ms"]), data).status_code == 403
    assert (
        client.post(
            reverse("catalog:metric-rollback", args=["latency_p95_ms", 1]), {"reason": "x"}
        ).status_code
        == 403
    )
    system = SystemFactory(slug="mine")
    access.grant(system, list(access.SYSTEM_PERMISSIONS), user=user)
    response = client.post(
        reverse("catalog:override-edit"),
        {
            "metric": "latency_p95_ms",
            "scope": "system",
            "system": "mine",
            "critical_threshold": "9",
            "reason": "x",
            "step": "confirm",
        },
    )
    assert response.status_code == 403
    assert (
        client.post(reverse("catalog:weightprofile-edit", args=["balanced"]), {"reason": "x"}).status_code
        == 403
    )
    assert MetricVersion.objects.filter(definition__key="latency_p95_ms").count() == 1
    assert not ThresholdOverride.objects.exists()
    assert WeightProfileVersion.objects.filter(profile__name="balanced").count() == 1
    assert not AuditRecord.objects.filter(action__startswith="catalog.").exists()


def test_rollback_page_and_button(client, admin_a):
    services.create_metric_version("error_rate", {"warn_threshold": 0.02}, reason="noisy", actor=admin_a)
    client.force_login(admin_a)
    detail = text(client.get(reverse("catalog:metric-detail", args=["error_rate"])))
    assert 'data-rollback="1"' in detail and 'data-rollback="2"' not in detail
    url = reverse("catalog:metric-rollback", args=["error_rate", 1])
    page = text(client.get(url))
    assert "<del>0.02</del>" in page and "<ins>0.01</ins>" in page and "data-backtest" in page
    assert client.post(url, {"reason": ""}).status_code == 400
    response = client.post(url, {"reason": "it was fine"})
    assert response.status_code == 302
    v3 = current("error_rate")
    assert (v3.number, v3.warn_threshold, v3.change_reason) == (3, 0.01, "Rollback to v1: it was fine")
    assert AuditRecord.objects.filter(action="catalog.metric.rolled_back").count() == 1


# --- overrides, policy, weight profiles -----------------------------------------------------------


def test_override_flow_and_effective_policy_page(client, admin_a):
    deployment = deployment_in(SystemFactory(slug="credit-risk"))
    client.force_login(admin_a)
    data = {
        "metric": "latency_p95_ms",
        "scope": "environment",
        "environment": str(deployment.environment_id),
        "critical_threshold": "1500",
        "reason": "peak season",
        "step": "preview",
    }
    response = client.post(reverse("catalog:override-edit"), data)
    assert response.status_code == 200 and "data-backtest" in text(response)
    assert not ThresholdOverride.objects.exists()
    response = client.post(reverse("catalog:override-edit"), {**data, "step": "confirm"})
    assert response.status_code == 302
    override = ThresholdOverride.objects.get()
    assert (override.scope, override.critical_threshold, override.warn_threshold) == (
        "environment",
        1500.0,
        None,
    )
    history = text(client.get(response["Location"]))
    assert "peak season" in history and "catalog.override.version_created" in history
    listing = text(client.get(reverse("catalog:override-list")))
    assert f'data-override="latency_p95_ms@environment:{deployment.environment_id}"' in listing
    policy = text(client.get(reverse("catalog:policy"), {"deployment": deployment.pk}))
    row = re.search(r'<tr data-metric="latency_p95_ms" data-source="([a-z]+)">(.*?)</tr>', policy)
    assert row.group(1) == "environment" and "1500" in row.group(2)


def test_the_policy_page_shows_only_visible_deployments(client, sre_user, admin_a):
    hidden = deployment_in(SystemFactory(slug="secret"))
    client.force_login(sre_user)
    response = client.get(reverse("catalog:policy"), {"deployment": hidden.pk})
    assert response.status_code == 200 and response.context["deployment"] is None
    assert "data-policy" not in text(response)
    # Catalog admins hold the system permissions globally, so they see (and may override) it.
    client.force_login(admin_a)
    response = client.get(reverse("catalog:policy"), {"deployment": hidden.pk})
    assert response.context["deployment"] == hidden


def test_weight_profile_pages(client, admin_a, sre_user):
    client.force_login(sre_user)
    listing = text(client.get(reverse("catalog:weightprofile-list")))
    for name in ("balanced", "high-stakes", "low-latency"):
        assert f'data-profile="{name}"' in listing
    client.force_login(admin_a)
    url = reverse("catalog:weightprofile-edit", args=["low-latency"])
    form = client.get(url).context["form"]
    data = {
        **form.initial,
        "performance": "0.5",
        "reason": "latency matters more",
        "metric_weights": "latency_p99_ms: 4\nerror_rate: 2",
    }
    response = client.post(url, {k: v for k, v in data.items() if v is not None})
    assert response.status_code == 302
    version = WeightProfileVersion.objects.get(profile__name="low-latency", is_current=True)
    assert version.number == 2 and version.pillar_weights["performance"] == 0.5
    assert version.metric_weights == {"error_rate": 2.0, "latency_p99_ms": 4.0}
    detail = text(client.get(reverse("catalog:weightprofile-detail", args=["low-latency"])))
    assert "latency matters more" in detail and "catalog.weight_profile.version_created" in detail
    bad = client.post(url, {**{k: v for k, v in data.items() if v is not None}, "metric_weights": "nope: 1"})
    assert bad.status_code == 400 and "Unknown metric" in text(bad)


# --- four eyes ----------------------------------------------------------------------------------


def test_pending_changes_are_listed_and_approved_by_another_admin(client, settings, admin_a, admin_b):
    settings.CATALOG_FOUR_EYES = True
    deployment_in(SystemFactory(slug="credit-risk"), "prod", Environment.Kind.PRODUCTION)
    client.force_login(admin_a)
    v1 = current("latency_p95_ms")
    response = client.post(
        reverse("catalog:metric-edit", args=["latency_p95_ms"]),
        edit_data(v1, critical_threshold="1500", reason="GPU pool", step="confirm"),
        follow=True,
    )
    assert "waiting for a second catalog admin" in text(response)
    change = CatalogChangeRequest.objects.get()
    listing = text(client.get(reverse("catalog:change-list")))
    assert f'data-change="{change.pk}"' in listing and "another catalog admin must approve" in listing
    refused = client.post(reverse("catalog:change-approve", args=[change.pk]))
    assert refused.status_code == 403 and current("latency_p95_ms").number == 1

    client.force_login(admin_b)
    assert f'data-approve="{change.pk}"' in text(client.get(reverse("catalog:change-list")))
    assert client.post(reverse("catalog:change-approve", args=[change.pk]), {"note": "ok"}).status_code == 302
    assert current("latency_p95_ms").critical_threshold == 1500.0
    change.refresh_from_db()
    assert change.status == "approved" and change.decided_by == admin_b


def test_reject_from_the_queue(client, settings, admin_a, admin_b, sre_user):
    settings.CATALOG_FOUR_EYES = True
    deployment_in(SystemFactory(slug="credit-risk"), "prod", Environment.Kind.PRODUCTION)
    change = services.create_metric_version(
        "error_rate", {"warn_threshold": 0.03}, reason="x", actor=admin_a
    ).pending
    client.force_login(sre_user)
    assert client.post(reverse("catalog:change-reject", args=[change.pk]), {"note": "no"}).status_code == 403
    client.force_login(admin_b)
    client.post(reverse("catalog:change-reject", args=[change.pk]), {"note": ""})
    assert CatalogChangeRequest.objects.get().status == "pending"
    client.post(reverse("catalog:change-reject", args=[change.pk]), {"note": "too loose"})
    assert CatalogChangeRequest.objects.get().status == "rejected"
    assert current("error_rate").number == 1


def test_the_django_admin_refuses_an_unknown_weight_profile_and_edits_no_version(client, db):
    from django.contrib.auth import get_user_model

    from tests.factories import TeamFactory

    root = get_user_model().objects.create_superuser("root", "root@example.org", "pw-for-tests-1")
    client.force_login(root)
    team = TeamFactory(slug="ops")
    data = {
        "slug": "billing",
        "name": "Billing",
        "team": team.pk,
        "criticality": "low",
        "weight_profile": "custom",
    }
    response = client.post("/admin/catalog/system/add/", data)
    assert response.status_code == 200 and "No weight profile named" in text(response)
    response = client.post("/admin/catalog/system/add/", {**data, "weight_profile": "high-stakes"})
    assert response.status_code == 302
    version = current("f1")
    assert client.post(f"/admin/catalog/metricversion/{version.pk}/change/", {}).status_code == 403
    assert (
        client.post(f"/admin/catalog/metricversion/{version.pk}/delete/", {"post": "yes"}).status_code == 403
    )


def test_every_catalog_page_renders(client, admin_a):
    deployment = deployment_in(SystemFactory(slug="credit-risk"))
    outcome = services.set_threshold_override(
        "error_rate", scope="deployment", target=deployment, warn_threshold=0.02, reason="x", actor=admin_a
    )
    client.force_login(admin_a)
    urls = [
        reverse("catalog:metric-list"),
        reverse("catalog:metric-detail", args=["feature_drift_ks"]),
        reverse("catalog:metric-edit", args=["feature_drift_ks"]),
        reverse("catalog:override-list"),
        reverse("catalog:override-edit") + f"?metric=error_rate&scope=deployment&deployment={deployment.pk}",
        reverse("catalog:override-history", args=["error_rate", outcome.version.scope_key]),
        reverse("catalog:policy"),
        reverse("catalog:weightprofile-list"),
        reverse("catalog:weightprofile-create"),
        reverse("catalog:weightprofile-detail", args=["high-stakes"]),
        reverse("catalog:change-list"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"<script>" not in response.content  # CSP: no inline scripts
    assert (
        client.get(reverse("catalog:override-history", args=["error_rate", "system:999"])).status_code == 404
    )
