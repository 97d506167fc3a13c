"""What happens around an alert's transitions: incidents, timeline, routing and escalation.

Everything here runs inside the caller's transaction and takes ``now`` explicitly, so tests
drive it with a frozen clock and a restart resumes from the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from alerts import conf
from alerts import state as sm
from alerts.models import Alert, Channel, EscalationPolicy, Incident, IncidentEvent
from alerts.silences import active_silences, silencing

Kind = IncidentEvent.Kind


def record_event(
    incident: Incident | None,
    kind: str,
    *,
    alert: Alert | None = None,
    at: datetime,
    actor=None,
    message: str = "",
    data: dict | None = None,
) -> IncidentEvent | None:
    if incident is None:
        return None
    return IncidentEvent.objects.create(
        incident=incident,
        alert=alert,
        kind=kind,
        at=at,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_name=getattr(actor, "username", "") or ("system" if actor is None else str(actor)),
        message=message,
        data=data or {},
    )


def describe(alert: Alert) -> str:
    where = [f"deployment {alert.deployment_id}"]
    if alert.segment:
        where.append(f"segment {alert.segment}")
    if alert.attribute:
        where.append(f"attribute {alert.attribute}")
    if alert.feature:
        where.append(f"feature {alert.feature}")
    value = "n/a" if alert.value is None else f"{alert.value:.4g}"
    threshold = "n/a" if alert.threshold is None else f"{alert.threshold:.4g}"
    return f"{alert.metric.key} {value} vs {threshold} ({', '.join(where)})"


# --- incidents -------------------------------------------------------------------------


def attach_to_incident(alert: Alert, now: datetime) -> Incident:
    """Group a firing alert into its system's incident (open, or active within the group window)."""
    window = conf.seconds("ALERTS_INCIDENT_GROUP_WINDOW_S")
    incident = (
        Incident.objects.select_for_update()
        .filter(system_id=alert.system_id)
        .filter(Q(state=Incident.State.OPEN) | Q(last_activity_at__gte=now - window))
        .order_by("-opened_at")
        .first()
    )
    if incident is None:
        incident = Incident.objects.create(
            system_id=alert.system_id,
            title=f"{alert.system.name}: {alert.metric_version.name or alert.metric.key}",
            severity=alert.severity,
            opened_at=now,
            last_activity_at=now,
        )
        record_event(incident, Kind.OPENED, alert=alert, at=now, message=f"Opened by {describe(alert)}")
    elif incident.state == Incident.State.RESOLVED:
        incident.state = Incident.State.OPEN
        incident.resolved_at = None
        record_event(incident, Kind.REOPENED, alert=alert, at=now, message=f"Reopened by {describe(alert)}")
    if sm.SEVERITY_RANK.get(alert.severity, 0) > sm.SEVERITY_RANK.get(incident.severity, 0):
        incident.severity = alert.severity
    incident.last_activity_at = now
    incident.save()
    alert.incident = incident
    return incident


def close_incident_if_done(incident: Incident | None, now: datetime) -> None:
    if incident is None or incident.state != Incident.State.OPEN:
        return
    if incident.alerts.filter(state=Alert.State.FIRING).exists():
        return
    incident.state = Incident.State.RESOLVED
    incident.resolved_at = now
    incident.last_activity_at = now
    incident.save(update_fields=["state", "resolved_at", "last_activity_at"])
    record_event(incident, Kind.INCIDENT_RESOLVED, at=now, message="All alerts resolved.")


# --- routing and escalation --------------------------------------------------------------


def choose_policy(alert: Alert) -> EscalationPolicy | None:
    """The most specific policy matching the alert's system, pillar and severity."""
    candidates = [
        policy
        for policy in EscalationPolicy.objects.filter(Q(system_id=alert.system_id) | Q(system__isnull=True))
        .prefetch_related("steps")
        .order_by("id")
        if policy.matches(system_id=alert.system_id, pillar=alert.pillar, severity=alert.severity)
        and policy.steps.all()
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.specificity(), -p.id))


def _steps(alert: Alert) -> list:
    if alert.escalation_policy_id is None:
        return []
    return list(alert.escalation_policy.steps.select_related("channel").order_by("position"))


def _reach(alert: Alert, step, position: int, now: datetime, *, actor=None, manual: bool = False) -> None:
    channel: Channel = step.channel
    if channel.id not in alert.reached_channels:
        alert.reached_channels = [*alert.reached_channels, channel.id]
    how = "escalated manually" if manual else ("routed" if position == 0 else "escalated")
    record_event(
        alert.incident,
        Kind.ESCALATED,
        alert=alert,
        at=now,
        actor=actor,
        message=f"{how.capitalize()} to {channel.name} (step {position + 1}, +{step.delay_minutes} min)",
        data={"channel": channel.id, "step": position, "manual": manual},
    )


