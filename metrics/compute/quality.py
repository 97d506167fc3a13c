"""Model quality (DESIGN.md §3.3), from confusion counts and sums so profiles can feed it.

Binary classification (``positive_label`` marks the positive class; only events that have both
a prediction and a label count):

- ``accuracy`` = (tp + tn) / n; ``precision`` = tp / (tp + fp); ``recall`` = tp / (tp + fn);
  ``f1`` = 2 tp / (2 tp + fp + fn) — scikit-learn's functions of the same names. Where
  scikit-learn would divide by zero (e.g. precision with no predicted positive) the value is
  undefined (None, i.e. ``insufficient_data``) — scikit-learn's ``zero_division=numpy.nan``.
- ``roc_auc`` (needs raw scores) = Mann-Whitney U / (n_pos · n_neg) with average ranks for
  ties — equal to ``sklearn.metrics.roc_auc_score``; undefined with a single class.

Regression: ``mae`` = Σ|y - ŷ| / n, ``rmse`` = √(Σ(y - ŷ)² / n).

``accuracy_delta_vs_baseline`` = window - baseline for a higher-is-better metric (accuracy),
baseline - window for a lower-is-better one (rmse): negative is always worse.

``calibration_error`` (ECE) = Σ_b (n_b / n) · |mean(label_b) - mean(score_b)| over 10
equal-width score bins ``[0, 0.1), [0.1, 0.2), … [0.9, 1.0]`` (right-open like numpy.histogram,
1.0 in the last bin; scores outside [0, 1] are clipped into the outer bins), labelled events
with a score only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

from .results import MetricResult

__all__ = [
    "CALIBRATION_BINS",
    "CalibrationBins",
    "ConfusionCounts",
    "RegressionSums",
    "accuracy",
    "calibration_error",
    "delta_vs_baseline",
    "f1",
    "mae",
    "precision",
    "recall",
    "rmse",
    "roc_auc",
]

CALIBRATION_BINS = 10


def _labelled_pairs(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    keep = ~(np.isnan(t) | np.isnan(p))
    return t[keep], p[keep]


@dataclass(frozen=True)
class ConfusionCounts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @classmethod
    def from_arrays(cls, y_true: Any, y_pred: Any, positive_label: float = 1) -> ConfusionCounts:
        """Counts over events with both a label and a prediction (NaN = missing)."""
        t, p = _labelled_pairs(y_true, y_pred)
        tpos = t == positive_label
        ppos = p == positive_label
        tp = int(np.count_nonzero(tpos & ppos))
        fp = int(np.count_nonzero(~tpos & ppos))
        fn = int(np.count_nonzero(tpos & ~ppos))
        return cls(tp, fp, fn, int(t.size) - tp - fp - fn)

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def __add__(self, other: ConfusionCounts) -> ConfusionCounts:
        return ConfusionCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    def as_dict(self) -> dict[str, int]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn}


def _ratio(num: int, den: int, cc: ConfusionCounts, reason: str) -> MetricResult:
    if den == 0:
        return MetricResult(None, cc.n, {**cc.as_dict(), "reason": reason})
    return MetricResult(num / den, cc.n, cc.as_dict())


def accuracy(cc: ConfusionCounts) -> MetricResult:
    return _ratio(cc.tp + cc.tn, cc.n, cc, "no labelled predictions")


def precision(cc: ConfusionCounts) -> MetricResult:
    return _ratio(cc.tp, cc.tp + cc.fp, cc, "no predicted positives")


def recall(cc: ConfusionCounts) -> MetricResult:
    return _ratio(cc.tp, cc.tp + cc.fn, cc, "no positive labels")


def f1(cc: ConfusionCounts) -> MetricResult:
    return _ratio(2 * cc.tp, 2 * cc.tp + cc.fp + cc.fn, cc, "no positives predicted or labelled")


def roc_auc(y_true: Any, score: Any, positive_label: float = 1) -> MetricResult:
    """ROC AUC from raw labels and scores (events with both)."""
    t, s = _labelled_pairs(y_true, score)
    pos = t == positive_label
    n_pos = int(pos.sum())
    n_neg = int(t.size - n_pos)
    details = {"positives": n_pos, "negatives": n_neg}
    if n_pos == 0 or n_neg == 0:
        return MetricResult(None, t.size, {**details, "reason": "needs both classes"})
    ranks = rankdata(s)  # average ranks for ties
    u = float(ranks[pos].sum()) - n_pos * (n_pos + 1) / 2.0
    return MetricResult(u / (n_pos * n_neg), t.size, details)


@dataclass(frozen=True)
class RegressionSums:
    n: int = 0
    abs_error_sum: float = 0.0
    sq_error_sum: float = 0.0

    @classmethod
    def from_arrays(cls, y_true: Any, y_pred: Any) -> RegressionSums:
        t, p = _labelled_pairs(y_true, y_pred)
        err = t - p
        return cls(int(t.size), float(np.abs(err).sum()), float(np.dot(err, err)))

    def __add__(self, other: RegressionSums) -> RegressionSums:
        return RegressionSums(
            self.n + other.n, self.abs_error_sum + other.abs_error_sum, self.sq_error_sum + other.sq_error_sum
        )


def mae(sums: RegressionSums) -> MetricResult:
    if sums.n == 0:
        return MetricResult(None, 0, {"reason": "no labelled predictions"})
    return MetricResult(sums.abs_error_sum / sums.n, sums.n)


def rmse(sums: RegressionSums) -> MetricResult:
    if sums.n == 0:
        return MetricResult(None, 0, {"reason": "no labelled predictions"})
    return MetricResult(math.sqrt(sums.sq_error_sum / sums.n), sums.n)


def delta_vs_baseline(
    window: MetricResult, baseline: float | None, *, metric: str, direction: str
) -> MetricResult:
    """Window value minus the baseline, signed so that negative is worse."""
    details = {"metric": metric, "window_value": window.value, "baseline_value": baseline}
    if window.value is None or baseline is None or math.isnan(baseline):
        return MetricResult(None, window.sample_size, {**details, "reason": "window or baseline undefined"})
    delta = window.value - baseline if direction == "higher_is_better" else baseline - window.value
    return MetricResult(delta, window.sample_size, details)


@dataclass(frozen=True, eq=False)
class CalibrationBins:
    """Per score bin: labelled events, sum of their scores, positives among them."""

    count: np.ndarray
    score_sum: np.ndarray
    positives: np.ndarray

    @staticmethod
    def bin_of(score: np.ndarray) -> np.ndarray:
        return np.clip(np.floor(score * CALIBRATION_BINS), 0, CALIBRATION_BINS - 1).astype(np.int64)

    @classmethod
    def from_arrays(cls, y_true: Any, score: Any, positive_label: float = 1) -> CalibrationBins:
        t, s = _labelled_pairs(y_true, score)
        b = cls.bin_of(s)
        return cls(
            np.bincount(b, minlength=CALIBRATION_BINS).astype(np.int64),
            np.bincount(b, weights=s, minlength=CALIBRATION_BINS),
            np.bincount(b, weights=(t == positive_label), minlength=CALIBRATION_BINS).astype(np.int64),
        )

    @classmethod
    def empty(cls) -> CalibrationBins:
        return cls(
            np.zeros(CALIBRATION_BINS, np.int64),
            np.zeros(CALIBRATION_BINS),
            np.zeros(CALIBRATION_BINS, np.int64),
        )

    def __add__(self, other: CalibrationBins) -> CalibrationBins:
        return CalibrationBins(
            self.count + other.count, self.score_sum + other.score_sum, self.positives + other.positives
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CalibrationBins):
            return NotImplemented
        return (
            np.array_equal(self.count, other.count)
            and np.array_equal(self.score_sum, other.score_sum)
            and np.array_equal(self.positives, other.positives)
        )

    __hash__ = None  # type: ignore[assignment]


def calibration_error(bins: CalibrationBins) -> MetricResult:
    n = int(bins.count.sum())
    if n == 0:
        return MetricResult(None, 0, {"reason": "no labelled scores"})
    nonempty = bins.count > 0
    cnt = bins.count[nonempty]
    gap = np.abs(bins.positives[nonempty] / cnt - bins.score_sum[nonempty] / cnt)
    value = float(np.sum(cnt / n * gap))
    return MetricResult(
        value,
        n,
        {
            "bins": [
                {
                    "bin": int(b),
                    "count": int(bins.count[b]),
                    "mean_score": float(bins.score_sum[b] / bins.count[b]),
                    "positive_rate": float(bins.positives[b] / bins.count[b]),
                }
                for b in np.flatnonzero(nonempty)
            ]
        },
    )
