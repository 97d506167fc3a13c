"""Bulk storage of raw events, labels and reference rows — never row by row through the ORM.

Events, on both databases the same steps inside the caller's transaction:

1. drop repeats of an ``event_id`` inside the batch (the first occurrence wins);
2. insert the ``(system, event_id)`` keys with ``ON CONFLICT DO NOTHING`` (on PostgreSQL from
   two binary array parameters, ``unnest``-ed server side), each with a new
   event id, and learn which keys were new — a key that another transaction is inserting at
   the same moment makes this statement wait for it, then count as a duplicate;
3. write the rows of the new keys: on PostgreSQL with binary ``COPY`` straight into the
   partitioned table (encoded by ``pgcopy``: the server parses no text, and no per-value
   Python dumper runs), on SQLite with one ``executemany``.

The caller commits once, so the keys and their events land together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import psycopg
from django.db import connection

from metrics.ingest import pgcopy

EVENT_COLUMNS = (
    "id",
    "ts",
    "received_at",
    "system_id",
    "deployment_id",
    "layout_id",
    "latency_ms",
    "prediction",
    "score",
    "label",
    "error",
    "event_id",
    "numeric",
    "categorical",
    "cohort",
)
REFERENCE_COLUMNS = (
    "reference_id",
    "event_id",
    "ts",
    "latency_ms",
    "error",
    "prediction",
    "score",
    "label",
    "numeric",
    "categorical",
    "cohort",
)
REFERENCE_TYPES = (
    "int8",
    "text",
    "timestamptz",
    "float8",
    "bool",
    "float8",
    "float8",
    "float8",
    "float8[]",
    "text[]",
    "text[]",
)


def _quoted(columns: Iterable[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _sqlite_dt(value: datetime | None):
    return None if value is None else connection.ops.adapt_datetimefield_value(value)


def _json(value) -> str:
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def dedupe_in_batch(event_ids: Sequence[str]) -> list[int]:
    """Positions of the first occurrence of each event_id, in order."""
    seen: set[str] = set()
    add = seen.add
    keep = []
    for position, event_id in enumerate(event_ids):
        if event_id not in seen:
            add(event_id)
            keep.append(position)
    return keep


def insert_events(
    *,
    system_id: int,
    rows: Sequence[tuple],
    deployment_ids: Sequence[int],
    layout_ids: Sequence[int],
    received_at: datetime,
) -> list[int]:
    """Store the rows whose event_id is new for the system; return their positions in ``rows``.

    ``rows[i]`` is ``(ts, latency_ms, prediction, score, label, error, event_id, numeric,
    categorical, cohort)`` (see ``validate.validate_events``).
    """
    if not rows:
        return []
    positions = dedupe_in_batch([row[6] for row in rows])
    if is_postgres():
        return _insert_events_pg(system_id, rows, positions, deployment_ids, layout_ids, received_at)
    return _insert_events_sqlite(system_id, rows, positions, deployment_ids, layout_ids, received_at)


class PreEncodedTextArray(bytes):
    """A ``text[]`` parameter already in PostgreSQL's binary format (``pgcopy.key_arrays``):
    psycopg's own list dumper works element by element in Python."""


class PreEncodedTimestampArray(bytes):
    """A ``timestamptz[]`` parameter already in PostgreSQL's binary format."""


class _PreEncodedTextArrayDumper(psycopg.adapt.Dumper):
    format = psycopg.pq.Format.BINARY
    oid = 1009  # text[]

    def dump(self, obj):
        return obj


class _PreEncodedTimestampArrayDumper(_PreEncodedTextArrayDumper):
    oid = 1185  # timestamptz[]


