"""Four-eyes change requests: a threshold change that affects production, proposed by one
catalog admin, waits here until a *different* catalog admin approves it (then it becomes a new
version) or someone rejects it. Enabled by the ``CATALOG_FOUR_EYES`` setting.

Unlike versions, a request row changes state (pending → approved | rejected); every
transition is audited. The database refuses an approval by the proposer.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from catalog.models.metadata import Deployment, Environment, System
from catalog.models.metric_catalog import MetricDefinition

__all__ = ["CatalogChangeRequest"]


class CatalogChangeRequest(models.Model):
    class Kind(models.TextChoices):
        METRIC_VERSION = "metric_version", "Metric definition"
        THRESHOLD_OVERRIDE = "threshold_override", "Threshold override"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    definition = models.ForeignKey(MetricDefinition, on_delete=models.PROTECT, related_name="change_requests")
    # "catalog" for a metric version, else the override's scope key ("environment:7").
    target_key = models.CharField(max_length=40)
    scope = models.CharField(max_length=12, blank=True)
    system = models.ForeignKey(System, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey(
        Environment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    base_number = models.PositiveIntegerField(
        null=True, blank=True, help_text="The version that was current when the change was proposed."
    )
    proposed = models.JSONField(help_text="The full content of the version the change would create.")
    rollback_of = models.PositiveIntegerField(null=True, blank=True)
    reason = models.TextField()
    source = models.CharField(max_length=10, default="ui")
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    proposed_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    result_number = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-proposed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["definition", "target_key"],
                condition=models.Q(status="pending"),
                name="catalog_change_one_pending_per_target",
            ),
            # Four eyes, at the database: whoever approves is not whoever proposed.
            models.CheckConstraint(
                condition=~models.Q(status="approved") | ~models.Q(decided_by=models.F("proposed_by")),
                name="catalog_change_approver_is_not_proposer",
            ),
        ]

    def __str__(self) -> str:
        return f"change #{self.pk} {self.definition.key} @ {self.target_label} ({self.status})"

    @property
    def target_label(self) -> str:
        if self.kind == self.Kind.METRIC_VERSION:
            return "catalog default"
        if self.scope == "system":
            return f"system {self.system.slug}"
        if self.scope == "environment":
            return f"environment {self.environment}"
        return f"deployment #{self.deployment_id} ({self.deployment})"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING
