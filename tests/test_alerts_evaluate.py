"""Evaluation against the database: state persisted per series, idempotency, inhibition,
severity escalation, incidents and the reliability signals."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest

from alerts import reliability
from alerts.evaluate import evaluate_values, evaluate_window
from alerts.models import Alert, AlertEvaluation, Incident, IncidentEvent
from alerts.testing import HOUR, T0, metric, value, window
from catalog.models import MetricVersion
from tests.factories import DeploymentFactory

pytestmark = pytest.mark.django_db


def at(index: int, minutes: int = 3):
    """Evaluation time: a few minutes after window ``index`` closed."""
    return window(index)[1] + timedelta(minutes=minutes)


def feed(version, deployment, series, *, start=0, **kwargs):
    """Store and evaluate a series window by window, as the engine would."""
    for offset, val in enumerate(series):
        index = start + offset
        value(version, deployment, index, val, **kwargs)
        s, e = window(index)
        evaluate_window(deployment.pk, s, e, now=at(index))


def test_for_windows_persist_and_fire(deployment_a):
    psi = metric("feature_drift_psi", for_windows=3)
    feed(psi, deployment_a, [0.12, 0.13], feature="income")
    alert = Alert.objects.get()
    assert (alert.state, alert.breaches, alert.severity) == ("pending", 2, "warning")
    assert alert.fired_at is None and alert.incident is None
    feed(psi, deployment_a, [0.14], start=2, feature="income")
    alert.refresh_from_db()
    assert alert.state == "firing" and alert.fired_at == at(2)
    assert alert.first_breach_window_end == window(0)[1]
    assert Incident.objects.get().alerts.get() == alert


def test_restart_mid_pending_keeps_the_for_count(deployment_a):
    """Nothing about a series lives in process memory: after a 'restart' (modules reloaded,
    every object re-read) the count continues from the database row."""
    psi = metric("feature_drift_psi", for_windows=3)
    feed(psi, deployment_a, [0.12, 0.13])
    assert Alert.objects.get().breaches == 2

    import alerts.evaluate
    import alerts.state

    importlib.reload(alerts.state)
    fresh = importlib.reload(alerts.evaluate)

    value(psi, deployment_a, 2, 0.14)
    report = fresh.evaluate_window(deployment_a.pk, *window(2), now=at(2))
    assert [t for _, t in report.transitions] == ["fired"]
    assert Alert.objects.get().state == "firing"


def test_the_count_is_read_from_the_database(deployment_a):
    psi = metric("feature_drift_psi", for_windows=5)
    feed(psi, deployment_a, [0.12])
    Alert.objects.update(breaches=4)  # as if four windows had been counted before a restart
    feed(psi, deployment_a, [0.12], start=1)
    assert Alert.objects.get().state == "firing"


def test_evaluation_is_idempotent_per_window(deployment_a):
    psi = metric("feature_drift_psi")
    mv = value(psi, deployment_a, 0, 0.3)
    first = evaluate_window(deployment_a.pk, *window(0), now=at(0))
    again = evaluate_window(deployment_a.pk, *window(0), now=at(0) + timedelta(minutes=5))
    also = evaluate_values([mv.pk], now=at(0) + timedelta(minutes=6))
    assert [t for _, t in first.transitions] == ["fired"]
    assert again.transitions == [] and again.reevaluated == 1
    assert also.transitions == [] and also.reevaluated == 1
    assert AlertEvaluation.objects.count() == 1
    assert Alert.objects.count() == 1
    assert IncidentEvent.objects.filter(kind="fired").count() == 1


def test_unique_key_is_enforced_by_the_database(deployment_a):
    psi = metric("feature_drift_psi")
    value(psi, deployment_a, 0, 0.3)
    evaluate_window(deployment_a.pk, *window(0), now=at(0))
    row = AlertEvaluation.objects.get()
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        AlertEvaluation.objects.create(
            metric_id=row.metric_id,
            deployment=row.deployment,
            window_start=row.window_start,
            window_end=row.window_end,
            level="ok",
            state_before="inactive",
            state_after="inactive",
        )


def test_recomputed_window_updates_its_row_without_replaying_state(deployment_a):
    psi = metric("feature_drift_psi")
    feed(psi, deployment_a, [0.3])
    value(psi, deployment_a, 0, 0.01)  # a late event changed the window's value
    report = evaluate_window(deployment_a.pk, *window(0), now=at(0, 30))
    row = AlertEvaluation.objects.get()
    assert report.reevaluated == 1 and report.transitions == []
    assert (row.value, row.level, row.transitions) == (0.01, "ok", "fired")
    assert Alert.objects.get().state == "firing"


def test_an_older_window_is_recorded_but_not_applied(deployment_a):
    psi = metric("feature_drift_psi")
    feed(psi, deployment_a, [0.3, 0.3], start=1)
    value(psi, deployment_a, 0, 0.01)
    report = evaluate_window(deployment_a.pk, *window(0), now=at(2))
    assert report.out_of_order == 1
    assert AlertEvaluation.objects.get(window_end=window(0)[1]).applied is False
    assert Alert.objects.get().state == "firing"


def test_each_evaluation_stores_the_rule_it_used(deployment_a):
    psi = metric("feature_drift_psi", warn=0.1, critical=0.25, for_windows=1)
    feed(psi, deployment_a, [0.12])
    snap = AlertEvaluation.objects.get().rule_snapshot
    assert snap["metric_key"] == "feature_drift_psi" and snap["metric_version_number"] == psi.number
    assert (snap["warn"], snap["critical"], snap["for_windows"]) == (0.1, 0.25, 1)
    assert snap["clear_threshold"] == pytest.approx(0.085)
    # the catalog changes the threshold: the next window uses (and records) the new version
    edited = metric("feature_drift_psi", warn=0.2, critical=0.4)
    feed(psi, deployment_a, [0.19], start=1)
    latest = AlertEvaluation.objects.order_by("-window_end").first()
    assert latest.rule_snapshot["metric_version_number"] == edited.number == psi.number + 1
    assert latest.rule_snapshot["warn"] == 0.2
    assert latest.rule_snapshot["value_metric_version"] == psi.number
    assert latest.level == "band"  # 0.19 < 0.2 but not at/below the clear threshold 0.18
    assert Alert.objects.get().state == "firing"


def test_insufficient_data_neither_fires_nor_resolves(deployment_a):
    psi = metric("feature_drift_psi")
    feed(psi, deployment_a, [None, None])
    assert not Alert.objects.exists()
    feed(psi, deployment_a, [0.3, None, None], start=2)
    assert Alert.objects.get().state == "firing"
    # insufficient_data status wins even when a value was stored
    feed(psi, deployment_a, [0.01], start=5, status="insufficient_data")
    assert Alert.objects.get().state == "firing"
    feed(psi, deployment_a, [0.01], start=6)
    assert Alert.objects.get().state == "resolved"


def test_hysteresis_flapping_gives_one_fire_and_one_resolve(deployment_a):
    psi = metric("feature_drift_psi")
    feed(psi, deployment_a, [0.11, 0.095, 0.105, 0.09, 0.11, 0.092, 0.104, 0.05])
    alert = Alert.objects.get()
    assert alert.state == "resolved"
    kinds = list(IncidentEvent.objects.filter(alert=alert).values_list("kind", flat=True))
    assert kinds.count("fired") == 1 and kinds.count("resolved") == 1


def test_warning_to_critical_is_the_same_alert(deployment_a):
    psi = metric("feature_drift_psi")
    feed(psi, deployment_a, [0.12])
    alert = Alert.objects.get()
    assert alert.severity == "warning" and alert.threshold == 0.1
    feed(psi, deployment_a, [0.4], start=1)
    assert Alert.objects.count() == 1
    alert.refresh_from_db()
    assert (alert.state, alert.severity, alert.threshold) == ("firing", "critical", 0.25)
    assert alert.incident.severity == "critical"
    assert IncidentEvent.objects.filter(alert=alert, kind="severity_raised").count() == 1


def test_segments_and_features_are_separate_series(deployment_a):
    psi = metric("feature_drift_psi")
    value(psi, deployment_a, 0, 0.3, feature="income")
    value(psi, deployment_a, 0, 0.3, feature="age")
    value(psi, deployment_a, 0, 0.3, feature="age", segment="region=eu")
    value(psi, deployment_a, 0, 0.01, feature="zip")
    evaluate_window(deployment_a.pk, *window(0), now=at(0))
    assert Alert.objects.filter(state="firing").count() == 3
    assert Alert.objects.values("fingerprint").distinct().count() == 3
    assert Incident.objects.count() == 1  # one system, one incident


def test_metrics_without_thresholds_are_not_rules(deployment_a):
    ks = metric("feature_drift_ks", warn=None, critical=None)
    value(ks, deployment_a, 0, 0.9)
    report = evaluate_window(deployment_a.pk, *window(0), now=at(0))
    assert report.skipped_no_rule == 1 and not AlertEvaluation.objects.exists()


def test_freshness_alert_inhibits_drift_quality_fairness_of_its_deployment(deployment_a):
    other = DeploymentFactory(model_version__model__system=deployment_a.system)
    fresh = metric("data_freshness_s", pillar="reliability", warn=3600, critical=7200)
    psi = metric("feature_drift_psi")
    acc = metric("accuracy", pillar="performance", direction="higher_is_better", warn=0.85, critical=0.8)
    dpd = metric("demographic_parity_difference", pillar="fairness", warn=0.1, critical=0.2)
    latency = metric("latency_p95_ms", pillar="performance", warn=300, critical=500)
    for deployment in (deployment_a, other):
        value(psi, deployment, 0, 0.3, feature="income")
        value(acc, deployment, 0, 0.7)
        value(dpd, deployment, 0, 0.3, attribute="sex")
        value(latency, deployment, 0, 900)
    value(fresh, deployment_a, 0, 9000)
    evaluate_window(deployment_a.pk, *window(0), now=at(0))
    evaluate_window(other.pk, *window(0), now=at(0))

    source = Alert.objects.get(metric__key="data_freshness_s")
    inhibited = Alert.objects.filter(deployment=deployment_a, inhibited_by=source)
    assert sorted(inhibited.values_list("metric__key", flat=True)) == [
        "accuracy",
        "demographic_parity_difference",
        "feature_drift_psi",
    ]
    assert Alert.objects.get(deployment=deployment_a, metric__key="latency_p95_ms").inhibited_by is None
    assert not Alert.objects.filter(deployment=other, inhibited_by__isnull=False).exists()
    assert AlertEvaluation.objects.filter(deployment=deployment_a, inhibited=True).count() == 3

    # fresh data again: the source resolves and the inhibition lifts
    value(fresh, deployment_a, 1, 60)
    evaluate_window(deployment_a.pk, *window(1), now=at(1))
    assert not Alert.objects.filter(inhibited_by__isnull=False).exists()


def test_incident_grouping_by_system_and_group_window(deployment_a, deployment_b, settings):
    settings.ALERTS_INCIDENT_GROUP_WINDOW_S = 1800
    psi = metric("feature_drift_psi")
    value(psi, deployment_a, 0, 0.3)
    value(psi, deployment_b, 0, 0.3)
    evaluate_window(deployment_a.pk, *window(0), now=at(0))
    evaluate_window(deployment_b.pk, *window(0), now=at(0))
    assert Incident.objects.count() == 2  # one per system
    first = Incident.objects.get(system=deployment_a.system)
    feed(psi, deployment_a, [0.01], start=1)
    first.refresh_from_db()
    assert first.state == "resolved" and first.resolved_at == at(1)
    # fires again 20 minutes later: within the group window → the same incident, reopened
    value(psi, deployment_a, 2, 0.3, feature="x")
    evaluate_window(deployment_a.pk, *window(2), now=at(1, 23))
    first.refresh_from_db()
    assert first.state == "open" and Incident.objects.filter(system=deployment_a.system).count() == 1
    assert first.events.filter(kind="reopened").exists()
    # resolved, then fires again hours later: a new incident
    value(psi, deployment_a, 3, 0.01, feature="x")
    evaluate_window(deployment_a.pk, *window(3), now=at(3))
    value(psi, deployment_a, 9, 0.3, feature="y")
    evaluate_window(deployment_a.pk, *window(9), now=at(9))
    assert Incident.objects.filter(system=deployment_a.system).count() == 2


def test_manual_resolve_then_breach_starts_a_new_episode(deployment_a, catalog_admin):
    from alerts import actions

    psi = metric("feature_drift_psi")
    feed(psi, deployment_a, [0.3])
    first = Alert.objects.get()
    actions.resolve(
        first, user=catalog_admin_with_manage(catalog_admin, deployment_a), comment="fixed upstream"
    )
    feed(psi, deployment_a, [0.3], start=1)
    assert Alert.objects.count() == 2
    assert Alert.objects.filter(state="firing").exclude(pk=first.pk).exists()


def catalog_admin_with_manage(user, deployment):
    from healthboard import access

    access.grant(deployment.system, [access.VIEW, access.MANAGE_ALERTS], user=user)
    return user


def test_mttd_mttr_and_open_critical(deployment_a):
    psi = metric("feature_drift_psi", for_windows=2)
    feed(psi, deployment_a, [0.12, 0.3], feature="a")  # fires at window 1: first breach window 0 ended
    feed(psi, deployment_a, [0.01], start=2, feature="a")  # resolves at window 2
    lat = metric("latency_p95_ms", pillar="performance", warn=300, critical=500)
    feed(lat, deployment_a, [900], start=3)
    now = at(3) + timedelta(minutes=1)
    # fired at end(1)+3m, first breach ended end(0): 1 h 3 min
    assert reliability.mttd_s(now=now, system=deployment_a.system) == pytest.approx(
        ((HOUR + timedelta(minutes=3)).total_seconds() + 180) / 2
    )
    assert reliability.mttr_s(now=now) == pytest.approx(HOUR.total_seconds())
    assert reliability.open_critical_alerts(system=deployment_a.system) == 1
    assert reliability.open_critical_alerts(deployment=deployment_a) == 1
    assert reliability.mttr_s(now=T0) is None


def test_values_of_an_old_metric_version_are_judged_by_the_current_rule(deployment_a):
    old = metric("feature_drift_psi", warn=0.5, critical=0.9)
    current = metric("feature_drift_psi", warn=0.1, critical=0.25)
    value(old, deployment_a, 0, 0.3)
    evaluate_window(deployment_a.pk, *window(0), now=at(0))
    alert = Alert.objects.get()
    assert alert.severity == "critical" and alert.metric_version == current
    assert MetricVersion.objects.get(definition=current.definition, is_current=True) == current


def test_threshold_overrides_from_the_catalog_are_the_rule(deployment_a, catalog_admin):
    """The catalog's effective policy (deployment > environment > system > default) decides."""
    services = pytest.importorskip("catalog.services")
    psi = metric("feature_drift_psi", warn=0.1, critical=0.25)
    services.set_threshold_override(
        "feature_drift_psi",
        scope="deployment",
        target=deployment_a,
        warn_threshold=0.3,
        critical_threshold=0.5,
        reason="noisy upstream feed",
        actor=catalog_admin,
    )
    feed(psi, deployment_a, [0.2])
    assert not Alert.objects.exists()  # 0.2 breaches the default, not the override
    row = AlertEvaluation.objects.get()
    assert (row.level, row.rule_snapshot["warn"], row.rule_snapshot["source"]) == ("ok", 0.3, "deployment")
    feed(psi, deployment_a, [0.6], start=1)
    alert = Alert.objects.get()
    assert (alert.severity, alert.threshold, alert.rule["source"]) == ("critical", 0.5, "deployment")


