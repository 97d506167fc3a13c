"""The notification outbox, its per-group log and every delivery attempt.

``NotificationLog`` remembers, per (channel, incident), what was last sent, so the planner sends
one notification per group per interval and only when the group changed (or the repeat
interval passed). ``Notification`` is the outbox row: unique per (channel, group, state hash,
epoch), carrying a stable ``notification_id`` the receiver deduplicates on. Workers claim rows
with ``SELECT … FOR UPDATE SKIP LOCKED`` (a compare-and-set update on SQLite); each attempt is a
``DeliveryAttempt`` row.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

__all__ = ["DeliveryAttempt", "Notification", "NotificationLog"]


class NotificationLog(models.Model):
    channel = models.ForeignKey("alerts.Channel", on_delete=models.CASCADE, related_name="logs")
    incident = models.ForeignKey(
        "alerts.Incident", on_delete=models.CASCADE, related_name="notification_logs"
    )
    last_firing = models.JSONField(
        default=list, blank=True, help_text='"alert id:severity" of the firing set last sent.'
    )
    notified_alert_ids = models.JSONField(default=list, blank=True, help_text="Alerts ever sent as firing.")
    resolved_alert_ids = models.JSONField(default=list, blank=True, help_text="Alerts sent as resolved.")
    epoch = models.PositiveIntegerField(default=0)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "incident"], name="alerts_notificationlog_unique")
        ]

    def __str__(self) -> str:
        return f"log {self.channel_id}/{self.incident_id} epoch {self.epoch}"


class Notification(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        DEAD = "dead", "Dead letter"

    class Kind(models.TextChoices):
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"

    notification_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.ForeignKey("alerts.Channel", on_delete=models.CASCADE, related_name="notifications")
    incident = models.ForeignKey("alerts.Incident", on_delete=models.CASCADE, related_name="notifications")
    group_key = models.CharField(max_length=64)
    state_hash = models.CharField(max_length=64)
    epoch = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    alert_ids = models.JSONField(default=list)
    payload = models.JSONField(default=dict)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    deadline_from = models.DateTimeField(
        default=timezone.now, help_text="Delivery age is measured from here (reset by a manual replay)."
    )
    delivered_at = models.DateTimeField(null=True, blank=True)
    dead_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    replay_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "group_key", "state_hash", "epoch"], name="alerts_notification_unique_key"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="alerts_notif_due_idx"),
        ]

    def __str__(self) -> str:
        return f"notification {self.notification_id} ({self.kind}, {self.status})"


class DeliveryAttempt(models.Model):
    class Outcome(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        RETRY = "retry", "Failed, will retry"
        DEAD = "dead", "Failed, dead-lettered"
        REFUSED = "refused", "Refused (unsafe target)"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="delivery_attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.FloatField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    retry_after_s = models.FloatField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["notification_id", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.notification_id}: {self.outcome}"