def _insert_events_pg(system_id, rows, positions, deployment_ids, layout_ids, received_at) -> list[int]:
    # A plain (server-side binding) psycopg cursor on Django's connection, inside its transaction:
    # Django's own cursors bind client-side, which can neither send binary parameters nor COPY
    # binary as cheaply.
    ids, stamps = pgcopy.key_arrays(rows, positions)
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.adapters.register_dumper(PreEncodedTextArray, _PreEncodedTextArrayDumper)
        cursor.adapters.register_dumper(PreEncodedTimestampArray, _PreEncodedTimestampArrayDumper)
        cursor.execute(
            "INSERT INTO metrics_eventkey (system_id, event_id, ts, event_pk) "
            "SELECT %s, u.e, u.t, nextval('metrics_predictionevent_id_seq') FROM unnest(%b, %b) AS u(e, t) "
            "ON CONFLICT DO NOTHING RETURNING event_id, event_pk",
            [system_id, PreEncodedTextArray(ids), PreEncodedTimestampArray(stamps)],
            binary=True,
        )
        new = dict(cursor.fetchall())
        if not new:
            return []
        payload, stored = pgcopy.encode_events(
            rows,
            positions,
            new,
            received_at=received_at,
            system_id=system_id,
            deployment_ids=deployment_ids,
            layout_ids=layout_ids,
        )
        with cursor.copy(
            f"COPY metrics_predictionevent ({_quoted(EVENT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(payload)
        return stored


def _insert_events_sqlite(system_id, rows, positions, deployment_ids, layout_ids, received_at) -> list[int]:
    with connection.cursor() as cursor:
        # Django opens SQLite transactions with BEGIN IMMEDIATE: we hold the write lock, so the
        # id range below is ours alone.
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = 'metrics_predictionevent'")
        found = cursor.fetchone()
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM metrics_predictionevent")
        base = max(found[0] if found else 0, cursor.fetchone()[0])
        received = _sqlite_dt(received_at)
        cursor.executemany(
            "INSERT INTO metrics_eventkey (system_id, event_id, ts, event_pk) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            [(system_id, rows[p][6], _sqlite_dt(rows[p][0]), base + 1 + n) for n, p in enumerate(positions)],
        )
        cursor.execute(
            "SELECT event_id, event_pk FROM metrics_eventkey WHERE system_id = %s AND event_pk > %s",
            [system_id, base],
        )
        new = dict(cursor.fetchall())
        stored = []
        values = []
        for p in positions:
            ts, latency, prediction, score, label, error, event_id, numeric, categorical, cohort = rows[p]
            pk = new.get(event_id)
            if pk is None:
                continue
            values.append(
                (
                    pk,
                    _sqlite_dt(ts),
                    received,
                    system_id,
                    deployment_ids[p],
                    layout_ids[p],
                    latency,
                    prediction,
                    score,
                    label,
                    error,
                    event_id,
                    _json(numeric),
                    _json(categorical),
                    _json(cohort),
                )
            )
            stored.append(p)
        if values:
            cursor.executemany(
                f"INSERT INTO metrics_predictionevent ({_quoted(EVENT_COLUMNS)}) "
                f"VALUES ({', '.join(['%s'] * len(EVENT_COLUMNS))})",
                values,
            )
        return stored


# --- labels ----------------------------------------------------------------------------


def lookup_events(system_id: int, event_ids: Sequence[str]) -> dict[str, tuple]:
    """``{event_id: (event pk, ts, deployment_id, label)}`` for the system's known events."""
    found: dict[str, tuple] = {}
    if not event_ids:
        return found
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute(
                "SELECT k.event_id, e.id, e.ts, e.deployment_id, e.label "
                "FROM metrics_eventkey k JOIN metrics_predictionevent e ON e.id = k.event_pk AND e.ts = k.ts "
                "WHERE k.system_id = %s AND k.event_id = ANY(%s)",
                [system_id, list(event_ids)],
            )
            for event_id, pk, ts, deployment_id, label in cursor.fetchall():
                found[event_id] = (pk, ts, deployment_id, label)
        else:
            ids = list(event_ids)
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                cursor.execute(
                    "SELECT k.event_id, e.id, e.ts, e.deployment_id, e.label "
                    "FROM metrics_eventkey k JOIN metrics_predictionevent e ON e.id = k.event_pk "
                    f"WHERE k.system_id = %s AND k.event_id IN ({', '.join(['%s'] * len(chunk))})",
                    [system_id, *chunk],
                )
                for event_id, pk, ts, deployment_id, label in cursor.fetchall():
                    if isinstance(ts, str):
                        ts = datetime.fromisoformat(ts)
                    if ts.tzinfo is None:  # SQLite keeps UTC without an offset
                        ts = ts.replace(tzinfo=UTC)
                    found[event_id] = (pk, ts, deployment_id, label)
    return found


def update_labels(updates: Sequence[tuple[int, datetime, float, datetime]]) -> None:
    """``(event pk, event ts, label, label_ts)`` each; ``ts`` lets PostgreSQL prune partitions."""
    if not updates:
        return
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute(
                "UPDATE metrics_predictionevent e SET label = u.label, label_ts = u.label_ts "
                "FROM unnest(%s::int8[], %s::timestamptz[], %s::float8[], %s::timestamptz[]) "
                "AS u(id, ts, label, label_ts) WHERE e.id = u.id AND e.ts = u.ts",
                [
                    [u[0] for u in updates],
                    [u[1] for u in updates],
                    [u[2] for u in updates],
                    [u[3] for u in updates],
                ],
            )
        else:
            cursor.executemany(
                "UPDATE metrics_predictionevent SET label = %s, label_ts = %s WHERE id = %s",
                [(u[2], _sqlite_dt(u[3]), u[0]) for u in updates],
            )


# --- reference rows --------------------------------------------------------------------


def insert_reference_rows(reference_id: int, rows: Sequence[tuple]) -> int:
    """Append validated rows (same tuple as events) to a reference; return how many."""
    if not rows:
        return 0
    if is_postgres():
        with (
            psycopg.Cursor(connection.connection) as cursor,
            cursor.copy(
                f"COPY metrics_referencerow ({_quoted(REFERENCE_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(REFERENCE_TYPES)
            for ts, latency, prediction, score, label, error, event_id, numeric, categorical, cohort in rows:
                copy.write_row(
                    (
                        reference_id,
                        event_id or "",
                        ts,
                        latency,
                        error,
                        prediction,
                        score,
                        label,
                        numeric,
                        categorical,
                        cohort,
                    )
                )
    else:
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO metrics_referencerow ({_quoted(REFERENCE_COLUMNS)}) "
                f"VALUES ({', '.join(['%s'] * len(REFERENCE_COLUMNS))})",
                [
                    (
                        reference_id,
                        event_id or "",
                        _sqlite_dt(ts),
                        latency,
                        error,
                        prediction,
                        score,
                        label,
                        _json(numeric),
                        _json(categorical),
                        _json(cohort),
                    )
                    for ts, latency, prediction, score, label, error, event_id, numeric, categorical, cohort in rows
                ],
            )
    return len(rows)
