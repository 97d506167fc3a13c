"""Pure tests of the readiness decision (DESIGN.md §5.5)."""

from __future__ import annotations

import pytest

from metrics.trust.readiness import BLOCKED, READY, STAGED, decide
from metrics.trust.score import (
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    Observation,
    Threshold,
    WeightProfile,
    compute_score,
)

LOW = Threshold(LOWER_IS_BETTER, warn=0.1, critical=0.2)
HIGH = Threshold(HIGHER_IS_BETTER, warn=0.9, critical=0.8)
EQUAL = WeightProfile("equal", {"performance": 1, "fairness": 1, "reliability": 1, "data_quality": 1})


def obs(key, pillar, value, policy=LOW, **kw):
    return Observation(key=key, pillar=pillar, value=value, policy=policy, **kw)


def healthy(n=10):
    return [obs(f"m{i}", "performance", 0.0) for i in range(n)]


def test_all_healthy_is_ready_with_a_reason():
    decision = decide(compute_score(healthy(), EQUAL))
    assert decision.readiness == READY
    assert decision.codes == ["all_clear"]
    assert decision.containment is None


def test_one_critical_metric_blocks_whatever_the_score():
    values = [*healthy(200), obs("dpd", "fairness", 0.21, attribute="sex", metric_value_id=7)]
    # Give fairness a tiny weight so the score stays high.
    profile = WeightProfile("p", {"performance": 1000, "fairness": 1})
    result = compute_score(values, profile)
    assert result.score > 99.9
    decision = decide(result)
    assert decision.readiness == BLOCKED
    reason = decision.reasons[0]
    assert reason["code"] == "metric_critical"
    assert reason["metric"] == "dpd" and reason["attribute"] == "sex" and reason["metric_value"] == 7
    assert reason["threshold"] == 0.2 and reason["pillar"] == "fairness"
    assert "dpd" in reason["message"]


def test_score_below_60_blocks_and_below_80_stages():
    # A metric just short of critical has health ~0: the score is the share of the healthy rest.
    def decision_for(healthy_n, sick_n):
        values = healthy(healthy_n) + [obs(f"s{i}", "performance", 0.1999) for i in range(sick_n)]
        return decide(compute_score(values, EQUAL))

    blocked = decision_for(5, 5)
    assert blocked.score == pytest.approx(50.05, abs=0.01)
    assert blocked.readiness == BLOCKED and "score_below_block" in blocked.codes
    staged = decision_for(7, 3)
    assert 60 <= staged.score < 80
    assert (
        staged.readiness == STAGED and "score_below_ready" in staged.codes and "metric_warn" in staged.codes
    )


def test_a_warn_metric_stages_even_at_full_score():
    decision = decide(compute_score([*healthy(), obs("acc", "performance", 0.9, HIGH)], EQUAL))
    assert decision.score == 100.0  # exactly at warn: health 1
    assert decision.readiness == STAGED
    assert decision.codes == ["metric_warn"]


def test_coverage_below_70_percent_stages():
    values = healthy(2) + [obs(f"x{i}", "performance", 0.0, enough_data=False) for i in range(2)]
    result = compute_score(values, EQUAL)
    assert result.score == 100.0 and result.coverage == 0.5
    decision = decide(result)
    assert decision.readiness == STAGED
    (reason,) = decision.reasons
    assert reason["code"] == "coverage_low"
    assert reason["coverage"] == 0.5 and set(reason["unknown_metrics"]) == {"x0", "x1"}
    # 70% exactly is enough
    values = healthy(7) + [obs(f"x{i}", "performance", 0.0, enough_data=False) for i in range(3)]
    assert decide(compute_score(values, EQUAL)).readiness == READY


def test_no_score_is_staged():
    decision = decide(compute_score([obs("acc", "performance", None, HIGH)], EQUAL))
    assert decision.readiness == STAGED
    assert "no_score" in decision.codes


def test_staged_names_canary_share_and_rollback_target():
    values = [*healthy(), obs("acc", "performance", 0.85, HIGH)]
    target = {"deployment": 3, "version": "1.4.0"}
    critical = decide(compute_score(values, EQUAL), criticality="critical", rollback_target=target)
    low = decide(compute_score(values, EQUAL), criticality="low")
    assert critical.readiness == low.readiness == STAGED
    assert critical.containment["canary_share"] < low.containment["canary_share"]
    assert critical.containment["rollback_target"] == target
    assert "1.4.0" in critical.containment["message"]
    assert low.containment["rollback_target"] is None


def test_blocked_containment_rolls_back():
    values = [obs("acc", "performance", 0.5, HIGH)]
    decision = decide(compute_score(values, EQUAL), rollback_target={"deployment": 1, "version": "1.0"})
    assert decision.readiness == BLOCKED
    assert decision.containment["canary_share"] == 0.0
    assert decision.containment["rollback_target"]["version"] == "1.0"


def test_reasons_are_ordered_blocking_first():
    values = [obs("a", "performance", 0.15), obs("b", "performance", 0.3)]
    decision = decide(compute_score(values, EQUAL))
    assert [r["decision"] for r in decision.reasons] == sorted(
        (r["decision"] for r in decision.reasons), key=[BLOCKED, STAGED, READY].index
    )
    assert decision.reasons[0]["metric"] == "b"
