"""Readiness: ``ready`` / ``staged`` / ``blocked`` with machine-readable reasons (DESIGN.md §5.5).

- ``blocked`` if any metric instance is ``critical`` (whatever the score) or the score < 60;
- ``staged`` (canary rollout recommended) if any instance is ``warn``, the score < 80, the
  coverage < 70 %, or there is no score at all (no evidence yet: a canary is how it is gathered);
- ``ready`` otherwise.

Every decision carries its reasons: a list of dicts with a stable ``code``, the ``decision`` the
reason asks for, a human ``message`` and the fields a machine needs (metric, feature, attribute,
value, threshold, …). Codes: ``metric_critical``, ``score_below_block``, ``metric_warn``,
``score_below_ready``, ``coverage_low``, ``no_score``, and ``all_clear`` for ``ready``.

Containment: a ``staged`` decision names the canary share to start with (from the system's
criticality: the more critical, the smaller the first slice of traffic) and the rollback target,
the previous ``ready`` version in the same environment (looked up by the caller and passed in).
A ``blocked`` decision names the rollback target with a canary share of 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metrics.trust.score import CRITICAL, WARN, ScoreResult

__all__ = [
    "BLOCKED",
    "BLOCK_BELOW",
    "CANARY_SHARE",
    "MIN_COVERAGE",
    "READY",
    "READY_AT",
    "STAGED",
    "Decision",
    "decide",
]

READY = "ready"
STAGED = "staged"
BLOCKED = "blocked"
BLOCK_BELOW = 60.0
READY_AT = 80.0
MIN_COVERAGE = 0.70
# First canary slice of traffic by system criticality.
CANARY_SHARE = {"low": 0.25, "medium": 0.10, "high": 0.05, "critical": 0.01}
_ORDER = {READY: 0, STAGED: 1, BLOCKED: 2}


@dataclass
class Decision:
    readiness: str
    reasons: list[dict[str, Any]]
    containment: dict[str, Any] | None = None
    score: float | None = None
    coverage: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def codes(self) -> list[str]:
        return [r["code"] for r in self.reasons]

    def as_dict(self) -> dict:
        return {
            "readiness": self.readiness,
            "score": self.score,
            "coverage": self.coverage,
            "reasons": self.reasons,
            "containment": self.containment,
        }


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"


def _instance_reason(code: str, decision: str, pillar: str, inst) -> dict:
    threshold = inst.policy.critical if inst.status == CRITICAL else inst.policy.warn
    side = "at or below" if inst.policy.direction == "higher_is_better" else "at or above"
    return {
        "code": code,
        "decision": decision,
        "metric": inst.key,
        "pillar": pillar,
        "feature": inst.feature,
        "attribute": inst.attribute,
        "value": inst.value,
        "threshold": threshold,
        "threshold_source": inst.policy.source,
        "direction": inst.policy.direction,
        "metric_value": inst.metric_value_id,
        "message": f"{pillar.replace('_', ' ')} metric {inst.label} = {_fmt(inst.value)}, "
        f"{side} its {inst.status} threshold {_fmt(threshold)}",
    }


def decide(
    result: ScoreResult,
    *,
    criticality: str = "medium",
    rollback_target: Mapping[str, Any] | None = None,
    block_below: float = BLOCK_BELOW,
    ready_at: float = READY_AT,
    min_coverage: float = MIN_COVERAGE,
) -> Decision:
    """The readiness of a scored window, with its reasons and (when not ready) containment."""
    reasons: list[dict[str, Any]] = []
    for metric in result.metrics:
        for inst in metric.instances:
            if inst.status == CRITICAL:
                reasons.append(_instance_reason("metric_critical", BLOCKED, metric.pillar, inst))
    score = result.score
    if score is not None and score < block_below:
        reasons.append(
            {
                "code": "score_below_block",
                "decision": BLOCKED,
                "score": score,
                "threshold": block_below,
                "message": f"trust score {score:.1f} is below {block_below:g}",
            }
        )
    for metric in result.metrics:
        for inst in metric.instances:
            if inst.status == WARN:
                reasons.append(_instance_reason("metric_warn", STAGED, metric.pillar, inst))
    if score is None:
        reasons.append(
            {
                "code": "no_score",
                "decision": STAGED,
                "message": "no metric with thresholds has enough data yet: start with a canary to gather evidence",
            }
        )
    elif block_below <= score < ready_at:
        reasons.append(
            {
                "code": "score_below_ready",
                "decision": STAGED,
                "score": score,
                "threshold": ready_at,
                "message": f"trust score {score:.1f} is below {ready_at:g}",
            }
        )
    coverage = result.coverage
    if coverage is not None and coverage < min_coverage:
        low = {
            p: c
            for p, c in result.pillar_coverage().items()
            if c is not None and c < min_coverage and result.pillars[p].weight > 0
        }
        unknown = [m.key for m in result.metrics if not m.known and m.weight > 0]
        reasons.append(
            {
                "code": "coverage_low",
                "decision": STAGED,
                "coverage": coverage,
                "threshold": min_coverage,
                "pillars": low,
                "unknown_metrics": unknown,
                "message": f"coverage {coverage:.0%} is below {min_coverage:.0%} "
                f"(not enough data: {', '.join(unknown) or 'none'})",
            }
        )

    readiness = READY
    for reason in reasons:
        if _ORDER[reason["decision"]] > _ORDER[readiness]:
            readiness = reason["decision"]

    containment = None
    target = dict(rollback_target) if rollback_target else None
    if readiness == STAGED:
        share = CANARY_SHARE.get(criticality, CANARY_SHARE["medium"])
        containment = {
            "canary_share": share,
            "criticality": criticality,
            "rollback_target": target,
            "message": f"start with {share:.0%} of traffic; "
            + (
                f"roll back to {target.get('version')} if it degrades"
                if target
                else "no earlier ready version in this environment to roll back to"
            ),
        }
    elif readiness == BLOCKED:
        containment = {
            "canary_share": 0.0,
            "criticality": criticality,
            "rollback_target": target,
            "message": (
                f"do not roll out; roll back to {target.get('version')}"
                if target
                else "do not roll out; no earlier ready version in this environment"
            ),
        }
    else:
        reasons.append(
            {
                "code": "all_clear",
                "decision": READY,
                "score": score,
                "coverage": coverage,
                "message": f"trust score {score:.1f} ≥ {ready_at:g}, no metric at warn or critical, "
                f"coverage {coverage if coverage is not None else 1:.0%}",
            }
        )
    reasons.sort(key=lambda r: -_ORDER[r["decision"]])
    return Decision(
        readiness=readiness, reasons=reasons, containment=containment, score=score, coverage=coverage
    )
