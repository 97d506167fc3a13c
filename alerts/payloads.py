"""Notification payloads, built once when a notification is queued (so every retry sends the
same bytes): the Healthboard v1 format and an Alertmanager-compatible (version 4) format."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.urls import reverse

from alerts.models import Alert, Channel, Incident

ZERO_TIME = "0001-01-01T00:00:00Z"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def absolute(path: str) -> str:
    base = (getattr(settings, "SITE_URL", "") or "").rstrip("/")
    return f"{base}{path}"


def alert_dict(alert: Alert, status: str) -> dict:
    deployment = alert.deployment
    version = alert.metric_version
    return {
        "id": alert.id,
        "fingerprint": alert.fingerprint,
        "status": status,
        "severity": alert.severity,
        "metric": alert.metric.key,
        "metric_version": version.number,
        "pillar": alert.pillar,
        "system": alert.system.slug,
        "deployment": deployment.pk,
        "model": deployment.model_version.model.slug,
        "model_version": deployment.model_version.version,
        "environment": deployment.environment.slug,
        "segment": alert.segment,
        "attribute": alert.attribute or None,
        "feature": alert.feature or None,
        "value": alert.value,
        "threshold": alert.threshold,
        "window_end": _iso(alert.last_window_end),
        "first_breach_window_end": _iso(alert.first_breach_window_end),
        "fired_at": _iso(alert.fired_at),
        "resolved_at": _iso(alert.resolved_at),
        "acknowledged": alert.acknowledged_at is not None,
        "playbook": version.playbook,
        "run": alert.run_id,
        "url": absolute(reverse("alerts:detail", args=[alert.pk])),
    }


def healthboard_payload(
    notification_id: str, channel: Channel, incident: Incident, firing: list[Alert], resolved: list[Alert]
) -> dict:
    return {
        "version": "1",
        "notification_id": notification_id,
        "status": "firing" if firing else "resolved",
        "group_key": incident.group_key,
        "receiver": channel.name,
        "incident": {
            "id": incident.pk,
            "title": incident.title,
            "severity": incident.severity,
            "opened_at": _iso(incident.opened_at),
            "url": absolute(reverse("alerts:incident", args=[incident.pk])),
        },
        "system": incident.system.slug,
        "counts": {"firing": len(firing), "resolved": len(resolved)},
        "alerts": [alert_dict(a, "firing") for a in firing] + [alert_dict(a, "resolved") for a in resolved],
    }


def _labels(alert: Alert) -> dict:
    labels = {
        "alertname": alert.metric.key,
        "severity": alert.severity,
        "system": alert.system.slug,
        "deployment": str(alert.deployment_id),
        "environment": alert.deployment.environment.slug,
        "model": alert.deployment.model_version.model.slug,
        "pillar": alert.pillar,
    }
    for name in ("segment", "attribute", "feature"):
        if getattr(alert, name):
            labels[name] = getattr(alert, name)
    return labels


def _am_alert(alert: Alert, status: str) -> dict:
    return {
        "status": status,
        "labels": _labels(alert),
        "annotations": {
            "summary": f"{alert.metric.key} {alert.value} vs threshold {alert.threshold}",
            "description": alert.metric_version.description,
            "playbook": alert.metric_version.playbook,
            "value": "" if alert.value is None else repr(alert.value),
            "threshold": "" if alert.threshold is None else repr(alert.threshold),
        },
        "startsAt": _iso(alert.fired_at or alert.created_at),
        "endsAt": _iso(alert.resolved_at) if status == "resolved" and alert.resolved_at else ZERO_TIME,
        "generatorURL": absolute(reverse("alerts:detail", args=[alert.pk])),
        "fingerprint": alert.fingerprint,
    }


def alertmanager_payload(
    notification_id: str, channel: Channel, incident: Incident, firing: list[Alert], resolved: list[Alert]
) -> dict:
    alerts = [_am_alert(a, "firing") for a in firing] + [_am_alert(a, "resolved") for a in resolved]
    label_sets = [a["labels"] for a in alerts]
    common = dict(label_sets[0]) if label_sets else {}
    for labels in label_sets[1:]:
        common = {k: v for k, v in common.items() if labels.get(k) == v}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{system="{incident.system.slug}", incident="{incident.pk}"}}',
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": channel.name,
        "groupLabels": {"system": incident.system.slug},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": absolute(reverse("alerts:queue")),
        "alerts": alerts,
        # Not part of Alertmanager's format; receivers that know it deduplicate on it.
        "notificationId": notification_id,
    }


def build(
    notification_id: str, channel: Channel, incident: Incident, firing: list[Alert], resolved: list[Alert]
) -> dict:
    if channel.kind == Channel.Kind.WEBHOOK and channel.payload_format == Channel.PayloadFormat.ALERTMANAGER:
        return alertmanager_payload(notification_id, channel, incident, firing, resolved)
    return healthboard_payload(notification_id, channel, incident, firing, resolved)
