"""Ingestion limits and knobs, from settings (``# --- ingestion ---`` block) with defaults."""

from __future__ import annotations

from django.conf import settings

MAX_EVENTS_DEFAULT = 10_000
MAX_BYTES_DEFAULT = 10 * 1024 * 1024


def max_events() -> int:
    """Records per request (events, labels or reference rows); more is a 413."""
    return getattr(settings, "INGEST_MAX_EVENTS", MAX_EVENTS_DEFAULT)


def max_bytes() -> int:
    """Request body bytes (and decompressed bytes for gzip bodies); more is a 413."""
    return getattr(settings, "INGEST_MAX_BYTES", MAX_BYTES_DEFAULT)


def rate_limit_per_minute() -> int:
    """Requests per ingest token per minute; more is a 429 with Retry-After."""
    return getattr(settings, "INGEST_RATE_LIMIT_PER_MINUTE", 600)


def retention_days() -> int:
    return getattr(settings, "RAW_EVENT_RETENTION_DAYS", 90)


def partitions_ahead_days() -> int:
    return getattr(settings, "INGEST_PARTITIONS_AHEAD_DAYS", 7)


def future_tolerance_seconds() -> int:
    """How far in the future a timestamp may be (DESIGN.md §12: 1 day)."""
    return getattr(settings, "INGEST_MAX_FUTURE_SECONDS", 86_400)


def allowed_lateness_seconds() -> int:
    """A 5-minute bucket is closed this long after its end (DESIGN.md §3: 2 minutes)."""
    return getattr(settings, "INGEST_ALLOWED_LATENESS_SECONDS", 120)


def redis_url() -> str:
    return getattr(settings, "REDIS_URL", "")