def test_evaluate_alerts_command_backfills_idempotently(deployment_a):
    import io

    from django.core.management import call_command

    psi = metric("feature_drift_psi", for_windows=2)
    for index, val in enumerate([0.12, 0.13, 0.01]):
        value(psi, deployment_a, index, val, feature="income")
    out = io.StringIO()
    call_command("evaluate_alerts", "--deployment", str(deployment_a.pk), "--tick", stdout=out)
    assert "evaluated 3 values (3 applied" in out.getvalue() and "3 transitions" in out.getvalue()
    alert = Alert.objects.get()
    assert alert.state == "resolved" and alert.fired_at is not None  # pending, fired, resolved in order
    again = io.StringIO()
    call_command("evaluate_alerts", stdout=again)
    assert "0 applied, 3 re-evaluated" in again.getvalue() and "0 transitions" in again.getvalue()


def test_an_open_alert_ends_when_its_rule_loses_its_thresholds(deployment_a):
    psi = metric("feature_drift_psi")
    feed(psi, deployment_a, [0.3])
    metric("feature_drift_psi", warn=None, critical=None)  # the catalog drops the thresholds
    report = evaluate_window(deployment_a.pk, *window(0), now=at(0, 30))  # any value of the metric
    alert = Alert.objects.get()
    assert alert.state == "resolved" and "rule removed" in alert.resolution
    assert report.transitions == [(alert.id, "resolved")]
    assert alert.incident.state == "resolved"
