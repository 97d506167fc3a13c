"""What a person does to an alert: acknowledge, resolve, silence, escalate, add a note.

Each action checks ``manage_alerts`` on the alert's system (404 when the system is invisible,
403 when visible but not manageable), changes the alert, writes the incident timeline and an
audit record — all in one transaction. The UI and the API call these same functions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from alerts import lifecycle
from alerts.models import Alert, Incident
from alerts.silences import create_silence
from healthboard import access
from healthboard.audit import record_change

MAX_SILENCE = timedelta(days=30)


class ActionRefused(ValidationError):
    """The action does not apply to the alert in its current state."""


def _fields(alert: Alert) -> dict:
    return {
        "state": alert.state,
        "severity": alert.severity,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by_id,
        "ack_comment": alert.ack_comment,
        "resolved_at": alert.resolved_at,
        "resolution": alert.resolution,
        "escalation_step": alert.escalation_step,
        "next_escalation_at": alert.next_escalation_at,
    }


def _locked(alert: Alert, user) -> Alert:
    access.require(user, alert, access.MANAGE_ALERTS)
    return (
        Alert.objects.select_for_update(of=("self",))
        .select_related("metric", "system", "incident", "escalation_policy", "metric_version")
        .get(pk=alert.pk)
    )


def _audit(action: str, alert: Alert, before: dict, reason: str, user, source: str) -> None:
    record_change(
        action=f"alert.{action}",
        obj=alert,
        before=before,
        after=_fields(alert),
        reason=reason,
        source=source,
        actor=user,
    )


def acknowledge(
    alert: Alert, *, user, comment: str = "", source: str = "ui", now: datetime | None = None
) -> Alert:
    now = now or timezone.now()
    with transaction.atomic():
        alert = _locked(alert, user)
        if not alert.is_open:
            raise ActionRefused("Only a pending or firing alert can be acknowledged.")
        before = _fields(alert)
        alert.acknowledged_at = now
        alert.acknowledged_by = user
        alert.ack_comment = (comment or "").strip()
        alert.next_escalation_at = None  # acknowledging stops escalation
        alert.save(update_fields=["acknowledged_at", "acknowledged_by", "ack_comment", "next_escalation_at"])
        lifecycle.record_event(
            alert.incident,
            lifecycle.Kind.ACKNOWLEDGED,
            alert=alert,
            at=now,
            actor=user,
            message=alert.ack_comment or "Acknowledged",
        )
        _audit("acknowledge", alert, before, alert.ack_comment, user, source)
    return alert


def resolve(
    alert: Alert, *, user, comment: str = "", source: str = "ui", now: datetime | None = None
) -> Alert:
    """Resolve by hand. If the next window still breaches, a new alert episode starts."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = _locked(alert, user)
        if not alert.is_open:
            raise ActionRefused("Only a pending or firing alert can be resolved.")
        before = _fields(alert)
        alert.state = Alert.State.RESOLVED if alert.state == Alert.State.FIRING else Alert.State.INACTIVE
        alert.resolved_at = now
        alert.resolved_by = user
        alert.resolution = f"resolved by {user.username}" + (
            f": {comment.strip()}" if comment.strip() else ""
        )
        alert.next_escalation_at = None
        alert.save()
        lifecycle.on_resolved(alert, now, actor=user, how=alert.resolution)
        _audit("resolve", alert, before, comment, user, source)
    return alert


def silence(
    alert: Alert,
    *,
    user,
    reason: str,
    ends_at: datetime | None = None,
    duration: timedelta | None = None,
    scope: str = "series",
    source: str = "ui",
    now: datetime | None = None,
):
    """Silence notifications for this alert's series (or its whole deployment with scope='deployment')."""
    now = now or timezone.now()
    if ends_at is None:
        ends_at = now + (duration or timedelta(hours=2))
    if not (reason or "").strip():
        raise ActionRefused("A silence needs a reason.")
    if ends_at - now > MAX_SILENCE:
        raise ActionRefused("A silence may last at most 30 days.")
    with transaction.atomic():
        alert = _locked(alert, user)
        series = scope != "deployment"
        created = create_silence(
            system=alert.system,
            deployment=alert.deployment,
            metric=alert.metric if series else None,
            segment=alert.segment if series else None,
            starts_at=now,
            ends_at=ends_at,
            reason=reason,
            author=user,
            source=source,
        )
        lifecycle.record_event(
            alert.incident,
            lifecycle.Kind.SILENCED,
            alert=alert,
            at=now,
            actor=user,
            message=f"Silenced until {ends_at:%Y-%m-%d %H:%M} UTC ({created.matchers_label}): {reason.strip()}",
            data={"silence": created.pk},
        )
    return created


def escalate(
    alert: Alert, *, user, comment: str = "", source: str = "ui", now: datetime | None = None
) -> Alert:
    """Reach the next escalation step now."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = _locked(alert, user)
        if alert.state != Alert.State.FIRING:
            raise ActionRefused("Only a firing alert can be escalated.")
        before = _fields(alert)
        if alert.escalation_policy_id is None:
            lifecycle.route(alert, now)
        if not lifecycle.escalate_now(alert, now, actor=user):
            raise ActionRefused("No escalation step is left for this alert.")
        alert.save(
            update_fields=[
                "reached_channels",
                "escalation_step",
                "next_escalation_at",
                "escalation_policy",
                "escalation_started_at",
            ]
        )
        _audit("escalate", alert, before, comment, user, source)
    return alert


def add_note(incident: Incident, *, user, text: str, now: datetime | None = None):
    now = now or timezone.now()
    access.require(user, incident, access.MANAGE_ALERTS)
    if not (text or "").strip():
        raise ActionRefused("A note needs text.")
    with transaction.atomic():
        event = lifecycle.record_event(
            incident, lifecycle.Kind.NOTE, at=now, actor=user, message=text.strip()
        )
        record_change(action="incident.note", obj=incident, after={"note": text.strip()}, actor=user)
    return event
