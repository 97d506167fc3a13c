"""Knobs of the computation engine, from settings with defaults (no new settings are required).

=================================  =======  =====================================================
setting                            default  meaning
=================================  =======  =====================================================
``COMPUTE_MAX_BUCKETS_PER_TASK``   144      5-minute buckets one task computes forward (12 h);
                                            the next beat tick continues from the watermark
``COMPUTE_MAX_DEPLOYMENTS_PER_TICK`` 500    deployments one beat tick enqueues (oldest first)
``COMPUTE_INITIAL_LOOKBACK_HOURS`` 24       where a new deployment's watermark starts (older
                                            history arrives as dirty windows)
``COMPUTE_DIRTY_BATCH``            288      dirty buckets one task re-rolls
``COMPUTE_DIRTY_MARGIN_SECONDS``   120      a dirty mark older than a bucket's roll-up by this
                                            much is already covered and dropped
``COMPUTE_LEASE_SECONDS``          600      a deployment's lease while a task works on it
``COMPUTE_QUEUE_SECONDS``          300      how long an enqueued task may wait in the broker
``COMPUTE_RUN_TIMEOUT_SECONDS``    1800     a run ``running`` longer than this is reaped
``COMPUTE_MAX_SEGMENTS_PER_ATTRIBUTE`` 100  cohort values per attribute that get their own
                                            values in a window (the most frequent ones)
=================================  =======  =====================================================
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from metrics.ingest import conf as ingest_conf

BUCKET = timedelta(minutes=5)


def _int(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def max_buckets_per_task() -> int:
    return _int("COMPUTE_MAX_BUCKETS_PER_TASK", 144)


def max_segments_per_attribute() -> int:
    return _int("COMPUTE_MAX_SEGMENTS_PER_ATTRIBUTE", 100)


def max_deployments_per_tick() -> int:
    return _int("COMPUTE_MAX_DEPLOYMENTS_PER_TICK", 500)


def initial_lookback() -> timedelta:
    return timedelta(hours=_int("COMPUTE_INITIAL_LOOKBACK_HOURS", 24))


def dirty_batch() -> int:
    return _int("COMPUTE_DIRTY_BATCH", 288)


def dirty_margin() -> timedelta:
    return timedelta(seconds=_int("COMPUTE_DIRTY_MARGIN_SECONDS", 120))


def lease() -> timedelta:
    return timedelta(seconds=_int("COMPUTE_LEASE_SECONDS", 600))


def queue_expiry() -> timedelta:
    return timedelta(seconds=_int("COMPUTE_QUEUE_SECONDS", 300))


def run_timeout() -> timedelta:
    return timedelta(seconds=_int("COMPUTE_RUN_TIMEOUT_SECONDS", 1800))


def allowed_lateness() -> timedelta:
    """A window is closed when ``end + allowed_lateness`` has passed (DESIGN.md §3)."""
    return timedelta(seconds=ingest_conf.allowed_lateness_seconds())
