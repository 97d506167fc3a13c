"""Raw telemetry: prediction events, their dedup keys, and windows to recompute.

Physical layout (see the README's ingestion section for the measurements behind it):

* ``PredictionEvent`` is append-only. On PostgreSQL it is a table partitioned by day on
  ``ts`` (``metrics_predictionevent_pYYYYMMDD``), created by a PostgreSQL-only migration, with
  a BRIN index on ``ts`` and a primary key ``(id, ts)`` (a partitioned table's unique keys
  must contain the partition key). Retention drops whole partitions. On SQLite it is a plain
  table with an index on ``(deployment_id, ts)``. Typed core columns sit beside two arrays
  holding the feature values in the model's declared order (``Feature.position``): numeric
  features in ``numeric`` and categorical ones in ``categorical``; cohort values are in
  ``cohort``, in the model's cohort-attribute order (by name).
  Foreign keys carry no database constraint: a constraint check per row would halve COPY
  throughput, and raw events outlive nothing — retention removes them.
* ``EventKey`` makes ``(system, event_id)`` unique across all partitions: it is a small,
  unpartitioned table whose primary key is exactly that pair. Ingestion inserts keys with
  ``ON CONFLICT DO NOTHING`` and stores only the events whose key it inserted, in the same
  transaction, so duplicates are detected by the database also under concurrent requests.
  It also records where the event lives (``ts``, ``event_pk``), which is how labels find
  their event without an index on ``event_id`` in every partition.
* ``DirtyWindow`` is the seam to the computation engine: a 5-minute bucket of a deployment
  whose raw events changed after it closed (a late event or a late label).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from metrics.models.fields import FloatArrayField, TextArrayField

__all__ = ["DirtyWindow", "EventKey", "FeatureLayout", "PredictionEvent"]


class FeatureLayout(models.Model):
    """The array layout an event was stored with: which feature sits at which position.

    A model's features can change (one added, one removed); events keep the layout they were
    validated against, so readers map every stored array onto the model's current features
    by name instead of trusting positions.
    """

    model = models.ForeignKey("catalog.Model", on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64)
    numeric = models.JSONField(default=list)
    categorical = models.JSONField(default=list)
    cohorts = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "digest"], name="metrics_layout_unique")]

    def __str__(self) -> str:
        return f"layout {self.pk} of model {self.model_id}"


class PredictionEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    system = models.ForeignKey(
        "catalog.System", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    deployment = models.ForeignKey(
        "catalog.Deployment",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    layout = models.ForeignKey(
        FeatureLayout, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    event_id = models.CharField(max_length=128)
    ts = models.DateTimeField(help_text="When the prediction was made (the client's timestamp, UTC).")
    received_at = models.DateTimeField(default=timezone.now)
    latency_ms = models.FloatField(null=True, blank=True)
    error = models.BooleanField(default=False)
    prediction = models.FloatField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    label = models.FloatField(null=True, blank=True)
    label_ts = models.DateTimeField(null=True, blank=True)
    numeric = FloatArrayField(default=list, help_text="Numeric features in declared order.")
    categorical = TextArrayField(default=list, help_text="Categorical features in declared order.")
    cohort = TextArrayField(default=list, help_text="Cohort values in cohort-attribute order.")

    class Meta:
        ordering = ["ts"]
        # Indexes are created per database by migration 0003 (BRIN on ts on PostgreSQL).

    def __str__(self) -> str:
        return f"event {self.event_id} @ {self.ts:%Y-%m-%d %H:%M:%S}"


class EventKey(models.Model):
    pk = models.CompositePrimaryKey("system_id", "event_id")
    system = models.ForeignKey(
        "catalog.System", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    event_id = models.CharField(max_length=128)
    ts = models.DateTimeField()
    event_pk = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["ts"], name="metrics_eventkey_ts_idx")]

    def __str__(self) -> str:
        return f"{self.system_id}:{self.event_id}"


class DirtyWindow(models.Model):
    """A closed 5-minute bucket whose raw events changed; issue 5's engine consumes these."""

    class Reason(models.TextChoices):
        LATE_EVENT = "late_event", "Late event"
        LATE_LABEL = "late_label", "Late label"

    pk = models.CompositePrimaryKey("deployment_id", "window_start")
    deployment = models.ForeignKey("catalog.Deployment", on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["marked_at"]

    def __str__(self) -> str:
        return f"dirty {self.deployment_id} {self.window_start:%Y-%m-%d %H:%M}"
