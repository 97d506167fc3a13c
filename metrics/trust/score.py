"""Metric health, pillar scores, the trust score, coverage and contributions (DESIGN.md §5.1-5.4).

Pure Python, no Django. The numbers:

**Health** of one value in [0, 1], from its effective threshold policy (direction-aware). For a
``lower_is_better`` metric (drift, latency, error rate) with warn ``w`` and critical ``c``:

- ``1`` at or better than warn (``value <= w``),
- ``0`` at or beyond critical (``value >= c``),
- linear in between: ``(c - value) / (c - w)``.

``higher_is_better`` (accuracy, availability, disparate-impact ratio) is the mirror image.
Missing thresholds, on purpose:

- neither warn nor critical: the metric is *context only* (KS statistic, chi-square p-value) and
  takes no part in the score, the coverage or readiness;
- critical only: a step — ``1`` better than critical, ``0`` at or beyond it;
- warn only: ``1`` at or better than warn, ``0.5`` beyond it — a warn-only metric can cost at most
  half its weight, because "warn" means "look", never "stop";
- thresholds in the wrong order for the direction (warn beyond critical): critical wins — ``0``
  at or beyond critical, ``1`` at or better than warn, and the empty band between them is skipped.

A value's **status** follows the same policy with the catalog's inclusive rule (reaching a
threshold is a breach, exactly ``metrics.compute.results.classify``), so a value sitting exactly
on warn has health 1 and status ``warn``: it costs no points but still stages a rollout.

**Instances.** One metric can have several values in a window (drift per feature, fairness per
protected attribute). A metric's health is its *worst* known instance and its status the worst
status, so one drifting feature is enough to pull the metric down and is named in the reasons.

**Unknown.** A value stored as ``insufficient_data`` (or with no value) is unknown: it lowers its
pillar's *coverage*, never its score. A metric with no known instance is left out of its pillar's
weighted mean, and a pillar with no known metric is left out of the trust score (the remaining
weights are renormalised).

**Scores.** Pillar score = weighted mean of its known metrics' health (metric weights from the
profile, default 1). Trust score = 100 * weighted mean of the known pillar scores (pillar weights
from the profile; a pillar the profile does not name weighs 0).

**Contributions.** A metric's weight share is ``(W_p / ΣW) * (w_m / Σw_p)`` over what is known,
and its contribution is ``100 * share * (1 - health)`` score points. The contributions add up to
exactly ``100 - score``, so "why is this 62?" is a ranked list that sums to 38.

**Coverage** of a pillar = known expected metrics / expected metrics (expected = metrics with
thresholds and a non-zero weight that the deployment should have; by default those observed).
Overall coverage = the pillar-weight-weighted mean of the pillar coverages, so missing fairness
data counts more under a fairness-heavy profile.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CRITICAL",
    "HIGHER_IS_BETTER",
    "INSUFFICIENT_DATA",
    "LOWER_IS_BETTER",
    "OK",
    "PILLARS",
    "WARN",
    "Instance",
    "MetricScore",
    "Observation",
    "PillarScore",
    "ScoreResult",
    "Threshold",
    "WeightProfile",
    "compute_score",
    "health",
    "status",
]

PILLARS = ("performance", "fairness", "reliability", "data_quality")
HIGHER_IS_BETTER = "higher_is_better"
LOWER_IS_BETTER = "lower_is_better"
OK = "ok"
WARN = "warn"
CRITICAL = "critical"
INSUFFICIENT_DATA = "insufficient_data"
_SEVERITY = {OK: 0, WARN: 1, CRITICAL: 2}
WARN_ONLY_BREACH_HEALTH = 0.5


@dataclass(frozen=True)
class Threshold:
    """The effective threshold policy of one metric on one deployment."""

    direction: str
    warn: float | None = None
    critical: float | None = None
    source: str = "catalog"

    def __post_init__(self) -> None:
        if self.direction not in (HIGHER_IS_BETTER, LOWER_IS_BETTER):
            raise ValueError(f"direction must be {HIGHER_IS_BETTER!r} or {LOWER_IS_BETTER!r}")

    @property
    def has_thresholds(self) -> bool:
        return self.warn is not None or self.critical is not None

    def as_dict(self) -> dict:
        return {
            "direction": self.direction,
            "warn": self.warn,
            "critical": self.critical,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Threshold:
        return cls(
            direction=data["direction"],
            warn=data.get("warn"),
            critical=data.get("critical"),
            source=data.get("source", "catalog"),
        )


@dataclass(frozen=True)
class WeightProfile:
    """Pillar weights and per-metric weights (a metric the profile does not name weighs 1)."""

    slug: str
    pillar_weights: Mapping[str, float]
    metric_weights: Mapping[str, float] = field(default_factory=dict)
    version: int | None = None

    def pillar_weight(self, pillar: str) -> float:
        return max(0.0, float(self.pillar_weights.get(pillar, 0.0)))

    def metric_weight(self, key: str) -> float:
        return max(0.0, float(self.metric_weights.get(key, 1.0)))

    def as_dict(self) -> dict:
        return {
            "slug": self.slug,
            "version": self.version,
            "pillar_weights": dict(self.pillar_weights),
            "metric_weights": dict(self.metric_weights),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WeightProfile:
        return cls(
            slug=data["slug"],
            version=data.get("version"),
            pillar_weights=dict(data.get("pillar_weights") or {}),
            metric_weights=dict(data.get("metric_weights") or {}),
        )


@dataclass(frozen=True)
class Observation:
    """One stored metric value as the score sees it."""

    key: str
    pillar: str
    value: float | None
    policy: Threshold
    enough_data: bool = True  # False when the value was stored as insufficient_data
    feature: str = ""
    attribute: str = ""
    metric_value_id: int | None = None
    metric_version: int | None = None


def _finite(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _oriented(value: float, policy: Threshold) -> tuple[float, float | None, float | None]:
    """Turn every policy into lower-is-better by negating higher-is-better numbers."""
    if policy.direction == LOWER_IS_BETTER:
        return value, policy.warn, policy.critical
    neg = lambda x: None if x is None else -x  # noqa: E731
    return -value, neg(policy.warn), neg(policy.critical)


def health(value: float | None, policy: Threshold) -> float | None:
    """Health in [0, 1] of ``value`` under ``policy``; None when the value is unknown or the
    metric has no thresholds (context only). See the module docstring for the rules."""
    if not _finite(value) or not policy.has_thresholds:
        return None
    v, w, c = _oriented(float(value), policy)
    if c is not None and v >= c:
        return 0.0
    if w is None:  # critical only, and better than it
        return 1.0
    if v <= w:
        return 1.0
    if c is None:  # warn only, beyond it
        return WARN_ONLY_BREACH_HEALTH
    return min(1.0, max(0.0, (c - v) / (c - w)))


def status(value: float | None, policy: Threshold, *, enough_data: bool = True) -> str:
    """``ok | warn | critical | insufficient_data`` with the inclusive threshold rule."""
    if not enough_data or not _finite(value):
        return INSUFFICIENT_DATA
    v, w, c = _oriented(float(value), policy)
    if c is not None and v >= c:
        return CRITICAL
    if w is not None and v >= w:
        return WARN
    return OK


@dataclass(frozen=True)
class Instance:
    """One observation, scored."""

    key: str
    feature: str
    attribute: str
    value: float | None
    status: str
    health: float | None
    policy: Threshold
    metric_value_id: int | None = None
    metric_version: int | None = None

    @property
    def known(self) -> bool:
        return self.health is not None

    @property
    def label(self) -> str:
        parts = [self.key]
        if self.feature:
            parts.append(f"feature {self.feature}")
        if self.attribute:
            parts.append(f"attribute {self.attribute}")
        return parts[0] if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"

    def as_dict(self) -> dict:
        return {
            "metric": self.key,
            "feature": self.feature,
            "attribute": self.attribute,
            "value": self.value,
            "status": self.status,
            "health": self.health,
            "warn": self.policy.warn,
            "critical": self.policy.critical,
            "direction": self.policy.direction,
            "threshold_source": self.policy.source,
            "metric_value": self.metric_value_id,
            "metric_version": self.metric_version,
        }


@dataclass
class MetricScore:
    key: str
    pillar: str
    weight: float
    instances: list[Instance]
    health: float | None = None
    status: str = INSUFFICIENT_DATA
    share: float = 0.0  # of the whole trust score, over what is known
    contribution: float = 0.0  # score points lost to this metric

    @property
    def known(self) -> bool:
        return self.health is not None

    @property
    def worst(self) -> Instance | None:
        known = [i for i in self.instances if i.known]
        return min(known, key=lambda i: (i.health, -_SEVERITY.get(i.status, 0))) if known else None

    def as_dict(self) -> dict:
        worst = self.worst
        return {
            "metric": self.key,
            "pillar": self.pillar,
            "weight": self.weight,
            "health": self.health,
            "status": self.status,
            "share": self.share,
            "contribution": self.contribution,
            "worst": worst.as_dict() if worst else None,
        }


@dataclass
class PillarScore:
    pillar: str
    weight: float  # the profile's raw pillar weight
    score: float | None  # weighted mean health in [0, 1]
    coverage: float | None  # None when nothing is expected in the pillar
    expected: int
    known: int
    share: float = 0.0  # of the trust score, over known pillars

    def as_dict(self) -> dict:
        return {
            "pillar": self.pillar,
            "weight": self.weight,
            "score": None if self.score is None else 100.0 * self.score,
            "coverage": self.coverage,
            "expected": self.expected,
            "known": self.known,
            "share": self.share,
        }


@dataclass
class ScoreResult:
    score: float | None  # 0..100, None when nothing is known
    coverage: float | None
    pillars: dict[str, PillarScore]
    metrics: list[MetricScore]
    profile: WeightProfile

    @property
    def instances(self) -> list[Instance]:
        return [i for m in self.metrics for i in m.instances]

    @property
    def contributions(self) -> list[MetricScore]:
        """Known metrics ranked by the points they cost, largest first (ties by key)."""
        return sorted((m for m in self.metrics if m.known), key=lambda m: (-m.contribution, m.key))

    def pillar_scores(self) -> dict[str, float | None]:
        return {p: (None if s.score is None else 100.0 * s.score) for p, s in self.pillars.items()}

    def pillar_coverage(self) -> dict[str, float | None]:
        return {p: s.coverage for p, s in self.pillars.items()}


def _worse(a: str, b: str) -> str:
    return a if _SEVERITY.get(a, -1) >= _SEVERITY.get(b, -1) else b


def compute_score(
    observations: Iterable[Observation],
    profile: WeightProfile,
    *,
    expected: Mapping[str, str] | None = None,
) -> ScoreResult:
    """Score a deployment's window.

    ``expected`` maps metric key → pillar for every metric the deployment *should* have (with
    thresholds); an expected metric with no observation counts as unknown for coverage. By default
    the expected metrics are the observed ones.
    """
    by_key: dict[str, MetricScore] = {}
    for obs in observations:
        if not obs.policy.has_thresholds:
            continue  # context only
        inst = Instance(
            key=obs.key,
            feature=obs.feature,
            attribute=obs.attribute,
            value=obs.value if _finite(obs.value) else None,
            status=status(obs.value, obs.policy, enough_data=obs.enough_data),
            health=health(obs.value, obs.policy) if obs.enough_data else None,
            policy=obs.policy,
            metric_value_id=obs.metric_value_id,
            metric_version=obs.metric_version,
        )
        metric = by_key.get(obs.key)
        if metric is None:
            metric = by_key[obs.key] = MetricScore(
                key=obs.key, pillar=obs.pillar, weight=profile.metric_weight(obs.key), instances=[]
            )
        metric.instances.append(inst)

    expected_keys = dict(expected or {})
    for key, metric in by_key.items():
        expected_keys.setdefault(key, metric.pillar)
    for key, pillar in expected_keys.items():
        if key not in by_key:
            by_key[key] = MetricScore(key=key, pillar=pillar, weight=profile.metric_weight(key), instances=[])

    for metric in by_key.values():
        known = [i for i in metric.instances if i.known]
        if known:
            metric.health = min(i.health for i in known)
        statuses = [i.status for i in metric.instances if i.status != INSUFFICIENT_DATA]
        metric.status = INSUFFICIENT_DATA
        for s in statuses:
            metric.status = s if metric.status == INSUFFICIENT_DATA else _worse(metric.status, s)

    pillar_names = list(PILLARS) + sorted({m.pillar for m in by_key.values()} - set(PILLARS))
    pillars: dict[str, PillarScore] = {}
    for name in pillar_names:
        members = [m for m in by_key.values() if m.pillar == name]
        counted = [m for m in members if m.weight > 0]
        known = [m for m in counted if m.known]
        total_w = sum(m.weight for m in known)
        pillars[name] = PillarScore(
            pillar=name,
            weight=profile.pillar_weight(name),
            score=(sum(m.weight * m.health for m in known) / total_w) if total_w > 0 else None,
            coverage=(len(known) / len(counted)) if counted else None,
            expected=len(counted),
            known=len(known),
        )

    scored = [p for p in pillars.values() if p.score is not None and p.weight > 0]
    total_pw = sum(p.weight for p in scored)
    score = None
    if total_pw > 0:
        score = 100.0 * sum(p.weight * p.score for p in scored) / total_pw
        for p in scored:
            p.share = p.weight / total_pw
            known = [m for m in by_key.values() if m.pillar == p.pillar and m.known and m.weight > 0]
            total_w = sum(m.weight for m in known)
            for m in known:
                m.share = p.share * m.weight / total_w
                m.contribution = 100.0 * m.share * (1.0 - m.health)

    covered = [p for p in pillars.values() if p.coverage is not None and p.weight > 0]
    cov_w = sum(p.weight for p in covered)
    coverage = (sum(p.weight * p.coverage for p in covered) / cov_w) if cov_w > 0 else None

    metrics = sorted(by_key.values(), key=lambda m: (pillar_names.index(m.pillar), m.key))
    return ScoreResult(score=score, coverage=coverage, pillars=pillars, metrics=metrics, profile=profile)
