"""Reading raw events (and reference rows) of one deployment window as NumPy columns.

Only the columns asked for are read. On PostgreSQL the fixed-width columns (timestamps, core
floats, numeric features picked out of the ``numeric`` array by name) come through one
``COPY (SELECT …) TO STDOUT (FORMAT BINARY)`` whose rows all have the same width — nulls are
sent as NaN / ``-infinity`` — so the whole stream is parsed by ``numpy.frombuffer`` with one
structured dtype, without a Python object per value. Text columns (categorical features,
cohort values) are fetched by a second query with the event ids and aligned on them. On
SQLite (the embedded demo database) one query reads the rows and decodes the JSON arrays.

Events keep the feature layout they were validated with (``FeatureLayout``): every stored
array is mapped onto the model's *current* features by name; a feature the event's layout did
not have is null.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import psycopg
from django.db import connection

__all__ = ["Columns", "ConcurrentChange", "Layout", "read_events", "read_reference"]


class ConcurrentChange(RuntimeError):
    """Rows changed between the two reads of one window (a transient race: retry)."""


CORE = ("ts", "latency_ms", "error", "prediction", "score", "label", "label_ts")
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970-01-01
_NAT = np.iinfo(np.int64).min  # PostgreSQL's binary -infinity, and our "no timestamp"


@dataclass(frozen=True)
class Layout:
    """Where each feature sits in the stored arrays of one layout (names in array order)."""

    id: int
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    cohorts: tuple[str, ...]


@dataclass
class Columns:
    """Columns of the rows read; floats use NaN for null, text uses None, times are int64 ns
    since the epoch (UTC) with ``NAT`` for null."""

    n: int
    ts: np.ndarray | None = None
    latency_ms: np.ndarray | None = None
    error: np.ndarray | None = None
    prediction: np.ndarray | None = None
    score: np.ndarray | None = None
    label: np.ndarray | None = None
    label_ts: np.ndarray | None = None  # the label's time (label_ts, or ts for inline labels)
    numeric: dict[str, np.ndarray] = field(default_factory=dict)
    categorical: dict[str, np.ndarray] = field(default_factory=dict)
    cohorts: dict[str, np.ndarray] = field(default_factory=dict)

    NAT = _NAT

    def take(self, mask: np.ndarray) -> Columns:
        """The rows where ``mask`` is true."""

        def sub(a):
            return None if a is None else a[mask]

        return Columns(
            int(mask.sum()),
            *(sub(getattr(self, name)) for name in CORE),
            numeric={k: v[mask] for k, v in self.numeric.items()},
            categorical={k: v[mask] for k, v in self.categorical.items()},
            cohorts={k: v[mask] for k, v in self.cohorts.items()},
        )

    def newest(self, name: str) -> datetime | None:
        values = getattr(self, name)
        if values is None or values.size == 0:
            return None
        top = int(values.max())
        if top == _NAT:
            return None
        return datetime.fromtimestamp(top // 1_000_000_000, UTC).replace(
            microsecond=(top // 1000) % 1_000_000
        )


# --- PostgreSQL ------------------------------------------------------------------------------

_PG_CORE = {
    # name: (SQL expression, numpy big-endian type); fixed width, nulls as NaN / -infinity
    "ts": ("COALESCE(ts, '-infinity'::timestamptz)", ">i8"),
    "latency_ms": ("COALESCE(latency_ms, 'NaN'::float8)", ">f8"),
    "error": ("error", "?"),
    "prediction": ("COALESCE(prediction, 'NaN'::float8)", ">f8"),
    "score": ("COALESCE(score, 'NaN'::float8)", ">f8"),
    "label": ("COALESCE(label, 'NaN'::float8)", ">f8"),
    "label_ts": (
        "COALESCE(label_ts, CASE WHEN label IS NOT NULL THEN ts END, '-infinity'::timestamptz)",
        ">i8",
    ),
}


@dataclass(frozen=True)
class _Source:
    table: str
    where: str
    params: list
    layouts: Sequence[Layout]
    layout_sql: str  # the column naming each row's layout ("layout_id"), or a constant
    core: tuple[str, ...]


def _array_item(
    name: str, layouts: Sequence[Layout], attr: str, layout_sql: str, column: str = "numeric"
) -> str | None:
    """SQL picking feature ``name`` out of the array ``column`` for every layout (1-based)."""
    positions = {}
    for layout in layouts:
        names = getattr(layout, attr)
        if name in names:
            positions[layout.id] = names.index(name) + 1
    if not positions:
        return None
    if len(set(positions.values())) == 1 and len(positions) == len(layouts):
        return f'"{column}"[{next(iter(positions.values()))}]'
    cases = " ".join(f'WHEN {lid} THEN "{column}"[{pos}]' for lid, pos in sorted(positions.items()))
    return f"(CASE {layout_sql} {cases} END)"


def _to_ns_from_pg(us: np.ndarray) -> np.ndarray:
    us = us.astype(np.int64)
    return np.where(us == _NAT, _NAT, (us + _PG_EPOCH_US) * 1000)


def _parse_binary_copy(buf: bytes, dtype: np.dtype) -> np.ndarray:
    if len(buf) < 21 or buf[:11] != b"PGCOPY\n\xff\r\n\x00":
        raise ValueError("not a PostgreSQL binary COPY stream")
    ext = int.from_bytes(buf[15:19], "big")
    offset = 19 + ext
    body = len(buf) - offset - 2  # the trailer is int16 -1
    if body % dtype.itemsize:
        raise ValueError("binary COPY rows are not of fixed width")
    return np.frombuffer(buf, dtype=dtype, count=body // dtype.itemsize, offset=offset)


def _read_pg(src: _Source, numeric: Sequence[str], text: Sequence[tuple[str, str, str]]) -> Columns:
    select = ["id"]
    fields = [("id", ">i8")]
    for name in src.core:
        expr, kind = _PG_CORE[name]
        select.append(expr)
        fields.append((name, kind))
    picked = []
    for i, name in enumerate(numeric):
        expr = _array_item(name, src.layouts, "numeric", src.layout_sql)
        if expr is not None:
            select.append(f"COALESCE({expr}, 'NaN'::float8)")
            fields.append((f"n{i}", ">f8"))
            picked.append(i)
    parts = [("count", ">i2")]
    for name, kind in fields:
        parts += [(f"len_{name}", ">i4"), (name, kind)]
    dtype = np.dtype(parts)
    sql = f"COPY (SELECT {', '.join(select)} FROM {src.table} WHERE {src.where}) TO STDOUT (FORMAT BINARY)"
    with psycopg.Cursor(connection.connection) as cursor, cursor.copy(sql, src.params) as copy:
        buf = b"".join(bytes(chunk) for chunk in copy)
    rows = _parse_binary_copy(buf, dtype)
    rows = rows[np.argsort(rows["id"], kind="stable")]
    out = Columns(int(rows.size))
    for name in src.core:
        values = rows[name]
        if name in ("ts", "label_ts"):
            values = _to_ns_from_pg(values)
        elif name == "error":
            values = values.astype(bool)
        else:
            values = values.astype(np.float64)
        setattr(out, name, values)
    for i, name in enumerate(numeric):
        out.numeric[name] = rows[f"n{i}"].astype(np.float64) if i in picked else np.full(out.n, np.nan)
    if text:
        _read_pg_text(src, text, out, rows["id"].astype(np.int64))
    return out


_NULL = "\\N"


def _read_pg_text(src: _Source, text: Sequence[tuple[str, str, str]], out: Columns, ids: np.ndarray) -> None:
    """Text columns, one scalar per feature / cohort attribute, through ``COPY … (FORMAT CSV)``
    parsed by pandas' C reader (no Python object per row on our side), aligned on the ids."""
    import io

    import pandas as pd

    select, names = ["id"], ["id"]
    for i, (_target, column, name) in enumerate(text):
        attr = "categorical" if column == "categorical" else "cohorts"
        expr = _array_item(name, src.layouts, attr, src.layout_sql, column=column)
        select.append(expr if expr is not None else "NULL::text")
        names.append(f"t{i}")
    sql = (
        f"COPY (SELECT {', '.join(select)} FROM {src.table} WHERE {src.where}) "
        f"TO STDOUT (FORMAT CSV, NULL '{_NULL}')"
    )
    with psycopg.Cursor(connection.connection) as cursor, cursor.copy(sql, src.params) as copy:
        buf = b"".join(bytes(chunk) for chunk in copy)
    if not buf:
        if ids.size:
            raise ConcurrentChange("rows changed between the two reads of one window; retry")
        for target, _column, name in text:
            getattr(out, target)[name] = np.empty(0, dtype=object)
        return
    frame = pd.read_csv(
        io.BytesIO(buf),
        header=None,
        names=names,
        dtype={name: (np.int64 if name == "id" else object) for name in names},
        keep_default_na=False,
        na_values={name: [_NULL] for name in names[1:]},
        engine="c",
    )
    order = np.argsort(frame["id"].to_numpy(), kind="stable")
    if frame.shape[0] != ids.size or not np.array_equal(frame["id"].to_numpy()[order], ids):
        raise ConcurrentChange("rows changed between the two reads of one window; retry")
    for i, (target, _column, name) in enumerate(text):
        values = frame[f"t{i}"].to_numpy(dtype=object)[order]
        values[pd.isna(values)] = None
        getattr(out, target)[name] = values


