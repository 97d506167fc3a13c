"""Alerts and their evaluations.

An ``Alert`` is one *episode* of one series (rule x deployment x segment x attribute x
feature): it opens as pending (or directly firing), may fire, and ends resolved (or inactive,
when a pending alert stops breaching before it fired). At most one alert per fingerprint is
open at a time (a partial unique index): that row *is* the series' durable state, so a worker
restart resumes the ``for`` count where it was.

An ``AlertEvaluation`` is one window evaluated for one series, with a snapshot of the rule it
used; its natural key makes evaluation idempotent.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from alerts import state as sm

__all__ = ["Alert", "AlertEvaluation", "fingerprint_for"]


def fingerprint_for(metric_key: str, deployment_id: int, segment: str, attribute: str, feature: str) -> str:
    """Stable identity of a series: the same inputs always give the same 16 hex digits."""
    raw = "\x1f".join([metric_key, str(deployment_id), segment, attribute, feature])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


class Alert(models.Model):
    class State(models.TextChoices):
        PENDING = sm.PENDING, "Pending"
        FIRING = sm.FIRING, "Firing"
        RESOLVED = sm.RESOLVED, "Resolved"
        INACTIVE = sm.INACTIVE, "Inactive (stopped before firing)"

    class Severity(models.TextChoices):
        WARNING = sm.WARNING, "Warning"
        CRITICAL = sm.CRITICAL, "Critical"

    OPEN_STATES = (State.PENDING, State.FIRING)

    fingerprint = models.CharField(max_length=16, db_index=True)
    metric = models.ForeignKey("catalog.MetricDefinition", on_delete=models.PROTECT, related_name="alerts")
    metric_version = models.ForeignKey(
        "catalog.MetricVersion",
        on_delete=models.PROTECT,
        related_name="alerts",
        help_text="The rule (metric version) of the latest evaluation.",
    )
    system = models.ForeignKey("catalog.System", on_delete=models.CASCADE, related_name="alerts")
    deployment = models.ForeignKey("catalog.Deployment", on_delete=models.CASCADE, related_name="alerts")
    segment = models.CharField(max_length=200, blank=True, default="")
    attribute = models.CharField(max_length=128, blank=True, default="")
    feature = models.CharField(max_length=128, blank=True, default="")
    pillar = models.CharField(max_length=16, blank=True)

    state = models.CharField(max_length=10, choices=State.choices, db_index=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    breaches = models.PositiveIntegerField(
        default=0, help_text="Consecutive breaching windows while pending."
    )
    value = models.FloatField(null=True, blank=True, help_text="Value of the latest evaluated window.")
    threshold = models.FloatField(null=True, blank=True, help_text="The threshold of the alert's severity.")
    rule = models.JSONField(default=dict, blank=True, help_text="The rule (effective policy) last applied.")
    first_breach_window_end = models.DateTimeField()
    last_window_end = models.DateTimeField()
    last_value = models.ForeignKey(
        "metrics.MetricValue", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run = models.ForeignKey(
        "metrics.ComputationRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    created_at = models.DateTimeField(default=timezone.now)
    fired_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=200, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ack_comment = models.TextField(blank=True)

    inhibited_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="inhibits"
    )
    incident = models.ForeignKey(
        "alerts.Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    escalation_policy = models.ForeignKey(
        "alerts.EscalationPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    escalation_step = models.PositiveSmallIntegerField(
        default=0, help_text="Index of the next escalation step to reach."
    )
    escalation_started_at = models.DateTimeField(
        null=True, blank=True, help_text="Step delays count from here."
    )
    next_escalation_at = models.DateTimeField(null=True, blank=True, db_index=True)
    reached_channels = models.JSONField(
        default=list, blank=True, help_text="Ids of the channels this alert has been routed to."
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=models.Q(state__in=["pending", "firing"]),
                name="alerts_alert_one_open_per_fingerprint",
            )
        ]
        indexes = [
            models.Index(fields=["system", "state"], name="alerts_alert_system_state_idx"),
            models.Index(fields=["deployment", "state"], name="alerts_alert_deploy_state_idx"),
            models.Index(fields=["fired_at"], name="alerts_alert_fired_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.metric.key} {self.series_label} ({self.state}, {self.severity})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("alerts:detail", args=[self.pk])

    @property
    def series_label(self) -> str:
        parts = [f"deployment {self.deployment_id}"]
        if self.segment:
            parts.append(self.segment)
        if self.attribute:
            parts.append(f"by {self.attribute}")
        if self.feature:
            parts.append(self.feature)
        return " · ".join(parts)

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES

    @property
    def series_state(self) -> sm.SeriesState:
        if not self.is_open:
            return sm.SeriesState()
        return sm.SeriesState(self.state, self.breaches, self.severity or None)

    @property
    def severity_rank(self) -> int:
        return sm.SEVERITY_RANK.get(self.severity, 0)


class AlertEvaluation(models.Model):
    class Level(models.TextChoices):
        OK = sm.OK, "Healthy"
        BAND = sm.BAND, "Within hysteresis band"
        WARNING = sm.WARNING, "Warning"
        CRITICAL = sm.CRITICAL, "Critical"
        INSUFFICIENT = sm.INSUFFICIENT, "Insufficient data"

    metric = models.ForeignKey("catalog.MetricDefinition", on_delete=models.PROTECT, related_name="+")
    deployment = models.ForeignKey("catalog.Deployment", on_delete=models.CASCADE, related_name="+")
    segment = models.CharField(max_length=200, blank=True, default="")
    attribute = models.CharField(max_length=128, blank=True, default="")
    feature = models.CharField(max_length=128, blank=True, default="")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    metric_value = models.ForeignKey(
        "metrics.MetricValue", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    value = models.FloatField(null=True, blank=True)
    level = models.CharField(max_length=12, choices=Level.choices)
    state_before = models.CharField(max_length=10)
    state_after = models.CharField(max_length=10)
    transitions = models.CharField(max_length=64, blank=True, help_text="Comma-separated transitions.")
    applied = models.BooleanField(
        default=True,
        help_text="False when the window was older than the series' newest one (recorded, state unchanged).",
    )
    inhibited = models.BooleanField(default=False)
    rule_snapshot = models.JSONField(default=dict)
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="evaluations"
    )
    evaluated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["window_end"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "deployment", "segment", "attribute", "feature", "window_end"],
                name="alerts_evaluation_unique_key",
            )
        ]
        indexes = [models.Index(fields=["deployment", "window_end"], name="alerts_eval_deploy_end_idx")]

    def __str__(self) -> str:
        return f"eval {self.metric_id}/{self.deployment_id} @ {self.window_end:%Y-%m-%d %H:%M} {self.level}"
