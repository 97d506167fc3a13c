"""A mergeable latency quantile sketch: DDSketch's logarithmic mapping on a NumPy histogram.

With relative accuracy ``alpha`` (default 0.01) and ``gamma = (1 + alpha) / (1 - alpha)``, a positive value
``x`` goes to bucket ``i = ceil(ln x / ln gamma)``, which covers ``(gamma^(i-1), gamma^i]``; the bucket is
represented by ``2 gamma^i / (gamma + 1)``, within ``alpha`` (relative) of every value in it. Values below
``MIN_VALUE`` (1e-6, i.e. a nanosecond when the unit is ms) — including 0 — are counted in a
zero bucket represented by 0; NaN / ±inf are not counted. Building is one vectorised ``log`` + ``bincount``; merging is
array addition (deterministic and exact).

Quantiles use the rank of ``numpy.percentile(x, q, method="linear")``: ``h = q · (n - 1)``;
the order statistics at ``floor(h)`` and ``ceil(h)`` are each read from their bucket and
interpolated with the same fraction. Each representative is within ``alpha`` of its order
statistic, so the interpolated value is within ``alpha`` of numpy's exact answer (values ≥ 0).
Results are clamped to the exact ``[min, max]`` that the sketch also tracks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["DEFAULT_RELATIVE_ACCURACY", "MIN_VALUE", "LatencySketch", "sketch_index"]

DEFAULT_RELATIVE_ACCURACY = 0.01
MIN_VALUE = 1e-6
_EMPTY = np.zeros(0, dtype=np.int64)


def _gamma(relative_accuracy: float) -> float:
    return (1 + relative_accuracy) / (1 - relative_accuracy)


def sketch_index(values: np.ndarray, relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY) -> np.ndarray:
    """Bucket index of each value (int64); values < MIN_VALUE (and NaN) get the sentinel
    ``numpy.iinfo(int64).min`` meaning "zero bucket" / "not counted" — callers mask them."""
    x = np.asarray(values, dtype=np.float64)
    idx = np.full(x.shape, np.iinfo(np.int64).min, dtype=np.int64)
    positive = np.isfinite(x) & (x >= MIN_VALUE)
    idx[positive] = np.ceil(np.log(x[positive]) / math.log(_gamma(relative_accuracy))).astype(np.int64)
    return idx


@dataclass(frozen=True, eq=False)
class LatencySketch:
    """Counts per log bucket, from bucket ``offset`` on, plus a zero bucket and min / max."""

    relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY
    offset: int = 0
    counts: np.ndarray = field(default_factory=lambda: _EMPTY)
    zero_count: int = 0
    min: float | None = None
    max: float | None = None

    # --- building ------------------------------------------------------------------------

    @classmethod
    def from_values(
        cls, values: Iterable[float], relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY
    ) -> LatencySketch:
        x = np.asarray(values, dtype=np.float64).ravel()
        x = x[np.isfinite(x)]
        if x.size == 0:
            return cls(relative_accuracy)
        idx = sketch_index(x, relative_accuracy)
        positive = x >= MIN_VALUE
        zero_count = int(x.size - np.count_nonzero(positive))
        pos_idx = idx[positive]
        if pos_idx.size == 0:
            return cls(relative_accuracy, 0, _EMPTY, zero_count, float(x.min()), float(x.max()))
        lo = int(pos_idx.min())
        counts = np.bincount(pos_idx - lo).astype(np.int64)
        return cls(relative_accuracy, lo, counts, zero_count, float(x.min()), float(x.max()))

    # --- properties ----------------------------------------------------------------------

    @property
    def count(self) -> int:
        return int(self.counts.sum()) + int(self.zero_count)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatencySketch):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    # --- merging -------------------------------------------------------------------------

    def merge(self, *others: LatencySketch) -> LatencySketch:
        return LatencySketch.merge_all([self, *others])

    @staticmethod
    def merge_all(sketches: Iterable[LatencySketch]) -> LatencySketch:
        sketches = list(sketches)
        if not sketches:
            return LatencySketch()
        alpha = sketches[0].relative_accuracy
        if any(s.relative_accuracy != alpha for s in sketches):
            raise ValueError("cannot merge sketches with different relative accuracy")
        nonempty = [s for s in sketches if s.counts.size]
        zero = sum(int(s.zero_count) for s in sketches)
        mins = [s.min for s in sketches if s.min is not None]
        maxs = [s.max for s in sketches if s.max is not None]
        lo_v = min(mins) if mins else None
        hi_v = max(maxs) if maxs else None
        if not nonempty:
            return LatencySketch(alpha, 0, _EMPTY, zero, lo_v, hi_v)
        lo = min(s.offset for s in nonempty)
        hi = max(s.offset + s.counts.size for s in nonempty)
        counts = np.zeros(hi - lo, dtype=np.int64)
        for s in nonempty:
            counts[s.offset - lo : s.offset - lo + s.counts.size] += s.counts
        return LatencySketch(alpha, lo, counts, zero, lo_v, hi_v)

    # --- queries -------------------------------------------------------------------------

    def _value_at_ranks(self, ranks: np.ndarray) -> np.ndarray:
        gamma = _gamma(self.relative_accuracy)
        cumulative = np.cumsum(self.counts)
        out = np.zeros(ranks.shape, dtype=np.float64)
        in_log = ranks >= self.zero_count
        if in_log.any():
            k = ranks[in_log] - self.zero_count
            bucket = np.searchsorted(cumulative, k, side="right")  # first bucket with cum > k
            out[in_log] = 2.0 * np.power(gamma, bucket + self.offset) / (gamma + 1.0)
        return out

    def quantiles(self, qs: Iterable[float]) -> list[float | None]:
        """Quantiles for ``q`` in [0, 1] (numpy's linear rank, see the module docstring)."""
        qs = np.asarray(list(qs), dtype=np.float64)
        n = self.count
        if n == 0:
            return [None] * qs.size
        h = qs * (n - 1)
        lo = np.floor(h).astype(np.int64)
        hi = np.ceil(h).astype(np.int64)
        frac = h - lo
        v_lo = self._value_at_ranks(lo)
        v_hi = self._value_at_ranks(hi)
        values = v_lo + frac * (v_hi - v_lo)
        if self.min is not None and self.max is not None:
            values = np.clip(values, self.min, self.max)
        return [float(v) for v in values]

    def quantile(self, q: float) -> float | None:
        return self.quantiles([q])[0]

    # --- serialisation -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        counts = self.counts
        if counts.size:  # store only the span between the first and last non-empty bucket
            nz = np.flatnonzero(counts)
            if nz.size == 0:
                counts, offset = _EMPTY, 0
            else:
                offset = self.offset + int(nz[0])
                counts = counts[nz[0] : nz[-1] + 1]
        else:
            offset = 0
        return {
            "relative_accuracy": self.relative_accuracy,
            "offset": int(offset),
            "counts": [int(c) for c in counts],
            "zero_count": int(self.zero_count),
            "min": None if self.min is None else float(self.min),
            "max": None if self.max is None else float(self.max),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LatencySketch:
        return cls(
            float(data.get("relative_accuracy", DEFAULT_RELATIVE_ACCURACY)),
            int(data.get("offset", 0)),
            np.asarray(data.get("counts", []), dtype=np.int64),
            int(data.get("zero_count", 0)),
            None if data.get("min") is None else float(data["min"]),
            None if data.get("max") is None else float(data["max"]),
        )
