"""Pure tests of jump detection, policy flips and "what changed" attribution."""

from __future__ import annotations

import random

import pytest

from metrics.trust.anomaly import check_jump, check_policy_flip, find_jumps, robust_sigma
from metrics.trust.attribution import attribute_change
from metrics.trust.readiness import BLOCKED, READY
from metrics.trust.score import (
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    Observation,
    Threshold,
    WeightProfile,
    compute_score,
)


def noisy_series(n=200, seed=7, sd=1.0, level=85.0):
    rng = random.Random(seed)
    return [level + rng.gauss(0, sd) for _ in range(n)]


def test_robust_sigma_matches_normal_sd():
    rng = random.Random(1)
    changes = [rng.gauss(0, 2.0) for _ in range(20000)]
    med, sigma = robust_sigma(changes)
    assert abs(med) < 0.05
    assert sigma == pytest.approx(2.0, rel=0.03)


def test_jump_detector_flags_a_synthetic_jump():
    series = noisy_series()
    series[150] -= 25.0  # a sudden drop
    assert 150 in find_jumps(series)
    check = check_jump(series[:150], series[150])
    assert check.flagged and check.change < 0 and check.z < -4
    assert check.history == 48
    # A 15-point drop (about 10 sd of the window-to-window changes) is caught wherever it lands.
    for seed in range(10):
        series = noisy_series(n=300, seed=seed)
        for at in (60, 150, 290):
            jumped = list(series)
            jumped[at] -= 15.0
            assert check_jump(jumped[:at], jumped[at]).flagged, (seed, at)


def test_jump_detector_ignores_noise():
    # White noise (sd 1 point) around a level: 4 robust sd of 48 changes rarely trips.
    # Measured: 10 flags in 9,980 windows (0.1 %); the bound leaves room for other seeds.
    checked = flagged = 0
    for seed in range(10):
        series = noisy_series(n=500, seed=seed)
        checked += len(series) - 1
        flagged += len(find_jumps(series))
    assert flagged / checked < 0.005
    # A quiet series has no flag at all.
    assert find_jumps(noisy_series(n=200, seed=0)) == []


def test_jump_detector_ignores_a_slow_trend_and_outliers_in_history():
    series = [90 - 0.2 * i for i in range(100)]  # a steady decline of 0.2 per window
    assert find_jumps(series) == []
    series = noisy_series(seed=3)
    series[60] += 30  # one old outlier does not inflate the yardstick (MAD is robust)
    assert 60 in find_jumps(series)
    series[140] -= 12
    assert check_jump(series[:140], series[140]).flagged


def test_jump_needs_history_and_tolerates_flat_series():
    assert not check_jump([80.0] * 5, 40.0).flagged  # too little history
    flat = [100.0] * 60
    assert not check_jump(flat, 100.0 - 1e-9).flagged  # rounding noise on a flat line
    assert check_jump(flat, 97.0).flagged  # 3 points is 6 floored sd


def test_jump_skips_unknown_scores():
    series = noisy_series(60)
    series[30] = None
    assert not check_jump(series, series[-1] + 0.5).flagged


LOW = Threshold(LOWER_IS_BETTER, warn=0.1, critical=0.2)
PROFILE = WeightProfile("balanced", {"performance": 1, "fairness": 1}, version=1)


def test_threshold_change_alone_unblocking_is_flagged():
    values = [
        Observation("acc", "performance", 0.95, Threshold(HIGHER_IS_BETTER, 0.9, 0.8)),
        Observation("dpd", "fairness", 0.22, LOW),
    ]
    loosened = {"dpd": Threshold(LOWER_IS_BETTER, warn=0.3, critical=0.5, source="system")}
    flip = check_policy_flip(
        values, old_policies={"dpd": LOW}, new_policies=loosened, old_profile=PROFILE, new_profile=PROFILE
    )
    assert flip.flagged
    assert (flip.old.readiness, flip.new.readiness) == (BLOCKED, READY)
    assert flip.threshold_changes["dpd"]["new"]["critical"] == 0.5
    assert flip.weight_changes == {}
    # Tightening, or a change that leaves it staged, is not a flip.
    mild = {"dpd": Threshold(LOWER_IS_BETTER, warn=0.15, critical=0.3)}
    flip = check_policy_flip(
        values, old_policies={"dpd": LOW}, new_policies=mild, old_profile=PROFILE, new_profile=PROFILE
    )
    assert not flip.flagged and flip.new.readiness != READY


