"""Fairness (DESIGN.md §3.4), vectorised; fairlearn is only the test oracle.

Per protected attribute, from per-group counts (raw arrays via :func:`group_counts`, or the
confusion counts of each cohort value's window profile — both give the same numbers):

- Eligible groups: the attribute's values with at least ``min_group_size`` (default 30)
  *predicted* events for the selection-rate metrics, *labelled* (and predicted) events for the
  others. Smaller groups are listed under ``details["excluded"]`` with their counts. Events
  with a null attribute value belong to no group.
- ``demographic_parity_difference`` = max - min selection rate (positive predictions / predicted
  events) — ``fairlearn.metrics.demographic_parity_difference``.
- ``disparate_impact_ratio`` = min / max selection rate — ``demographic_parity_ratio``;
  undefined when no group selects anyone.
- ``equal_opportunity_difference`` = max - min true-positive rate —
  ``equal_opportunity_difference``.
- ``equalized_odds_difference`` = max(max - min TPR, max - min FPR) —
  ``equalized_odds_difference`` (``agg="worst_case"``, between groups).
- ``group_accuracy_gap`` = max - min accuracy — ``MetricFrame(accuracy_score).difference()``.

Fewer than two eligible groups → undefined (``insufficient_data``). A group whose TPR (FPR) is
undefined — no positive (negative) labels — is left out of that rate's comparison and listed
under ``details["undefined"]`` (``undefined_rates="exclude"``, the default); fairlearn counts
such a rate as 0 (scikit-learn's ``confusion_matrix(normalize="true")`` turns 0/0 into 0),
which ``undefined_rates="zero"`` reproduces exactly.

Every result carries the per-group breakdown (``details["groups"]``: group, rate(s), count).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .results import MetricResult

__all__ = [
    "DEFAULT_MIN_GROUP_SIZE",
    "GroupCounts",
    "demographic_parity_difference",
    "disparate_impact_ratio",
    "equal_opportunity_difference",
    "equalized_odds_difference",
    "group_accuracy_gap",
    "group_counts",
]

DEFAULT_MIN_GROUP_SIZE = 30
UndefinedRates = Literal["exclude", "zero"]


@dataclass(frozen=True)
class GroupCounts:
    """One group's counts: events with a prediction, positive predictions among them, and the
    confusion counts of events with both a prediction and a label."""

    group: str
    predicted: int = 0
    predicted_positive: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def labelled(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


def group_counts(y_pred: Any, y_true: Any, sensitive: Any, positive_label: float = 1) -> list[GroupCounts]:
    """Per-group counts from raw columns in one vectorised pass (NaN = missing)."""
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(sensitive, dtype=object), use_na_sentinel=True)
    pred = np.asarray(y_pred, dtype=np.float64).ravel()
    true = np.asarray(y_true, dtype=np.float64).ravel() if y_true is not None else np.full(pred.size, np.nan)
    keep = codes >= 0
    codes = codes[keep]
    pred = pred[keep]
    true = true[keep]
    has_pred = ~np.isnan(pred)
    pred_pos = has_pred & (pred == positive_label)
    labelled = has_pred & ~np.isnan(true)
    true_pos = true == positive_label
    g = uniques.size
    # one bincount over (group, cell) with cells: 0 unlabelled, 1 tn, 2 fp, 3 fn, 4 tp
    cell = np.where(labelled, 1 + pred_pos.astype(np.int64) + 2 * true_pos.astype(np.int64), 0)
    cells = np.bincount(codes * 5 + cell, minlength=g * 5).reshape(g, 5)
    predicted = np.bincount(codes, weights=has_pred, minlength=g)
    positives = np.bincount(codes, weights=pred_pos, minlength=g)
    return [
        GroupCounts(
            str(uniques[i]),
            int(predicted[i]),
            int(positives[i]),
            tp=int(cells[i, 4]),
            fp=int(cells[i, 2]),
            fn=int(cells[i, 3]),
            tn=int(cells[i, 1]),
        )
        for i in range(g)
    ]


def _split(
    groups: Iterable[GroupCounts], size: str, min_group_size: int
) -> tuple[list[GroupCounts], list[dict[str, Any]]]:
    included, excluded = [], []
    for gc in sorted(groups, key=lambda gc: gc.group):
        n = getattr(gc, size)
        if n >= min_group_size:
            included.append(gc)
        elif n > 0:
            excluded.append({"group": gc.group, "count": int(n)})
    return included, excluded


def _base(attribute: str | None, min_group_size: int, excluded: list[dict[str, Any]]) -> dict[str, Any]:
    details: dict[str, Any] = {"min_group_size": min_group_size, "excluded": excluded}
    if attribute is not None:
        details["attribute"] = attribute
    return details


def _selection(
    groups: Iterable[GroupCounts], min_group_size: int, attribute: str | None
) -> tuple[np.ndarray | None, int, dict[str, Any]]:
    included, excluded = _split(groups, "predicted", min_group_size)
    details = _base(attribute, min_group_size, excluded)
    details["groups"] = [
        {"group": gc.group, "rate": gc.predicted_positive / gc.predicted, "count": gc.predicted}
        for gc in included
    ]
    n = sum(gc.predicted for gc in included)
    if len(included) < 2:
        details["reason"] = "fewer than two groups of min_group_size"
        return None, n, details
    rates = np.array([gc.predicted_positive / gc.predicted for gc in included])
    return rates, n, details


def demographic_parity_difference(
    groups: Iterable[GroupCounts],
    *,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    attribute: str | None = None,
) -> MetricResult:
    rates, n, details = _selection(groups, min_group_size, attribute)
    if rates is None:
        return MetricResult(None, n, details)
    return MetricResult(float(rates.max() - rates.min()), n, details)


def disparate_impact_ratio(
    groups: Iterable[GroupCounts],
    *,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    attribute: str | None = None,
) -> MetricResult:
    rates, n, details = _selection(groups, min_group_size, attribute)
    if rates is None:
        return MetricResult(None, n, details)
    if rates.max() == 0:
        return MetricResult(None, n, {**details, "reason": "no group has a positive prediction"})
    return MetricResult(float(rates.min() / rates.max()), n, details)


def _rate(num: int, den: int, undefined_rates: UndefinedRates) -> float | None:
    if den == 0:
        return 0.0 if undefined_rates == "zero" else None
    return num / den


def _spread(values: Sequence[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    if len(defined) < 2:
        return None
    return float(max(defined) - min(defined))


def _labelled(
    groups: Iterable[GroupCounts], min_group_size: int, attribute: str | None, undefined_rates: UndefinedRates
) -> tuple[list[GroupCounts], list[dict[str, Any]], int, dict[str, Any]]:
    if undefined_rates not in ("exclude", "zero"):
        raise ValueError("undefined_rates must be 'exclude' or 'zero'")
    included, excluded = _split(groups, "labelled", min_group_size)
    details = _base(attribute, min_group_size, excluded)
    rows = []
    for gc in included:
        rows.append(
            {
                "group": gc.group,
                "count": gc.labelled,
                "tpr": _rate(gc.tp, gc.tp + gc.fn, undefined_rates),
                "fpr": _rate(gc.fp, gc.fp + gc.tn, undefined_rates),
                "accuracy": (gc.tp + gc.tn) / gc.labelled,
                "positives": gc.tp + gc.fn,
                "negatives": gc.fp + gc.tn,
            }
        )
    n = sum(gc.labelled for gc in included)
    return included, rows, n, details


def _tpr_fpr_result(rows, n, details, which: Sequence[str]) -> MetricResult:
    details["groups"] = [
        {"group": r["group"], "count": r["count"], **{k: r[k] for k in which}, "rate": r[which[0]]}
        for r in rows
    ]
    undefined = [{"group": r["group"], "rate": k} for r in rows for k in which if r[k] is None]
    if undefined:
        details["undefined"] = undefined
    if len(rows) < 2:
        details["reason"] = "fewer than two groups of min_group_size"
        return MetricResult(None, n, details)
    spreads = {k: _spread([r[k] for r in rows]) for k in which}
    details.update({f"{k}_difference": v for k, v in spreads.items()})
    defined = [v for v in spreads.values() if v is not None]
    if not defined:
        details["reason"] = "rates undefined in all but one group"
        return MetricResult(None, n, details)
    return MetricResult(max(defined), n, details)


def equal_opportunity_difference(
    groups: Iterable[GroupCounts],
    *,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    attribute: str | None = None,
    undefined_rates: UndefinedRates = "exclude",
) -> MetricResult:
    _, rows, n, details = _labelled(groups, min_group_size, attribute, undefined_rates)
    return _tpr_fpr_result(rows, n, details, ("tpr",))


def equalized_odds_difference(
    groups: Iterable[GroupCounts],
    *,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    attribute: str | None = None,
    undefined_rates: UndefinedRates = "exclude",
) -> MetricResult:
    _, rows, n, details = _labelled(groups, min_group_size, attribute, undefined_rates)
    return _tpr_fpr_result(rows, n, details, ("tpr", "fpr"))


def group_accuracy_gap(
    groups: Iterable[GroupCounts],
    *,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    attribute: str | None = None,
) -> MetricResult:
    _, rows, n, details = _labelled(groups, min_group_size, attribute, "exclude")
    details["groups"] = [{"group": r["group"], "rate": r["accuracy"], "count": r["count"]} for r in rows]
    if len(rows) < 2:
        details["reason"] = "fewer than two groups of min_group_size"
        return MetricResult(None, n, details)
    return MetricResult(_spread([r["accuracy"] for r in rows]), n, details)
