"""State of the computation engine (DESIGN.md §2.1): stored window profiles and watermarks.

* ``WindowProfile`` is the roll-up of one closed 5-minute bucket of a deployment for one
  segment (``""`` = all traffic, ``"attr=value"`` = one cohort value): the JSON of
  :meth:`metrics.compute.profiles.WindowProfile.to_dict` (format version 1, documented in
  ``metrics/compute/profiles.py``). 1-hour and 1-day windows are merges of these rows, so
  dashboards and evaluations never re-read raw events. Every rolled-up bucket has an
  all-traffic row, also when it had no events (``event_count`` 0), so "rolled up at
  ``computed_at``" is recorded for every bucket. ``spec_digest`` names the bin edges / task /
  positive label the profile was built with: a profile whose digest differs from the
  deployment's current spec (a new reference, a changed feature list) is rolled up again
  from raw events before it is merged.
* ``ComputeWatermark`` says how far the forward pass of one deployment got: every 5-minute
  bucket ending at or before ``computed_through`` is rolled up and every window ending there
  is computed. Beat resumes from it, so missed ticks and broker outages catch up by
  themselves. ``lease_owner`` / ``lease_until`` keep two tasks from working on the same
  deployment at once (a redelivered task with the same id takes its own lease back).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

__all__ = ["ComputeWatermark", "WindowProfile"]


class WindowProfile(models.Model):
    deployment = models.ForeignKey("catalog.Deployment", on_delete=models.CASCADE, related_name="+")
    bucket_start = models.DateTimeField(help_text="Start of the 5-minute bucket (UTC, aligned).")
    segment = models.CharField(max_length=200, blank=True, default="")
    profile = models.JSONField(help_text="metrics.compute.profiles.WindowProfile.to_dict()")
    format_version = models.PositiveSmallIntegerField(default=1)
    event_count = models.PositiveBigIntegerField(default=0)
    reference = models.ForeignKey(
        "metrics.ReferenceDataset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    spec_digest = models.CharField(max_length=64, help_text="Digest of the ProfileSpec used.")
    newest_event_at = models.DateTimeField(null=True, blank=True, help_text="Newest event ts (all traffic).")
    newest_label_at = models.DateTimeField(null=True, blank=True, help_text="Newest label_ts (all traffic).")
    computed_at = models.DateTimeField(
        default=timezone.now, help_text="When the raw events of the bucket were read."
    )
    run = models.ForeignKey(
        "metrics.ComputationRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["deployment_id", "bucket_start", "segment"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "bucket_start", "segment"], name="metrics_windowprofile_unique"
            )
        ]

    def __str__(self) -> str:
        return f"profile {self.deployment_id} {self.bucket_start:%Y-%m-%d %H:%M} {self.segment or 'all'}"


class ComputeWatermark(models.Model):
    deployment = models.OneToOneField(
        "catalog.Deployment", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    computed_through = models.DateTimeField(
        help_text="Every 5-minute bucket ending at or before this is rolled up and computed."
    )
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_run = models.ForeignKey(
        "metrics.ComputationRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["deployment_id"]

    def __str__(self) -> str:
        return f"watermark {self.deployment_id} @ {self.computed_through:%Y-%m-%d %H:%M}"
