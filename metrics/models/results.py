"""Computed numbers and their lineage.

``MetricValue`` is keyed by (metric version, deployment, segment, attribute, feature, window
start) and upserted, so a recomputation replaces a value and never duplicates it. Each value
points at the ``ComputationRun`` that produced it.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

__all__ = ["ComputationRun", "MetricValue"]


class ComputationRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    deployment = models.ForeignKey(
        "catalog.Deployment", null=True, blank=True, on_delete=models.CASCADE, related_name="runs"
    )
    kind = models.CharField(max_length=32, default="window", help_text="window, backfill, rollup, …")
    task_id = models.CharField(max_length=64, blank=True)
    code_version = models.CharField(max_length=64, blank=True)
    catalog_versions = models.JSONField(
        default=dict, blank=True, help_text="metric key → version number used"
    )
    reference_id = models.BigIntegerField(null=True, blank=True)
    input_rows = models.JSONField(default=dict, blank=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["deployment", "window_start"], name="run_deployment_window_idx")]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.kind}, {self.status})"


class MetricValue(models.Model):
    class Status(models.TextChoices):
        OK = "ok", "OK"
        WARN = "warn", "Warning"
        CRITICAL = "critical", "Critical"
        INSUFFICIENT_DATA = "insufficient_data", "Insufficient data"

    metric_version = models.ForeignKey(
        "catalog.MetricVersion", on_delete=models.PROTECT, related_name="values"
    )
    deployment = models.ForeignKey(
        "catalog.Deployment", on_delete=models.CASCADE, related_name="metric_values"
    )
    # "" means all traffic / no attribute / no feature: empty strings, not NULLs, so the
    # unique key below holds (NULLs never collide in a unique index).
    segment = models.CharField(max_length=200, blank=True, default="")
    attribute = models.CharField(max_length=128, blank=True, default="")
    feature = models.CharField(max_length=128, blank=True, default="")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    value = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    sample_size = models.PositiveBigIntegerField(default=0)
    details = models.JSONField(default=dict, blank=True)
    run = models.ForeignKey(
        ComputationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="values"
    )
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["deployment_id", "window_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric_version", "deployment", "segment", "attribute", "feature", "window_start"],
                name="metrics_metricvalue_unique_key",
            )
        ]
        indexes = [
            models.Index(fields=["deployment", "window_start"], name="metricvalue_deploy_window_idx"),
            models.Index(fields=["metric_version", "window_start"], name="metricvalue_version_window_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.metric_version} {self.deployment_id} {self.segment or 'all'} {self.window_start:%Y-%m-%d %H:%M}"
