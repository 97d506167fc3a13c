"""Result types shared by every calculator, and the status rule.

Every calculator returns a :class:`MetricResult`: the value (``None`` when it is undefined on
the data, e.g. PSI of an empty window or precision without predicted positives), the sample
size the value was computed on, and JSON-able ``details`` (sample sizes of both sides for
drift, the per-group breakdown for fairness, the p-value beside a KS statistic, …).

Nothing here imports Django: the package is pure NumPy / SciPy / pandas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "CRITICAL",
    "INSUFFICIENT_DATA",
    "OK",
    "WARN",
    "MetricResult",
    "Status",
    "classify",
    "json_float",
]

OK = "ok"
WARN = "warn"
CRITICAL = "critical"
INSUFFICIENT_DATA = "insufficient_data"
Status = Literal["ok", "warn", "critical", "insufficient_data"]

HIGHER_IS_BETTER = "higher_is_better"
LOWER_IS_BETTER = "lower_is_better"


def json_float(x: Any) -> float | None:
    """A Python float for JSON, or None for None / NaN (JSON has no NaN)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


@dataclass(frozen=True)
class MetricResult:
    """One computed number.

    ``value`` is None when the metric is undefined on this data (the status is then
    ``insufficient_data``). ``sample_size`` is the number of observations the value rests on
    (for drift: non-null window values; for quality: labelled events; for fairness: events of
    the groups that were compared). ``details`` is JSON-able; treat it as read-only.
    """

    value: float | None
    sample_size: int
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", json_float(self.value))
        object.__setattr__(self, "sample_size", int(self.sample_size))

    @property
    def defined(self) -> bool:
        return self.value is not None


def classify(
    value: float | None,
    warn: float | None,
    critical: float | None,
    direction: str,
    sample_size: int,
    min_samples: int,
) -> Status:
    """Map a value to ``ok | warn | critical | insufficient_data``.

    - ``insufficient_data`` when the value is undefined (None/NaN) or ``sample_size <
      min_samples`` — such a value is never ``ok``.
    - ``lower_is_better`` (drift, error rate, latency): ``value >= critical`` → critical,
      else ``value >= warn`` → warn, else ok.
    - ``higher_is_better`` (accuracy, availability): ``value <= critical`` → critical, else
      ``value <= warn`` → warn, else ok.
    - A threshold that is None is not checked; with both None the status is ok.

    Thresholds are inclusive: reaching the threshold is a breach (PSI 0.25 is critical).
    """
    if direction not in (HIGHER_IS_BETTER, LOWER_IS_BETTER):
        raise ValueError(f"direction must be {HIGHER_IS_BETTER!r} or {LOWER_IS_BETTER!r}, not {direction!r}")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return INSUFFICIENT_DATA
    if sample_size < min_samples:
        return INSUFFICIENT_DATA
    value = float(value)
    if direction == LOWER_IS_BETTER:
        if critical is not None and value >= critical:
            return CRITICAL
        if warn is not None and value >= warn:
            return WARN
        return OK
    if critical is not None and value <= critical:
        return CRITICAL
    if warn is not None and value <= warn:
        return WARN
    return OK
