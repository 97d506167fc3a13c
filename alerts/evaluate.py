"""The evaluation seam: the computation engine calls this after each computed window.

    from alerts.evaluate import evaluate_window, evaluate_values

    evaluate_window(deployment_id, window_start, window_end)   # every value ending in (start, end]
    evaluate_values([metric_value_id, ...])                     # exactly these values

Both are synchronous, idempotent and safe to call again (a Celery retry, a recomputed window,
a duplicate task): each (rule, deployment, segment, attribute, feature, window end) is
evaluated once — a unique key on ``AlertEvaluation``. A recomputed window updates its
evaluation row in place; the state machine only moves forward, so a window older than (or
equal to) the newest one already applied to its series is recorded with ``applied=False``
and changes no state. Evaluations of one deployment are serialised by a row lock on the
deployment (PostgreSQL); call them inside or outside a transaction.

A *rule* is the current version of a metric definition that has a warn or critical threshold;
its thresholds for a deployment come from ``alerts.thresholds.effective_policy``. Values of a
metric whose current version has no thresholds are ignored. ``insufficient_data`` values (or a
missing value) neither fire nor resolve.

Returns an ``EvaluationReport`` with counts and the transitions that happened, for logs/tests.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from alerts import inhibition, lifecycle
from alerts import state as sm
from alerts.models import Alert, AlertEvaluation
from alerts.models.alerts import fingerprint_for
from alerts.thresholds import Policy, effective_policies
from catalog.models import Deployment, MetricVersion
from metrics.models import MetricValue

__all__ = ["EvaluationReport", "evaluate_values", "evaluate_window"]


@dataclass
class EvaluationReport:
    evaluated: int = 0
    applied: int = 0
    skipped_no_rule: int = 0
    reevaluated: int = 0
    out_of_order: int = 0
    transitions: list[tuple[int, str]] = field(default_factory=list)  # (alert id, transition)

    def merge(self, other: EvaluationReport) -> None:
        self.evaluated += other.evaluated
        self.applied += other.applied
        self.skipped_no_rule += other.skipped_no_rule
        self.reevaluated += other.reevaluated
        self.out_of_order += other.out_of_order
        self.transitions.extend(other.transitions)


def evaluate_window(
    deployment_id: int, window_start: datetime, window_end: datetime, *, now: datetime | None = None
) -> EvaluationReport:
    """Evaluate every metric value of the deployment whose window ends in ``(window_start, window_end]``."""
    values = MetricValue.objects.filter(
        deployment_id=deployment_id, window_end__gt=window_start, window_end__lte=window_end
    )
    return _evaluate_deployment(deployment_id, values, now or timezone.now())


def evaluate_values(metric_value_ids: Iterable[int], *, now: datetime | None = None) -> EvaluationReport:
    """Evaluate exactly these metric values (any deployments), each deployment in window order."""
    ids = list(metric_value_ids)
    now = now or timezone.now()
    report = EvaluationReport()
    deployments = sorted(
        set(MetricValue.objects.filter(id__in=ids).values_list("deployment_id", flat=True).distinct())
    )
    for deployment_id in deployments:
        values = MetricValue.objects.filter(id__in=ids, deployment_id=deployment_id)
        report.merge(_evaluate_deployment(deployment_id, values, now))
    return report


SeriesKey = tuple[int, str, str, str]  # (metric definition id, segment, attribute, feature)


def _series_key(obj) -> SeriesKey:
    metric_id = obj.metric_version.definition_id if isinstance(obj, MetricValue) else obj.metric_id
    return (metric_id, obj.segment, obj.attribute, obj.feature)


def _observed(value: MetricValue) -> float | None:
    if value.status == MetricValue.Status.INSUFFICIENT_DATA or value.value is None:
        return None
    if isinstance(value.value, float) and (math.isnan(value.value) or math.isinf(value.value)):
        return None
    return value.value


def _rules_for(values: list[MetricValue], deployment: Deployment) -> dict[int, tuple[MetricVersion, Policy]]:
    definition_ids = {v.metric_version.definition_id for v in values}
    versions = list(
        MetricVersion.objects.filter(definition_id__in=definition_ids, is_current=True).select_related(
            "definition"
        )
    )
    policies = effective_policies(versions, deployment)
    return {v.definition_id: (v, policies[v.pk]) for v in versions if policies[v.pk].has_thresholds}


def _evaluate_deployment(deployment_id: int, values_qs, now: datetime) -> EvaluationReport:
    report = EvaluationReport()
    with transaction.atomic():
        deployment = (
            Deployment.objects.select_for_update(of=("self",))
            .select_related("environment__system")
            .filter(pk=deployment_id)
            .first()
        )
        if deployment is None:
            return report
        values = list(values_qs.select_related("metric_version__definition", "run"))
        if not values:
            return report
        rules = _rules_for(values, deployment)
        without_rule = {v.metric_version.definition_id for v in values} - set(rules)
        report.skipped_no_rule = sum(1 for v in values if v.metric_version.definition_id in without_rule)
        if without_rule:
            _close_orphans(deployment, without_rule, now, report)
        values = [v for v in values if v.metric_version.definition_id in rules]
        if not values:
            return report
        metric_ids = set(rules)

        open_alerts: dict[SeriesKey, Alert] = {
            _series_key(a): a
            for a in Alert.objects.select_for_update(of=("self",))
            .select_related("metric", "system", "metric_version", "incident", "escalation_policy")
            .filter(deployment=deployment, state__in=Alert.OPEN_STATES)
        }
        window_ends = {v.window_end for v in values}
        existing: dict[tuple[SeriesKey, datetime], AlertEvaluation] = {
            (_series_key(e), e.window_end): e
            for e in AlertEvaluation.objects.filter(
                deployment=deployment, metric_id__in=metric_ids, window_end__in=window_ends
            )
        }
        last_end: dict[SeriesKey, datetime] = {
            (row["metric_id"], row["segment"], row["attribute"], row["feature"]): row["last"]
            for row in AlertEvaluation.objects.filter(
                deployment=deployment, metric_id__in=metric_ids, applied=True
            )
            .values("metric_id", "segment", "attribute", "feature")
            .annotate(last=Max("window_end"))
        }
        firing_sources = {
            a.id
            for a in open_alerts.values()
            if a.state == Alert.State.FIRING and inhibition.is_source(a.metric.key)
        }

        # Sources before targets within a window end, so a freshness alert inhibits the drift
        # alerts computed on the same (empty) window.
        def order(v: MetricValue):
            key = v.metric_version.definition.key
            return (v.window_end, not inhibition.is_source(key), key, v.segment, v.attribute, v.feature, v.pk)

        new_rows: list[AlertEvaluation] = []
        for value in sorted(values, key=order):
            version, policy = rules[value.metric_version.definition_id]
            rule = policy.rule()
            key = _series_key(value)
            observed = _observed(value)
            level = rule.classify(observed)
            snapshot = {**policy.snapshot(), "value_metric_version": value.metric_version.number}
            report.evaluated += 1

            previous = existing.get((key, value.window_end))
            if previous is not None:
                previous.value, previous.level, previous.metric_value = observed, level, value
                previous.rule_snapshot, previous.evaluated_at = snapshot, now
                previous.save(
                    update_fields=["value", "level", "metric_value", "rule_snapshot", "evaluated_at"]
                )
                report.reevaluated += 1
                continue

            alert = open_alerts.get(key)
            before = alert.series_state if alert else sm.SeriesState()
            row = AlertEvaluation(
                metric_id=key[0],
                deployment=deployment,
                segment=value.segment,
                attribute=value.attribute,
                feature=value.feature,
                window_start=value.window_start,
                window_end=value.window_end,
                metric_value=value,
                value=observed,
                level=level,
                state_before=before.state,
                state_after=before.state,
                rule_snapshot=snapshot,
                alert=alert,
                evaluated_at=now,
            )
            if key in last_end and value.window_end <= last_end[key]:
                row.applied = False
                report.out_of_order += 1
                new_rows.append(row)
                continue

            result = sm.step(before, level, rule)
            alert = _apply(result, alert, value, version, policy, deployment, now)
            if alert is not None:
                for transition in result.transitions:
                    report.transitions.append((alert.id, transition))
                if alert.is_open:
                    open_alerts[key] = alert
                else:
                    open_alerts.pop(key, None)
                if inhibition.is_source(version.definition.key):
                    if alert.state == Alert.State.FIRING:
                        firing_sources.add(alert.id)
                    else:
                        firing_sources.discard(alert.id)
            row.alert = alert
            row.state_after = result.after.state
            row.transitions = ",".join(result.transitions)
            row.inhibited = bool(firing_sources) and inhibition.is_target(
                version.definition.key, version.pillar
            )
            last_end[key] = value.window_end
            report.applied += 1
            new_rows.append(row)

        # The unique key turns a concurrent duplicate evaluation into an IntegrityError that
        # rolls this whole transaction back (and the task retries and finds the rows).
        AlertEvaluation.objects.bulk_create(new_rows)
        _update_inhibition(deployment, open_alerts, firing_sources, now)
    return report


def _close_orphans(
    deployment: Deployment, metric_ids: set[int], now: datetime, report: EvaluationReport
) -> None:
    """Open alerts of metrics that no longer have thresholds end: there is no rule left."""
    for alert in (
        Alert.objects.select_for_update(of=("self",))
        .select_related("metric", "incident")
        .filter(deployment=deployment, metric_id__in=metric_ids, state__in=Alert.OPEN_STATES)
    ):
        was_firing = alert.state == Alert.State.FIRING
        alert.state = Alert.State.RESOLVED if was_firing else Alert.State.INACTIVE
        alert.resolved_at = now
        alert.resolution = "the metric no longer has thresholds (rule removed)"
        alert.save()
        if was_firing:
            lifecycle.on_resolved(alert, now, how=f"Resolved: {alert.resolution}")
        report.transitions.append((alert.id, sm.T_RESOLVED if was_firing else sm.T_CANCELLED))


def _apply(
    result: sm.Step,
    alert: Alert | None,
    value: MetricValue,
    version: MetricVersion,
    policy: Policy,
    deployment: Deployment,
    now: datetime,
) -> Alert | None:
    after = result.after
    transitions = result.transitions
    if alert is None:
        if not after.is_open:
            return None
        alert = Alert(
            fingerprint=fingerprint_for(
                version.definition.key, deployment.pk, value.segment, value.attribute, value.feature
            ),
            metric=version.definition,
            system=deployment.environment.system,
            deployment=deployment,
            segment=value.segment,
            attribute=value.attribute,
            feature=value.feature,
            pillar=version.pillar,
            first_breach_window_end=value.window_end,
            created_at=now,
        )
    previous_severity = alert.severity or None
    rule = policy.rule()
    if after.state == sm.RESOLVED:
        alert.state = Alert.State.RESOLVED
    elif after.state == sm.INACTIVE:
        alert.state = Alert.State.INACTIVE  # a pending alert that stopped breaching
    else:
        alert.state = after.state
        alert.breaches = after.breaches
    alert.severity = after.severity or alert.severity or sm.WARNING
    alert.metric_version = version
    alert.value = _observed(value)
    alert.threshold = rule.threshold_for(alert.severity)
    alert.rule = policy.snapshot()
    alert.last_value = value
    alert.run = value.run
    alert.last_window_end = value.window_end
    if sm.T_FIRED in transitions:
        alert.fired_at = now
    if sm.T_RESOLVED in transitions:
        alert.resolved_at = now
        alert.resolution = f"healthy window ending {value.window_end:%Y-%m-%d %H:%M} UTC"
    if sm.T_CANCELLED in transitions:
        alert.resolution = "stopped breaching before it fired"
    alert.save()

    if sm.T_FIRED in transitions:
        lifecycle.on_fired(alert, now)
    if sm.T_SEVERITY_RAISED in transitions:
        lifecycle.on_severity_raised(alert, previous_severity, now)
    if sm.T_RESOLVED in transitions:
        lifecycle.on_resolved(alert, now, how=f"Resolved: {alert.resolution}")
    if transitions:
        alert.save()
    return alert


def _update_inhibition(
    deployment: Deployment, open_alerts: dict[SeriesKey, Alert], firing_sources: set[int], now: datetime
) -> None:
    """Mark the deployment's open target alerts inhibited (or not) by a firing source alert."""
    source = min(firing_sources) if firing_sources else None
    changed = defaultdict(list)
    for alert in open_alerts.values():
        if not inhibition.is_target(alert.metric.key, alert.pillar):
            continue
        wanted = source
        if alert.inhibited_by_id != wanted:
            changed[wanted].append(alert.id)
            if wanted is not None and alert.incident_id is not None:
                lifecycle.record_event(
                    alert.incident,
                    lifecycle.Kind.INHIBITED,
                    alert=alert,
                    at=now,
                    message=f"Inhibited by freshness/ingestion alert #{wanted}: computed on missing data.",
                )
            alert.inhibited_by_id = wanted
    for wanted, ids in changed.items():
        Alert.objects.filter(id__in=ids).update(inhibited_by_id=wanted)
    # Inhibition lifted for closed sources: open targets elsewhere pointing at a closed source.
    Alert.objects.filter(
        deployment=deployment, state__in=Alert.OPEN_STATES, inhibited_by__isnull=False
    ).exclude(inhibited_by_id__in=firing_sources).update(inhibited_by=None)