# --- SQLite ------------------------------------------------------------------------------------


def _decode(value):
    if value is None or isinstance(value, list):
        return value or []
    return json.loads(value)


def _sqlite_ns(values: list) -> np.ndarray:
    import pandas as pd

    if not values:
        return np.zeros(0, dtype=np.int64)
    parsed = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
    ns = parsed.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").view(np.int64).copy()
    ns[parsed.isna().to_numpy()] = _NAT
    return ns


_SQLITE_CORE = ("ts", "latency_ms", "error", "prediction", "score", "label")


def _read_sqlite(src: _Source, numeric: Sequence[str], text: Sequence[tuple[str, str, str]]) -> Columns:
    label_ts = "label_ts" if "label_ts" in src.core else "NULL"
    sql = (
        f"SELECT id, {', '.join(_SQLITE_CORE)}, {label_ts}, {src.layout_sql}, "
        f'"numeric", categorical, cohort FROM {src.table} WHERE {src.where} ORDER BY id'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, src.params)
        rows = cursor.fetchall()
    n = len(rows)
    out = Columns(n)
    for name in src.core:
        if name == "ts":
            out.ts = _sqlite_ns([r[1] for r in rows])
        elif name == "label_ts":
            out.label_ts = _sqlite_ns(
                [r[7] if r[7] is not None else (r[1] if r[6] is not None else None) for r in rows]
            )
        elif name == "error":
            out.error = np.array([bool(r[3]) for r in rows], dtype=bool)
        else:
            i = 1 + _SQLITE_CORE.index(name)
            out_values = np.array([np.nan if r[i] is None else r[i] for r in rows], dtype=np.float64)
            setattr(out, name, out_values)
    by_layout = {layout.id: layout for layout in src.layouts}
    groups: dict = {}
    for i, r in enumerate(rows):
        groups.setdefault(r[8], []).append(i)
    for name in numeric:
        out.numeric[name] = np.full(n, np.nan)
    if numeric:
        for layout_id, positions in groups.items():
            layout = by_layout.get(layout_id)
            if layout is None:
                continue
            wanted = [(name, layout.numeric.index(name)) for name in numeric if name in layout.numeric]
            if not wanted:
                continue
            width = len(layout.numeric)
            matrix = np.full((len(positions), width), np.nan)
            for k, i in enumerate(positions):
                values = _decode(rows[i][9])[:width]
                matrix[k, : len(values)] = [np.nan if v is None else v for v in values]
            idx = np.array(positions)
            for name, j in wanted:
                out.numeric[name][idx] = matrix[:, j]
    if text:
        fetched = [(r[0], r[8], r[10], r[11]) for r in rows]
        _fill_text(out, fetched, ["categorical", "cohort"], text, src.layouts)
    return out


