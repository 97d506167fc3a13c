"""Notification planning: one notification per group (incident) and channel per interval.

``plan_notifications(now)`` looks at every open (or recently resolved) incident and, for each
channel its alerts have been routed to, compares what should be said now with what was last
said (``NotificationLog``), Alertmanager-style:

* the firing set is the incident's firing alerts routed to the channel that are neither
  silenced nor inhibited; the resolved set is alerts sent as firing earlier and resolved since;
* the first notification waits ``group_wait`` after the incident opened (so simultaneous alerts
  go out together); later ones need something new (an alert or a raised severity not in the
  last firing set, or a resolve) and ``group_interval`` since the last send;
* an unchanged group with an unacknowledged firing alert is re-sent after ``repeat_interval``.

Queuing is idempotent: the outbox key is (channel, group, state hash, epoch), inserted with
``ON CONFLICT DO NOTHING``, so two planners running at once queue one row.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from alerts import conf, lifecycle, payloads
from alerts.models import Alert, Channel, Incident, Notification, NotificationLog
from alerts.silences import active_silences, silencing

RECENT_RESOLVED = timedelta(hours=24)


def _key(alert: Alert) -> str:
    return f"{alert.id}:{alert.severity}"


def state_hash(firing: list[Alert], resolved: list[Alert]) -> str:
    raw = ",".join(sorted(_key(a) for a in firing)) + "|" + ",".join(sorted(str(a.id) for a in resolved))
    return hashlib.sha256(raw.encode()).hexdigest()


def plan_notifications(now: datetime) -> list[Notification]:
    """Queue the notifications due at ``now``; returns the rows queued by this call."""
    incidents = list(
        Incident.objects.filter(
            Q(state=Incident.State.OPEN) | Q(resolved_at__gte=now - RECENT_RESOLVED)
        ).select_related("system")
    )
    if not incidents:
        return []
    silences = active_silences({i.system_id for i in incidents}, now)
    queued: list[Notification] = []
    for incident in incidents:
        queued.extend(_plan_incident(incident, silences, now))
    return queued


def _plan_incident(incident: Incident, silences, now: datetime) -> list[Notification]:
    alerts = list(
        incident.alerts.filter(state__in=[Alert.State.FIRING, Alert.State.RESOLVED]).select_related(
            "metric",
            "metric_version",
            "system",
            "deployment__environment",
            "deployment__model_version__model",
        )
    )
    channel_ids = sorted({cid for a in alerts for cid in a.reached_channels})
    if not channel_ids:
        return []
    channels = Channel.objects.filter(id__in=channel_ids, enabled=True)
    queued = []
    for channel in channels:
        with transaction.atomic():
            NotificationLog.objects.get_or_create(channel=channel, incident=incident)
            log = NotificationLog.objects.select_for_update().get(channel=channel, incident=incident)
            notification = _plan_channel(incident, channel, log, alerts, silences, now)
            if notification is not None:
                queued.append(notification)
    return queued


def _plan_channel(incident, channel, log, alerts, silences, now) -> Notification | None:
    routed = [a for a in alerts if channel.id in a.reached_channels]
    firing = [
        a
        for a in routed
        if a.state == Alert.State.FIRING and a.inhibited_by_id is None and silencing(a, silences) is None
    ]
    notified = set(log.notified_alert_ids)
    already_resolved = set(log.resolved_alert_ids)
    resolved = [
        a
        for a in routed
        if a.state == Alert.State.RESOLVED and a.id in notified and a.id not in already_resolved
    ]
    if not channel.send_resolved and resolved and not firing:
        # Nothing to send, but remember that these resolves are done.
        log.resolved_alert_ids = sorted(already_resolved | {a.id for a in resolved})
        log.save(update_fields=["resolved_alert_ids"])
        return None
    if not firing and not resolved:
        return None

    keys = {_key(a) for a in firing}
    new_firing = bool(keys - set(log.last_firing))
    epoch = log.epoch
    if log.last_sent_at is None:
        if not firing or now < incident.opened_at + conf.seconds("ALERTS_GROUP_WAIT_S"):
            return None
    elif new_firing or resolved:
        if now < log.last_sent_at + conf.seconds("ALERTS_GROUP_INTERVAL_S"):
            return None
    else:
        unacked = [a for a in firing if a.acknowledged_at is None]
        if not unacked or now < log.last_sent_at + conf.seconds("ALERTS_REPEAT_INTERVAL_S"):
            return None
        epoch += 1

    sent_resolved = resolved if channel.send_resolved else []
    digest = state_hash(firing, sent_resolved)
    notification_id = str(uuid.uuid4())
    row = Notification(
        notification_id=notification_id,
        channel=channel,
        incident=incident,
        group_key=incident.group_key,
        state_hash=digest,
        epoch=epoch,
        kind=Notification.Kind.FIRING if firing else Notification.Kind.RESOLVED,
        alert_ids=sorted(a.id for a in firing + sent_resolved),
        payload=payloads.build(notification_id, channel, incident, firing, sent_resolved),
        next_attempt_at=now,
        created_at=now,
        deadline_from=now,
    )
    Notification.objects.bulk_create([row], ignore_conflicts=True)
    stored = Notification.objects.get(
        channel=channel, group_key=incident.group_key, state_hash=digest, epoch=epoch
    )
    log.last_firing = sorted(keys)
    log.notified_alert_ids = sorted(notified | {a.id for a in firing})
    log.resolved_alert_ids = sorted(already_resolved | {a.id for a in resolved})
    log.epoch = epoch
    log.last_sent_at = now
    log.save()
    lifecycle.record_event(
        incident,
        lifecycle.Kind.NOTIFIED,
        at=now,
        message=f"Notification to {channel.name}: {len(firing)} firing, {len(sent_resolved)} resolved",
        data={"notification": str(stored.notification_id), "channel": channel.id},
    )
    return stored
