"""The Django side of the trust score: load a window's metric values, score them, store them.

**The seam.** ``compute_trust(deployment_id, window_start, window_end)`` is what the computation
engine calls after it has written a window's ``MetricValue`` rows for a deployment (the default
trust window is 1 h, half-open ``[start, end)`` in UTC like every window). It is idempotent: the
``TrustScore`` is upserted on (deployment, window start, window end), so a recomputed (dirty)
window replaces its score. It runs in the caller's worker; it reads only metric values (never
raw events), so its cost grows with metrics x instances, not with traffic.

Which values a window uses: for each metric of the catalog, the all-traffic value
(``segment == ""``; cohort slices are drill-down, fairness already compares cohorts) of each
instance (feature, attribute) whose own window *ends* inside the trust window — or, for a value
whose window is longer than the trust window (daily quality and fairness), within its own window
length before the trust window's end. When several fit (5-minute metrics in a
1-hour trust window) the latest is used: the score describes the state at the window's end.
Thresholds, direction and pillar always come from the metric's *current* version (through the
effective policy), whichever version computed the value — so a threshold edit re-scores the
stored values at once, which is what lets a policy flip be seen; the value's own version stays
in the lineage. For the same window, a value of the current version wins over an older one.

Expected metrics (for coverage) are the current metrics with thresholds that the deployment had
any value for in the 7 days up to the window's end: a metric that falls silent lowers coverage.

After storing, two anomaly checks run (``metrics.trust.anomaly``): a robust jump against the 48
previous window-to-window changes of the same window length, and a policy flip — the values of
this window decided under the policy of the score it replaces (or of the previous window) and
under the current one; blocked → ready by the policy change alone is flagged, naming who made
the change (from the audit trail, or ``caused_by`` when the caller knows it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import DurationField, ExpressionWrapper, F, Q
from django.utils import timezone

from catalog.models import Deployment, MetricVersion
from metrics.models.results import MetricValue
from metrics.models.trust import ScoreAnomaly, TrustScore
from metrics.trust import policy as policies
from metrics.trust.anomaly import JUMP_WINDOW, check_jump, check_policy_flip
from metrics.trust.attribution import attribute_change
from metrics.trust.readiness import READY, STAGED, Decision, decide
from metrics.trust.score import Observation, ScoreResult, Threshold, WeightProfile, compute_score

__all__ = [
    "DEFAULT_WINDOW",
    "Evaluation",
    "compute_trust",
    "evaluate",
    "gate",
    "recheck_policy",
    "rollback_target",
    "what_changed",
]

DEFAULT_WINDOW = dt.timedelta(hours=1)
WINDOW_SPANS = {"5m": dt.timedelta(minutes=5), "1h": dt.timedelta(hours=1), "1d": dt.timedelta(days=1)}
EXPECTED_LOOKBACK = dt.timedelta(days=7)
# Audit object types whose changes can move a score by policy alone.
POLICY_OBJECT_TYPES = (
    "catalog.metricversion",
    "catalog.metricdefinition",
    "catalog.thresholdoverride",
    "catalog.weightprofile",
    "catalog.weightprofileversion",
    "catalog.catalogchangerequest",
    "catalog.system",
)


@dataclass
class Evaluation:
    """A scored window, not yet stored."""

    deployment: Deployment
    window_start: dt.datetime
    window_end: dt.datetime
    observations: list[Observation]
    expected: dict[str, str]
    thresholds: dict[str, Threshold]
    profile: WeightProfile
    profile_source: str
    result: ScoreResult
    decision: Decision
    stored_status: dict[int, str]

    def policy_snapshot(self) -> dict:
        return policies.policy_snapshot(self.thresholds, self.profile, self.profile_source)

    def inputs(self) -> list[dict]:
        rows = []
        pillars = {m.key: m.pillar for m in self.result.metrics}
        for inst in self.result.instances:
            row = inst.as_dict()
            row["pillar"] = pillars.get(inst.key, "")
            row["stored_status"] = self.stored_status.get(inst.metric_value_id or 0, "")
            rows.append(row)
        return rows

    def contributions(self) -> list[dict]:
        ranked = self.result.contributions
        unknown = [m for m in self.result.metrics if not m.known]
        return [m.as_dict() for m in ranked] + [m.as_dict() for m in unknown]


@dataclass(frozen=True)
class Reference:
    """The stored score a new one is compared with for a policy flip (its policy, then)."""

    pk: int
    policy: dict
    computed_at: dt.datetime


def _deployment(deployment_or_id) -> Deployment:
    if isinstance(deployment_or_id, Deployment):
        return deployment_or_id
    return Deployment.objects.select_related("environment__system", "model_version__model").get(
        pk=deployment_or_id
    )


def _load(deployment: Deployment, window_start: dt.datetime, window_end: dt.datetime):
    """``(values, current)``: the value used per metric instance, and the current version of
    every metric the deployment had values for in the expected-metrics lookback."""
    current = {
        v.definition_id: v for v in MetricVersion.objects.filter(is_current=True).select_related("definition")
    }
    trust_span = window_end - window_start
    longest = max([trust_span, *WINDOW_SPANS.values()])
    # Values ending inside the trust window, plus longer-window values (daily quality, fairness)
    # ending within their own length of the trust window's end.
    rows = (
        MetricValue.objects.filter(deployment=deployment, segment="", window_end__lte=window_end)
        .filter(
            Q(window_end__gt=window_end - trust_span)
            | Q(window_end__gt=window_end - longest, window_start__lt=F("window_end") - trust_span)
        )
        .select_related("metric_version")
        .order_by("window_end", "metric_version__is_current", "id")
    )
    latest: dict[tuple[int, str, str], MetricValue] = {}
    for mv in rows:
        version = current.get(mv.metric_version.definition_id)
        if version is None:
            continue
        span = max(trust_span, mv.window_end - mv.window_start)
        if mv.window_end <= window_end - span:
            continue
        latest[(version.definition_id, mv.feature, mv.attribute)] = mv
    seen_versions = (
        MetricValue.objects.filter(
            deployment=deployment,
            segment="",
            window_end__lte=window_end,
            window_end__gt=window_end - EXPECTED_LOOKBACK,
        )
        .order_by()
        .values_list("metric_version_id", flat=True)
        .distinct()
    )
    seen = set(
        MetricVersion.objects.filter(pk__in=list(seen_versions)).values_list("definition_id", flat=True)
    )
    seen |= {definition_id for definition_id, _, _ in latest}
    return list(latest.values()), {d: current[d] for d in seen if d in current}


def evaluate(deployment, window_start: dt.datetime, window_end: dt.datetime) -> Evaluation:
    """Score ``deployment`` over ``[window_start, window_end)`` without storing anything."""
    deployment = _deployment(deployment)
    values, current = _load(deployment, window_start, window_end)
    thresholds = {
        key: t for key, t in policies.thresholds_for(deployment, current.values()).items() if t.has_thresholds
    }
    expected = {v.definition.key: v.pillar for v in current.values() if v.definition.key in thresholds}
    observations = []
    for mv in values:
        version = current[mv.metric_version.definition_id]
        key = version.definition.key
        if key not in thresholds:
            continue  # context only
        observations.append(
            Observation(
                key=key,
                pillar=version.pillar,
                value=mv.value,
                policy=thresholds[key],
                enough_data=mv.status != MetricValue.Status.INSUFFICIENT_DATA,
                feature=mv.feature,
                attribute=mv.attribute,
                metric_value_id=mv.pk,
                metric_version=mv.metric_version.number,
            )
        )
    profile, source = policies.weight_profile_for(deployment.environment.system)
    expected = {k: p for k, p in expected.items() if profile.metric_weight(k) > 0}
    result = compute_score(observations, profile, expected=expected)
    decision = decide(
        result,
        criticality=deployment.environment.system.criticality,
        rollback_target=rollback_target(deployment),
    )
    return Evaluation(
        deployment=deployment,
        window_start=window_start,
        window_end=window_end,
        observations=observations,
        expected=expected,
        thresholds=thresholds,
        profile=profile,
        profile_source=source,
        result=result,
        decision=decision,
        stored_status={mv.pk: mv.status for mv in values},
    )


def rollback_target(deployment: Deployment) -> dict | None:
    """The previous ``ready`` version of the same model in the same environment: the newest
    older model version whose latest stored score there is ``ready``."""
    earlier = (
        Deployment.objects.filter(
            environment_id=deployment.environment_id,
            model_version__model_id=deployment.model_version.model_id,
            model_version__created_at__lt=deployment.model_version.created_at,
        )
        .exclude(pk=deployment.pk)
        .select_related("model_version")
        .order_by("-model_version__created_at", "-pk")[:20]
    )
    for candidate in earlier:
        latest = TrustScore.objects.latest_for(candidate)
        if latest is not None and latest.readiness == READY:
            return {
                "deployment": candidate.pk,
                "version": candidate.model_version.version,
                "score": latest.score,
                "scored_window_end": latest.window_end.isoformat(),
            }
    return None


def _same_length_history(deployment_id: int, window_start, window_end):
    length = window_end - window_start
    return (
        TrustScore.objects.filter(deployment_id=deployment_id, window_end__lte=window_start)
        .annotate(length=ExpressionWrapper(F("window_end") - F("window_start"), output_field=DurationField()))
        .filter(length=length)
        .order_by("-window_end")
    )


def _policy_cause(since: dt.datetime) -> tuple[object | None, str, list[str]]:
    """``(user, name, involved)`` of the newest catalog change since ``since`` that changes a
    policy. For an approved four-eyes change the author is the proposer and the approver is
    also involved; neither may review the flip."""
    from healthboard.models import AuditRecord

    record = (
        AuditRecord.objects.filter(object_type__in=POLICY_OBJECT_TYPES, created_at__gte=since)
        .exclude(action__in=("catalog.change.proposed", "catalog.change.rejected"))
        .select_related("actor")
        .order_by("-seq")
        .first()
    )
    if record is None:
        return None, "", []
    if record.action == "catalog.change.approved":
        from django.apps import apps

        change = apps.get_model("catalog", "CatalogChangeRequest").objects.filter(pk=record.object_id).first()
        proposer = getattr(change, "proposed_by", None) if change is not None else None
        if proposer is not None:
            return proposer, proposer.get_username(), [record.actor_name]
    return record.actor, record.actor_name, []


def _flag_jump(score: TrustScore) -> ScoreAnomaly | None:
    history = list(
        _same_length_history(score.deployment_id, score.window_start, score.window_end).values_list(
            "score", flat=True
        )[: JUMP_WINDOW + 1]
    )
    history.reverse()
    check = check_jump(history, score.score)
    if not check.flagged:
        return None
    direction = "rose" if check.change > 0 else "fell"
    anomaly, _ = ScoreAnomaly.objects.update_or_create(
        trust_score=score,
        kind=ScoreAnomaly.Kind.JUMP,
        defaults={
            "deployment_id": score.deployment_id,
            "summary": f"trust score {direction} {abs(check.change):.1f} points to {score.score:.1f} "
            f"({check.z:+.1f} robust sd)",
            "details": check.as_dict(),
        },
    )
    return anomaly


def _flag_policy_flip(evaluation: Evaluation, score: TrustScore, reference: Reference | None, caused_by):
    if reference is None or not reference.policy:
        return None
    current = evaluation.policy_snapshot()
    if reference.policy.get("thresholds") == current["thresholds"] and {
        k: v for k, v in (reference.policy.get("profile") or {}).items() if k != "source"
    } == {k: v for k, v in current["profile"].items() if k != "source"}:
        return None  # same policy: nothing to compare
    old_thresholds = policies.thresholds_from_snapshot(reference.policy)
    old_profile = policies.profile_from_snapshot(reference.policy) or evaluation.profile
    old_policies = {k: old_thresholds.get(k, t) for k, t in evaluation.thresholds.items()}
    flip = check_policy_flip(
        evaluation.observations,
        old_policies=old_policies,
        new_policies=evaluation.thresholds,
        old_profile=old_profile,
        new_profile=evaluation.profile,
        expected=evaluation.expected,
        criticality=evaluation.deployment.environment.system.criticality,
    )
    if not flip.flagged:
        return None
    actor_name, involved = "", []
    if caused_by is None:
        caused_by, actor_name, involved = _policy_cause(reference.computed_at)
    elif isinstance(caused_by, str):
        caused_by, actor_name = None, caused_by
    changed = ", ".join(
        f"{key} warn {c['old']['warn']}→{c['new']['warn']} critical {c['old']['critical']}→{c['new']['critical']}"
        for key, c in flip.threshold_changes.items()
    )
    if flip.weight_changes:
        changed = ", ".join(filter(None, [changed, f"weight profile {flip.weight_changes['new']['slug']}"]))
    anomaly, _ = ScoreAnomaly.objects.update_or_create(
        trust_score=score,
        kind=ScoreAnomaly.Kind.POLICY_FLIP,
        defaults={
            "deployment_id": score.deployment_id,
            "summary": f"policy change alone moved blocked → ready ({changed or 'policy'})"[:300],
            "details": {
                **flip.as_dict(),
                "reference_score": reference.pk,
                "involved": [n for n in involved if n],
            },
            "caused_by": caused_by if getattr(caused_by, "pk", None) else None,
            "caused_by_name": actor_name or getattr(caused_by, "username", "") or "",
        },
    )
    return anomaly


def compute_trust(
    deployment_id, window_start: dt.datetime, window_end: dt.datetime, *, caused_by=None
) -> TrustScore:
    """Score one window of one deployment and upsert its ``TrustScore`` (see the module doc).

    ``caused_by`` (a user or a name) is whoever changed the policy, when the caller knows it
    (``recheck_policy``); otherwise a policy flip names the author of the newest catalog change in
    the audit trail since the reference score was computed.
    """
    evaluation = evaluate(deployment_id, window_start, window_end)
    deployment = evaluation.deployment
    result, decision = evaluation.result, evaluation.decision
    with transaction.atomic():
        existing = (
            TrustScore.objects.select_for_update()
            .filter(deployment=deployment, window_start=window_start, window_end=window_end)
            .first()
        )
        found = existing or _same_length_history(deployment.pk, window_start, window_end).first()
        # What the policy flip compares with, copied before ``existing`` is overwritten below.
        reference = (
            Reference(pk=found.pk, policy=dict(found.policy or {}), computed_at=found.computed_at)
            if found is not None
            else None
        )
        fields = {
            "score": result.score,
            "coverage": result.coverage,
            "pillar_scores": result.pillar_scores(),
            "pillar_coverage": result.pillar_coverage(),
            "contributions": evaluation.contributions(),
            "readiness": decision.readiness,
            "reasons": decision.reasons,
            "containment": decision.containment,
            "weight_profile": evaluation.profile.slug,
            "weight_profile_version": evaluation.profile.version,
            "policy": evaluation.policy_snapshot(),
            "inputs": evaluation.inputs(),
            "computed_at": timezone.now(),
        }
        created = False
        if existing is None:
            try:
                with transaction.atomic():  # a savepoint: a concurrent worker may insert first
                    score = TrustScore.objects.create(
                        deployment=deployment, window_start=window_start, window_end=window_end, **fields
                    )
                created = True
            except IntegrityError:
                existing = TrustScore.objects.select_for_update().get(
                    deployment=deployment, window_start=window_start, window_end=window_end
                )
        if not created:
            for name, value in fields.items():
                setattr(existing, name, value)
            existing.save()
            score = existing
        if created:
            _flag_jump(score)
        if reference is not None:
            _flag_policy_flip(evaluation, score, reference, caused_by)
    return score


def recheck_policy(deployments=None, *, actor=None) -> list[TrustScore]:
    """Re-score the latest window of ``deployments`` (all scored ones by default) under the
    current policy. The catalog calls this after a threshold or weight change commits
    (``transaction.on_commit``), passing the editor as ``actor``, so a change that alone
    unblocks a deployment is flagged at once, naming its author."""
    queryset = TrustScore.objects.latest_per_deployment()
    if deployments is not None:
        ids = [getattr(d, "pk", d) for d in deployments]
        queryset = queryset.filter(deployment_id__in=ids)
    latest = [(row.deployment_id, row.window_start, row.window_end) for row in queryset]
    return [compute_trust(d, start, end, caused_by=actor) for d, start, end in latest]


def gate(deployment: Deployment, *, max_age: dt.timedelta | None = None) -> dict:
    """The readiness answer for CI/CD: the latest stored decision, as JSON-able data.

    With no stored score the answer is ``staged`` (``no_score``): no evidence yet, start with a
    canary. With ``max_age`` and a latest score older than that, a ``stale_score`` reason stages
    an otherwise ready deployment.
    """
    latest = TrustScore.objects.latest_for(deployment)
    system = deployment.environment.system
    body = {
        "deployment": deployment.pk,
        "system": system.slug,
        "model": deployment.model_version.model.slug,
        "version": deployment.model_version.version,
        "environment": deployment.environment.slug,
    }
    if latest is None:
        reason = {
            "code": "no_score",
            "decision": STAGED,
            "message": "no trust score has been computed for this deployment yet: start with a canary",
        }
        return {
            **body,
            "readiness": STAGED,
            "score": None,
            "coverage": None,
            "reasons": [reason],
            "containment": decide(
                compute_score([], WeightProfile("none", {})), criticality=system.criticality
            ).containment,
            "window_start": None,
            "window_end": None,
            "computed_at": None,
            "trust_score": None,
        }
    readiness, reasons = latest.readiness, list(latest.reasons)
    containment = latest.containment
    if max_age is not None and timezone.now() - latest.window_end > max_age:
        reasons.append(
            {
                "code": "stale_score",
                "decision": STAGED,
                "window_end": latest.window_end.isoformat(),
                "message": f"the latest score is for a window that ended more than {max_age} ago",
            }
        )
        if readiness == READY:
            readiness = STAGED
            reasons = [r for r in reasons if r.get("code") != "all_clear"]
            containment = decide(
                compute_score([], WeightProfile("none", {})),
                criticality=system.criticality,
                rollback_target=rollback_target(deployment),
            ).containment
    return {
        **body,
        "readiness": readiness,
        "score": latest.score,
        "coverage": latest.coverage,
        "reasons": reasons,
        "containment": containment,
        "window_start": latest.window_start.isoformat(),
        "window_end": latest.window_end.isoformat(),
        "computed_at": latest.computed_at.isoformat(),
        "trust_score": latest.pk,
    }


def _policy_events(deployment: Deployment, start, end) -> list[dict]:
    from healthboard.models import AuditRecord

    system = deployment.environment.system
    events = []
    for record in AuditRecord.objects.filter(
        object_type__in=POLICY_OBJECT_TYPES, created_at__gt=start, created_at__lte=end
    ).order_by("seq")[:200]:
        snapshot = record.after or record.before or {}
        if record.object_type == "catalog.thresholdoverride" and snapshot.get("system") not in (
            None,
            system.pk,
        ):
            continue
        if record.object_type == "catalog.system" and record.object_id != str(system.pk):
            continue
        events.append(
            {
                "kind": "policy",
                "at": record.created_at.isoformat(),
                "what": f"{record.action}: {record.object_repr}",
                "who": record.actor_name,
                "reason": record.reason,
            }
        )
    return events


def _incident_events(deployment: Deployment, start, end) -> list[dict]:
    from django.apps import apps

    try:
        incident_model = apps.get_model("alerts", "Incident")
    except LookupError:
        return []
    return [
        {"kind": "incident", "at": i.opened_at.isoformat(), "what": i.title, "who": "", "reason": i.severity}
        for i in incident_model.objects.filter(
            system_id=deployment.environment.system_id, opened_at__gt=start, opened_at__lte=end
        ).order_by("opened_at")[:100]
    ]


def what_changed(before: TrustScore, after: TrustScore) -> dict:
    """The change between two stored points, by pillar and metric, with the deploys, threshold
    and weight edits, and incidents of the system in between."""
    if before.window_end > after.window_end:
        before, after = after, before
    att = attribute_change(before.score, before.contributions, after.score, after.contributions)
    deployment = after.deployment
    # Deploys and incidents: between the two windows' ends. Policy edits: between the two
    # computations, since a score uses the policy current when it was computed.
    start, end = before.window_end, after.window_end
    policy_start, policy_end = sorted((before.computed_at, after.computed_at))
    deploys = [
        {
            "kind": "deploy",
            "at": d.started_at.isoformat(),
            "what": f"{d.model_version.model.slug} {d.model_version.version} → {d.environment.slug}",
            "who": "",
            "reason": d.status,
        }
        for d in Deployment.objects.filter(
            environment__system_id=deployment.environment.system_id, started_at__gt=start, started_at__lte=end
        ).select_related("model_version__model", "environment")
    ]
    events = sorted(
        deploys
        + _policy_events(deployment, policy_start, policy_end)
        + _incident_events(deployment, start, end),
        key=lambda e: e["at"],
    )
    profile_change = None
    if (before.weight_profile, before.weight_profile_version) != (
        after.weight_profile,
        after.weight_profile_version,
    ):
        profile_change = {
            "before": {"profile": before.weight_profile, "version": before.weight_profile_version},
            "after": {"profile": after.weight_profile, "version": after.weight_profile_version},
        }
    return {
        **att.as_dict(),
        "from": {
            "trust_score": before.pk,
            "window_end": before.window_end.isoformat(),
            "readiness": before.readiness,
        },
        "to": {
            "trust_score": after.pk,
            "window_end": after.window_end.isoformat(),
            "readiness": after.readiness,
        },
        "weight_profile_change": profile_change,
        "events": events,
    }