def _fill_text(out: Columns, fetched, columns, text, layouts) -> None:
    """``fetched`` rows are ``(id, layout id, *columns)`` in the order of ``out``."""
    n = len(fetched)
    by_layout = {layout.id: layout for layout in layouts}
    groups: dict = {}
    for i, r in enumerate(fetched):
        groups.setdefault(r[1], []).append(i)
    for target, column, name in text:
        dest = np.full(n, None, dtype=object)
        at = 2 + columns.index(column)
        attr = "categorical" if column == "categorical" else "cohorts"
        for layout_id, positions in groups.items():
            layout = by_layout.get(layout_id)
            names = getattr(layout, attr) if layout is not None else ()
            if name not in names:
                continue
            j = names.index(name)
            values = []
            for i in positions:
                arr = _decode(fetched[i][at])
                values.append(arr[j] if j < len(arr) else None)
            dest[np.array(positions)] = values
        getattr(out, target)[name] = dest


# --- entry points --------------------------------------------------------------------------------


def _params(values: Iterable) -> list:
    if connection.vendor == "sqlite":
        return [connection.ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v for v in values]
    return list(values)


def _read(src: _Source, numeric, categorical, cohorts) -> Columns:
    text = [("categorical", "categorical", name) for name in categorical]
    text += [("cohorts", "cohort", name) for name in cohorts]
    reader = _read_pg if connection.vendor == "postgresql" else _read_sqlite
    return reader(src, list(numeric), text)


