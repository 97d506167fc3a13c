"""The versioned metric catalog: what every number means.

A ``MetricDefinition`` is a stable key; its content lives in immutable ``MetricVersion``
rows. Exactly one version per definition is current (a partial unique index). Values keep
pointing at the version that produced them, so every number can say which definition made it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

__all__ = ["THRESHOLD_FIELDS", "ImmutableRowMixin", "MetricDefinition", "MetricVersion"]

# The content fields that make up a threshold policy (what four-eyes guards and overrides set).
THRESHOLD_FIELDS = ("warn_threshold", "critical_threshold", "for_windows")


class ImmutableRowMixin:
    """Rows written once: ``save`` refuses updates and ``delete`` refuses. The only column that
    may change afterwards is ``is_current``, flipped by the catalog services with a queryset
    ``update``; on PostgreSQL a trigger (migration 0005) enforces the same at the database."""

    immutable_label = "Catalog versions"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError(f"{self.immutable_label} are immutable; create a new version instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(f"{self.immutable_label} are never deleted.")


class MetricDefinition(models.Model):
    key = models.SlugField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key

    @property
    def current_version(self) -> MetricVersion | None:
        return self.versions.filter(is_current=True).first()


class MetricVersion(ImmutableRowMixin, models.Model):
    class Pillar(models.TextChoices):
        PERFORMANCE = "performance", "Performance"
        FAIRNESS = "fairness", "Fairness"
        RELIABILITY = "reliability", "Reliability"
        DATA_QUALITY = "data_quality", "Data quality"

    class Direction(models.TextChoices):
        HIGHER_IS_BETTER = "higher_is_better", "Higher is better"
        LOWER_IS_BETTER = "lower_is_better", "Lower is better"

    class Window(models.TextChoices):
        FIVE_MINUTES = "5m", "5 minutes"
        ONE_HOUR = "1h", "1 hour"
        ONE_DAY = "1d", "1 day"

    # Fields that make up a version's content (what a diff compares and a new version copies).
    CONTENT_FIELDS = (
        "name",
        "description",
        "pillar",
        "calculator",
        "params",
        "data_source",
        "unit",
        "direction",
        "window",
        "min_samples",
        "warn_threshold",
        "critical_threshold",
        "for_windows",
        "sensitive",
        "playbook",
        "owner",
    )

    definition = models.ForeignKey(MetricDefinition, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    is_current = models.BooleanField(default=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    pillar = models.CharField(max_length=16, choices=Pillar.choices)
    calculator = models.CharField(max_length=64, help_text="Name of the calculator in metrics.compute.")
    params = models.JSONField(default=dict, blank=True)
    data_source = models.CharField(max_length=64, help_text="events, labels, profiles, alerts, ingestion…")
    unit = models.CharField(max_length=32, blank=True)
    direction = models.CharField(max_length=16, choices=Direction.choices)
    window = models.CharField(max_length=4, choices=Window.choices, default=Window.ONE_HOUR)
    min_samples = models.PositiveIntegerField(default=100)
    warn_threshold = models.FloatField(null=True, blank=True)
    critical_threshold = models.FloatField(null=True, blank=True)
    for_windows = models.PositiveIntegerField(
        default=1, help_text="Consecutive breaching windows before an alert fires (1 = at once)."
    )
    sensitive = models.BooleanField(default=False)
    playbook = models.TextField(blank=True, help_text="Remediation steps, markdown.")
    owner = models.CharField(max_length=100, blank=True)
    # No database constraint and no SET NULL: an immutable row is never rewritten, not even
    # when its author's account is deleted (deactivate users instead).
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

    immutable_label = "Metric versions"

    class Meta:
        ordering = ["definition_id", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["definition", "number"], name="catalog_metricversion_unique_number"
            ),
            models.UniqueConstraint(
                fields=["definition"],
                condition=models.Q(is_current=True),
                name="catalog_metricversion_one_current",
            ),
            models.CheckConstraint(
                condition=models.Q(number__gte=1), name="catalog_metricversion_number_gte_1"
            ),
            models.CheckConstraint(
                condition=models.Q(for_windows__gte=1), name="catalog_metricversion_for_windows_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.definition.key} v{self.number}"

    @property
    def key(self) -> str:
        return self.definition.key

    @property
    def has_thresholds(self) -> bool:
        return self.warn_threshold is not None or self.critical_threshold is not None

    def content(self) -> dict:
        return {field: getattr(self, field) for field in self.CONTENT_FIELDS}

    def thresholds(self) -> dict:
        return {field: getattr(self, field) for field in THRESHOLD_FIELDS}
