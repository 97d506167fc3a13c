"""Threshold overrides and the effective policy: deployment > environment > system > catalog
default, field by field, with where each value came from; overrides are versioned and audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from alerts import thresholds as alert_thresholds
from catalog import services
from catalog.models import Environment, ThresholdOverride, WeightProfileVersion
from healthboard.models import AuditRecord
from tests.catalog_support import current, deployment_in
from tests.factories import DeploymentFactory, SystemFactory

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.catalog_fixtures"]


@pytest.fixture
def layout(db):
    """One system, its prod environment with two deployments, and a staging deployment."""
    system = SystemFactory(slug="credit-risk")
    prod_a = deployment_in(system, "prod")
    prod_b = DeploymentFactory(
        model_version__model=prod_a.model_version.model, environment=prod_a.environment
    )
    staging = deployment_in(system, "staging", Environment.Kind.STAGING)
    return {"system": system, "prod": prod_a.environment, "a": prod_a, "b": prod_b, "staging": staging}


def override(admin, scope, target, key="latency_p95_ms", **values):
    return services.set_threshold_override(
        key, scope=scope, target=target, reason=f"{scope} tuning", actor=admin, **values
    )


def test_without_overrides_the_catalog_default_applies(layout):
    policy = services.effective_policy("latency_p95_ms", layout["a"])
    assert (policy.warn, policy.critical, policy.for_windows) == (500.0, 1000.0, 3)
    assert policy.source == "catalog"
    assert policy.sources == {"warn": "catalog", "critical": "catalog", "for_windows": "catalog"}
    assert policy.metric_version_number == 1 and policy.direction == "lower_is_better"


def test_resolution_order_is_deployment_then_environment_then_system_then_catalog(layout, admin_a):
    override(admin_a, "system", layout["system"], warn_threshold=600.0, critical_threshold=1200.0)
    policy = services.effective_policy("latency_p95_ms", layout["a"])
    assert (policy.warn, policy.critical, policy.source) == (600.0, 1200.0, "system")

    override(admin_a, "environment", layout["prod"], critical_threshold=1500.0)
    policy = services.effective_policy("latency_p95_ms", layout["a"])
    assert (policy.warn, policy.critical) == (600.0, 1500.0)
    assert policy.sources == {"warn": "system", "critical": "environment", "for_windows": "catalog"}
    assert policy.source == "environment"

    override(
        admin_a, "deployment", layout["a"], warn_threshold=800.0, critical_threshold=2000.0, for_windows=1
    )
    policy = services.effective_policy("latency_p95_ms", layout["a"])
    assert (policy.warn, policy.critical, policy.for_windows, policy.source) == (
        800.0,
        2000.0,
        1,
        "deployment",
    )
    assert policy.overrides == (("system", 1), ("environment", 1), ("deployment", 1))

    # The sibling deployment in the same environment does not see deployment a's override,
    # and the staging deployment sees only the system's.
    sibling = services.effective_policy("latency_p95_ms", layout["b"])
    assert (sibling.warn, sibling.critical, sibling.source) == (600.0, 1500.0, "environment")
    staging = services.effective_policy("latency_p95_ms", layout["staging"])
    assert (staging.warn, staging.critical, staging.source) == (600.0, 1200.0, "system")

    # Other metrics are untouched, and the bulk resolver agrees with the single one.
    assert services.effective_policy("error_rate", layout["a"]).source == "catalog"
    bulk = services.effective_policies(layout["a"])
    assert bulk["latency_p95_ms"] == services.effective_policy("latency_p95_ms", layout["a"])
    assert len(bulk) == 33


def test_a_catalog_change_shows_through_where_no_override_sets_the_field(layout, admin_a):
    override(admin_a, "environment", layout["prod"], critical_threshold=1500.0)
    services.create_metric_version(
        "latency_p95_ms", {"warn_threshold": 450.0}, reason="tighter", actor=admin_a
    )
    policy = services.effective_policy("latency_p95_ms", layout["a"])
    assert (policy.warn, policy.critical, policy.metric_version_number) == (450.0, 1500.0, 2)
    # An older version passed explicitly resolves against its own defaults.
    old = services.effective_policy(current("latency_p95_ms").definition.versions.get(number=1), layout["a"])
    assert (old.warn, old.critical, old.metric_version_number) == (500.0, 1500.0, 1)


def test_overrides_are_versioned_audited_and_clearable(layout, admin_a):
    override(admin_a, "system", layout["system"], warn_threshold=600.0)
    override(admin_a, "system", layout["system"], warn_threshold=650.0)
    rows = ThresholdOverride.objects.filter(system=layout["system"]).order_by("number")
    assert [(o.number, o.is_current, o.warn_threshold) for o in rows] == [(1, False, 600.0), (2, True, 650.0)]
    record = AuditRecord.objects.filter(action="catalog.override.version_created").order_by("seq").last()
    assert record.diff["warn_threshold"] == [600.0, 650.0] and record.reason == "system tuning"
    assert record.actor == admin_a

    override(admin_a, "system", layout["system"])  # every field empty: clears the override
    cleared = ThresholdOverride.objects.get(system=layout["system"], is_current=True)
    assert cleared.number == 3 and cleared.is_cleared
    assert AuditRecord.objects.filter(action="catalog.override.cleared").count() == 1
    assert services.effective_policy("latency_p95_ms", layout["a"]).source == "catalog"
    with pytest.raises(ValidationError, match="Nothing changed"):
        override(admin_a, "system", layout["system"])


def test_an_override_must_keep_thresholds_in_order_with_what_it_inherits(layout, admin_a):
    with pytest.raises(ValidationError) as excinfo:
        override(admin_a, "environment", layout["prod"], warn_threshold=1100.0)  # > inherited critical 1000
    assert "critical_threshold" in excinfo.value.message_dict
    with pytest.raises(ValidationError):
        override(admin_a, "environment", layout["prod"], for_windows=0)
    with pytest.raises(ValidationError, match="needs a system target"):
        override(admin_a, "system", layout["prod"], warn_threshold=1.0)
    assert not ThresholdOverride.objects.exists()


def test_only_catalog_admins_set_overrides(layout, sre_user):
    with pytest.raises(PermissionDenied):
        override(sre_user, "system", layout["system"], warn_threshold=600.0)
    assert not ThresholdOverride.objects.exists()


def test_alert_evaluation_reads_the_catalog_resolver(layout, admin_a):
    """alerts.thresholds.effective_policy delegates to catalog.services (one resolver)."""
    override(admin_a, "deployment", layout["a"], critical_threshold=3000.0)
    version = current("latency_p95_ms")
    policy = alert_thresholds.effective_policy(version, layout["a"])
    assert (policy.warn, policy.critical, policy.source) == (500.0, 3000.0, "deployment")


def test_weight_profiles_are_versioned_and_validated(admin_a):
    v2 = services.create_weight_profile_version(
        "high-stakes",
        {"pillar_weights": {"performance": 0.2, "fairness": 0.5, "reliability": 0.1, "data_quality": 0.2}},
        reason="regulator asked for more fairness weight",
        actor=admin_a,
    )
    assert v2.number == 2 and v2.is_current
    assert WeightProfileVersion.objects.get(profile__name="high-stakes", number=1).is_current is False
    assert v2.metric_weights["disparate_impact_ratio"] == 3.0  # copied from v1
    record = AuditRecord.objects.get(action="catalog.weight_profile.version_created")
    assert record.diff["pillar_weights"][1]["fairness"] == 0.5
    with pytest.raises(ValidationError):
        services.create_weight_profile_version(
            "balanced", {"metric_weights": {"no_such_metric": 2}}, reason="x", actor=admin_a
        )
    with pytest.raises(ValidationError):
        services.create_weight_profile_version(
            "balanced",
            {"pillar_weights": {"performance": 1, "fairness": -1, "reliability": 1, "data_quality": 1}},
            reason="x",
            actor=admin_a,
        )
    created = services.create_weight_profile_version(
        "batch-scoring",
        {"pillar_weights": {"performance": 0.4, "fairness": 0.2, "reliability": 0.1, "data_quality": 0.3}},
        reason="nightly batch systems",
        actor=admin_a,
        create=True,
    )
    assert created.number == 1 and created.metric_weights == {}


def test_systems_must_name_an_existing_weight_profile():
    services.validate_weight_profile_name("low-latency")
    with pytest.raises(ValidationError, match="No weight profile named 'custom'"):
        services.validate_weight_profile_name("custom")
    system = SystemFactory(slug="ads", weight_profile="low-latency")
    assert services.current_weights(system).profile.name == "low-latency"
    system.weight_profile = "gone"
    assert services.current_weights(system).profile.name == "balanced"
