"""Catalog edits re-decide the latest trust scores once they commit (``catalog.signals.
policy_changed`` → ``metrics.trust.recheck`` → the ``recheck_trust_policy`` task), through the
real edit paths: the metric edit form, the four-eyes approval, a config file switching a
system's weight profile. Celery runs eagerly: the task's real code, no broker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse

from catalog.models import CatalogChangeRequest
from metrics.models.trust import ScoreAnomaly, TrustScore
from metrics.trust import service
from tests.catalog_support import current, edit_data
from tests.factories import DeploymentFactory, SystemFactory, UserFactory
from tests.trust.helpers import HOUR, T0, healthy, metric, value

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.celery_fixtures"]
OTHERS = ("accuracy", "latency_p95_ms", "null_rate")


@pytest.fixture
def blocked_by_error_rate(deployment_a) -> TrustScore:
    """The latest window is blocked by one value: error rate 6 % against the catalog's
    critical threshold of 5 % (the default catalog's ``error_rate``, a 5-minute metric)."""
    healthy(deployment_a, keys=OTHERS)
    value(deployment_a, current("error_rate"), 0.06, length=timedelta(minutes=5))
    score = service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    assert score.readiness == "blocked" and score.reasons[0]["metric"] == "error_rate"
    return score


def test_a_threshold_edit_in_the_catalog_that_alone_unblocks_is_flagged_at_once(
    client, blocked_by_error_rate, celery_eager, django_capture_on_commit_callbacks
):
    editor = UserFactory(username="loosener", roles=["catalog_admin"])
    client.force_login(editor)
    url = reverse("catalog:metric-edit", args=["error_rate"])
    form = edit_data(
        current("error_rate"), warn_threshold="0.1", critical_threshold="0.2", reason="batch noise"
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(url, {**form, "step": "confirm"})
    assert response.status_code == 302, response.content
    assert len(callbacks) == 1  # the re-check is sent once the edit commits
    score = TrustScore.objects.get(pk=blocked_by_error_rate.pk)  # the same window, re-decided
    assert score.readiness == "ready"
    assert score.policy["thresholds"]["error_rate"]["critical"] == 0.2
    anomaly = ScoreAnomaly.objects.get(kind="policy_flip")
    assert anomaly.trust_score_id == score.pk and anomaly.caused_by == editor
    assert anomaly.details["old_readiness"] == "blocked" and anomaly.details["new_readiness"] == "ready"
    assert anomaly.details["threshold_changes"]["error_rate"]["old"]["critical"] == 0.05
    assert not anomaly.can_review(editor)
    # It waits for review by a second person.
    reviewer = UserFactory(username="reviewer", roles=["catalog_admin"])
    client.force_login(reviewer)
    page = client.get(reverse("metrics:trust-anomalies")).content.decode()
    assert "policy change alone moved blocked → ready" in page


def test_an_edit_that_does_not_touch_the_policy_sends_no_recheck(
    client, blocked_by_error_rate, celery_eager, django_capture_on_commit_callbacks
):
    client.force_login(UserFactory(username="writer", roles=["catalog_admin"]))
    url = reverse("catalog:metric-edit", args=["error_rate"])
    form = edit_data(current("error_rate"), playbook="Look at the batch jobs first.", reason="playbook")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert client.post(url, {**form, "step": "confirm"}).status_code == 302
    assert callbacks == []
    assert TrustScore.objects.get(pk=blocked_by_error_rate.pk).readiness == "blocked"


def test_an_approved_four_eyes_override_names_the_proposer_and_the_approver(
    client, deployment_a, blocked_by_error_rate, settings, celery_eager, django_capture_on_commit_callbacks
):
    settings.CATALOG_FOUR_EYES = True
    deployment_a.environment.kind = "production"
    deployment_a.environment.save()
    proposer = UserFactory(username="proposer", roles=["catalog_admin"])
    approver = UserFactory(username="approver", roles=["catalog_admin"])
    client.force_login(proposer)
    data = {
        "metric": "error_rate",
        "scope": "deployment",
        "deployment": deployment_a.pk,
        "warn_threshold": "0.1",
        "critical_threshold": "0.2",
        "reason": "known batch noise",
        "step": "confirm",
    }
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("catalog:override-edit"), data)
    assert response.status_code == 302, response.content
    assert callbacks == []  # only proposed: nothing changed yet
    change = CatalogChangeRequest.objects.get(status="pending")
    client.force_login(approver)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("catalog:change-approve", args=[change.pk]), {"note": "ok"})
    assert response.status_code == 302, response.content
    assert len(callbacks) == 1
    assert TrustScore.objects.get(pk=blocked_by_error_rate.pk).readiness == "ready"
    anomaly = ScoreAnomaly.objects.get(kind="policy_flip")
    assert anomaly.caused_by == proposer and anomaly.details["involved"] == ["approver"]
    assert not anomaly.can_review(proposer) and not anomaly.can_review(approver)


def test_moving_a_system_from_low_latency_to_high_stakes_lowers_the_latest_score(
    tmp_path, celery_eager, django_capture_on_commit_callbacks
):
    """Issue 7's "done when": a deployment whose only problem is a warn-level fairness metric,
    its system moved from ``low-latency`` to ``high-stakes`` weights by a config file."""
    system = SystemFactory(slug="triage-moving", weight_profile="low-latency")
    deployment = DeploymentFactory(model_version__model__system=system)
    healthy(deployment, keys=("accuracy", "latency_p95_ms", "error_rate", "null_rate"))
    value(deployment, metric("demographic_parity_difference"), 0.15, attribute="sex")  # warn
    before = service.compute_trust(deployment.pk, T0, T0 + HOUR)
    assert before.readiness == "staged" and [r["code"] for r in before.reasons] == ["metric_warn"]
    assert before.weight_profile == "low-latency"
    config = tmp_path / "move.yaml"
    config.write_text(
        "systems:\n"
        f"  - slug: {system.slug}\n"
        f"    name: {system.name}\n"
        f"    team: {system.team.slug}\n"
        "    weight_profile: high-stakes\n"
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        call_command("apply_config", str(config), stdout=_Sink())
    assert len(callbacks) == 1
    after = TrustScore.objects.latest_for(deployment)
    assert after.pk == before.pk and after.weight_profile == "high-stakes"
    assert after.score < before.score
    assert after.readiness == "staged" and [r["code"] for r in after.reasons] == ["metric_warn"]
    # Only the fairness metric costs points, and more of them under the fairness-heavy profile.
    [cost_before] = [c for c in before.contributions if c["contribution"] > 0]
    [cost_after] = [c for c in after.contributions if c["contribution"] > 0]
    assert cost_before["metric"] == cost_after["metric"] == "demographic_parity_difference"
    assert cost_after["contribution"] > cost_before["contribution"]
    assert not ScoreAnomaly.objects.filter(kind="policy_flip").exists()  # staged → staged


class _Sink:
    def write(self, *args, **kwargs) -> None:
        pass

    def flush(self) -> None:
        pass
