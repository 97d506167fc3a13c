"""Four-eyes (CATALOG_FOUR_EYES): a threshold change that applies to production stays pending
until a different catalog admin approves it; approve and reject are audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from catalog import services
from catalog.models import CatalogChangeRequest, Environment, ThresholdOverride
from healthboard.audit import verify_chain
from healthboard.models import AuditRecord
from tests.catalog_support import current, deployment_in
from tests.factories import SystemFactory

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.catalog_fixtures"]


@pytest.fixture
def four_eyes(settings):
    settings.CATALOG_FOUR_EYES = True


@pytest.fixture
def prod(db):
    return deployment_in(SystemFactory(slug="credit-risk"), "prod", Environment.Kind.PRODUCTION)


def test_a_production_threshold_change_is_inactive_until_a_second_admin_approves(
    four_eyes, prod, admin_a, admin_b
):
    outcome = services.create_metric_version(
        "latency_p95_ms", {"critical_threshold": 1500.0}, reason="GPU pool", actor=admin_a, source="ui"
    )
    assert outcome.is_pending and outcome.version is None
    change = outcome.pending
    assert (change.status, change.base_number, change.proposed_by) == ("pending", 1, admin_a)
    # Nothing is active yet: still v1, and the effective policy is unchanged.
    assert current("latency_p95_ms").number == 1
    assert services.effective_policy("latency_p95_ms", prod).critical == 1000.0
    assert AuditRecord.objects.filter(action="catalog.change.proposed", reason="GPU pool").exists()

    with pytest.raises(PermissionDenied, match="different catalog admin"):
        services.approve_change(change.pk, actor=admin_a)
    assert current("latency_p95_ms").number == 1

    version = services.approve_change(change.pk, actor=admin_b, note="checked the backtest")
    assert (version.number, version.critical_threshold, version.created_by) == (2, 1500.0, admin_a)
    assert services.effective_policy("latency_p95_ms", prod).critical == 1500.0
    change.refresh_from_db()
    assert (change.status, change.decided_by, change.result_number) == ("approved", admin_b, 2)
    approved = AuditRecord.objects.get(action="catalog.change.approved")
    assert approved.actor == admin_b and approved.diff["status"] == ["pending", "approved"]
    created = AuditRecord.objects.get(action="catalog.metric.version_created")
    assert created.actor == admin_b and "proposed by carol, approved by dave" in created.reason
    assert created.diff["critical_threshold"] == [1000.0, 1500.0]
    with pytest.raises(ValidationError, match="already approved"):
        services.approve_change(change.pk, actor=admin_b)
    assert verify_chain() is None


def test_the_database_refuses_an_approval_by_the_proposer(four_eyes, prod, admin_a):
    change = services.create_metric_version(
        "error_rate", {"warn_threshold": 0.02}, reason="noisy", actor=admin_a
    ).pending
    with pytest.raises(IntegrityError), transaction.atomic():
        CatalogChangeRequest.objects.filter(pk=change.pk).update(status="approved", decided_by=admin_a)


def test_reject_is_audited_and_nothing_changes(four_eyes, prod, admin_a, admin_b):
    change = services.create_metric_version(
        "error_rate", {"critical_threshold": 0.2}, reason="loosen", actor=admin_a
    ).pending
    with pytest.raises(ValidationError, match="why"):
        services.reject_change(change.pk, actor=admin_b, note="")
    services.reject_change(change.pk, actor=admin_b, note="0.2 hides real outages")
    change.refresh_from_db()
    assert change.status == "rejected" and change.decided_by == admin_b
    assert current("error_rate").number == 1
    assert AuditRecord.objects.get(action="catalog.change.rejected").reason == "0.2 hides real outages"
    with pytest.raises(ValidationError, match="already rejected"):
        services.approve_change(change.pk, actor=admin_b)


def test_one_pending_change_per_target_and_stale_approvals_are_refused(four_eyes, prod, admin_a, admin_b):
    change = services.create_metric_version("f1", {"warn_threshold": 0.6}, reason="a", actor=admin_a).pending
    with pytest.raises(ValidationError, match="already waiting"):
        services.create_metric_version("f1", {"warn_threshold": 0.65}, reason="b", actor=admin_b)
    # A non-threshold edit is not guarded and lands directly, which makes the proposal stale.
    services.create_metric_version("f1", {"owner": "growth"}, reason="new owner", actor=admin_b)
    with pytest.raises(ValidationError, match="changed since"):
        services.approve_change(change.pk, actor=admin_b)


def test_what_four_eyes_does_not_hold(settings, four_eyes, admin_a):
    staging = deployment_in(SystemFactory(slug="lab"), "staging", Environment.Kind.STAGING)
    # No production environment anywhere: a catalog threshold change applies at once.
    assert services.create_metric_version("f1", {"warn_threshold": 0.6}, reason="a", actor=admin_a).version
    # Staging overrides apply at once even with production elsewhere.
    deployment_in(SystemFactory(slug="shop"), "prod", Environment.Kind.PRODUCTION)
    outcome = services.set_threshold_override(
        "f1", scope="environment", target=staging.environment, warn_threshold=0.5, reason="lab", actor=admin_a
    )
    assert outcome.version is not None
    # Playbook edits are not threshold changes; config files apply directly.
    assert services.create_metric_version("f1", {"playbook": "1. Look."}, reason="doc", actor=admin_a).version
    assert services.create_metric_version(
        "f1", {"critical_threshold": 0.4}, reason="file", actor="catalog.yaml", source="config"
    ).version
    settings.CATALOG_FOUR_EYES = False
    assert services.create_metric_version("f1", {"warn_threshold": 0.55}, reason="off", actor=admin_a).version


def test_a_production_override_waits_for_approval(four_eyes, prod, admin_a, admin_b):
    outcome = services.set_threshold_override(
        "latency_p95_ms",
        scope="environment",
        target=prod.environment,
        critical_threshold=2000.0,
        reason="peak season",
        actor=admin_a,
    )
    assert outcome.is_pending and not ThresholdOverride.objects.exists()
    assert services.effective_policy("latency_p95_ms", prod).critical == 1000.0
    override = services.approve_change(outcome.pending.pk, actor=admin_b)
    assert (override.number, override.critical_threshold, override.created_by) == (1, 2000.0, admin_a)
    assert services.effective_policy("latency_p95_ms", prod).source == "environment"


def test_a_rollback_is_a_threshold_change_too(four_eyes, prod, admin_a, admin_b, settings):
    settings.CATALOG_FOUR_EYES = False
    services.create_metric_version(
        "latency_p95_ms", {"critical_threshold": 1500.0}, reason="x", actor=admin_a
    )
    settings.CATALOG_FOUR_EYES = True
    outcome = services.rollback_metric("latency_p95_ms", 1, reason="back", actor=admin_a)
    assert outcome.is_pending and outcome.pending.rollback_of == 1
    version = services.approve_change(outcome.pending.pk, actor=admin_b)
    assert version.number == 3 and version.critical_threshold == 1000.0
    assert AuditRecord.objects.filter(action="catalog.metric.rolled_back").count() == 1
