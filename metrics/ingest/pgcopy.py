"""PostgreSQL binary COPY encoding of raw-event rows, by hand.

psycopg's ``write_row`` dumps array values with pure-Python dumpers; for rows with three
array columns that was the single largest cost of ingestion (profiled: more than parsing
and validating). This encoder writes the documented binary format directly with a handful of
``struct`` calls per row. Format (PostgreSQL docs, "COPY … Binary Format"):

* header ``PGCOPY\\n\\377\\r\\n\\0``, int32 flags, int32 extension length; trailer int16 -1;
* per row: int16 field count, then per field int32 length (-1 = NULL) and the value;
* int8: 8 bytes; float8: IEEE-754 big-endian; bool: 1 byte; text: UTF-8;
* timestamptz: int64 microseconds since 2000-01-01 00:00:00 UTC;
* 1-D array: int32 ndim, int32 has-null flag, int32 element OID, int32 length, int32 lower
  bound (1), then each element as length + value (an empty array: ndim 0, no dimensions).

``tests/test_ingest_store.py`` checks every column round-trips through PostgreSQL.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
NULL = struct.pack(">i", -1)
TRUE = struct.pack(">ib", 1, 1)
FALSE = struct.pack(">ib", 1, 0)
FLOAT8_OID = 701
TEXT_OID = 25
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)

_i = struct.Struct(">i").pack
_h = struct.Struct(">h").pack
_iq = struct.Struct(">iq").pack
_id = struct.Struct(">id").pack
_array_head = struct.Struct(">iiiiii").pack  # field length, ndim, has_null, oid, dim, lower bound
EMPTY_FLOAT_ARRAY = struct.pack(">iiii", 12, 0, 0, FLOAT8_OID)
EMPTY_TEXT_ARRAY = struct.pack(">iiii", 12, 0, 0, TEXT_OID)

_float_arrays: dict[int, tuple[struct.Struct, list]] = {}


def microseconds(moment: datetime) -> int:
    """A timestamptz value: microseconds since 2000-01-01 UTC (exact integer arithmetic)."""
    return (moment - PG_EPOCH) // ONE_US


def int8(value: int) -> bytes:
    return _iq(8, value)


def float8(value: float | None) -> bytes:
    return NULL if value is None else _id(8, value)


def timestamptz(value: datetime | None) -> bytes:
    return NULL if value is None else _iq(8, (value - PG_EPOCH) // ONE_US)


def text(value: str | None) -> bytes:
    if value is None:
        return NULL
    data = value.encode()
    return _i(len(data)) + data


def float_array(values: list) -> bytes:
    n = len(values)
    if not n:
        return EMPTY_FLOAT_ARRAY
    if None not in values:
        cached = _float_arrays.get(n)
        if cached is None:
            cached = _float_arrays[n] = (struct.Struct(">iiiiii" + "id" * n), [8] * (2 * n))
        packer, template = cached
        args = template[:]
        args[1::2] = values
        return packer.pack(20 + 12 * n, 1, 0, FLOAT8_OID, n, 1, *args)
    body = b"".join(NULL if v is None else _id(8, v) for v in values)
    return _array_head(20 + len(body), 1, 1, FLOAT8_OID, n, 1) + body


_text_arrays: dict[tuple, bytes] = {}
TEXT_ARRAY_CACHE_SIZE = 50_000


def cached_text_array(values: list) -> bytes:
    """``text_array`` memoised on the values: categories and cohorts repeat a lot."""
    key = tuple(values)
    encoded = _text_arrays.get(key)
    if encoded is None:
        if len(_text_arrays) >= TEXT_ARRAY_CACHE_SIZE:
            _text_arrays.clear()
        encoded = _text_arrays[key] = text_array(values)
    return encoded


def text_array(values: list) -> bytes:
    n = len(values)
    if not n:
        return EMPTY_TEXT_ARRAY
    has_null = 0
    parts = []
    for v in values:
        if v is None:
            has_null = 1
            parts.append(NULL)
        else:
            data = v.encode()
            parts.append(_i(len(data)) + data)
    body = b"".join(parts)
    return _array_head(20 + len(body), 1, has_null, TEXT_OID, n, 1) + body


_scalar_structs: dict[tuple, struct.Struct] = {}


def _scalars(latency, prediction, score, label) -> tuple[struct.Struct, list]:
    """One ``struct`` for the 15-field row prefix up to ``error``, per null pattern."""
    key = (latency is None, prediction is None, score is None, label is None)
    packer = _scalar_structs.get(key)
    if packer is None:
        fmt = ">h" + "iq" * 6 + "".join("i" if null else "id" for null in key) + "ib"
        packer = _scalar_structs[key] = struct.Struct(fmt)
    return packer


_usual = _scalars(0.0, 0.0, 0.0, None).pack


def encode_events(
    rows,
    positions,
    pks: dict,
    *,
    received_at: datetime,
    system_id: int,
    deployment_ids,
    layout_ids,
) -> tuple[bytes, list[int]]:
    """The COPY payload for ``store.EVENT_COLUMNS`` and the positions it contains.

    Only rows whose event_id is in ``pks`` (new keys) are written, with that id.
    """
    received = microseconds(received_at)
    out = [HEADER]
    append = out.append
    written = []
    written_append = written.append
    get = pks.get
    join = b"".join
    text_arr = cached_text_array
    float_arr = float_array
    for p in positions:
        ts, latency, prediction, score, label, error, event_id, numeric, categorical, cohort = rows[p]
        pk = get(event_id)
        if pk is None:
            continue
        if label is None and latency is not None and prediction is not None and score is not None:
            # the usual shape at ingest time (no label yet): one precompiled struct
            head = _usual(
                15, 8, pk, 8, (ts - PG_EPOCH) // ONE_US, 8, received, 8, system_id,
                8, deployment_ids[p], 8, layout_ids[p],
                8, latency, 8, prediction, 8, score, -1, 1, 1 if error else 0,
            )  # fmt: skip
        else:
            args = [15, 8, pk, 8, (ts - PG_EPOCH) // ONE_US, 8, received, 8, system_id]
            args += (8, deployment_ids[p], 8, layout_ids[p])
            for value in (latency, prediction, score, label):
                if value is None:
                    args.append(-1)
                else:
                    args += (8, value)
            args += (1, 1 if error else 0)
            head = _scalars(latency, prediction, score, label).pack(*args)
        eid = event_id.encode()
        append(
            join(
                (
                    head,
                    _i(len(eid)),
                    eid,
                    float_arr(numeric),
                    text_arr(categorical),
                    text_arr(cohort),
                )
            )
        )
        written_append(p)
    append(TRAILER)
    return join(out), written


TIMESTAMPTZ_OID = 1184


def key_arrays(rows, positions) -> tuple[bytes, bytes]:
    """Binary ``text[]`` of event ids and ``timestamptz[]`` of their timestamps, as query
    parameters (sent pre-encoded: see ``store.PreEncoded``)."""
    n = len(positions)
    ids = []
    stamps = []
    ids_append = ids.append
    stamps_append = stamps.append
    for p in positions:
        row = rows[p]
        eid = row[6].encode()
        ids_append(_i(len(eid)))
        ids_append(eid)
        stamps_append((row[0] - PG_EPOCH) // ONE_US)
    head = struct.pack(">iiiii", 1, 0, TEXT_OID, n, 1)
    id_array = head + b"".join(ids)
    stamp_array = struct.pack(">iiiii", 1, 0, TIMESTAMPTZ_OID, n, 1) + struct.pack(
        ">" + "iq" * n, *[x for us in stamps for x in (8, us)]
    )
    return id_array, stamp_array