def _schedule_next(alert: Alert, steps: list) -> None:
    if alert.acknowledged_at is not None or alert.escalation_step >= len(steps):
        alert.next_escalation_at = None
        return
    base = alert.escalation_started_at or alert.fired_at
    alert.next_escalation_at = base + timedelta(minutes=steps[alert.escalation_step].delay_minutes)


def reach_due_steps(alert: Alert, now: datetime) -> int:
    """Reach every step whose delay has passed (unless acknowledged); returns how many."""
    steps = _steps(alert)
    base = alert.escalation_started_at or alert.fired_at
    reached = 0
    while (
        alert.acknowledged_at is None
        and alert.escalation_step < len(steps)
        and base + timedelta(minutes=steps[alert.escalation_step].delay_minutes) <= now
    ):
        _reach(alert, steps[alert.escalation_step], alert.escalation_step, now)
        alert.escalation_step += 1
        reached += 1
    _schedule_next(alert, steps)
    return reached


def route(alert: Alert, now: datetime) -> None:
    """Pick the alert's policy and reach its immediate steps."""
    policy = choose_policy(alert)
    alert.escalation_policy = policy
    alert.escalation_step = 0
    alert.escalation_started_at = now
    if policy is not None:
        reach_due_steps(alert, now)
    else:
        alert.next_escalation_at = None


def escalate_now(alert: Alert, now: datetime, *, actor=None) -> bool:
    """Reach the next step at once (the triage page's Escalate). False when none is left."""
    steps = _steps(alert)
    if alert.escalation_step >= len(steps):
        return False
    _reach(alert, steps[alert.escalation_step], alert.escalation_step, now, actor=actor, manual=True)
    alert.escalation_step += 1
    _schedule_next(alert, steps)
    return True


def advance_escalations(now: datetime) -> int:
    """The beat task's body: reach the due steps of unacknowledged firing alerts.

    Silenced and inhibited alerts are paused (their steps stay due and are reached when the
    silence or the inhibition ends). Returns the number of steps reached.
    """
    due = list(
        Alert.objects.filter(
            state=Alert.State.FIRING, acknowledged_at__isnull=True, next_escalation_at__lte=now
        ).values_list("id", "system_id")
    )
    if not due:
        return 0
    silences = active_silences({system_id for _, system_id in due}, now)
    reached = 0
    for alert_id, _system_id in due:
        with transaction.atomic():
            alert = (
                Alert.objects.select_for_update(of=("self",))
                .select_related("metric", "system", "escalation_policy", "incident")
                .filter(pk=alert_id, state=Alert.State.FIRING, acknowledged_at__isnull=True)
                .first()
            )
            if alert is None or alert.inhibited_by_id is not None or silencing(alert, silences):
                continue
            count = reach_due_steps(alert, now)
            alert.save(update_fields=["reached_channels", "escalation_step", "next_escalation_at"])
            reached += count
    return reached


# --- transitions -------------------------------------------------------------------------


def on_fired(alert: Alert, now: datetime) -> None:
    incident = attach_to_incident(alert, now)
    record_event(incident, Kind.FIRED, alert=alert, at=now, message=f"{alert.severity}: {describe(alert)}")
    route(alert, now)


def on_severity_raised(alert: Alert, previous: str | None, now: datetime) -> None:
    if alert.incident_id is not None:
        incident = alert.incident
        if sm.SEVERITY_RANK.get(alert.severity, 0) > sm.SEVERITY_RANK.get(incident.severity, 0):
            incident.severity = alert.severity
        incident.last_activity_at = now
        incident.save(update_fields=["severity", "last_activity_at"])
    record_event(
        alert.incident,
        Kind.SEVERITY_RAISED,
        alert=alert,
        at=now,
        message=f"{previous or 'warning'} → {alert.severity}: {describe(alert)}",
    )
    # A more specific policy may route critical alerts (e.g. latency critical → on-call now).
    policy = choose_policy(alert)
    if alert.state == Alert.State.FIRING and policy is not None and policy.pk != alert.escalation_policy_id:
        alert.escalation_policy = policy
        alert.escalation_step = 0
        alert.escalation_started_at = now
        if alert.acknowledged_at is None:
            reach_due_steps(alert, now)
        else:
            _schedule_next(alert, _steps(alert))


def on_resolved(alert: Alert, now: datetime, *, actor=None, how: str = "") -> None:
    alert.next_escalation_at = None
    record_event(
        alert.incident, Kind.RESOLVED, alert=alert, at=now, actor=actor, message=how or describe(alert)
    )
    if alert.incident_id is not None:
        Incident.objects.filter(pk=alert.incident_id).update(last_activity_at=now)
        alert.incident.last_activity_at = now
        alert.save(update_fields=["next_escalation_at"])
        close_incident_if_done(alert.incident, now)
