"""Quality metrics (DESIGN.md §3.3) against scikit-learn's functions of the same names."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from metrics.compute import quality
from metrics.compute.results import MetricResult

from .helpers import close


def classification(seed: int, n: int):
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    pred = (score > 0.5).astype(float)
    label = (rng.random(n) < score * 0.8 + 0.1).astype(float)
    label[rng.random(n) < 0.3] = np.nan  # labels not arrived yet
    return label, pred, score


@pytest.mark.parametrize(("seed", "n"), [(0, 5000), (1, 300), (2, 37), (3, 5), (4, 2)])
def test_classification_metrics_match_sklearn(seed, n):
    label, pred, _score = classification(seed, n)
    cc = quality.ConfusionCounts.from_arrays(label, pred)
    keep = ~np.isnan(label)
    y, p = label[keep], pred[keep]
    assert cc.n == keep.sum()
    expected = {
        "accuracy": skm.accuracy_score(y, p),
        "precision": skm.precision_score(y, p, zero_division=np.nan),
        "recall": skm.recall_score(y, p, zero_division=np.nan),
        "f1": skm.f1_score(y, p, zero_division=np.nan),
    }
    for name, value in expected.items():
        result = getattr(quality, name)(cc)
        if np.isnan(value):
            assert result.value is None, name
        else:
            assert close(result.value, value), name
        assert result.sample_size == cc.n


def test_undefined_precision_recall_are_none_not_zero():
    no_predicted_positive = quality.ConfusionCounts(tp=0, fp=0, fn=5, tn=20)
    assert quality.precision(no_predicted_positive).value is None
    assert quality.recall(no_predicted_positive).value == 0.0
    assert quality.f1(no_predicted_positive).value == 0.0
    assert quality.f1(quality.ConfusionCounts(tn=10)).value is None
    assert quality.accuracy(quality.ConfusionCounts()).value is None


def test_positive_label_other_than_one():
    y = np.array([2, 2, 7, 7, 2, 7], dtype=float)
    p = np.array([2, 7, 7, 7, 2, 2], dtype=float)
    cc = quality.ConfusionCounts.from_arrays(y, p, positive_label=7)
    assert close(quality.precision(cc).value, skm.precision_score(y, p, pos_label=7))
    assert close(quality.recall(cc).value, skm.recall_score(y, p, pos_label=7))


@pytest.mark.parametrize("seed", range(6))
def test_roc_auc_matches_sklearn_including_ties(seed):
    label, _, score = classification(seed, 2000)
    score = np.round(score, 1) if seed % 2 else score  # heavy ties in half the cases
    keep = ~np.isnan(label)
    result = quality.roc_auc(label, score)
    assert close(result.value, skm.roc_auc_score(label[keep], score[keep]))
    assert result.sample_size == keep.sum()


def test_roc_auc_undefined_with_one_class():
    assert quality.roc_auc([1, 1, 1], [0.2, 0.5, 0.9]).value is None


@pytest.mark.parametrize("seed", range(5))
def test_mae_rmse_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(100, 20, 1000)
    p = y + rng.normal(0, 5, 1000)
    y[rng.random(1000) < 0.2] = np.nan
    keep = ~np.isnan(y)
    sums = quality.RegressionSums.from_arrays(y, p)
    assert close(quality.mae(sums).value, skm.mean_absolute_error(y[keep], p[keep]))
    assert close(quality.rmse(sums).value, skm.root_mean_squared_error(y[keep], p[keep]))
    half = np.arange(1000) < 500
    merged = quality.RegressionSums.from_arrays(y[half], p[half]) + quality.RegressionSums.from_arrays(
        y[~half], p[~half]
    )
    assert close(quality.rmse(merged).value, quality.rmse(sums).value)


def test_delta_vs_baseline_negative_is_worse():
    worse_acc = quality.delta_vs_baseline(
        MetricResult(0.80, 500), 0.85, metric="accuracy", direction="higher_is_better"
    )
    assert close(worse_acc.value, -0.05)
    worse_rmse = quality.delta_vs_baseline(
        MetricResult(12.0, 500), 10.0, metric="rmse", direction="lower_is_better"
    )
    assert close(worse_rmse.value, -2.0)
    better_rmse = quality.delta_vs_baseline(
        MetricResult(9.0, 500), 10.0, metric="rmse", direction="lower_is_better"
    )
    assert close(better_rmse.value, 1.0)
    assert quality.delta_vs_baseline(MetricResult(None, 0), 0.9, metric="accuracy",
                                     direction="higher_is_better").value is None  # fmt: skip


def reference_ece(y: np.ndarray, s: np.ndarray) -> float:
    """Written out: 10 equal-width bins, right-open like numpy.histogram, 1.0 in the last."""
    bins = np.linspace(0, 1, 11)
    ece = 0.0
    for i in range(10):
        last = i == 9
        in_bin = (s >= bins[i]) & ((s <= bins[i + 1]) if last else (s < bins[i + 1]))
        if in_bin.any():
            ece += in_bin.sum() / s.size * abs(y[in_bin].mean() - s[in_bin].mean())
    return ece


@pytest.mark.parametrize("seed", range(5))
def test_calibration_error(seed):
    label, _, score = classification(seed, 4000)
    keep = ~np.isnan(label)
    y, s = label[keep], score[keep]
    bins = quality.CalibrationBins.from_arrays(label, score)
    result = quality.calibration_error(bins)
    assert close(result.value, reference_ece(y, s))
    # cross-check with scikit-learn's reliability curve (continuous scores: no value on an edge)
    prob_true, prob_pred = calibration_curve(y, s, n_bins=10, strategy="uniform")
    counts = np.histogram(s, np.linspace(0, 1, 11))[0]
    counts = counts[counts > 0]
    assert close(result.value, float(np.sum(counts / y.size * np.abs(prob_true - prob_pred))))
    # scores exactly on edges, and 1.0, land where numpy.histogram puts them
    edge_scores = np.array([0.0, 0.1, 0.2, 0.5, 0.9, 1.0, 1.0])
    edge_labels = np.array([0, 0, 1, 1, 1, 1, 0], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        edge_result = quality.calibration_error(quality.CalibrationBins.from_arrays(edge_labels, edge_scores))
    assert close(edge_result.value, reference_ece(edge_labels, edge_scores))
    assert quality.calibration_error(quality.CalibrationBins.empty()).value is None
