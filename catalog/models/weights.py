"""Weight profiles (DESIGN.md §5): how much each pillar, and each metric within its pillar,
counts in a trust score. A ``WeightProfile`` is a stable name (``balanced``, ``high-stakes``,
``low-latency``, …) that systems refer to; its weights live in immutable, versioned
``WeightProfileVersion`` rows, exactly one current per profile.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from catalog.models.metric_catalog import ImmutableRowMixin

__all__ = ["WeightProfile", "WeightProfileVersion"]

DEFAULT_METRIC_WEIGHT = 1.0


class WeightProfile(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def current_version(self) -> WeightProfileVersion | None:
        return self.versions.filter(is_current=True).first()


class WeightProfileVersion(ImmutableRowMixin, models.Model):
    CONTENT_FIELDS = ("description", "pillar_weights", "metric_weights")

    profile = models.ForeignKey(WeightProfile, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    is_current = models.BooleanField(default=False)
    description = models.TextField(blank=True)
    pillar_weights = models.JSONField(default=dict, help_text="pillar → weight (≥ 0, not all zero)")
    metric_weights = models.JSONField(
        default=dict, blank=True, help_text="metric key → weight within its pillar (default 1)"
    )
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

    immutable_label = "Weight profile versions"

    class Meta:
        ordering = ["profile_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["profile", "number"], name="catalog_weightversion_unique_number"),
            models.UniqueConstraint(
                fields=["profile"],
                condition=models.Q(is_current=True),
                name="catalog_weightversion_one_current",
            ),
            models.CheckConstraint(
                condition=models.Q(number__gte=1), name="catalog_weightversion_number_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.profile.name} v{self.number}"

    def content(self) -> dict:
        return {field: getattr(self, field) for field in self.CONTENT_FIELDS}

    def metric_weight(self, key: str) -> float:
        return float(self.metric_weights.get(key, DEFAULT_METRIC_WEIGHT))
