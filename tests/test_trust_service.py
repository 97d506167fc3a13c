"""compute_trust against a real database: storage, lineage, readiness, profiles, anomalies."""

from __future__ import annotations

import pytest
from django.apps import apps

from metrics.models.trust import ScoreAnomaly, TrustScore
from metrics.trust import service
from tests.factories import DeploymentFactory, ModelVersionFactory, SystemFactory, UserFactory
from tests.trust.helpers import HOUR, T0, healthy, metric, value

pytestmark = pytest.mark.django_db


def test_compute_trust_stores_score_pillars_lineage_and_is_idempotent(deployment_a):
    used = healthy(deployment_a)
    thin = value(deployment_a, metric("feature_drift_psi"), 0.9, enough=False, feature="income")
    value(deployment_a, metric("feature_drift_ks"), 0.5, feature="income")  # context only
    score = service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    assert score.score == 100.0
    assert score.readiness == "ready" and score.reason_codes == ["all_clear"]
    assert score.pillar_scores["performance"] == 100.0 and score.pillar_scores["fairness"] is None
    assert score.pillar_coverage["data_quality"] == pytest.approx(0.5)
    assert set(score.metric_value_ids) == {v.pk for v in used} | {thin.pk}
    assert {mv.pk for mv in score.metric_values()} == set(score.metric_value_ids)
    assert score.weight_profile == "balanced"
    assert score.policy["thresholds"]["accuracy"]["warn"] == 0.8
    assert "feature_drift_ks" not in score.policy["thresholds"]
    again = service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    assert again.pk == score.pk and TrustScore.objects.count() == 1
    assert TrustScore.objects.latest_for(deployment_a).pk == score.pk


def test_a_critical_fairness_metric_blocks_and_is_named(deployment_a):
    healthy(deployment_a)
    dpd = value(deployment_a, metric("demographic_parity_difference"), 0.31, attribute="sex")
    score = service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    assert score.readiness == "blocked"
    first = score.reasons[0]
    assert first["code"] == "metric_critical"
    assert first["metric"] == "demographic_parity_difference" and first["attribute"] == "sex"
    assert first["metric_value"] == dpd.pk
    assert score.contributions[0]["metric"] == "demographic_parity_difference"


def test_values_outside_the_window_are_not_used_but_daily_metrics_are(deployment_a):
    value(deployment_a, metric("accuracy", window="1d"), 0.75, end=T0 + HOUR - dt_hours(5), length=24 * HOUR)
    value(deployment_a, metric("error_rate"), 0.9, end=T0)  # the hour before: not this window
    value(deployment_a, metric("error_rate"), 0.001, end=T0 + HOUR)
    score = service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    rows = {r["metric"]: r for r in score.inputs}
    assert rows["error_rate"]["value"] == 0.001
    assert rows["accuracy"]["value"] == 0.75  # the daily value ended 5 h ago: still the current one
    assert score.readiness == "staged"


def dt_hours(n):
    return n * HOUR


def test_insufficient_data_lowers_coverage_not_the_score(deployment_a):
    healthy(deployment_a, keys=("accuracy",))
    value(deployment_a, metric("error_rate"), 0.5, enough=False)
    value(deployment_a, metric("null_rate"), 0.5, enough=False)
    score = service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    assert score.score == 100.0
    assert score.coverage < 0.7
    assert score.readiness == "staged" and "coverage_low" in score.reason_codes


def test_a_metric_gone_silent_lowers_coverage(deployment_a):
    healthy(deployment_a, end=T0)
    healthy(deployment_a, end=T0 + HOUR, keys=("accuracy",))
    score = service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    assert score.score == 100.0
    assert score.pillar_coverage["reliability"] == 0.0
    assert "coverage_low" in score.reason_codes


def test_threshold_edit_rescores_stored_values(deployment_a):
    healthy(deployment_a, keys=("accuracy", "latency_p95_ms", "null_rate"))
    version = metric("error_rate")
    value(deployment_a, version, 0.03)
    assert service.compute_trust(deployment_a.pk, T0, T0 + HOUR).readiness == "staged"
    metric("error_rate", warn=0.005, critical=0.02)  # a new current version, tighter
    score = service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    assert score.readiness == "blocked"
    row = next(r for r in score.inputs if r["metric"] == "error_rate")
    assert row["metric_version"] == version.number  # the lineage keeps the version that computed it
    assert row["critical"] == 0.02


def _warn_level_fairness_only(system_profile: str) -> TrustScore:
    system = SystemFactory(slug=f"clinic-{system_profile}", weight_profile=system_profile)
    deployment = DeploymentFactory(model_version__model__system=system)
    healthy(deployment, keys=("accuracy", "latency_p95_ms", "error_rate", "null_rate"))
    value(
        deployment, metric("demographic_parity_difference"), 0.15, attribute="sex"
    )  # between warn and critical
    return service.compute_trust(deployment.pk, T0, T0 + HOUR)


