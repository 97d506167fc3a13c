"""Upserts of the engine's rows: ``INSERT … ON CONFLICT (unique key) DO UPDATE``.

On PostgreSQL one statement per batch, ``INSERT … SELECT * FROM unnest(typed arrays)`` sent with
binary parameters over psycopg's server-side binding (no text quoting of thousands of JSON
documents, ~20x faster than Django's client-side bulk insert here). Elsewhere (SQLite) Django's
``bulk_create(update_conflicts=True)``, which issues the same ``ON CONFLICT`` clause.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import psycopg
from django.db import connection
from psycopg.types.json import Jsonb

from metrics.models import MetricValue, WindowProfile

__all__ = ["upsert_profiles", "upsert_values"]

VALUE_KEY = ("metric_version", "deployment", "segment", "attribute", "feature", "window_start")
VALUE_UPDATE = ("window_end", "value", "status", "sample_size", "details", "run", "computed_at")
PROFILE_KEY = ("deployment", "bucket_start", "segment")
PROFILE_UPDATE = (
    "profile",
    "format_version",
    "event_count",
    "reference",
    "spec_digest",
    "newest_event_at",
    "newest_label_at",
    "computed_at",
    "run",
)
BATCH = 2000


def _dumps(obj) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)


def _jsonb(obj) -> Jsonb:
    return Jsonb(obj, dumps=_dumps)


def _pg_upsert(
    table: str, columns: Sequence[tuple[str, str]], key: Sequence[str], rows: Sequence[tuple]
) -> None:
    names = [name for name, _ in columns]
    arrays = ", ".join(f"%b::{kind}[]" for _, kind in columns)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in names if name not in key)
    sql = (
        f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        for i in range(0, len(rows), BATCH):
            chunk = rows[i : i + BATCH]
            cursor.execute(sql, [list(col) for col in zip(*chunk, strict=True)], binary=True)


_VALUE_COLUMNS = (
    ("metric_version_id", "int8"),
    ("deployment_id", "int8"),
    ("segment", "text"),
    ("attribute", "text"),
    ("feature", "text"),
    ("window_start", "timestamptz"),
    ("window_end", "timestamptz"),
    ("value", "float8"),
    ("status", "text"),
    ("sample_size", "int8"),
    ("details", "jsonb"),
    ("run_id", "int8"),
    ("computed_at", "timestamptz"),
)


def upsert_values(values: Sequence[MetricValue]) -> int:
    if not values:
        return 0
    if connection.vendor != "postgresql":
        MetricValue.objects.bulk_create(
            values, batch_size=500, update_conflicts=True, unique_fields=VALUE_KEY, update_fields=VALUE_UPDATE
        )
        return len(values)
    # One row per key: the last one wins, as a sequence of single upserts would have it.
    unique = {}
    for v in values:
        unique[(v.metric_version_id, v.deployment_id, v.segment, v.attribute, v.feature, v.window_start)] = v
    rows = [
        (
            v.metric_version_id,
            v.deployment_id,
            v.segment,
            v.attribute,
            v.feature,
            v.window_start,
            v.window_end,
            v.value,
            v.status,
            v.sample_size,
            _jsonb(v.details),
            v.run_id,
            v.computed_at,
        )
        for v in unique.values()
    ]
    _pg_upsert(
        "metrics_metricvalue",
        _VALUE_COLUMNS,
        ("metric_version_id", "deployment_id", "segment", "attribute", "feature", "window_start"),
        rows,
    )
    return len(values)


_PROFILE_COLUMNS = (
    ("deployment_id", "int8"),
    ("bucket_start", "timestamptz"),
    ("segment", "text"),
    ("profile", "jsonb"),
    ("format_version", "int2"),
    ("event_count", "int8"),
    ("reference_id", "int8"),
    ("spec_digest", "text"),
    ("newest_event_at", "timestamptz"),
    ("newest_label_at", "timestamptz"),
    ("computed_at", "timestamptz"),
    ("run_id", "int8"),
)


def upsert_profiles(rows: Sequence[WindowProfile]) -> int:
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        WindowProfile.objects.bulk_create(
            rows,
            batch_size=200,
            update_conflicts=True,
            unique_fields=PROFILE_KEY,
            update_fields=PROFILE_UPDATE,
        )
        return len(rows)
    data = [
        (
            r.deployment_id,
            r.bucket_start,
            r.segment,
            _jsonb(r.profile),
            r.format_version,
            r.event_count,
            r.reference_id,
            r.spec_digest,
            r.newest_event_at,
            r.newest_label_at,
            r.computed_at,
            r.run_id,
        )
        for r in rows
    ]
    _pg_upsert("metrics_windowprofile", _PROFILE_COLUMNS, ("deployment_id", "bucket_start", "segment"), data)
    return len(rows)
