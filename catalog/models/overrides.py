"""Threshold overrides: a system, environment or deployment may tighten or loosen a metric's
thresholds. Overrides are versioned like metric versions: immutable rows, exactly one current
per (metric, scope), each with its author and reason. A field left empty inherits from the
next level (deployment > environment > system > catalog default); a version with every field
empty clears the override.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from catalog.models.metadata import Deployment, Environment, System
from catalog.models.metric_catalog import THRESHOLD_FIELDS, ImmutableRowMixin, MetricDefinition

__all__ = ["ThresholdOverride"]


class ThresholdOverride(ImmutableRowMixin, models.Model):
    class Scope(models.TextChoices):
        SYSTEM = "system", "System"
        ENVIRONMENT = "environment", "Environment"
        DEPLOYMENT = "deployment", "Deployment"

    # Resolution order, most specific first.
    PRECEDENCE = (Scope.DEPLOYMENT, Scope.ENVIRONMENT, Scope.SYSTEM)
    CONTENT_FIELDS = THRESHOLD_FIELDS

    definition = models.ForeignKey(MetricDefinition, on_delete=models.PROTECT, related_name="overrides")
    scope = models.CharField(max_length=12, choices=Scope.choices)
    # The owning system is always set (for access scoping); environment / deployment by scope.
    # PROTECT: an override is part of the audit history; retire the scope instead of deleting it.
    system = models.ForeignKey(System, on_delete=models.PROTECT, related_name="threshold_overrides")
    environment = models.ForeignKey(
        Environment, null=True, blank=True, on_delete=models.PROTECT, related_name="threshold_overrides"
    )
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.PROTECT, related_name="threshold_overrides"
    )
    # "system:3", "environment:7", "deployment:12": one key per scope for the constraints.
    scope_key = models.CharField(max_length=40, editable=False)
    number = models.PositiveIntegerField()
    is_current = models.BooleanField(default=False)
    warn_threshold = models.FloatField(null=True, blank=True)
    critical_threshold = models.FloatField(null=True, blank=True)
    for_windows = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    change_reason = models.TextField()

    immutable_label = "Threshold overrides"

    class Meta:
        ordering = ["definition_id", "scope_key", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["definition", "scope_key", "number"], name="catalog_override_unique_number"
            ),
            models.UniqueConstraint(
                fields=["definition", "scope_key"],
                condition=models.Q(is_current=True),
                name="catalog_override_one_current",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(scope="system", environment__isnull=True, deployment__isnull=True)
                    | models.Q(scope="environment", environment__isnull=False, deployment__isnull=True)
                    | models.Q(scope="deployment", deployment__isnull=False)
                ),
                name="catalog_override_scope_matches_target",
            ),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="catalog_override_number_gte_1"),
        ]
        indexes = [models.Index(fields=["scope_key", "is_current"], name="catalog_override_scope_idx")]

    def __str__(self) -> str:
        return f"{self.definition.key} @ {self.target_label} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is None:
            target_id = {"system": self.system_id, "environment": self.environment_id}.get(
                self.scope, self.deployment_id
            )
            self.scope_key = self.key_for(self.scope, target_id)
        super().save(*args, **kwargs)

    @staticmethod
    def key_for(scope: str, target_id: int) -> str:
        return f"{scope}:{target_id}"

    @property
    def target(self):
        return {"system": self.system, "environment": self.environment, "deployment": self.deployment}[
            self.scope
        ]

    @property
    def target_label(self) -> str:
        if self.scope == self.Scope.SYSTEM:
            return f"system {self.system.slug}"
        if self.scope == self.Scope.ENVIRONMENT:
            return f"environment {self.environment}"
        return f"deployment #{self.deployment_id} ({self.deployment})"

    @property
    def is_cleared(self) -> bool:
        return all(getattr(self, field) is None for field in self.CONTENT_FIELDS)

    def content(self) -> dict:
        return {field: getattr(self, field) for field in self.CONTENT_FIELDS}