def read_events(
    deployment_id: int,
    start: datetime,
    end: datetime,
    *,
    layouts: Sequence[Layout],
    core: Sequence[str] = CORE,
    numeric: Sequence[str] = (),
    categorical: Sequence[str] = (),
    cohorts: Sequence[str] = (),
) -> Columns:
    """The deployment's events with ``start <= ts < end``, the columns asked for, in id order."""
    src = _Source(
        "metrics_predictionevent",
        "deployment_id = %s AND ts >= %s AND ts < %s",
        _params([deployment_id, start, end]),
        tuple(layouts),
        "layout_id",
        tuple(core),
    )
    return _read(src, numeric, categorical, cohorts)


def first_event_ts(deployment_id: int, start: datetime, end: datetime) -> datetime | None:
    """The earliest event timestamp of the deployment in ``[start, end)``, or None."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MIN(ts) FROM metrics_predictionevent WHERE deployment_id = %s AND ts >= %s AND ts < %s",
            _params([deployment_id, start, end]),
        )
        value = cursor.fetchone()[0]
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


REFERENCE_CORE = ("latency_ms", "error", "prediction", "score", "label")


def read_reference(
    reference,
    *,
    numeric: Sequence[str] = (),
    categorical: Sequence[str] = (),
    cohorts: Sequence[str] = (),
) -> Columns:
    """Every row of a ``ReferenceDataset``, features mapped by name from its own layout."""
    layout = reference_layout(reference)
    src = _Source("metrics_referencerow", "reference_id = %s", [reference.pk], (layout,), "0", REFERENCE_CORE)
    return _read(src, numeric, categorical, cohorts)


def layouts_of(model_id: int) -> list[Layout]:
    from metrics.models import FeatureLayout

    return [
        Layout(row.id, tuple(row.numeric), tuple(row.categorical), tuple(row.cohorts))
        for row in FeatureLayout.objects.filter(model_id=model_id).order_by("id")
    ]


def reference_layout(reference) -> Layout:
    """A reference's rows all share its layout; it is given the id 0."""
    return Layout(
        0,
        tuple(reference.numeric_features),
        tuple(reference.categorical_features),
        tuple(reference.cohort_attributes),
    )
