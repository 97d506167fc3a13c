"""Ingestion tasks (queue ``ingest``; names start with ``ingest_`` for the route in
``healthboard.celery``). Computation tasks live in their own module. Every task is
idempotent: running it twice, or after a crash, does no harm."""

from __future__ import annotations

from celery import shared_task

from metrics.ingest import partitions, replay


@shared_task(name="metrics.tasks.ingest_maintain_partitions", ignore_result=True)
def ingest_maintain_partitions() -> dict:
    """Create raw-event partitions ahead and drop those past the retention."""
    result = partitions.maintain()
    return {
        "created": result["created_partitions"],
        "dropped": result["dropped_partitions"],
        "deleted_rows": result["deleted_rows"],
        "deleted_keys": result["deleted_keys"],
    }


@shared_task(name="metrics.tasks.ingest_retry_early_labels", ignore_result=True)
def ingest_retry_early_labels() -> dict:
    """Labels quarantined because their event had not arrived yet are retried for a day."""
    return dict(replay.retry_early_labels())