def test_weight_change_is_compared_too_but_weights_alone_cannot_unblock():
    # A score below 60 needs a metric beyond warn, and such a metric stages the rollout whatever
    # the weights: a weight change can move blocked to staged, never blocked to ready.
    acc = Threshold(HIGHER_IS_BETTER, warn=0.9, critical=0.5)
    values = [Observation("acc", "performance", 0.52, acc), Observation("dpd", "fairness", 0.0, LOW)]
    old = WeightProfile("a", {"performance": 3, "fairness": 1}, version=1)
    new = WeightProfile("a", {"performance": 1, "fairness": 30}, version=2)
    policies = {"acc": acc, "dpd": LOW}
    flip = check_policy_flip(
        values, old_policies=policies, new_policies=policies, old_profile=old, new_profile=new
    )
    assert flip.old.readiness == BLOCKED and flip.old.codes == ["score_below_block", "metric_warn"]
    assert flip.new.readiness == "staged" and not flip.flagged
    assert flip.weight_changes["new"]["version"] == 2 and flip.threshold_changes == {}


def test_attribution_decomposes_the_change_exactly():
    policy = Threshold(LOWER_IS_BETTER, warn=0.1, critical=0.3)
    before = compute_score(
        [Observation("a", "performance", 0.1, policy), Observation("b", "fairness", 0.1, policy)], PROFILE
    )
    after = compute_score(
        [
            Observation("a", "performance", 0.2, policy),  # got worse
            Observation("b", "fairness", 0.1, policy),
            Observation("c", "fairness", 0.25, policy),  # newly known, bad
        ],
        PROFILE,
    )
    att = attribute_change(
        before.score, [m.as_dict() for m in before.metrics], after.score, [m.as_dict() for m in after.metrics]
    )
    assert att.total == pytest.approx(after.score - before.score)
    assert att.residual == pytest.approx(0.0, abs=1e-9)
    parts = {r["metric"]: r for r in att.by_metric}
    assert parts["a"]["change"] == pytest.approx(-25.0)  # share 0.5, health 1 → 0.5
    assert parts["a"]["weight_effect"] == pytest.approx(0.0)
    assert parts["c"]["change"] < 0 and parts["c"]["before"]["health"] is None
    assert parts["b"]["health_effect"] == 0.0  # b did not change, only its share
    pillars = {r["pillar"]: r["change"] for r in att.by_pillar}
    assert sum(pillars.values()) == pytest.approx(att.total)
    assert att.by_metric[0]["metric"] == "a"


def test_attribution_of_a_weight_change_is_a_weight_effect():
    policy = Threshold(LOWER_IS_BETTER, warn=0.1, critical=0.3)
    values = [Observation("a", "performance", 0.0, policy), Observation("b", "fairness", 0.2, policy)]
    r1 = compute_score(values, WeightProfile("x", {"performance": 1, "fairness": 1}))
    r2 = compute_score(values, WeightProfile("x", {"performance": 1, "fairness": 3}))
    att = attribute_change(
        r1.score, [m.as_dict() for m in r1.metrics], r2.score, [m.as_dict() for m in r2.metrics]
    )
    assert att.total == pytest.approx(r2.score - r1.score) and att.total < 0
    for row in att.by_metric:
        assert row["health_effect"] == 0.0
    assert att.residual == pytest.approx(0.0, abs=1e-9)


def test_attribution_without_scores():
    assert attribute_change(None, [], 80.0, []).total is None
