"""Reference (baseline) data per model version, with its bin edges computed once.

Each upload that replaces a reference creates a new ``ReferenceDataset`` (the old one stays,
no longer current), so ``ComputationRun.reference_id`` keeps pointing at the rows it used.
Chunked uploads (``"append": true``) add rows to the current reference and recompute its
statistics. Rows use the same array layout as raw events.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from metrics.models.fields import FloatArrayField, TextArrayField

__all__ = ["ReferenceDataset", "ReferenceRow"]


class ReferenceDataset(models.Model):
    class Source(models.TextChoices):
        UPLOAD = "upload", "Uploaded"
        DEPLOYMENT = "deployment", "From a deployment's traffic"

    model_version = models.ForeignKey(
        "catalog.ModelVersion", on_delete=models.CASCADE, related_name="references"
    )
    is_current = models.BooleanField(default=True)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.UPLOAD)
    source_deployment = models.ForeignKey(
        "catalog.Deployment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    replaced_at = models.DateTimeField(null=True, blank=True)
    row_count = models.PositiveBigIntegerField(default=0)
    chunks = models.PositiveIntegerField(default=0, help_text="Requests that contributed rows.")
    # The layout the rows were stored in: feature names in array order.
    numeric_features = models.JSONField(default=list)
    categorical_features = models.JSONField(default=list)
    cohort_attributes = models.JSONField(default=list)
    # Computed once per reference (recomputed when a chunk is appended), DESIGN.md §3.1:
    # {feature: [e1 … ek]} = unique(numpy.quantile(non-null values, [0.1 … 0.9])).
    numeric_edges = models.JSONField(default=dict)
    categories = models.JSONField(default=dict, help_text="{feature: sorted category list}")
    output_edges = models.JSONField(default=dict, help_text="{'score'|'prediction': edges}")
    null_counts = models.JSONField(default=dict)
    stats_computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version"], condition=Q(is_current=True), name="metrics_reference_one_current"
            )
        ]

    def __str__(self) -> str:
        return f"reference {self.pk} of {self.model_version_id} ({self.row_count} rows)"


class ReferenceRow(models.Model):
    reference = models.ForeignKey(ReferenceDataset, on_delete=models.CASCADE, related_name="rows")
    event_id = models.CharField(max_length=128, blank=True)
    ts = models.DateTimeField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    error = models.BooleanField(default=False)
    prediction = models.FloatField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    label = models.FloatField(null=True, blank=True)
    numeric = FloatArrayField(default=list)
    categorical = TextArrayField(default=list)
    cohort = TextArrayField(default=list)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"reference row {self.pk}"
