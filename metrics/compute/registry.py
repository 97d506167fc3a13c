"""Calculator registry: metric key (DESIGN.md §3) → function with one uniform signature.

Every calculator is ``fn(ctx: CalcContext, target: str | None, params: Mapping) ->
MetricResult``, where ``target`` is the feature name (scope ``"feature"``), the cohort
attribute (scope ``"attribute"``, fairness) or None (scope ``"deployment"``: one value per
deployment x window x segment). :class:`CalcContext` carries everything a window
computation may need; each :class:`Calculator` declares what it reads in ``needs`` so the
worker loads only that:

- ``"profile"``: ``ctx.window`` — the merged :class:`WindowProfile` of the window and segment.
- ``"reference"``: ``ctx.reference`` — the reference profile (of the segment, or the whole
  reference when the segment has too few reference rows; say so in ``ctx.reference_note``,
  which is copied into ``details``).
- ``"raw_features"`` / ``"reference_features"``: raw non-null values per feature of the window
  and of the reference (KS, Wasserstein). Set ``reference_sorted=True`` when the reference
  arrays are already sorted (cache them once per reference).
- ``"raw:<column>"``: raw window columns in ``ctx.raw`` (``latency_ms`` for exact percentiles
  of windows under 100,000 events; ``label`` and ``score`` for ROC AUC).
- ``"cohorts"``: ``ctx.cohorts[attribute][value]`` — merged profiles of each cohort value.
- ``"clock"``: ``ctx.now``, ``ctx.newest_event_at``, ``ctx.newest_label_at``.
- ``"ingest"``: ``ctx.ingest_accepted``, ``ctx.ingest_rejected``.

The suggested ``direction``, ``unit``, ``min_samples`` and default thresholds are what the
default catalog should ship (DESIGN.md §3); the catalog's version is what counts at run time.
Status: :func:`classify` (re-exported from ``results``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from . import drift, fairness, quality, service
from .profiles import REGRESSION, WindowProfile, group_counts_from_profiles
from .results import HIGHER_IS_BETTER, LOWER_IS_BETTER, MetricResult, classify

__all__ = [
    "CALCULATORS",
    "CalcContext",
    "Calculator",
    "classify",
    "compute",
    "evaluate",
    "get",
    "pick_reference",
]

Scope = Literal["deployment", "feature", "attribute"]


@dataclass(frozen=True)
class CalcContext:
    window: WindowProfile | None = None
    reference: WindowProfile | None = None
    reference_note: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    raw_features: Mapping[str, Any] = field(default_factory=dict)
    reference_features: Mapping[str, Any] = field(default_factory=dict)
    reference_sorted: bool = False
    cohorts: Mapping[str, Mapping[str, WindowProfile]] = field(default_factory=dict)
    window_start: datetime | None = None
    window_end: datetime | None = None
    now: datetime | None = None
    newest_event_at: datetime | None = None
    newest_label_at: datetime | None = None
    ingest_accepted: int | None = None
    ingest_rejected: int | None = None
    baseline: Mapping[str, float] = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def window_minutes(self) -> float:
        start = self.window_start or (self.window.window_start if self.window else None)
        end = self.window_end or (self.window.window_end if self.window else None)
        if start is None or end is None:
            raise ValueError("the context has no window bounds")
        return (end - start).total_seconds() / 60.0


Fn = Callable[[CalcContext, "str | None", Mapping[str, Any]], MetricResult]


@dataclass(frozen=True)
class Calculator:
    key: str
    fn: Fn
    scope: Scope
    direction: str
    unit: str = ""
    needs: frozenset[str] = frozenset({"profile"})
    feature_types: tuple[str, ...] = ()  # scope "feature": which feature types it applies to
    tasks: tuple[str, ...] = ()  # quality metrics: binary_classification / regression
    min_samples: int = 100
    warn: float | None = None
    critical: float | None = None
    sensitive: bool = False

    def __call__(self, ctx: CalcContext, target: str | None = None, params: Mapping[str, Any] | None = None):
        if self.scope != "deployment" and not target:
            raise ValueError(f"{self.key} needs a {self.scope} target")
        return self.fn(ctx, target, params or {})


# --- helpers ---------------------------------------------------------------------------------


def _need(value: Any, what: str) -> Any:
    if value is None:
        raise ValueError(f"this calculator needs {what} in the context")
    return value


def _noted(ctx: CalcContext, result: MetricResult) -> MetricResult:
    if ctx.reference_note:
        return MetricResult(
            result.value, result.sample_size, {**result.details, "reference_note": ctx.reference_note}
        )
    return result


def _missing(reason: str) -> MetricResult:
    return MetricResult(None, 0, {"reason": reason})


def _feature_counts(ctx: CalcContext, feature: str) -> tuple[str, Any, Any] | None:
    window = _need(ctx.window, "the window profile")
    reference = _need(ctx.reference, "the reference profile")
    if feature in window.numeric and feature in reference.numeric:
        return "numeric", reference.numeric[feature].counts, window.numeric[feature].counts
    if feature in window.categorical and feature in reference.categorical:
        return "categorical", reference.categorical[feature].counts, window.categorical[feature].counts
    return None


def _count_drift(kind_fn: dict[str, Callable[[Any, Any], MetricResult]]) -> Fn:
    def fn(ctx: CalcContext, feature: str | None, params: Mapping[str, Any]) -> MetricResult:
        found = _feature_counts(ctx, feature)
        if found is None:
            return _missing(f"feature {feature!r} is not profiled on both sides")
        kind, ref, cur = found
        if kind not in kind_fn:
            return _missing(f"not defined for {kind} features")
        return _noted(ctx, kind_fn[kind](ref, cur))

    return fn


def _raw_pair(ctx: CalcContext, feature: str) -> MetricResult | tuple[MetricResult, MetricResult]:
    key = ("ks_w", feature)
    if key not in ctx._cache:
        if feature not in ctx.raw_features or feature not in ctx.reference_features:
            return _missing(f"raw values of {feature!r} not loaded")
        ctx._cache[key] = drift.ks_and_wasserstein(
            ctx.reference_features[feature], ctx.raw_features[feature], ref_sorted=ctx.reference_sorted
        )
    return ctx._cache[key]


def _ks(ctx: CalcContext, feature: str | None, params: Mapping[str, Any]) -> MetricResult:
    pair = _raw_pair(ctx, feature)
    return pair if isinstance(pair, MetricResult) else _noted(ctx, pair[0])


def _wasserstein(ctx: CalcContext, feature: str | None, params: Mapping[str, Any]) -> MetricResult:
    pair = _raw_pair(ctx, feature)
    return pair if isinstance(pair, MetricResult) else _noted(ctx, pair[1])


def _prediction_drift(ctx: CalcContext, target: str | None, params: Mapping[str, Any]) -> MetricResult:
    window = _need(ctx.window, "the window profile")
    reference = _need(ctx.reference, "the reference profile")
    for source in ("score", "prediction"):
        ref = reference.outputs.get(source)
        cur = window.outputs.get(source)
        if ref is not None and cur is not None and ref.count and cur.count:
            r = drift.psi(ref.counts, cur.counts, source=source)
            return _noted(ctx, r)
    return _missing("no score or prediction on both sides")


def _null_rate(ctx: CalcContext, feature: str | None, params: Mapping[str, Any]) -> MetricResult:
    window = _need(ctx.window, "the window profile")
    summary = window.numeric.get(feature) or window.categorical.get(feature)
    if summary is None:
        return _missing(f"feature {feature!r} is not profiled")
    return service.null_rate_from_counts(summary.nulls, window.count)


def _latency(q: float) -> Fn:
    def fn(ctx: CalcContext, target: str | None, params: Mapping[str, Any]) -> MetricResult:
        limit = int(params.get("exact_limit", service.EXACT_LIMIT))
        window = ctx.window
        raw = ctx.raw.get("latency_ms")
        if raw is not None and (window is None or window.count < limit):
            return service.latency_percentiles(raw, percentiles=[q], exact_limit=limit)[q]
        sketch = _need(window, "the window profile").latency
        return service.latency_percentiles(sketch=sketch, percentiles=[q], exact_limit=limit)[q]

    return fn


def _error_rate(ctx, target, params):
    w = _need(ctx.window, "the window profile")
    return service.error_rate_from_counts(w.error_count, w.count)


def _throughput(ctx, target, params):
    w = _need(ctx.window, "the window profile")
    return service.throughput_per_min(w.count, ctx.window_minutes)


def _availability(ctx, target, params):
    w = _need(ctx.window, "the window profile")
    return service.availability_from_minutes(
        w.minutes.count, w.minutes.errors, float(params.get("slo", service.DEFAULT_SLO))
    )


def _freshness(attr: str, what: str) -> Fn:
    def fn(ctx, target, params):
        now = _need(ctx.now, "now")
        return service.freshness_s(now, getattr(ctx, attr), what=what)

    return fn


def _rejection(ctx, target, params):
    if ctx.ingest_accepted is None or ctx.ingest_rejected is None:
        raise ValueError("ingest_rejection_rate needs ingest_accepted / ingest_rejected")
    return service.ingest_rejection_rate(ctx.ingest_accepted, ctx.ingest_rejected)


def _confusion_metric(metric: Callable[[quality.ConfusionCounts], MetricResult]) -> Fn:
    def fn(ctx, target, params):
        return metric(_need(ctx.window, "the window profile").outcomes.confusion)

    return fn


def _regression_metric(metric: Callable[[quality.RegressionSums], MetricResult]) -> Fn:
    def fn(ctx, target, params):
        return metric(_need(ctx.window, "the window profile").outcomes.regression)

    return fn


def _roc_auc(ctx, target, params):
    label, score = ctx.raw.get("label"), ctx.raw.get("score")
    if label is None or score is None:
        return _missing("raw labels and scores not loaded")
    pos = ctx.window.positive_label if ctx.window is not None else params.get("positive_label", 1)
    return quality.roc_auc(label, score, positive_label=pos)


def _primary(profile: WindowProfile) -> tuple[str, str, MetricResult]:
    if profile.task == REGRESSION:
        return "rmse", LOWER_IS_BETTER, quality.rmse(profile.outcomes.regression)
    return "accuracy", HIGHER_IS_BETTER, quality.accuracy(profile.outcomes.confusion)


def _delta(ctx, target, params):
    window = _need(ctx.window, "the window profile")
    metric, direction, value = _primary(window)
    baseline = ctx.baseline.get(metric)
    if baseline is None and ctx.reference is not None:
        baseline = _primary(ctx.reference)[2].value
    return _noted(ctx, quality.delta_vs_baseline(value, baseline, metric=metric, direction=direction))


def _calibration(ctx, target, params):
    return quality.calibration_error(_need(ctx.window, "the window profile").outcomes.calibration)


def _fair(metric: Callable[..., MetricResult], rates: bool = False) -> Fn:
    def fn(ctx, attribute, params):
        values = ctx.cohorts.get(attribute)
        if not values:
            return _missing(f"no cohort profiles for {attribute!r}")
        kwargs = {
            "min_group_size": int(params.get("min_group_size", fairness.DEFAULT_MIN_GROUP_SIZE)),
            "attribute": attribute,
        }
        if rates:
            kwargs["undefined_rates"] = params.get("undefined_rates", "exclude")
        return metric(group_counts_from_profiles(values), **kwargs)

    return fn


# --- the registry ----------------------------------------------------------------------------

_P = frozenset({"profile"})
_PR = frozenset({"profile", "reference"})
_RAWF = frozenset({"raw_features", "reference_features"})
_BIN = ("binary_classification",)
_REG = ("regression",)
L, H = LOWER_IS_BETTER, HIGHER_IS_BETTER

_ALL = [
    # drift (§3.1)
    Calculator(
        "feature_drift_psi",
        _count_drift({"numeric": drift.psi, "categorical": drift.psi_categorical}),
        "feature",
        L,
        "",
        _PR,
        ("numeric", "categorical"),
        warn=0.1,
        critical=0.25,
    ),
    Calculator(
        "feature_drift_js",
        _count_drift({"numeric": drift.js, "categorical": drift.js_categorical}),
        "feature",
        L,
        "",
        _PR,
        ("numeric", "categorical"),
        warn=0.1,
        critical=0.2,
    ),
    Calculator(
        "feature_drift_wasserstein",
        _wasserstein,
        "feature",
        L,
        "",
        _RAWF,
        ("numeric",),
        warn=0.1,
        critical=0.2,
    ),
    Calculator("feature_drift_ks", _ks, "feature", L, "", _RAWF, ("numeric",)),
    Calculator(
        "feature_drift_chi2_p",
        _count_drift({"categorical": drift.chi2_p}),
        "feature",
        H,
        "",
        _PR,
        ("categorical",),
    ),
    Calculator("prediction_drift_psi", _prediction_drift, "deployment", L, "", _PR, warn=0.1, critical=0.25),
    # service (§3.2)
    Calculator(
        "latency_p50_ms", _latency(50.0), "deployment", L, "ms", frozenset({"profile", "raw:latency_ms"})
    ),
    Calculator(
        "latency_p95_ms", _latency(95.0), "deployment", L, "ms", frozenset({"profile", "raw:latency_ms"})
    ),
    Calculator(
        "latency_p99_ms", _latency(99.0), "deployment", L, "ms", frozenset({"profile", "raw:latency_ms"})
    ),
    Calculator("error_rate", _error_rate, "deployment", L, "ratio", _P),
    Calculator("throughput_per_min", _throughput, "deployment", H, "events/min", _P, min_samples=0),
    Calculator("availability", _availability, "deployment", H, "ratio", _P),
    Calculator(
        "data_freshness_s",
        _freshness("newest_event_at", "event"),
        "deployment",
        L,
        "s",
        frozenset({"clock"}),
        min_samples=1,
    ),
    Calculator(
        "label_freshness_s",
        _freshness("newest_label_at", "label"),
        "deployment",
        L,
        "s",
        frozenset({"clock"}),
        min_samples=1,
    ),
    Calculator("ingest_rejection_rate", _rejection, "deployment", L, "ratio", frozenset({"ingest"})),
    Calculator("null_rate", _null_rate, "feature", L, "ratio", _P, ("numeric", "categorical")),
    # quality (§3.3)
    Calculator("accuracy", _confusion_metric(quality.accuracy), "deployment", H, "ratio", _P, tasks=_BIN),
    Calculator("precision", _confusion_metric(quality.precision), "deployment", H, "ratio", _P, tasks=_BIN),
    Calculator("recall", _confusion_metric(quality.recall), "deployment", H, "ratio", _P, tasks=_BIN),
    Calculator("f1", _confusion_metric(quality.f1), "deployment", H, "ratio", _P, tasks=_BIN),
    Calculator(
        "roc_auc", _roc_auc, "deployment", H, "ratio", frozenset({"raw:label", "raw:score"}), tasks=_BIN
    ),
    Calculator("mae", _regression_metric(quality.mae), "deployment", L, "", _P, tasks=_REG),
    Calculator("rmse", _regression_metric(quality.rmse), "deployment", L, "", _P, tasks=_REG),
    Calculator("accuracy_delta_vs_baseline", _delta, "deployment", H, "", _PR, tasks=(*_BIN, *_REG)),
    Calculator("calibration_error", _calibration, "deployment", L, "", _P, tasks=_BIN),
    # fairness (§3.4)
    Calculator(
        "demographic_parity_difference",
        _fair(fairness.demographic_parity_difference),
        "attribute",
        L,
        "",
        frozenset({"cohorts"}),
        tasks=_BIN,
        min_samples=30,
        sensitive=True,
    ),
    Calculator(
        "disparate_impact_ratio",
        _fair(fairness.disparate_impact_ratio),
        "attribute",
        H,
        "",
        frozenset({"cohorts"}),
        tasks=_BIN,
        min_samples=30,
        sensitive=True,
        warn=0.8,
    ),
    Calculator(
        "equal_opportunity_difference",
        _fair(fairness.equal_opportunity_difference, rates=True),
        "attribute",
        L,
        "",
        frozenset({"cohorts"}),
        tasks=_BIN,
        min_samples=30,
        sensitive=True,
    ),
    Calculator(
        "equalized_odds_difference",
        _fair(fairness.equalized_odds_difference, rates=True),
        "attribute",
        L,
        "",
        frozenset({"cohorts"}),
        tasks=_BIN,
        min_samples=30,
        sensitive=True,
    ),
    Calculator(
        "group_accuracy_gap",
        _fair(fairness.group_accuracy_gap),
        "attribute",
        L,
        "",
        frozenset({"cohorts"}),
        tasks=_BIN,
        min_samples=30,
        sensitive=True,
    ),
]

CALCULATORS: Mapping[str, Calculator] = {c.key: c for c in _ALL}


def pick_reference(
    whole: WindowProfile, segment: WindowProfile | None, min_samples: int
) -> tuple[WindowProfile, str | None]:
    """The reference for a segment (DESIGN.md §3.1): the segment's own reference rows when it
    has at least ``min_samples`` of them, otherwise the whole reference with a note for
    ``details`` (pass both on as ``CalcContext(reference=…, reference_note=…)``)."""
    if segment is None or segment is whole or not segment.segment:
        return whole, None
    if segment.count >= min_samples:
        return segment, None
    return whole, (
        f"segment {segment.segment!r} has {segment.count} reference rows (< {min_samples}): whole reference used"
    )


def get(key: str) -> Calculator:
    try:
        return CALCULATORS[key]
    except KeyError:
        raise KeyError(f"no calculator named {key!r}") from None


def compute(
    key: str, ctx: CalcContext, target: str | None = None, params: Mapping[str, Any] | None = None
) -> MetricResult:
    return get(key)(ctx, target, params)


def evaluate(
    key: str,
    ctx: CalcContext,
    target: str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    warn: float | None = None,
    critical: float | None = None,
    direction: str | None = None,
    min_samples: int | None = None,
) -> tuple[MetricResult, str]:
    """Compute and classify with the given policy (defaults: the calculator's suggestions)."""
    calc = get(key)
    result = calc(ctx, target, params)
    status = classify(
        result.value,
        warn,
        critical,
        direction or calc.direction,
        result.sample_size,
        calc.min_samples if min_samples is None else min_samples,
    )
    return result, status
