"""Service metrics (DESIGN.md §3.2), pure NumPy.

- ``latency_pXX_ms``: ``numpy.percentile(latency_ms, q, method="linear")`` over the window's
  events (NaNs dropped) when the window has fewer than ``EXACT_LIMIT`` (100,000) events and the
  raw values are at hand; otherwise from the window's merged :class:`LatencySketch` (≤ 1%
  relative error). ``details["method"]`` says which.
- ``error_rate``: events with ``error = true`` / all events.
- ``throughput_per_min``: events / window minutes.
- ``availability``: share of the window's 1-minute buckets whose success rate
  (1 - errors / events) is ≥ the SLO (param ``slo``, default 0.99); buckets without events
  count neither for nor against. Undefined (None) when no bucket has traffic.
- ``null_rate`` (per feature): null or missing values / events.
- ``data_freshness_s`` / ``label_freshness_s``: evaluation time minus the newest event (label)
  timestamp, in seconds; undefined when there is none.
- ``ingest_rejection_rate``: rejected / (accepted + rejected).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np

from .results import MetricResult
from .sketch import LatencySketch

__all__ = [
    "DEFAULT_SLO",
    "EXACT_LIMIT",
    "availability",
    "availability_from_minutes",
    "error_rate",
    "freshness_s",
    "ingest_rejection_rate",
    "latency_percentiles",
    "minute_buckets",
    "null_rate",
    "throughput_per_min",
]

EXACT_LIMIT = 100_000
DEFAULT_SLO = 0.99
NS_PER_MINUTE = 60 * 1_000_000_000


def latency_percentiles(
    values: Any = None,
    *,
    sketch: LatencySketch | None = None,
    percentiles: Iterable[float] = (50, 95, 99),
    exact_limit: int = EXACT_LIMIT,
) -> dict[float, MetricResult]:
    """Latency percentiles (q in 0…100): exact from raw values below ``exact_limit`` events,
    otherwise from ``sketch`` (built from ``values`` when no sketch is given)."""
    percentiles = [float(q) for q in percentiles]
    raw = None
    if values is not None:
        raw = np.asarray(values, dtype=np.float64).ravel()
        raw = raw[np.isfinite(raw)]
    n = raw.size if raw is not None else (sketch.count if sketch is not None else 0)
    if n == 0:
        return {q: MetricResult(None, 0, {"reason": "no events"}) for q in percentiles}
    if raw is not None and raw.size < exact_limit:
        exact = np.percentile(raw, percentiles, method="linear")
        return {
            q: MetricResult(float(v), n, {"method": "exact"}) for q, v in zip(percentiles, exact, strict=True)
        }
    if sketch is None:
        sketch = LatencySketch.from_values(raw)
    n = sketch.count
    values_q = sketch.quantiles([q / 100.0 for q in percentiles])
    details = {"method": "sketch", "relative_accuracy": sketch.relative_accuracy}
    return {q: MetricResult(v, n, details) for q, v in zip(percentiles, values_q, strict=True)}


def error_rate(errors: Any) -> MetricResult:
    """Share of events with ``error = true`` (raw boolean array)."""
    e = np.asarray(errors, dtype=bool).ravel()
    return error_rate_from_counts(int(e.sum()), int(e.size))


def error_rate_from_counts(error_count: int, count: int) -> MetricResult:
    if count == 0:
        return MetricResult(None, 0, {"reason": "no events", "errors": int(error_count)})
    return MetricResult(error_count / count, count, {"errors": int(error_count)})


def throughput_per_min(count: int, window_minutes: float) -> MetricResult:
    if window_minutes <= 0:
        raise ValueError("window_minutes must be positive")
    return MetricResult(
        count / window_minutes, count, {"events": int(count), "window_minutes": window_minutes}
    )


def _as_ns(timestamps: Any) -> np.ndarray:
    ts = np.asarray(timestamps)
    if np.issubdtype(ts.dtype, np.datetime64):
        return ts.astype("datetime64[ns]").view(np.int64)
    if ts.dtype == object:  # datetimes (aware → UTC)
        import pandas as pd

        return pd.to_datetime(ts, utc=True).as_unit("ns").asi8
    raise TypeError("timestamps must be datetime64 or datetime objects")


def minute_buckets(timestamps: Any, errors: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per non-empty UTC minute: (minute since the epoch, events, errors), sorted by minute."""
    minutes = _as_ns(timestamps) // NS_PER_MINUTE
    err = np.asarray(errors, dtype=bool).ravel()
    if minutes.size == 0:
        return (np.zeros(0, np.int64),) * 3
    keys, inverse = np.unique(minutes, return_inverse=True)
    counts = np.bincount(inverse, minlength=keys.size).astype(np.int64)
    errs = np.bincount(inverse, weights=err, minlength=keys.size).astype(np.int64)
    return keys.astype(np.int64), counts, errs


def availability_from_minutes(counts: Any, errors: Any, slo: float = DEFAULT_SLO) -> MetricResult:
    """Share of non-empty minute buckets whose success rate meets ``slo``."""
    counts = np.asarray(counts, dtype=np.int64)
    errors = np.asarray(errors, dtype=np.int64)
    active = counts > 0
    n_active = int(active.sum())
    events = int(counts.sum())
    if n_active == 0:
        return MetricResult(None, 0, {"reason": "no events", "slo": slo, "minutes": 0})
    # success = 1 - e/c >= slo  <=>  c - e >= slo * c (same float comparison as 1 - e/c)
    success = 1.0 - errors[active] / counts[active]
    good = int(np.count_nonzero(success >= slo))
    return MetricResult(
        good / n_active, events, {"slo": slo, "minutes": n_active, "minutes_meeting_slo": good}
    )


def availability(timestamps: Any, errors: Any, slo: float = DEFAULT_SLO) -> MetricResult:
    """Availability from raw event timestamps (UTC) and error flags."""
    _, counts, errs = minute_buckets(timestamps, errors)
    return availability_from_minutes(counts, errs, slo)


def null_rate(values: Any) -> MetricResult:
    """Nulls (NaN / None) / events for one feature's raw column."""
    import pandas as pd

    arr = np.asarray(values)
    nulls = int(pd.isna(arr).sum()) if arr.dtype == object else int(np.isnan(arr.astype(np.float64)).sum())
    return null_rate_from_counts(nulls, int(arr.size))


def null_rate_from_counts(nulls: int, count: int) -> MetricResult:
    if count == 0:
        return MetricResult(None, 0, {"reason": "no events", "nulls": int(nulls)})
    return MetricResult(nulls / count, count, {"nulls": int(nulls)})


def freshness_s(now: datetime, newest: datetime | None, *, what: str = "event") -> MetricResult:
    """Seconds from the newest event (label) to ``now``; undefined when there is none."""
    if newest is None:
        return MetricResult(None, 0, {"reason": f"no {what} yet"})
    return MetricResult((now - newest).total_seconds(), 1, {f"newest_{what}_at": newest.isoformat()})


def ingest_rejection_rate(accepted: int, rejected: int) -> MetricResult:
    total = int(accepted) + int(rejected)
    if total == 0:
        return MetricResult(None, 0, {"reason": "no records", "accepted": 0, "rejected": 0})
    return MetricResult(rejected / total, total, {"accepted": int(accepted), "rejected": int(rejected)})
