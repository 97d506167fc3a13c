"""Telemetry ingestion: reading and parsing request bodies, validating records against the
system's catalog, storing them in bulk (COPY on PostgreSQL), quarantine, labels, reference
data, per-minute health counters and raw-event partition maintenance.

The HTTP views in ``metrics.api.ingest`` are thin; everything here is plain Python that the
views, the replay command and the Celery tasks share.
"""