def test_moving_a_warn_level_fairness_problem_to_high_stakes_lowers_the_score():
    low_latency = _warn_level_fairness_only("low-latency")
    high_stakes = _warn_level_fairness_only("high-stakes")
    assert low_latency.readiness == high_stakes.readiness == "staged"
    assert [r["code"] for r in high_stakes.reasons] == ["metric_warn"]
    assert high_stakes.score < low_latency.score
    # Only fairness costs points, in proportion to the profile's fairness weight.
    for row in (low_latency, high_stakes):
        assert [c["metric"] for c in row.contributions if c["contribution"] > 0] == [
            "demographic_parity_difference"
        ]
    if apps.is_installed("catalog") and _has_weight_rows():
        assert low_latency.policy["profile"]["source"] == high_stakes.policy["profile"]["source"] == "catalog"
        assert high_stakes.weight_profile_version is not None
    fair_low = low_latency.policy["profile"]["pillar_weights"]["fairness"]
    fair_high = high_stakes.policy["profile"]["pillar_weights"]["fairness"]
    assert fair_high > fair_low


def _has_weight_rows() -> bool:
    try:
        model = apps.get_model("catalog", "WeightProfileVersion")
    except LookupError:
        return False
    return model.objects.filter(profile__name="high-stakes", is_current=True).exists()


def test_rollback_target_is_the_previous_ready_version_in_the_environment(deployment_a):
    model = deployment_a.model_version.model
    env = deployment_a.environment
    older = DeploymentFactory(
        model_version=ModelVersionFactory(model=model, version="0.9.0", created_at=T0 - 30 * HOUR),
        environment=env,
    )
    healthy(older)
    service.compute_trust(older.pk, T0, T0 + HOUR)
    newer = DeploymentFactory(
        model_version=ModelVersionFactory(model=model, version="2.0.0", created_at=T0), environment=env
    )
    healthy(newer, keys=("latency_p95_ms", "error_rate", "null_rate"))
    value(newer, metric("accuracy"), 0.75)  # between warn and critical
    score = service.compute_trust(newer.pk, T0, T0 + HOUR)
    assert score.readiness == "staged"
    assert score.containment["rollback_target"]["version"] == "0.9.0"
    assert score.containment["rollback_target"]["deployment"] == older.pk
    assert score.containment["canary_share"] == 0.10  # medium criticality


def test_jump_is_flagged_and_noise_is_not(deployment_a):
    version = metric("error_rate")
    healthy(deployment_a, keys=("accuracy",))
    # 30 hours of small wobble in [0.0100, 0.0114] → scores in a narrow band; then a big drop.
    for h in range(30):
        end = T0 + (h + 1) * HOUR
        if h:  # the first hour's accuracy came with healthy()
            value(deployment_a, metric("accuracy"), 0.95, end=end)
        value(deployment_a, version, 0.0100 + 0.0001 * ((h * 7) % 15), end=end)
        service.compute_trust(deployment_a.pk, end - HOUR, end)
    assert not ScoreAnomaly.objects.exists()
    end = T0 + 31 * HOUR
    value(deployment_a, metric("accuracy"), 0.95, end=end)
    value(deployment_a, version, 0.045, end=end)
    score = service.compute_trust(deployment_a.pk, end - HOUR, end)
    anomaly = ScoreAnomaly.objects.get()
    assert anomaly.kind == "jump" and anomaly.trust_score == score
    assert anomaly.details["change"] < 0 and "fell" in anomaly.summary


def test_threshold_change_alone_unblocking_is_flagged_with_its_author(deployment_a):
    editor = UserFactory(username="loosener")
    healthy(deployment_a)
    value(deployment_a, metric("demographic_parity_difference"), 0.25, attribute="sex")
    blocked = service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    assert blocked.readiness == "blocked"
    metric("demographic_parity_difference", warn=0.3, critical=0.5, by=editor)
    [rescored] = service.recheck_policy([deployment_a], actor=editor)
    assert rescored.pk == blocked.pk and rescored.readiness == "ready"
    assert rescored.policy["thresholds"]["demographic_parity_difference"]["critical"] == 0.5
    rescored.refresh_from_db()
    assert rescored.policy["thresholds"]["demographic_parity_difference"]["critical"] == 0.5
    anomaly = ScoreAnomaly.objects.get(kind="policy_flip")
    assert anomaly.caused_by == editor
    assert anomaly.details["old_readiness"] == "blocked" and anomaly.details["new_readiness"] == "ready"
    assert anomaly.details["threshold_changes"]["demographic_parity_difference"]["new"]["critical"] == 0.5
    assert not anomaly.can_review(editor)
    assert anomaly.can_review(UserFactory(username="second-person"))


def test_what_changed_between_two_points(deployment_a):
    healthy(deployment_a)
    before = service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    end = T0 + 2 * HOUR
    healthy(deployment_a, end=end)
    value(deployment_a, metric("feature_drift_psi"), 0.2, feature="income", end=end)
    after = service.compute_trust(deployment_a.pk, end - HOUR, end)
    change = service.what_changed(before, after)
    assert change["change"] == pytest.approx(after.score - before.score)
    assert change["by_metric"][0]["metric"] == "feature_drift_psi"
    assert change["by_pillar"][0]["pillar"] == "data_quality"
    assert abs(change["residual"]) < 1e-9


