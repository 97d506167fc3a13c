"""Pure tests of the trust score (no database): health, pillars, weights, coverage, contributions."""

from __future__ import annotations

import math

import pytest

from metrics.trust.score import (
    CRITICAL,
    HIGHER_IS_BETTER,
    INSUFFICIENT_DATA,
    LOWER_IS_BETTER,
    OK,
    WARN,
    Observation,
    Threshold,
    WeightProfile,
    compute_score,
    health,
    status,
)

LOW = Threshold(LOWER_IS_BETTER, warn=0.1, critical=0.25)  # PSI-like
HIGH = Threshold(HIGHER_IS_BETTER, warn=0.9, critical=0.8)  # accuracy-like
EQUAL = WeightProfile("equal", {"performance": 1, "fairness": 1, "reliability": 1, "data_quality": 1})


def obs(key, pillar, value, policy=LOW, **kw):
    return Observation(key=key, pillar=pillar, value=value, policy=policy, **kw)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, 1.0),  # better than warn
        (0.1, 1.0),  # at warn
        (0.175, 0.5),  # halfway
        (0.22, 0.2),
        (0.25, 0.0),  # at critical
        (3.0, 0.0),  # beyond critical
    ],
)
def test_health_lower_is_better(value, expected):
    assert health(value, LOW) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.99, 1.0),
        (0.9, 1.0),  # at warn
        (0.85, 0.5),
        (0.82, 0.2),
        (0.8, 0.0),  # at critical
        (0.1, 0.0),
    ],
)
def test_health_higher_is_better(value, expected):
    assert health(value, HIGH) == pytest.approx(expected)


def test_status_is_inclusive_and_direction_aware():
    assert [status(v, LOW) for v in (0.05, 0.1, 0.2, 0.25)] == [OK, WARN, WARN, CRITICAL]
    assert [status(v, HIGH) for v in (0.95, 0.9, 0.85, 0.8)] == [OK, WARN, WARN, CRITICAL]
    assert status(0.05, LOW, enough_data=False) == INSUFFICIENT_DATA
    assert status(None, LOW) == INSUFFICIENT_DATA
    assert status(math.nan, LOW) == INSUFFICIENT_DATA


def test_health_with_missing_thresholds():
    critical_only = Threshold(LOWER_IS_BETTER, critical=0.5)
    assert health(0.49, critical_only) == 1.0
    assert health(0.5, critical_only) == 0.0
    warn_only = Threshold(HIGHER_IS_BETTER, warn=0.8)
    assert health(0.8, warn_only) == 1.0
    assert health(0.79, warn_only) == 0.5
    assert health(0.1, Threshold(LOWER_IS_BETTER)) is None  # context only
    assert health(None, LOW) is None
    # Thresholds in the wrong order: critical wins.
    backwards = Threshold(LOWER_IS_BETTER, warn=0.5, critical=0.2)
    assert health(0.3, backwards) == 0.0
    assert health(0.1, backwards) == 1.0


def test_context_only_metrics_take_no_part():
    result = compute_score(
        [obs("psi", "data_quality", 0.0), obs("ks", "data_quality", 0.9, Threshold(LOWER_IS_BETTER))], EQUAL
    )
    assert [m.key for m in result.metrics] == ["psi"]
    assert result.score == 100.0


def test_pillar_score_is_weighted_mean_and_trust_score_weighted_mean_of_pillars():
    profile = WeightProfile(
        "p", {"performance": 3, "fairness": 1, "reliability": 0, "data_quality": 0}, {"acc": 3, "f1": 1}
    )
    result = compute_score(
        [
            obs("acc", "performance", 0.85, HIGH),  # health 0.5, weight 3
            obs("f1", "performance", 0.95, HIGH),  # health 1, weight 1
            obs("dpd", "fairness", 0.25),  # health 0
            obs("err", "reliability", 0.25),  # weight 0 pillar: no effect on the score
        ],
        profile,
    )
    assert result.pillars["performance"].score == pytest.approx((3 * 0.5 + 1) / 4)
    assert result.pillars["fairness"].score == 0.0
    assert result.score == pytest.approx(100 * (3 * 0.625 + 1 * 0.0) / 4)


def test_contributions_are_ranked_and_sum_to_the_deficit():
    result = compute_score(
        [obs("a", "performance", 0.2), obs("b", "performance", 0.15), obs("c", "fairness", 0.0)], EQUAL
    )
    ranked = result.contributions
    assert [m.key for m in ranked] == ["a", "b", "c"]
    assert ranked[0].contribution > ranked[1].contribution > 0 == ranked[2].contribution
    assert sum(m.contribution for m in ranked) == pytest.approx(100 - result.score)
    # weight share x (1 - health): a has share 1/2 * 1/2 and health (0.25 - 0.2) / 0.15 = 1/3
    assert ranked[0].share == pytest.approx(0.25)
    assert ranked[0].contribution == pytest.approx(100 * 0.25 * (1 - 1 / 3))


def test_weights_per_profile_change_the_score():
    values = [obs("acc", "performance", 0.95, HIGH), obs("dpd", "fairness", 0.2)]  # fairness health 0.333
    fair_heavy = WeightProfile("f", {"performance": 1, "fairness": 3})
    perf_heavy = WeightProfile("p", {"performance": 3, "fairness": 1})
    fair = compute_score(values, fair_heavy).score
    perf = compute_score(values, perf_heavy).score
    h = (0.25 - 0.2) / 0.15
    assert fair == pytest.approx(100 * (1 + 3 * h) / 4)
    assert perf == pytest.approx(100 * (3 + h) / 4)
    assert fair < perf


def test_worst_instance_is_the_metric_health():
    result = compute_score(
        [
            obs("psi", "data_quality", 0.0, feature="income"),
            obs("psi", "data_quality", 0.2, feature="age"),
            obs("psi", "data_quality", 0.05, feature="region"),
        ],
        EQUAL,
    )
    (metric,) = result.metrics
    assert metric.health == pytest.approx(1 / 3)
    assert metric.status == WARN
    assert metric.worst.feature == "age"


def test_insufficient_data_lowers_coverage_not_the_score():
    base = [obs("acc", "performance", 0.95, HIGH), obs("f1", "performance", 0.95, HIGH)]
    full = compute_score(base, EQUAL)
    thin = compute_score(
        [*base, obs("auc", "performance", 0.1, HIGH, enough_data=False)],  # bad value, too few samples
        EQUAL,
    )
    assert thin.score == full.score == 100.0
    assert full.coverage == 1.0
    assert thin.pillars["performance"].coverage == pytest.approx(2 / 3)
    assert thin.coverage == pytest.approx(2 / 3)
    auc = next(m for m in thin.metrics if m.key == "auc")
    assert auc.status == INSUFFICIENT_DATA and not auc.known and auc.contribution == 0


def test_expected_metrics_without_values_lower_coverage():
    result = compute_score(
        [obs("acc", "performance", 0.95, HIGH)],
        EQUAL,
        expected={"acc": "performance", "dpd": "fairness", "error_rate": "reliability"},
    )
    assert result.score == 100.0
    assert result.pillars["fairness"].coverage == 0.0
    assert result.coverage == pytest.approx(1 / 3)


def test_nothing_known_gives_no_score():
    result = compute_score([obs("acc", "performance", None, HIGH)], EQUAL)
    assert result.score is None
    assert result.coverage == 0.0
