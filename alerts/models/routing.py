"""Where notifications go: channels (email, webhook) and escalation policies.

A channel or policy with a system belongs to that system (managed by users holding
``manage_alerts`` on it); one without a system is shared by all systems and managed by
catalog admins. A policy routes by system and pillar (and optionally severity); its ordered
steps name a channel and a delay after the alert fired.
"""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils import timezone

from alerts import netguard

__all__ = ["Channel", "EscalationPolicy", "EscalationStep"]


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class Channel(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class PayloadFormat(models.TextChoices):
        HEALTHBOARD = "healthboard", "Healthboard (v1)"
        ALERTMANAGER = "alertmanager", "Alertmanager-compatible (version 4)"

    name = models.CharField(max_length=100)
    system = models.ForeignKey(
        "catalog.System", null=True, blank=True, on_delete=models.CASCADE, related_name="alert_channels"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    email_to = models.TextField(blank=True, help_text="Comma-separated addresses (email channels).")
    url = models.URLField(max_length=500, blank=True, help_text="Webhook URL (webhook channels).")
    secret = models.CharField(max_length=100, default=_new_secret, help_text="HMAC-SHA256 signing key.")
    payload_format = models.CharField(
        max_length=12, choices=PayloadFormat.choices, default=PayloadFormat.HEALTHBOARD
    )
    send_resolved = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def save(self, *args, **kwargs):
        # The SSRF check runs on every save, not only through forms.
        if self.kind == self.Kind.WEBHOOK:
            try:
                netguard.check_url(self.url)
            except netguard.UnsafeURL as exc:
                raise ValidationError({"url": str(exc)}) from None
        super().save(*args, **kwargs)

    @property
    def recipients(self) -> list[str]:
        return [a.strip() for a in self.email_to.replace(";", ",").split(",") if a.strip()]

    def clean(self) -> None:
        if self.kind == self.Kind.EMAIL:
            if not self.recipients:
                raise ValidationError({"email_to": "An email channel needs at least one address."})
            for address in self.recipients:
                try:
                    validate_email(address)
                except ValidationError:
                    raise ValidationError({"email_to": f"{address!r} is not an email address."}) from None
        elif self.kind == self.Kind.WEBHOOK:
            if not self.url:
                raise ValidationError({"url": "A webhook channel needs a URL."})
            try:
                netguard.check_url(self.url)
            except netguard.UnsafeURL as exc:
                raise ValidationError({"url": str(exc)}) from None


class EscalationPolicy(models.Model):
    class Severity(models.TextChoices):
        ANY = "", "Any severity"
        CRITICAL = "critical", "Critical only"

    name = models.CharField(max_length=100)
    system = models.ForeignKey(
        "catalog.System", null=True, blank=True, on_delete=models.CASCADE, related_name="escalation_policies"
    )
    pillar = models.CharField(
        max_length=16, blank=True, help_text="Metric pillar this policy routes; empty = every pillar."
    )
    severity = models.CharField(max_length=10, blank=True, choices=Severity.choices, default=Severity.ANY)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"

    def __str__(self) -> str:
        return self.name

    def specificity(self) -> tuple[int, int, int]:
        """Higher is more specific: system beats pillar beats severity."""
        return (self.system_id is not None, bool(self.pillar), bool(self.severity))

    def matches(self, *, system_id: int, pillar: str, severity: str) -> bool:
        if self.system_id is not None and self.system_id != system_id:
            return False
        if self.pillar and self.pillar != pillar:
            return False
        return not (self.severity and self.severity != severity)


class EscalationStep(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="steps")
    delay_minutes = models.PositiveIntegerField(
        default=0, help_text="After the alert fired, if unacknowledged."
    )

    class Meta:
        ordering = ["policy_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="alerts_step_unique_position")
        ]

    def __str__(self) -> str:
        return f"{self.policy}: #{self.position} {self.channel.name} after {self.delay_minutes} min"
