"""The calculator registry, the status rule, and the no-Django guarantee."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from metrics.compute import drift, fairness, registry
from metrics.compute import profiles as P
from metrics.compute.results import classify

from .helpers import close

ROOT = Path(__file__).resolve().parents[2]

# every per-window metric key of DESIGN.md §3 (mttd_s / mttr_s / open_critical_alerts come from alerts)
DESIGN_KEYS = {
    "feature_drift_psi", "feature_drift_js", "feature_drift_wasserstein", "feature_drift_ks",
    "feature_drift_chi2_p", "prediction_drift_psi",
    "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate", "throughput_per_min",
    "availability", "data_freshness_s", "label_freshness_s", "ingest_rejection_rate", "null_rate",
    "accuracy", "precision", "recall", "f1", "roc_auc", "mae", "rmse", "accuracy_delta_vs_baseline",
    "calibration_error",
    "demographic_parity_difference", "disparate_impact_ratio", "equal_opportunity_difference",
    "equalized_odds_difference", "group_accuracy_gap",
}  # fmt: skip


def test_every_design_metric_has_a_calculator():
    assert set(registry.CALCULATORS) == DESIGN_KEYS
    for calc in registry.CALCULATORS.values():
        assert calc.direction in ("higher_is_better", "lower_is_better")
        assert calc.scope in ("deployment", "feature", "attribute")
    assert {k for k, c in registry.CALCULATORS.items() if c.sensitive} == {
        k for k, c in registry.CALCULATORS.items() if c.scope == "attribute"
    }
    with pytest.raises(KeyError):
        registry.get("nope")


@pytest.mark.parametrize(
    ("value", "warn", "critical", "direction", "n", "min_n", "expected"),
    [
        (0.05, 0.1, 0.25, "lower_is_better", 500, 100, "ok"),
        (0.1, 0.1, 0.25, "lower_is_better", 500, 100, "warn"),  # inclusive
        (0.25, 0.1, 0.25, "lower_is_better", 500, 100, "critical"),
        (0.3, None, 0.25, "lower_is_better", 500, 100, "critical"),
        (0.3, 0.1, None, "lower_is_better", 500, 100, "warn"),
        (0.3, None, None, "lower_is_better", 500, 100, "ok"),
        (0.95, 0.9, 0.8, "higher_is_better", 500, 100, "ok"),
        (0.9, 0.9, 0.8, "higher_is_better", 500, 100, "warn"),
        (0.5, 0.9, 0.8, "higher_is_better", 500, 100, "critical"),
        (0.5, 0.9, 0.8, "higher_is_better", 99, 100, "insufficient_data"),  # never ok / critical
        (0.01, 0.1, 0.25, "lower_is_better", 5, 100, "insufficient_data"),
        (None, 0.1, 0.25, "lower_is_better", 500, 100, "insufficient_data"),
        (float("nan"), 0.1, 0.25, "lower_is_better", 500, 100, "insufficient_data"),
        (0.0, 0.1, 0.25, "lower_is_better", 0, 0, "ok"),
    ],
)
def test_classify(value, warn, critical, direction, n, min_n, expected):
    assert classify(value, warn, critical, direction, n, min_n) == expected


def test_classify_rejects_unknown_direction():
    with pytest.raises(ValueError):
        classify(1.0, None, None, "up", 1, 0)


@pytest.fixture(scope="module")
def context():
    rng = np.random.default_rng(7)
    n_ref, n = 3000, 2400
    ref_x = rng.normal(size=n_ref)
    ref_score = rng.random(n_ref)
    spec = P.ProfileSpec.from_reference(
        numeric={"x": ref_x}, categorical=["c"], score=ref_score, prediction=(ref_score > 0.5).astype(float)
    )
    start = pd.Timestamp("2026-11-20T10:00:00Z")
    ts = (start + pd.to_timedelta(np.sort(rng.integers(0, 3600 * 10**9, n)), unit="ns")).to_numpy()
    x = rng.normal(0.2, 1.1, n)
    score = rng.random(n)
    label = (rng.random(n) < score).astype(float)
    cols = {
        "timestamps": ts, "latency_ms": rng.lognormal(3, 0.5, n), "error": rng.random(n) < 0.01,
        "numeric": {"x": x}, "categorical": {"c": rng.choice(["a", "b", "z"], n)},
        "prediction": (score > 0.5).astype(float), "score": score, "label": label,
        "cohorts": {"sex": rng.choice(["f", "m", "x"], n, p=[0.5, 0.49, 0.01]).astype(object)},
    }  # fmt: skip
    profiles = P.build_profiles(spec, **cols)
    ref_label = (rng.random(n_ref) < ref_score).astype(float)
    ref_cat = rng.choice(["a", "b"], n_ref)
    (ref_profile,) = P.build_profiles(
        spec, numeric={"x": ref_x}, categorical={"c": ref_cat}, score=ref_score,
        prediction=(ref_score > 0.5).astype(float), label=ref_label,
    )  # fmt: skip
    segs: dict[str, list] = {}
    for p in profiles:
        segs.setdefault(p.segment, []).append(p)
    window = P.merge(segs[""])
    ctx = registry.CalcContext(
        window=window,
        reference=ref_profile,
        raw={"latency_ms": cols["latency_ms"], "label": label, "score": score},
        raw_features={"x": x},
        reference_features={"x": np.sort(ref_x)},
        reference_sorted=True,
        cohorts={"sex": {s.split("=")[1]: P.merge(ps) for s, ps in segs.items() if s.startswith("sex=")}},
        window_start=datetime(2026, 11, 20, 10, tzinfo=UTC),
        window_end=datetime(2026, 11, 20, 11, tzinfo=UTC),
        now=datetime(2026, 11, 20, 11, 3, tzinfo=UTC),
        newest_event_at=datetime(2026, 11, 20, 11, 0, tzinfo=UTC),
        ingest_accepted=n,
        ingest_rejected=24,
    )
    return ctx, cols, {"x": ref_x, "c": ref_cat, "score": ref_score, "label": ref_label}


def test_calculators_through_the_registry_equal_the_references(context):
    ctx, cols, ref = context
    x = cols["numeric"]["x"]
    assert close(registry.compute("feature_drift_psi", ctx, "x").value, drift.psi_numeric(ref["x"], x).value)
    assert close(
        registry.compute("feature_drift_js", ctx, "c").value,
        drift.js_categorical(ref["c"], cols["categorical"]["c"]).value,
    )
    assert close(registry.compute("feature_drift_ks", ctx, "x").value, stats.ks_2samp(ref["x"], x).statistic)
    assert close(
        registry.compute("feature_drift_wasserstein", ctx, "x").value,
        stats.wasserstein_distance(ref["x"], x) / np.std(ref["x"]),
    )
    chi2 = registry.compute("feature_drift_chi2_p", ctx, "c")
    table = pd.crosstab(
        np.r_[np.zeros(len(ref["c"])), np.ones(len(x))], np.r_[ref["c"], cols["categorical"]["c"]]
    ).to_numpy()
    assert close(chi2.value, stats.chi2_contingency(table).pvalue)
    assert registry.compute("feature_drift_chi2_p", ctx, "x").value is None  # numeric: not defined
    pd_psi = registry.compute("prediction_drift_psi", ctx)
    assert pd_psi.details["source"] == "score"
    assert close(pd_psi.value, drift.psi_numeric(ref["score"], cols["score"]).value)
    for q in (50, 95, 99):
        result = registry.compute(f"latency_p{q}_ms", ctx)
        assert result.details["method"] == "exact"
        assert close(result.value, np.percentile(cols["latency_ms"], q))
    assert registry.compute("error_rate", ctx).value == cols["error"].mean()
    assert close(registry.compute("throughput_per_min", ctx).value, len(x) / 60)
    assert registry.compute("availability", ctx, params={"slo": 0.5}).value == 1.0
    assert registry.compute("data_freshness_s", ctx).value == 180.0
    assert registry.compute("label_freshness_s", ctx).value is None
    assert close(registry.compute("ingest_rejection_rate", ctx).value, 24 / (len(x) + 24))
    assert registry.compute("null_rate", ctx, "x").value == 0.0
    assert close(registry.compute("roc_auc", ctx).value, roc_auc_score(cols["label"], cols["score"]))
    groups = fairness.group_counts(cols["prediction"], cols["label"], cols["cohorts"]["sex"])
    dpd = registry.compute("demographic_parity_difference", ctx, "sex")
    assert dpd.value == fairness.demographic_parity_difference(groups).value
    assert [e["group"] for e in dpd.details["excluded"]] == ["x"]
    delta = registry.compute("accuracy_delta_vs_baseline", ctx)
    acc = registry.compute("accuracy", ctx).value
    ref_acc = float(np.mean((ref["score"] > 0.5) == ref["label"]))
    assert close(delta.value, acc - ref_acc)
    assert delta.details["metric"] == "accuracy"


def test_evaluate_gives_insufficient_data_for_small_samples(context):
    ctx, _, _ = context
    spec = P.ProfileSpec.from_reference(numeric={"x": np.arange(100.0)})
    (reference,) = P.build_profiles(spec, numeric={"x": np.arange(100.0)})
    (window,) = P.build_profiles(
        spec, numeric={"x": np.arange(12.0)}, prediction=np.ones(12), label=np.ones(12)
    )
    small = registry.CalcContext(window=window, reference=reference)
    result, status = registry.evaluate("feature_drift_psi", small, "x", warn=0.1, critical=0.25)
    assert result.value is not None and result.sample_size == 12
    assert status == "insufficient_data"  # a large PSI on 12 values is not critical
    result, status = registry.evaluate("accuracy", small, warn=0.9, critical=0.8)
    assert result.value == 1.0 and status == "insufficient_data"
    result, status = registry.evaluate("feature_drift_psi", ctx, "x", warn=0.1, critical=0.25)
    assert status in ("ok", "warn", "critical") and result.sample_size >= 100
    _, status = registry.evaluate("demographic_parity_difference", ctx, "nope", warn=0.1)
    assert status == "insufficient_data"
    with pytest.raises(ValueError):
        registry.compute("feature_drift_psi", ctx)  # a feature metric needs a feature


def test_the_package_imports_without_django():
    code = (
        "import sys; import metrics.compute.registry, metrics.compute.profiles; "
        "assert 'django' not in sys.modules, sorted(m for m in sys.modules if m.startswith('django'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_window_minutes_fall_back_to_the_profile(context):
    ctx, _, _ = context
    bare = registry.CalcContext(window=ctx.window)
    assert bare.window_minutes == 60.0
    assert ctx.window.window_end - ctx.window.window_start == timedelta(hours=1)


def test_segment_reference_falls_back_to_the_whole_reference_with_a_note(context):
    ctx, _, _ = context
    spec = P.ProfileSpec.from_reference(numeric={"x": np.arange(100.0)})
    whole, big, small = (
        P.build_profiles(spec, numeric={"x": np.arange(100.0)})[0],
        P.build_profiles(spec, numeric={"x": np.arange(60.0)}, cohorts={"g": ["a"] * 60})[1],
        P.build_profiles(spec, numeric={"x": np.arange(10.0)}, cohorts={"g": ["b"] * 10})[1],
    )
    assert registry.pick_reference(whole, big, 50) == (big, None)
    chosen, note = registry.pick_reference(whole, small, 50)
    assert chosen is whole and "g=b" in note
    assert registry.pick_reference(whole, None, 50) == (whole, None)
    noted = registry.CalcContext(window=ctx.window, reference=ctx.reference, reference_note=note)
    assert registry.compute("feature_drift_psi", noted, "x").details["reference_note"] == note
