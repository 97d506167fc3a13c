"""Mergeable window profiles (DESIGN.md §2.1): the roll-up of raw events, as pure data.

A :class:`WindowProfile` summarises the events of one deployment in one time bucket (5 minutes
by default) for one segment — all traffic (segment ``""``) or one cohort value (segment
``"attr=value"``). Profiles of the same segment merge by addition, so a 1-hour or 1-day
window is :func:`merge` of its 5-minute profiles, and every count-based metric computed from
the merged profile equals the same metric computed on the raw rows of the window: PSI, JS,
chi-square p, counts, error rate, availability, null rate exactly; accuracy / precision /
recall / F1 / fairness exactly (integer confusion counts); MAE / RMSE / calibration error to
floating-point summation order. KS, Wasserstein, ROC AUC and exact percentiles need raw values.

:func:`build_profiles` rolls up a whole batch of events in one vectorised pass: it groups by
(bucket, segment) for all traffic and every cohort attribute at once. Binning uses a
:class:`ProfileSpec` derived once from the reference data (decile edges per numeric feature,
edges of the score and prediction for prediction drift), which is what makes profiles of
different buckets comparable and mergeable. The reference itself is profiled with the same
function (``timestamps=None``: one profile per segment, no window).

Profile format, version 1 (``WindowProfile.to_dict()``; JSON-able; a public contract — a
client may send profiles instead of raw events; any incompatible change bumps
``format_version``)::

    {
      "format_version": 1,
      "segment": "" | "attr=value",
      "window_start": "2026-11-20T10:00:00+00:00" | null,   # UTC, half-open [start, end)
      "window_end":   "2026-11-20T10:05:00+00:00" | null,
      "task": "binary_classification" | "regression",
      "positive_label": 1.0 | null,
      "count": 1234,                       # events
      "error_count": 3,                    # events with error = true
      "minutes": {"minute": [29371680, …],  # non-empty UTC minutes (minutes since the epoch)
                  "count":  [250, …], "errors": [1, …]},
      "latency": {"relative_accuracy": 0.01,   # DDSketch log mapping, see sketch.py
                  "offset": 120, "counts": [3, 0, 7, …], "zero_count": 0,
                  "min": 1.2, "max": 950.0},
      "numeric": {"income": {"edges": [e1 … ek],       # reference deciles, duplicates dropped
                             "counts": [c0 … ck],      # k+1 right-open bins, outer bins open
                             "nulls": 0,               # null / missing values
                             "sum": 1.0e6, "sum_sq": 3.1e10,
                             "min": 120.0, "max": 98000.0}},   # null when no values
      "categorical": {"region": {"counts": {"eu": 700, "us": 534}, "nulls": 0}},
      "outputs": {"score": {…numeric summary…}, "prediction": {…}},  # for prediction drift
      "outcomes": {
        "predicted": 1234, "predicted_positive": 400,   # events with a prediction
        "labelled": 300, "label_positive": 90,          # events with a label
        "tp": 80, "fp": 20, "fn": 10, "tn": 190,        # events with both (binary task; 0 for regression)
        "regression": {"n": 0, "abs_error_sum": 0.0, "sq_error_sum": 0.0},   # regression task
        "calibration": {"count": [10 ints], "score_sum": [10 floats], "positives": [10 ints]}
      }
    }

Merging rules: counts, sums and sketches add; min / max take the min / max; minutes add per
minute; the window is the union ``[min start, max end)``. Only profiles of the same segment,
task and bin edges merge (a ``ValueError`` otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from . import drift
from .fairness import GroupCounts
from .quality import CALIBRATION_BINS, CalibrationBins, ConfusionCounts, RegressionSums
from .sketch import DEFAULT_RELATIVE_ACCURACY, MIN_VALUE, LatencySketch, sketch_index

__all__ = [
    "BUCKET_SECONDS",
    "FORMAT_VERSION",
    "CategoricalSummary",
    "MinuteCounts",
    "NumericSummary",
    "Outcomes",
    "ProfileSpec",
    "WindowProfile",
    "build_profiles",
    "group_counts_from_profiles",
    "merge",
    "segment_key",
]

FORMAT_VERSION = 1
BUCKET_SECONDS = 300
BINARY = "binary_classification"
REGRESSION = "regression"
TASKS = (BINARY, REGRESSION)
_NS = 1_000_000_000
_I64 = np.int64


def segment_key(attribute: str, value: Any) -> str:
    """The segment string of a cohort value, ``"attr=value"`` (all traffic is ``""``)."""
    return f"{attribute}={value}"


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(UTC).isoformat()


def _parse_dt(value: str | None) -> datetime | None:
    if value is None:
        return None
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _opt_float(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if not np.isfinite(x) else x


# --- summaries -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class NumericSummary:
    """One numeric column in one profile: histogram over the reference edges, nulls, moments."""

    edges: np.ndarray
    counts: np.ndarray
    nulls: int = 0
    sum: float = 0.0
    sum_sq: float = 0.0
    min: float | None = None
    max: float | None = None

    @property
    def count(self) -> int:
        """Non-null values."""
        return int(self.counts.sum())

    def __add__(self, other: NumericSummary) -> NumericSummary:
        if not np.array_equal(self.edges, other.edges):
            raise ValueError("cannot merge histograms over different bin edges")
        mins = [v for v in (self.min, other.min) if v is not None]
        maxs = [v for v in (self.max, other.max) if v is not None]
        return NumericSummary(
            self.edges,
            self.counts + other.counts,
            self.nulls + other.nulls,
            self.sum + other.sum,
            self.sum_sq + other.sum_sq,
            min(mins) if mins else None,
            max(maxs) if maxs else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges": [float(e) for e in self.edges],
            "counts": [int(c) for c in self.counts],
            "nulls": int(self.nulls),
            "sum": float(self.sum),
            "sum_sq": float(self.sum_sq),
            "min": _opt_float(self.min),
            "max": _opt_float(self.max),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericSummary:
        edges = np.asarray(data["edges"], dtype=np.float64)
        counts = np.asarray(data["counts"], dtype=_I64)
        if counts.size != edges.size + 1:
            raise ValueError("a numeric summary needs len(counts) == len(edges) + 1")
        return cls(
            edges,
            counts,
            int(data.get("nulls", 0)),
            float(data.get("sum", 0.0)),
            float(data.get("sum_sq", 0.0)),
            _opt_float(data.get("min")),
            _opt_float(data.get("max")),
        )

    @classmethod
    def empty(cls, edges: np.ndarray) -> NumericSummary:
        return cls(edges, np.zeros(edges.size + 1, dtype=_I64))


@dataclass(frozen=True)
class CategoricalSummary:
    counts: Mapping[str, int] = field(default_factory=dict)
    nulls: int = 0

    @property
    def count(self) -> int:
        return int(sum(self.counts.values()))

    def __add__(self, other: CategoricalSummary) -> CategoricalSummary:
        counts = dict(self.counts)
        for k, v in other.counts.items():
            counts[k] = counts.get(k, 0) + v
        return CategoricalSummary(counts, self.nulls + other.nulls)

    def to_dict(self) -> dict[str, Any]:
        return {"counts": {str(k): int(v) for k, v in sorted(self.counts.items())}, "nulls": int(self.nulls)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalSummary:
        return cls({str(k): int(v) for k, v in data.get("counts", {}).items()}, int(data.get("nulls", 0)))


@dataclass(frozen=True, eq=False)
class MinuteCounts:
    """Events and errors per non-empty UTC minute (minutes since the epoch), for availability."""

    minute: np.ndarray = field(default_factory=lambda: np.zeros(0, _I64))
    count: np.ndarray = field(default_factory=lambda: np.zeros(0, _I64))
    errors: np.ndarray = field(default_factory=lambda: np.zeros(0, _I64))

    def __add__(self, other: MinuteCounts) -> MinuteCounts:
        minute = np.concatenate([self.minute, other.minute])
        if minute.size == 0:
            return self
        keys, inverse = np.unique(minute, return_inverse=True)
        count = np.bincount(inverse, weights=np.concatenate([self.count, other.count]), minlength=keys.size)
        errors = np.bincount(
            inverse, weights=np.concatenate([self.errors, other.errors]), minlength=keys.size
        )
        return MinuteCounts(keys.astype(_I64), count.astype(_I64), errors.astype(_I64))

    def to_dict(self) -> dict[str, list[int]]:
        return {
            "minute": [int(v) for v in self.minute],
            "count": [int(v) for v in self.count],
            "errors": [int(v) for v in self.errors],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MinuteCounts:
        return cls(
            np.asarray(data.get("minute", []), dtype=_I64),
            np.asarray(data.get("count", []), dtype=_I64),
            np.asarray(data.get("errors", []), dtype=_I64),
        )


@dataclass(frozen=True, eq=False)
class Outcomes:
    predicted: int = 0
    predicted_positive: int = 0
    labelled: int = 0
    label_positive: int = 0
    confusion: ConfusionCounts = field(default_factory=ConfusionCounts)
    regression: RegressionSums = field(default_factory=RegressionSums)
    calibration: CalibrationBins = field(default_factory=CalibrationBins.empty)

    def __add__(self, other: Outcomes) -> Outcomes:
        return Outcomes(
            self.predicted + other.predicted,
            self.predicted_positive + other.predicted_positive,
            self.labelled + other.labelled,
            self.label_positive + other.label_positive,
            self.confusion + other.confusion,
            self.regression + other.regression,
            self.calibration + other.calibration,
        )

    def to_dict(self) -> dict[str, Any]:
        cal = self.calibration
        return {
            "predicted": int(self.predicted),
            "predicted_positive": int(self.predicted_positive),
            "labelled": int(self.labelled),
            "label_positive": int(self.label_positive),
            **self.confusion.as_dict(),
            "regression": {
                "n": int(self.regression.n),
                "abs_error_sum": float(self.regression.abs_error_sum),
                "sq_error_sum": float(self.regression.sq_error_sum),
            },
            "calibration": {
                "count": [int(v) for v in cal.count],
                "score_sum": [float(v) for v in cal.score_sum],
                "positives": [int(v) for v in cal.positives],
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outcomes:
        reg = data.get("regression", {})
        cal = data.get("calibration")
        return cls(
            int(data.get("predicted", 0)),
            int(data.get("predicted_positive", 0)),
            int(data.get("labelled", 0)),
            int(data.get("label_positive", 0)),
            ConfusionCounts(
                int(data.get("tp", 0)), int(data.get("fp", 0)), int(data.get("fn", 0)), int(data.get("tn", 0))
            ),
            RegressionSums(
                int(reg.get("n", 0)),
                float(reg.get("abs_error_sum", 0.0)),
                float(reg.get("sq_error_sum", 0.0)),
            ),
            CalibrationBins(
                np.asarray(cal["count"], dtype=_I64),
                np.asarray(cal["score_sum"], dtype=np.float64),
                np.asarray(cal["positives"], dtype=_I64),
            )
            if cal
            else CalibrationBins.empty(),
        )


# --- the profile ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class WindowProfile:
    segment: str
    window_start: datetime | None
    window_end: datetime | None
    task: str
    positive_label: float | None
    count: int
    error_count: int
    minutes: MinuteCounts
    latency: LatencySketch
    numeric: Mapping[str, NumericSummary]
    categorical: Mapping[str, CategoricalSummary]
    outputs: Mapping[str, NumericSummary]
    outcomes: Outcomes
    format_version: int = FORMAT_VERSION

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WindowProfile):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def merge(self, *others: WindowProfile) -> WindowProfile:
        return merge([self, *others])

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "segment": self.segment,
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "task": self.task,
            "positive_label": self.positive_label,
            "count": int(self.count),
            "error_count": int(self.error_count),
            "minutes": self.minutes.to_dict(),
            "latency": self.latency.to_dict(),
            "numeric": {k: v.to_dict() for k, v in self.numeric.items()},
            "categorical": {k: v.to_dict() for k, v in self.categorical.items()},
            "outputs": {k: v.to_dict() for k, v in self.outputs.items()},
            "outcomes": self.outcomes.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowProfile:
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(
                f"unsupported profile format_version {version!r} (this code reads {FORMAT_VERSION})"
            )
        task = data.get("task", BINARY)
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}")
        pos = data.get("positive_label")
        return cls(
            segment=str(data.get("segment", "")),
            window_start=_parse_dt(data.get("window_start")),
            window_end=_parse_dt(data.get("window_end")),
            task=task,
            positive_label=None if pos is None else float(pos),
            count=int(data["count"]),
            error_count=int(data.get("error_count", 0)),
            minutes=MinuteCounts.from_dict(data.get("minutes", {})),
            latency=LatencySketch.from_dict(data.get("latency", {})),
            numeric={k: NumericSummary.from_dict(v) for k, v in data.get("numeric", {}).items()},
            categorical={k: CategoricalSummary.from_dict(v) for k, v in data.get("categorical", {}).items()},
            outputs={k: NumericSummary.from_dict(v) for k, v in data.get("outputs", {}).items()},
            outcomes=Outcomes.from_dict(data.get("outcomes", {})),
        )


def _merge_numeric(parts: Sequence[NumericSummary]) -> NumericSummary:
    first = parts[0]
    for p in parts[1:]:
        if p.edges is not first.edges and not np.array_equal(p.edges, first.edges):
            raise ValueError("cannot merge histograms over different bin edges")
    mins = [p.min for p in parts if p.min is not None]
    maxs = [p.max for p in parts if p.max is not None]
    return NumericSummary(
        first.edges,
        np.sum([p.counts for p in parts], axis=0, dtype=_I64),
        sum(p.nulls for p in parts),
        sum(p.sum for p in parts),
        sum(p.sum_sq for p in parts),
        min(mins) if mins else None,
        max(maxs) if maxs else None,
    )


def _merge_categorical(parts: Sequence[CategoricalSummary]) -> CategoricalSummary:
    counts: dict[str, int] = {}
    for p in parts:
        for k, v in p.counts.items():
            counts[k] = counts.get(k, 0) + v
    return CategoricalSummary(counts, sum(p.nulls for p in parts))


def _merge_maps(maps: Sequence[Mapping[str, Any]], merge_one) -> dict[str, Any]:
    grouped: dict[str, list] = {}
    for m in maps:
        for k, v in m.items():
            grouped.setdefault(k, []).append(v)
    return {k: v[0] if len(v) == 1 else merge_one(v) for k, v in grouped.items()}


def _merge_minutes(parts: Sequence[MinuteCounts]) -> MinuteCounts:
    minute = np.concatenate([p.minute for p in parts])
    if minute.size == 0:
        return MinuteCounts()
    keys, inverse = np.unique(minute, return_inverse=True)
    count = np.bincount(inverse, weights=np.concatenate([p.count for p in parts]), minlength=keys.size)
    errors = np.bincount(inverse, weights=np.concatenate([p.errors for p in parts]), minlength=keys.size)
    return MinuteCounts(keys.astype(_I64), count.astype(_I64), errors.astype(_I64))


def _merge_outcomes(parts: Sequence[Outcomes]) -> Outcomes:
    cal = [p.calibration for p in parts]
    return Outcomes(
        sum(p.predicted for p in parts),
        sum(p.predicted_positive for p in parts),
        sum(p.labelled for p in parts),
        sum(p.label_positive for p in parts),
        ConfusionCounts(
            sum(p.confusion.tp for p in parts),
            sum(p.confusion.fp for p in parts),
            sum(p.confusion.fn for p in parts),
            sum(p.confusion.tn for p in parts),
        ),
        RegressionSums(
            sum(p.regression.n for p in parts),
            sum(p.regression.abs_error_sum for p in parts),
            sum(p.regression.sq_error_sum for p in parts),
        ),
        CalibrationBins(
            np.sum([c.count for c in cal], axis=0, dtype=_I64),
            np.sum([c.score_sum for c in cal], axis=0),
            np.sum([c.positives for c in cal], axis=0, dtype=_I64),
        ),
    )


def merge(profiles: Iterable[WindowProfile]) -> WindowProfile:
    """Merge profiles of the same segment (e.g. twelve 5-minute buckets into an hour)."""
    profiles = list(profiles)
    if not profiles:
        raise ValueError("nothing to merge")
    first = profiles[0]
    if len(profiles) == 1:
        return first
    for p in profiles[1:]:
        if p.segment != first.segment:
            raise ValueError(f"cannot merge segments {first.segment!r} and {p.segment!r}")
        if p.task != first.task or p.positive_label != first.positive_label:
            raise ValueError("cannot merge profiles of different tasks / positive labels")
        if p.format_version != first.format_version:
            raise ValueError("cannot merge profiles of different format versions")
    starts = [p.window_start for p in profiles if p.window_start is not None]
    ends = [p.window_end for p in profiles if p.window_end is not None]
    return WindowProfile(
        segment=first.segment,
        window_start=min(starts) if starts else None,
        window_end=max(ends) if ends else None,
        task=first.task,
        positive_label=first.positive_label,
        count=sum(p.count for p in profiles),
        error_count=sum(p.error_count for p in profiles),
        minutes=_merge_minutes([p.minutes for p in profiles]),
        latency=LatencySketch.merge_all(p.latency for p in profiles),
        numeric=_merge_maps([p.numeric for p in profiles], _merge_numeric),
        categorical=_merge_maps([p.categorical for p in profiles], _merge_categorical),
        outputs=_merge_maps([p.outputs for p in profiles], _merge_numeric),
        outcomes=_merge_outcomes([p.outcomes for p in profiles]),
    )


def group_counts_from_profiles(profiles: Mapping[str, WindowProfile]) -> list[GroupCounts]:
    """Fairness group counts from each cohort value's (merged) profile: value → profile."""
    out = []
    for value, p in profiles.items():
        o = p.outcomes
        c = o.confusion
        out.append(GroupCounts(str(value), o.predicted, o.predicted_positive, c.tp, c.fp, c.fn, c.tn))
    return out


