"""Silences: matchers plus a time range. They suppress notifications, never evaluation."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

__all__ = ["Silence"]


class Silence(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"

    system = models.ForeignKey("catalog.System", on_delete=models.CASCADE, related_name="silences")
    deployment = models.ForeignKey(
        "catalog.Deployment", null=True, blank=True, on_delete=models.CASCADE, related_name="silences"
    )
    metric = models.ForeignKey(
        "catalog.MetricDefinition", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # NULL matches every segment; "" matches only the all-traffic segment.
    segment = models.CharField(max_length=200, null=True, blank=True)
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expired_at = models.DateTimeField(null=True, blank=True, help_text="Set when ended early.")
    expired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["system", "ends_at"], name="alerts_silence_sys_end_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="alerts_silence_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"silence {self.pk} on {self.system_id} until {self.ends_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        if self.ends_at is None:
            raise ValidationError({"ends_at": "A silence needs an end."})
        if self.starts_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "The end must be after the start."})
        if not (self.reason or "").strip():
            raise ValidationError({"reason": "A silence needs a reason."})
        if self.deployment_id and self.system_id and self.deployment.environment.system_id != self.system_id:
            raise ValidationError({"deployment": "The deployment is not part of the silenced system."})

    @property
    def effective_end(self):
        return min(self.ends_at, self.expired_at) if self.expired_at else self.ends_at

    def status(self, now=None) -> str:
        now = now or timezone.now()
        if self.effective_end <= now:
            return self.Status.EXPIRED
        if self.starts_at > now:
            return self.Status.SCHEDULED
        return self.Status.ACTIVE

    def is_active(self, now=None) -> bool:
        return self.status(now) == self.Status.ACTIVE

    def matches(self, alert) -> bool:
        """Do the matchers select ``alert``? (Time is checked separately by ``is_active``.)"""
        if alert.system_id != self.system_id:
            return False
        if self.deployment_id is not None and alert.deployment_id != self.deployment_id:
            return False
        if self.metric_id is not None and alert.metric_id != self.metric_id:
            return False
        return self.segment is None or alert.segment == self.segment

    @property
    def matchers_label(self) -> str:
        parts = [f"system={self.system.slug}"]
        if self.deployment_id:
            parts.append(f"deployment={self.deployment_id}")
        if self.metric_id:
            parts.append(f"metric={self.metric.key}")
        if self.segment is not None:
            parts.append(f"segment={self.segment or '(all traffic)'}")
        return ", ".join(parts)
