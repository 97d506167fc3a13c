"""Incidents (a system's alerts grouped within a group window), their timeline and post-mortem."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

__all__ = ["FollowUpAction", "Incident", "IncidentEvent", "PostMortem"]


class Incident(models.Model):
    class State(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    system = models.ForeignKey("catalog.System", on_delete=models.CASCADE, related_name="incidents")
    title = models.CharField(max_length=200)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN, db_index=True)
    severity = models.CharField(max_length=10, default="warning", help_text="Peak severity of its alerts.")
    opened_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["system", "state"], name="alerts_incident_sys_state_idx")]

    def __str__(self) -> str:
        return f"INC-{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("alerts:incident", args=[self.pk])

    @property
    def group_key(self) -> str:
        return f"incident:{self.pk}"


class IncidentEvent(models.Model):
    class Kind(models.TextChoices):
        OPENED = "opened", "Incident opened"
        REOPENED = "reopened", "Incident reopened"
        PENDING = "pending", "Alert pending"
        FIRED = "fired", "Alert fired"
        SEVERITY_RAISED = "severity_raised", "Severity raised"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        ESCALATED = "escalated", "Escalated"
        SILENCED = "silenced", "Silenced"
        INHIBITED = "inhibited", "Inhibited"
        NOTIFIED = "notified", "Notification queued"
        RESOLVED = "resolved", "Alert resolved"
        INCIDENT_RESOLVED = "incident_resolved", "Incident resolved"
        NOTE = "note", "Note"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    alert = models.ForeignKey(
        "alerts.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind} {self.message[:40]}"


class PostMortem(models.Model):
    class RootCause(models.TextChoices):
        DATA = "data", "Data"
        MODEL = "model", "Model"
        DEPLOYMENT = "deployment", "Deployment"
        INFRASTRUCTURE = "infrastructure", "Infrastructure"

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="postmortem")
    root_cause_category = models.CharField(max_length=16, choices=RootCause.choices)
    summary = models.TextField()
    what_happened = models.TextField(help_text="Pre-filled with the incident timeline.")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Post-mortem of {self.incident}"


class FollowUpAction(models.Model):
    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="actions")
    description = models.CharField(max_length=500)
    metric_version = models.ForeignKey(
        "catalog.MetricVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The catalog change (a metric version, e.g. a threshold edit) this action led to.",
    )
    link = models.URLField(blank=True)
    done = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.description