def test_gate_without_a_score_is_staged(deployment_a):
    answer = service.gate(deployment_a)
    assert answer["readiness"] == "staged" and answer["reasons"][0]["code"] == "no_score"


def test_policy_flip_found_by_the_engine_names_the_author_from_the_audit_trail(deployment_a):
    from django.db import transaction

    from healthboard.audit import record_change

    editor = UserFactory(username="catalog-editor")
    others = ("accuracy", "latency_p95_ms", "null_rate")
    healthy(deployment_a, keys=others)
    value(deployment_a, metric("error_rate"), 0.06)  # critical
    assert service.compute_trust(deployment_a.pk, T0, T0 + HOUR).readiness == "blocked"
    with transaction.atomic():
        loosened = metric("error_rate", warn=0.1, critical=0.2, by=editor)
        record_change(
            action="catalog.metric.edit", obj=loosened, after={"critical_threshold": 0.2}, actor=editor
        )
    end = T0 + 2 * HOUR
    healthy(deployment_a, end=end, keys=others)
    value(deployment_a, loosened, 0.06, end=end)
    score = service.compute_trust(deployment_a.pk, end - HOUR, end)  # the engine's next window
    assert score.readiness == "ready"
    anomaly = ScoreAnomaly.objects.get(kind="policy_flip")
    assert anomaly.trust_score == score and anomaly.caused_by == editor
    assert anomaly.details["threshold_changes"]["error_rate"]["old"]["critical"] == 0.05


def test_unchanged_policy_and_worse_values_are_not_a_policy_flip(deployment_a):
    others = ("accuracy", "latency_p95_ms", "null_rate")
    healthy(deployment_a)
    assert service.compute_trust(deployment_a.pk, T0, T0 + HOUR).readiness == "ready"
    end = T0 + 2 * HOUR
    healthy(deployment_a, end=end, keys=others)
    value(deployment_a, metric("error_rate"), 0.06, end=end)
    assert service.compute_trust(deployment_a.pk, end - HOUR, end).readiness == "blocked"
    assert not ScoreAnomaly.objects.filter(kind="policy_flip").exists()


def test_a_system_override_through_the_catalog_alone_unblocks_and_is_flagged(deployment_a):
    from catalog import services as catalog_services

    admin = UserFactory(username="override-admin", roles=["catalog_admin"])
    system = deployment_a.environment.system
    others = ("accuracy", "latency_p95_ms", "null_rate")
    healthy(deployment_a, keys=others)
    version = metric("error_rate")
    value(deployment_a, version, 0.06)  # critical under the catalog default (0.05)
    blocked = service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    assert (
        blocked.readiness == "blocked" and blocked.policy["thresholds"]["error_rate"]["source"] == "catalog"
    )
    catalog_services.set_threshold_override(
        "error_rate",
        scope="system",
        target=system,
        warn_threshold=0.1,
        critical_threshold=0.2,
        reason="noisy batch jobs",
        actor=admin,
    )
    end = T0 + 2 * HOUR
    healthy(deployment_a, end=end, keys=others)
    value(deployment_a, version, 0.06, end=end)
    score = service.compute_trust(deployment_a.pk, end - HOUR, end)
    assert score.readiness == "ready"
    assert score.policy["thresholds"]["error_rate"] == {
        "direction": "lower_is_better",
        "warn": 0.1,
        "critical": 0.2,
        "source": "system",
    }
    anomaly = ScoreAnomaly.objects.get(kind="policy_flip")
    assert anomaly.caused_by == admin
    assert not anomaly.can_review(admin)


def test_four_eyes_flip_names_the_proposer_and_bars_both_admins_from_review(deployment_a, settings):
    from catalog import services as catalog_services

    settings.CATALOG_FOUR_EYES = True
    proposer = UserFactory(username="proposer", roles=["catalog_admin"])
    approver = UserFactory(username="approver", roles=["catalog_admin"])
    others = ("accuracy", "latency_p95_ms", "null_rate")
    healthy(deployment_a, keys=others)
    version = metric("error_rate")
    value(deployment_a, version, 0.06)
    assert service.compute_trust(deployment_a.pk, T0, T0 + HOUR).readiness == "blocked"
    outcome = catalog_services.set_threshold_override(
        "error_rate",
        scope="deployment",
        target=deployment_a,
        critical_threshold=0.2,
        warn_threshold=0.1,
        reason="known batch noise",
        actor=proposer,
    )
    assert outcome.is_pending
    catalog_services.approve_change(outcome.pending.pk, actor=approver)
    [score] = service.recheck_policy([deployment_a])
    assert score.readiness == "ready"
    anomaly = ScoreAnomaly.objects.get(kind="policy_flip")
    assert anomaly.caused_by == proposer and anomaly.details["involved"] == ["approver"]
    assert not anomaly.can_review(proposer) and not anomaly.can_review(approver)
    assert anomaly.can_review(UserFactory(username="independent"))