# --- the spec (derived from the reference) --------------------------------------------------


@dataclass(frozen=True, eq=False)
class ProfileSpec:
    """How to profile a model's events: bin edges from its reference, task, positive label."""

    numeric_edges: Mapping[str, np.ndarray]
    categorical: tuple[str, ...] = ()
    score_edges: np.ndarray | None = None
    prediction_edges: np.ndarray | None = None
    task: str = BINARY
    positive_label: float | None = 1.0
    relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}")

    @classmethod
    def from_reference(
        cls,
        *,
        numeric: Mapping[str, Any] | None = None,
        categorical: Iterable[str] = (),
        score: Any = None,
        prediction: Any = None,
        task: str = BINARY,
        positive_label: float | None = 1.0,
    ) -> ProfileSpec:
        """Edges at the reference deciles for every numeric feature, the score and prediction."""
        return cls(
            numeric_edges={name: drift.reference_edges(values) for name, values in (numeric or {}).items()},
            categorical=tuple(categorical),
            score_edges=drift.reference_edges(score) if score is not None else None,
            prediction_edges=drift.reference_edges(prediction) if prediction is not None else None,
            task=task,
            positive_label=positive_label,
        )

    def to_dict(self) -> dict[str, Any]:
        def edges(e: np.ndarray | None) -> list[float] | None:
            return None if e is None else [float(v) for v in e]

        return {
            "format_version": FORMAT_VERSION,
            "numeric_edges": {k: edges(v) for k, v in self.numeric_edges.items()},
            "categorical": list(self.categorical),
            "score_edges": edges(self.score_edges),
            "prediction_edges": edges(self.prediction_edges),
            "task": self.task,
            "positive_label": self.positive_label,
            "relative_accuracy": self.relative_accuracy,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProfileSpec:
        def edges(e: Any) -> np.ndarray | None:
            return None if e is None else np.asarray(e, dtype=np.float64)

        return cls(
            numeric_edges={
                k: np.asarray(v, dtype=np.float64) for k, v in data.get("numeric_edges", {}).items()
            },
            categorical=tuple(data.get("categorical", ())),
            score_edges=edges(data.get("score_edges")),
            prediction_edges=edges(data.get("prediction_edges")),
            task=data.get("task", BINARY),
            positive_label=data.get("positive_label", 1.0),
            relative_accuracy=float(data.get("relative_accuracy", DEFAULT_RELATIVE_ACCURACY)),
        )


# --- building ------------------------------------------------------------------------------
#
# One pass over the events: every event gets a "combo" code — its (bucket, value of every
# cohort attribute, null included) combination, compacted to the combos present. All event-level
# aggregation (histograms, sums, min / max, confusion cells …) is one bincount / ufunc.at per
# column over the combos; each segmentation (all traffic, each attribute) is then a cheap
# roll-up of the combo arrays (there are far fewer combos than events).


def _to_ns(timestamps: Any) -> np.ndarray:
    ts = np.asarray(timestamps)
    if np.issubdtype(ts.dtype, np.datetime64):
        return ts.astype("datetime64[ns]").view(_I64)
    if np.issubdtype(ts.dtype, np.integer):  # already ns since the epoch
        return ts.astype(_I64, copy=False)
    import pandas as pd

    return pd.to_datetime(ts, utc=True).as_unit("ns").asi8


def _float_column(values: Any, n: int, name: str) -> np.ndarray:
    x = np.ascontiguousarray(values, dtype=np.float64).ravel()
    if x.size != n:
        raise ValueError(f"column {name!r} has {x.size} values, expected {n}")
    return x


def _compact(key: np.ndarray, radix: int) -> tuple[np.ndarray, int]:
    """Map keys in [0, radix) to dense codes 0 … G-1 of the keys present."""
    if radix <= 8_000_000:
        present = np.bincount(key, minlength=radix) > 0
        remap = np.cumsum(present) - 1
        return remap[key], int(present.sum())
    uniq, code = np.unique(key, return_inverse=True)
    return code.astype(_I64), int(uniq.size)


@dataclass
class _Segmentation:
    """All traffic (``attribute`` None) or one cohort attribute, over the combos."""

    attribute: str | None
    values: list[str]
    gmap: np.ndarray | None  # combo → group (bucket * n_values + value, or n_groups = no value)
    n_groups: int

    @property
    def size(self) -> int:  # groups + one "no value" group
        return self.n_groups + 1

    def sum(self, a: np.ndarray) -> np.ndarray:
        """Roll combo rows up to group rows by addition (float64)."""
        if self.gmap is None:
            return np.concatenate([a, np.zeros((1, *a.shape[1:]), dtype=a.dtype)])
        if a.ndim == 1:
            return np.bincount(self.gmap, weights=a, minlength=self.size)
        width = a.shape[1]
        idx = (self.gmap[:, None] * width + np.arange(width)).ravel()
        return np.bincount(idx, weights=a.ravel(), minlength=self.size * width).reshape(self.size, width)

    def extreme(self, a: np.ndarray, fn: np.ufunc, start: float) -> np.ndarray:
        if self.gmap is None:
            return np.concatenate([a, [start]])
        out = np.full(self.size, start)
        fn.at(out, self.gmap, a)
        return out


def _numeric_parts(
    code: np.ndarray, n_combos: int, segs: list[_Segmentation], x: np.ndarray, edges: np.ndarray
) -> list[tuple[list, list, list, list, list]]:
    """Per segmentation: bin counts (groups x (k + 1) int64) and, as Python lists per group,
    nulls, sum, sum of squares, min, max (±inf when the group has no value)."""
    null = ~np.isfinite(x)
    has_null = bool(null.any())
    k = edges.size
    slot = drift.bin_index(x, edges).astype(_I64)
    if has_null:
        slot[null] = k + 1  # the null slot after the k + 1 bins
        xz = np.where(null, 0.0, x)
        xm = np.where(null, np.nan, x)  # ±inf are nulls too: keep them out of min / max
    else:
        xz = xm = x
    hist = np.bincount(code * (k + 2) + slot, minlength=n_combos * (k + 2)).reshape(n_combos, k + 2)
    s1 = np.bincount(code, weights=xz, minlength=n_combos)
    s2 = np.bincount(code, weights=xz * xz, minlength=n_combos)
    mn = np.full(n_combos, np.inf)
    mx = np.full(n_combos, -np.inf)
    np.fmin.at(mn, code, xm)
    np.fmax.at(mx, code, xm)
    out = []
    for seg in segs:
        h = seg.sum(hist).astype(_I64)
        h.flags.writeable = False
        lo = seg.extreme(mn, np.fmin, np.inf)
        hi = seg.extreme(mx, np.fmax, -np.inf)
        out.append(
            (
                h[:, :-1],
                h[:, -1].tolist(),
                seg.sum(s1).tolist(),
                seg.sum(s2).tolist(),
                lo.tolist(),
                hi.tolist(),
            )
        )
    return out


def _numeric_summary(edges: np.ndarray, part: tuple, g: int) -> NumericSummary:
    counts, nulls, s1, s2, lo, hi = part
    has = lo[g] != np.inf
    # The roll-up creates ~100k of these per million events; filling ``__dict__`` directly
    # skips the frozen dataclass's per-field ``object.__setattr__`` (5x faster). The instance
    # is as frozen as one made by ``__init__``.
    obj = object.__new__(NumericSummary)
    obj.__dict__.update(
        edges=edges,
        counts=counts[g],  # a read-only view of the segmentation's matrix
        nulls=nulls[g],
        sum=s1[g],
        sum_sq=s2[g],
        min=lo[g] if has else None,
        max=hi[g] if has else None,
    )
    return obj


def build_profiles(
    spec: ProfileSpec,
    *,
    timestamps: Any = None,
    latency_ms: Any = None,
    error: Any = None,
    numeric: Mapping[str, Any] | None = None,
    categorical: Mapping[str, Any] | None = None,
    prediction: Any = None,
    score: Any = None,
    label: Any = None,
    cohorts: Mapping[str, Any] | None = None,
    bucket_seconds: int = BUCKET_SECONDS,
) -> list[WindowProfile]:
    """Roll up a batch of one deployment's events into profiles per (bucket, segment).

    Columns are equal-length arrays (nulls as NaN / None): ``timestamps`` (datetime64, aware
    datetimes or int64 ns since the epoch, UTC; None = one unbucketed profile per segment, for
    reference data), ``latency_ms``, ``error`` (bool), ``numeric`` / ``categorical`` features
    by name, ``prediction`` / ``label`` (numeric; ``label`` NaN until it arrives), ``score``,
    and ``cohorts`` (attribute → values; one segment per non-null value). Numeric features not
    in ``spec.numeric_edges`` are ignored; a spec feature missing from ``numeric`` counts as
    all-null. Returns the profiles of every (bucket, segment) with at least one event:
    all-traffic profiles first, then each attribute's, each in bucket order.
    """
    import pandas as pd

    numeric = dict(numeric or {})
    categorical = dict(categorical or {})
    cohorts = dict(cohorts or {})
    if bucket_seconds <= 0 or bucket_seconds % 60:
        raise ValueError("bucket_seconds must be a positive multiple of 60")
    n = None
    for col in (timestamps, latency_ms, error, prediction, score, label,
                *numeric.values(), *categorical.values(), *cohorts.values()):  # fmt: skip
        if col is not None:
            n = len(col)
            break
    if n is None:
        raise ValueError("no columns given")
    if n == 0:
        return []

    # -- buckets ---------------------------------------------------------------------------
    mpb = bucket_seconds // 60  # minutes per bucket
    if timestamps is not None:
        ns = _to_ns(timestamps)
        if ns.size != n:
            raise ValueError("timestamps length differs from the other columns")
        bucket = ns // (bucket_seconds * _NS)
        minute = ns // (60 * _NS) - bucket * mpb
        del ns
        b_lo, b_hi = int(bucket.min()), int(bucket.max())
        if b_hi - b_lo < 1_000_000:
            bucket_code = bucket - b_lo
            bucket_ids = np.arange(b_lo, b_hi + 1, dtype=_I64)
        else:  # sparse buckets: compact them
            bucket_ids, bucket_code = np.unique(bucket, return_inverse=True)
        del bucket
    else:
        bucket_code = np.zeros(n, dtype=_I64)
        bucket_ids = None
        minute = np.zeros(n, dtype=_I64)
    n_buckets = 1 if bucket_ids is None else bucket_ids.size

    # -- combos: (bucket, every cohort value incl. null) -----------------------------------
    key, radix = bucket_code.astype(_I64), n_buckets
    attrs = []
    for attr, values in cohorts.items():
        codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
        if codes.size != n:
            raise ValueError(f"cohort {attr!r} length differs from the other columns")
        nv = len(uniques)
        c = np.where(codes >= 0, codes, nv).astype(_I64)  # null → nv
        if radix * (nv + 1) >= 2**62:
            key, radix = _compact(key, radix)
        key, radix = key * (nv + 1) + c, radix * (nv + 1)
        attrs.append((attr, [str(u) for u in uniques], c))
    code, n_combos = _compact(key, radix)
    del key
    rep = np.empty(n_combos, dtype=_I64)
    rep[code] = np.arange(n, dtype=_I64)  # one event of each combo, to decode it
    combo_bucket = bucket_code[rep]
    segs = [_Segmentation(None, [""], None if not attrs else combo_bucket, n_buckets)]
    for attr, values, c in attrs:
        nv = len(values)
        cv = c[rep]
        dump = n_buckets * nv
        segs.append(_Segmentation(attr, values, np.where(cv < nv, combo_bucket * nv + cv, dump), dump))
    if segs[0].gmap is None and n_combos != n_buckets:  # cannot happen; keep the invariant loud
        raise AssertionError("combos without cohorts must be buckets")

    def per_combo(slot: np.ndarray, width: int) -> np.ndarray:
        return np.bincount(code * width + slot, minlength=n_combos * width).reshape(n_combos, width)

    def sums(weights: np.ndarray) -> np.ndarray:
        return np.bincount(code, weights=weights, minlength=n_combos)

    # -- events, errors per minute ----------------------------------------------------------
    err = np.zeros(n, dtype=bool) if error is None else np.asarray(error, dtype=bool).ravel()
    core = per_combo(minute * 2 + err, 2 * mpb)  # (minute, error) cells
    core_by_seg = [seg.sum(core).astype(_I64) for seg in segs]

    # -- latency sketches (per segmentation: sketches are wide, groups are few) -------------
    alpha = spec.relative_accuracy
    lat_by_seg = None
    if latency_ms is not None:
        lat = _float_column(latency_ms, n, "latency_ms")
        valid = np.isfinite(lat)
        positive = valid & (lat >= MIN_VALUE)
        idx = sketch_index(lat, alpha)
        lo = int(idx[positive].min()) if positive.any() else 0
        hi = int(idx[positive].max()) if positive.any() else 0
        span = hi - lo + 1
        # slots: log buckets 0 … span-1, the zero bucket, "no latency"
        slot = np.where(positive, idx - lo, np.where(valid, span, span + 1))
        del idx
        lat_m = np.where(valid, lat, np.nan)
        lmin = np.full(n_combos, np.inf)
        lmax = np.full(n_combos, -np.inf)
        np.fmin.at(lmin, code, lat_m)
        np.fmax.at(lmax, code, lat_m)
        del lat_m
        lat_by_seg = []
        for seg in segs:
            group = code if seg.gmap is None else seg.gmap[code]
            width = span + 2
            if seg.size * width <= 50_000_000:
                hist = np.bincount(group * width + slot, minlength=seg.size * width).reshape(seg.size, width)
            else:  # a very wide latency range and many groups: sparse
                keys, cnt = np.unique(group * width + slot, return_counts=True)
                hist = (keys, cnt, width)
            lat_by_seg.append(
                (
                    hist,
                    seg.extreme(lmin, np.fmin, np.inf).tolist(),
                    seg.extreme(lmax, np.fmax, -np.inf).tolist(),
                )
            )
        del slot

    # -- numeric features and outputs ------------------------------------------------------
    edges_f = {name: np.asarray(e, dtype=np.float64) for name, e in spec.numeric_edges.items()}
    numeric_parts = {}
    for name, edges in edges_f.items():
        col = numeric.get(name)
        x = np.full(n, np.nan) if col is None else _float_column(col, n, name)
        numeric_parts[name] = _numeric_parts(code, n_combos, segs, x, edges)
    output_parts = {}
    for name, col, edges in (
        ("score", score, spec.score_edges),
        ("prediction", prediction, spec.prediction_edges),
    ):
        if edges is not None:
            edges = np.asarray(edges, dtype=np.float64)
            x = np.full(n, np.nan) if col is None else _float_column(col, n, name)
            output_parts[name] = (edges, _numeric_parts(code, n_combos, segs, x, edges))

    # -- categorical features --------------------------------------------------------------
    categorical_parts = {}
    for name in spec.categorical:
        col = categorical.get(name)
        if col is None:
            codes, cats = np.full(n, -1, dtype=_I64), []
        else:
            c, u = pd.factorize(pd.Series(col, dtype=object), use_na_sentinel=True)
            codes, cats = c.astype(_I64), [str(v) for v in u]
        # several raw values may print the same (1 and "1"): fold them into one category
        distinct = sorted(set(cats))
        position = {c: i for i, c in enumerate(distinct)}
        remap = np.array([position[c] for c in cats] + [len(distinct)], dtype=_I64)
        counts = per_combo(remap[codes], len(distinct) + 1)  # code -1 → the null slot (last)
        categorical_parts[name] = (distinct, [seg.sum(counts).astype(_I64).tolist() for seg in segs])

    # -- outcomes --------------------------------------------------------------------------
    pred = np.full(n, np.nan) if prediction is None else _float_column(prediction, n, "prediction")
    lab = np.full(n, np.nan) if label is None else _float_column(label, n, "label")
    pos_label = spec.positive_label
    # states: 0 missing, 1 negative, 2 positive; cell = 3 * prediction state + label state
    p_state = np.where(np.isnan(pred), 0, 1 + (pred == pos_label) if pos_label is not None else 1)
    l_state = np.where(np.isnan(lab), 0, 1 + (lab == pos_label) if pos_label is not None else 1)
    cells = per_combo(3 * p_state + l_state, 9)
    cells_by_seg = [seg.sum(cells).astype(_I64).tolist() for seg in segs]
    regression = spec.task == REGRESSION
    reg_by_seg = None
    if regression:
        both = (p_state > 0) & (l_state > 0)
        diff = np.where(both, lab - pred, 0.0)
        abs_err, sq_err = sums(np.abs(diff)), sums(diff * diff)
        reg_by_seg = [(seg.sum(abs_err).tolist(), seg.sum(sq_err).tolist()) for seg in segs]
    sc = np.full(n, np.nan) if score is None else _float_column(score, n, "score")
    cal_ok = (l_state > 0) & ~np.isnan(sc) & (not regression)
    nb = CALIBRATION_BINS
    cal_slot = np.where(cal_ok, CalibrationBins.bin_of(np.nan_to_num(sc)), nb)
    cal_count = per_combo(cal_slot, nb + 1)
    cal_sum = np.bincount(code * (nb + 1) + cal_slot, weights=np.where(cal_ok, sc, 0.0),
                          minlength=n_combos * (nb + 1)).reshape(n_combos, nb + 1)  # fmt: skip
    cal_pos = per_combo(np.where(cal_ok & (l_state == 2), cal_slot, nb), nb + 1)
    cal_by_seg = [
        (
            seg.sum(cal_count)[:, :nb].astype(_I64),
            seg.sum(cal_sum)[:, :nb],
            seg.sum(cal_pos)[:, :nb].astype(_I64),
        )
        for seg in segs
    ]

    # -- assemble --------------------------------------------------------------------------
    profiles: list[WindowProfile] = []
    empty_sketch = LatencySketch(alpha)
    for s_i, seg in enumerate(segs):
        core_s = core_by_seg[s_i]
        counts = core_s.sum(axis=1)
        nv = len(seg.values)
        for g in np.flatnonzero(counts[: seg.n_groups]).tolist():
            b, v = divmod(g, nv)
            row = core_s[g]
            per_minute = row[0::2] + row[1::2]
            per_minute_err = row[1::2]
            if bucket_ids is not None:
                start_s = int(bucket_ids[b]) * bucket_seconds
                window_start = datetime.fromtimestamp(start_s, UTC)
                window_end = datetime.fromtimestamp(start_s + bucket_seconds, UTC)
                nz = np.flatnonzero(per_minute)
                minutes = MinuteCounts(
                    int(bucket_ids[b]) * mpb + nz.astype(_I64), per_minute[nz], per_minute_err[nz]
                )
            else:
                window_start = window_end = None
                minutes = MinuteCounts()
            sketch = empty_sketch
            if lat_by_seg is not None:
                hist, lmins, lmaxs = lat_by_seg[s_i]
                if isinstance(hist, tuple):
                    keys, cnt, width = hist
                    a, z = np.searchsorted(keys, [g * width, (g + 1) * width])
                    lrow = np.zeros(width, dtype=_I64)
                    lrow[keys[a:z] - g * width] = cnt[a:z]
                else:
                    lrow = hist[g]
                logs = lrow[:-2]
                nzl = np.flatnonzero(logs)
                has = lmins[g] != np.inf
                sketch = LatencySketch(
                    alpha,
                    lo + int(nzl[0]) if nzl.size else 0,
                    logs[nzl[0] : nzl[-1] + 1].astype(_I64) if nzl.size else np.zeros(0, _I64),
                    int(lrow[-2]),
                    lmins[g] if has else None,
                    lmaxs[g] if has else None,
                )
            c9 = cells_by_seg[s_i][g]  # [3 * p_state + l_state]
            cal_c, cal_s, cal_p = cal_by_seg[s_i]
            outcomes = Outcomes(
                predicted=sum(c9[3:]),
                predicted_positive=sum(c9[6:9]),
                labelled=c9[1] + c9[2] + c9[4] + c9[5] + c9[7] + c9[8],
                label_positive=c9[2] + c9[5] + c9[8],
                confusion=ConfusionCounts()
                if regression
                else ConfusionCounts(tp=c9[8], fp=c9[7], fn=c9[5], tn=c9[4]),
                regression=RegressionSums(
                    c9[4] + c9[5] + c9[7] + c9[8], reg_by_seg[s_i][0][g], reg_by_seg[s_i][1][g]
                )
                if regression
                else RegressionSums(),
                calibration=CalibrationBins(cal_c[g], cal_s[g], cal_p[g]),
            )
            profiles.append(
                WindowProfile(
                    segment="" if seg.attribute is None else segment_key(seg.attribute, seg.values[v]),
                    window_start=window_start,
                    window_end=window_end,
                    task=spec.task,
                    positive_label=spec.positive_label,
                    count=int(counts[g]),
                    error_count=int(per_minute_err.sum()),
                    minutes=minutes,
                    latency=sketch,
                    numeric={
                        name: _numeric_summary(edges_f[name], parts[s_i], g)
                        for name, parts in numeric_parts.items()
                    },
                    categorical={
                        name: CategoricalSummary(
                            {cats[j]: c for j, c in enumerate(per_seg[s_i][g][:-1]) if c}, per_seg[s_i][g][-1]
                        )
                        for name, (cats, per_seg) in categorical_parts.items()
                    },
                    outputs={
                        name: _numeric_summary(edges, parts[s_i], g)
                        for name, (edges, parts) in output_parts.items()
                    },
                    outcomes=outcomes,
                )
            )
    return profiles
