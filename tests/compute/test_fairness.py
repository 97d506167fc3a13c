"""Fairness (DESIGN.md §3.4) against fairlearn 0.15 on the same data (the test oracle)."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn import metrics as flm
from sklearn.metrics import accuracy_score

from metrics.compute import fairness

from .helpers import close

GROUPS = ["a", "b", "c", "d", "tiny"]


def dataset(seed: int, n: int = 3000):
    """Predictions for every event, labels for ~70%, a tiny group and some null attributes."""
    rng = np.random.default_rng(seed)
    attr = rng.choice(GROUPS[:4], size=n, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    attr[:12] = "tiny"  # below min_group_size: excluded and listed
    attr[rng.random(n) < 0.02] = None  # no value: in no group
    bias = np.select([attr == "a", attr == "b", attr == "c"], [0.1, -0.05, 0.0], 0.08)
    score = np.clip(rng.random(n) + bias, 0, 1)
    pred = (score > 0.5).astype(float)
    label = (rng.random(n) < np.clip(score + rng.normal(0, 0.2, n), 0, 1)).astype(float)
    label[rng.random(n) < 0.3] = np.nan
    return attr, pred, label


def eligible(attr, mask, min_size=30):
    values, counts = np.unique(attr[mask & (attr != None)].astype(str), return_counts=True)  # noqa: E711
    return {v for v, c in zip(values, counts, strict=True) if c >= min_size}


@pytest.mark.parametrize("seed", range(6))
def test_selection_rate_metrics_match_fairlearn(seed):
    attr, pred, label = dataset(seed)
    groups = fairness.group_counts(pred, label, attr)
    keep = np.isin(attr.astype(str), list(eligible(attr, ~np.isnan(pred))))
    y_dummy = np.zeros(keep.sum())
    dpd = fairness.demographic_parity_difference(groups)
    dir_ = fairness.disparate_impact_ratio(groups)
    assert close(
        dpd.value, flm.demographic_parity_difference(y_dummy, pred[keep], sensitive_features=attr[keep])
    )
    assert close(dir_.value, flm.demographic_parity_ratio(y_dummy, pred[keep], sensitive_features=attr[keep]))
    frame = flm.MetricFrame(
        metrics={"rate": flm.selection_rate, "count": flm.count},
        y_true=y_dummy,
        y_pred=pred[keep],
        sensitive_features=attr[keep],
    )
    by_group = {row["group"]: row for row in dpd.details["groups"]}
    for group, row in frame.by_group.iterrows():
        assert close(by_group[group]["rate"], row["rate"])
        assert by_group[group]["count"] == row["count"]
    assert dpd.details["excluded"] == [{"group": "tiny", "count": int((attr == "tiny").sum())}]
    assert dpd.sample_size == keep.sum()


@pytest.mark.parametrize("seed", range(6))
def test_label_metrics_match_fairlearn(seed):
    attr, pred, label = dataset(seed)
    groups = fairness.group_counts(pred, label, attr)
    labelled = ~np.isnan(label)
    keep = labelled & np.isin(attr.astype(str), list(eligible(attr, labelled)))
    y, p, a = label[keep], pred[keep], attr[keep]
    eop = fairness.equal_opportunity_difference(groups)
    eod = fairness.equalized_odds_difference(groups)
    gap = fairness.group_accuracy_gap(groups)
    assert close(eop.value, flm.equal_opportunity_difference(y, p, sensitive_features=a))
    assert close(eod.value, flm.equalized_odds_difference(y, p, sensitive_features=a))
    accuracy = flm.MetricFrame(metrics=accuracy_score, y_true=y, y_pred=p, sensitive_features=a)
    assert close(gap.value, accuracy.difference())
    frame = flm.MetricFrame(
        metrics={"tpr": flm.true_positive_rate, "fpr": flm.false_positive_rate, "count": flm.count},
        y_true=y,
        y_pred=p,
        sensitive_features=a,
    )
    rows = {row["group"]: row for row in eod.details["groups"]}
    for group, row in frame.by_group.iterrows():
        assert close(rows[group]["tpr"], row["tpr"])
        assert close(rows[group]["fpr"], row["fpr"])
        assert rows[group]["count"] == row["count"]
    for result in (eop, eod, gap):
        assert [e["group"] for e in result.details["excluded"]] == ["tiny"]
        assert result.sample_size == keep.sum()


def test_undefined_rates_zero_mode_reproduces_fairlearn_and_default_excludes_them():
    rng = np.random.default_rng(1)
    n = 200
    attr = np.array(["x"] * 100 + ["y"] * 100, dtype=object)
    pred = (rng.random(n) < 0.5).astype(float)
    label = (rng.random(n) < 0.5).astype(float)
    label[100:] = 0.0  # group y has no positive labels: its TPR is 0/0
    groups = fairness.group_counts(pred, label, attr)
    zero = fairness.equalized_odds_difference(groups, undefined_rates="zero")
    assert close(zero.value, flm.equalized_odds_difference(label, pred, sensitive_features=attr))
    assert close(
        fairness.equal_opportunity_difference(groups, undefined_rates="zero").value,
        flm.equal_opportunity_difference(label, pred, sensitive_features=attr),
    )
    default = fairness.equalized_odds_difference(groups)
    assert {"group": "y", "rate": "tpr"} in default.details["undefined"]
    assert default.details["tpr_difference"] is None  # one defined TPR: no spread
    fpr = [r["fpr"] for r in default.details["groups"]]
    assert close(default.value, max(fpr) - min(fpr))
    assert fairness.equal_opportunity_difference(groups).value is None


def test_fewer_than_two_groups_is_undefined_and_min_group_size_is_a_param():
    attr = np.array(["a"] * 40 + ["b"] * 20, dtype=object)
    pred = np.tile([1.0, 0.0], 30)
    label = np.tile([1.0, 1.0, 0.0, 0.0], 15)
    groups = fairness.group_counts(pred, label, attr)
    result = fairness.demographic_parity_difference(groups)
    assert result.value is None
    assert result.details["excluded"] == [{"group": "b", "count": 20}]
    assert fairness.demographic_parity_difference(groups, min_group_size=20).value == 0.0


def test_disparate_impact_undefined_when_nobody_is_selected():
    groups = [fairness.GroupCounts("a", 50, 0), fairness.GroupCounts("b", 60, 0)]
    assert fairness.disparate_impact_ratio(groups).value is None
    assert fairness.demographic_parity_difference(groups).value == 0.0
