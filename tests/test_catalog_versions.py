"""Immutable versions: one current per definition (a database constraint), never updated or
deleted (the ORM and, on PostgreSQL, a trigger), edits and rollbacks as audited new versions."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction

from catalog import services
from catalog.models import MetricDefinition, MetricVersion, ThresholdOverride, WeightProfileVersion
from healthboard.audit import verify_chain
from healthboard.models import AuditRecord
from tests.catalog_support import current, deployment_in
from tests.factories import SystemFactory

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.catalog_fixtures"]

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the immutability trigger exists on PostgreSQL only"
)


def _copy(version: MetricVersion, **changes) -> MetricVersion:
    content = {**version.content(), **changes}
    return MetricVersion(definition=version.definition, change_reason="test", **content)


# --- one current version ------------------------------------------------------------------------


def test_a_second_current_version_is_refused_by_the_database():
    v1 = current("latency_p95_ms")
    second = _copy(v1, critical_threshold=1500.0)
    second.number, second.is_current = 2, True
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()
    assert MetricVersion.objects.filter(definition=v1.definition, is_current=True).count() == 1


def test_flipping_an_old_version_back_to_current_is_refused_by_the_database():
    v1 = current("error_rate")
    services.create_metric_version("error_rate", {"warn_threshold": 0.02}, reason="noisy", source="system")
    with pytest.raises(IntegrityError), transaction.atomic():
        MetricVersion.objects.filter(pk=v1.pk).update(is_current=True)
    assert list(
        MetricVersion.objects.filter(definition=v1.definition, is_current=True).values_list(
            "number", flat=True
        )
    ) == [2]


def test_version_numbers_are_unique_per_definition():
    v1 = current("f1")
    duplicate = _copy(v1)
    duplicate.number, duplicate.is_current = 1, False
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_one_current_override_and_weight_profile_version(admin_a):
    system = SystemFactory(slug="billing")
    services.set_threshold_override(
        "error_rate", scope="system", target=system, warn_threshold=0.02, reason="batchy", actor=admin_a
    )
    first = ThresholdOverride.objects.get(system=system)
    clone = ThresholdOverride(
        definition=first.definition,
        scope="system",
        system=system,
        number=2,
        is_current=True,
        warn_threshold=0.03,
        change_reason="x",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()
    balanced = WeightProfileVersion.objects.get(profile__name="balanced", is_current=True)
    again = WeightProfileVersion(
        profile=balanced.profile,
        number=2,
        is_current=True,
        pillar_weights=balanced.pillar_weights,
        change_reason="x",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        again.save()


# --- immutability -------------------------------------------------------------------------------


def test_a_version_cannot_be_saved_again_or_deleted_through_the_orm():
    v1 = current("accuracy")
    v1.warn_threshold = 0.5
    with pytest.raises(ValidationError, match="immutable"):
        v1.save()
    with pytest.raises(ValidationError, match="never deleted"):
        v1.delete()
    assert current("accuracy").warn_threshold == 0.8


@postgres_only
def test_the_postgresql_trigger_refuses_update_and_delete_of_versions():
    v1 = current("latency_p95_ms")
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        MetricVersion.objects.filter(pk=v1.pk).update(critical_threshold=5000.0)
    with (
        pytest.raises(DatabaseError, match="DELETE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM catalog_metricversion WHERE id = %s", [v1.pk])
    with (
        pytest.raises(DatabaseError, match="immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE catalog_metricversion SET change_reason = 'rewritten' WHERE id = %s", [v1.pk])
    # Flipping is_current (how services retire a version) stays possible.
    with transaction.atomic():
        assert MetricVersion.objects.filter(pk=v1.pk).update(is_current=False) == 1
        transaction.set_rollback(True)
    assert current("latency_p95_ms").critical_threshold == 1000.0


@postgres_only
def test_the_postgresql_trigger_also_guards_overrides_and_weight_profiles(admin_a):
    system = SystemFactory(slug="ledger")
    outcome = services.set_threshold_override(
        "error_rate", scope="system", target=system, warn_threshold=0.02, reason="batchy", actor=admin_a
    )
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        ThresholdOverride.objects.filter(pk=outcome.version.pk).update(warn_threshold=0.5)
    with (
        pytest.raises(DatabaseError, match="DELETE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM catalog_weightprofileversion")


# --- editing ------------------------------------------------------------------------------------


def test_editing_creates_a_version_and_an_audit_record_with_diff_and_reason(admin_a):
    v1 = current("latency_p95_ms")
    outcome = services.create_metric_version(
        "latency_p95_ms",
        {"critical_threshold": 1500.0},
        reason="p95 of the new GPU pool is higher by design",
        actor=admin_a,
        source="ui",
        base_number=1,
    )
    v2 = outcome.version
    assert (v2.number, v2.is_current, v2.critical_threshold, v2.created_by) == (2, True, 1500.0, admin_a)
    assert v2.warn_threshold == v1.warn_threshold and v2.playbook == v1.playbook
    v1.refresh_from_db()
    assert v1.is_current is False and v1.critical_threshold == 1000.0
    record = AuditRecord.objects.get(action="catalog.metric.version_created")
    assert record.object_type == "catalog.metricdefinition" and record.object_id == str(v1.definition_id)
    assert record.diff == {"critical_threshold": [1000.0, 1500.0], "version": [1, 2]}
    assert record.reason == "p95 of the new GPU pool is higher by design"
    assert (record.actor, record.source) == (admin_a, "ui")
    assert verify_chain() is None


def test_values_keep_pointing_at_the_version_that_produced_them(admin_a):
    from tests.catalog_support import seed_values

    deployment = deployment_in(SystemFactory(slug="payments"))
    v1 = current("error_rate")
    (value,) = seed_values(v1, deployment, [0.02])
    services.create_metric_version("error_rate", {"warn_threshold": 0.03}, reason="tune", actor=admin_a)
    value.refresh_from_db()
    assert value.metric_version_id == v1.pk and current("error_rate").number == 2


def test_a_change_needs_a_reason_and_a_difference(admin_a):
    with pytest.raises(ValidationError, match="reason"):
        services.create_metric_version("f1", {"warn_threshold": 0.6}, reason="  ", actor=admin_a)
    with pytest.raises(ValidationError, match="Nothing changed"):
        services.create_metric_version("f1", {"warn_threshold": 0.7}, reason="same", actor=admin_a)
    assert MetricVersion.objects.filter(definition__key="f1").count() == 1
    assert not AuditRecord.objects.filter(action__startswith="catalog.metric").exists()


def test_invalid_content_is_refused_field_by_field(admin_a):
    with pytest.raises(ValidationError) as excinfo:
        services.create_metric_version(
            "latency_p95_ms",
            {"warn_threshold": 2000.0, "pillar": "vibes", "for_windows": 0},
            reason="x",
            actor=admin_a,
        )
    errors = excinfo.value.message_dict
    assert set(errors) >= {"for_windows"}
    with pytest.raises(ValidationError) as excinfo:
        services.create_metric_version(
            "latency_p95_ms", {"warn_threshold": 2000.0}, reason="x", actor=admin_a
        )
    assert (
        "critical_threshold" in excinfo.value.message_dict
    )  # lower is better: warn must not exceed critical
    with pytest.raises(ValidationError) as excinfo:
        services.create_metric_version("accuracy", {"critical_threshold": 0.9}, reason="x", actor=admin_a)
    assert "critical_threshold" in excinfo.value.message_dict  # higher is better: critical ≤ warn
    assert current("latency_p95_ms").number == 1


def test_a_stale_edit_is_refused_not_merged(admin_a, admin_b):
    services.create_metric_version(
        "recall", {"warn_threshold": 0.75}, reason="first", actor=admin_a, base_number=1
    )
    with pytest.raises(ValidationError, match="changed meanwhile"):
        services.create_metric_version(
            "recall", {"warn_threshold": 0.6}, reason="second", actor=admin_b, base_number=1
        )
    assert current("recall").warn_threshold == 0.75


@pytest.mark.parametrize("fixture", ["sre_user", "executive_user"])
def test_people_without_the_catalog_admin_role_cannot_change_anything(request, fixture):
    user = request.getfixturevalue(fixture)
    with pytest.raises(PermissionDenied):
        services.create_metric_version("latency_p95_ms", {"critical_threshold": 9.0}, reason="x", actor=user)
    with pytest.raises(PermissionDenied):
        services.rollback_metric("latency_p95_ms", 1, reason="x", actor=user, source="api")
    with pytest.raises(PermissionDenied):
        services.create_weight_profile_version(
            "balanced", {"description": "x"}, reason="x", actor=user, source="ui"
        )
    assert current("latency_p95_ms").number == 1
    assert not AuditRecord.objects.filter(action__startswith="catalog.").exists()


def test_rollback_makes_an_old_version_current_again_as_a_new_version(admin_a):
    services.create_metric_version(
        "latency_p95_ms", {"critical_threshold": 1500.0}, reason="raise", actor=admin_a
    )
    services.create_metric_version(
        "latency_p95_ms", {"warn_threshold": 700.0}, reason="raise warn", actor=admin_a
    )
    outcome = services.rollback_metric("latency_p95_ms", 1, reason="the GPU pool was fixed", actor=admin_a)
    v4 = outcome.version
    assert v4.number == 4 and v4.is_current
    assert v4.content() == MetricVersion.objects.get(definition__key="latency_p95_ms", number=1).content()
    assert v4.change_reason == "Rollback to v1: the GPU pool was fixed"
    record = AuditRecord.objects.get(action="catalog.metric.rolled_back")
    assert record.diff["critical_threshold"] == [1500.0, 1000.0]
    assert record.diff["warn_threshold"] == [700.0, 500.0]
    assert MetricVersion.objects.filter(definition__key="latency_p95_ms").count() == 4
    with pytest.raises(ValidationError, match="Nothing changed"):
        services.rollback_metric("latency_p95_ms", 1, reason="again", actor=admin_a)


def test_a_new_metric_definition_starts_at_version_one():
    version = services.create_metric_definition(
        "queue_lag_s",
        {**current("data_freshness_s").content(), "name": "Queue lag", "calculator": "queue_lag_s"},
        reason="new signal",
        actor="catalog.yaml",
        source="config",
    )
    assert (version.number, version.is_current, version.created_by) == (1, True, None)
    record = AuditRecord.objects.get(action="catalog.metric.created")
    assert record.actor_name == "catalog.yaml" and record.source == "config" and record.before is None
    assert MetricDefinition.objects.filter(key="queue_lag_s").exists()
