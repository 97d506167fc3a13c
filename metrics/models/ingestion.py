"""Ingestion bookkeeping: quarantine, per-minute health counters, rate-limit windows."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

__all__ = ["IngestionRejection", "IngestionStat", "QuarantinedRecord", "RateLimitCounter"]


class QuarantinedRecord(models.Model):
    """A rejected record, kept with its raw payload and the reasons, replayable later."""

    class Kind(models.TextChoices):
        EVENT = "event", "Event"
        LABEL = "label", "Label"
        REFERENCE = "reference", "Reference row"

    class ReplayResult(models.TextChoices):
        NONE = "", "Not replayed"
        ACCEPTED = "accepted", "Accepted"
        DUPLICATE = "duplicate", "Duplicate"
        REJECTED = "rejected", "Rejected again"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    system = models.ForeignKey("catalog.System", on_delete=models.CASCADE, related_name="quarantine")
    index = models.PositiveIntegerField(help_text="Position of the record in its request.")
    event_id = models.CharField(max_length=128, blank=True)
    raw = models.TextField(help_text="The record as it was received (JSON text).")
    context = models.JSONField(
        default=dict, blank=True, help_text="Request-level fields (a reference's model and version)."
    )
    errors = models.JSONField(default=dict, help_text="{field: [message]} from the latest validation.")
    reason = models.CharField(max_length=40, help_text="Code of the first error, for counting.")
    received_at = models.DateTimeField(default=timezone.now)
    replay_attempts = models.PositiveIntegerField(default=0)
    last_replay_at = models.DateTimeField(null=True, blank=True)
    replayed_at = models.DateTimeField(null=True, blank=True, help_text="When a replay stored it.")
    replay_result = models.CharField(max_length=10, choices=ReplayResult.choices, blank=True, default="")

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["system", "replayed_at", "received_at"], name="quarantine_pending_idx"),
            models.Index(fields=["kind", "reason", "replayed_at"], name="quarantine_reason_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.index} {self.event_id or ''} ({self.reason})"

    @property
    def pending(self) -> bool:
        return self.replayed_at is None


class IngestionStat(models.Model):
    """Records per system, kind and 1-minute bucket; upserted with increments."""

    system = models.ForeignKey("catalog.System", on_delete=models.CASCADE, related_name="+")
    bucket = models.DateTimeField(help_text="Start of the UTC minute.")
    kind = models.CharField(max_length=10, choices=QuarantinedRecord.Kind.choices)
    requests = models.PositiveBigIntegerField(default=0)
    accepted = models.PositiveBigIntegerField(default=0)
    duplicates = models.PositiveBigIntegerField(default=0)
    rejected = models.PositiveBigIntegerField(default=0)
    bytes = models.PositiveBigIntegerField(default=0, help_text="Request body bytes as received.")

    class Meta:
        ordering = ["-bucket"]
        constraints = [
            models.UniqueConstraint(fields=["system", "bucket", "kind"], name="metrics_ingeststat_unique")
        ]

    def __str__(self) -> str:
        return f"{self.system_id} {self.kind} {self.bucket:%Y-%m-%d %H:%M}"


class IngestionRejection(models.Model):
    """Rejections per system, kind, 1-minute bucket and reason (records and whole requests)."""

    system = models.ForeignKey("catalog.System", on_delete=models.CASCADE, related_name="+")
    bucket = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=QuarantinedRecord.Kind.choices)
    reason = models.CharField(max_length=40)
    records = models.PositiveBigIntegerField(default=0)
    requests = models.PositiveBigIntegerField(default=0, help_text="Whole requests refused (413, 429).")

    class Meta:
        ordering = ["-bucket"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "bucket", "kind", "reason"], name="metrics_ingestrejection_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.system_id} {self.reason} {self.bucket:%Y-%m-%d %H:%M}"


class RateLimitCounter(models.Model):
    """Fixed windows per token (the minute, and its 10-second share), incremented atomically by an upsert."""

    pk = models.CompositePrimaryKey("key", "window_start")
    key = models.CharField(max_length=80)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key} {self.window_start:%H:%M} = {self.count}"
