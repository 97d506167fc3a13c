"""The default catalog (data migration 0004): every metric key of DESIGN.md §3, with the §3
thresholds, a real playbook each, and the three weight profiles."""

from __future__ import annotations

import pytest

from catalog import default_catalog
from catalog.models import MetricDefinition, MetricVersion, WeightProfileVersion

pytestmark = pytest.mark.django_db

DESIGN_KEYS = {
    # 3.1 drift
    "feature_drift_psi",
    "feature_drift_js",
    "feature_drift_wasserstein",
    "feature_drift_ks",
    "feature_drift_chi2_p",
    "prediction_drift_psi",
    # 3.2 service
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "error_rate",
    "throughput_per_min",
    "availability",
    "data_freshness_s",
    "label_freshness_s",
    "ingest_rejection_rate",
    "null_rate",
    # 3.3 quality
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "mae",
    "rmse",
    "accuracy_delta_vs_baseline",
    "calibration_error",
    # 3.4 fairness
    "demographic_parity_difference",
    "disparate_impact_ratio",
    "equal_opportunity_difference",
    "equalized_odds_difference",
    "group_accuracy_gap",
    # 3.5 reliability
    "mttd_s",
    "mttr_s",
    "open_critical_alerts",
}
FAIRNESS = {k for k in DESIGN_KEYS if k.startswith(("demographic", "disparate", "equal", "group_"))}
CONTEXT_ONLY = {"feature_drift_ks", "feature_drift_chi2_p"}


def current_versions() -> dict[str, MetricVersion]:
    return {
        v.definition.key: v
        for v in MetricVersion.objects.filter(is_current=True).select_related("definition")
    }


def test_the_default_catalog_contains_every_metric_of_design_section_3():
    assert set(MetricDefinition.objects.values_list("key", flat=True)) >= DESIGN_KEYS
    versions = current_versions()
    assert set(versions) >= DESIGN_KEYS
    assert set(default_catalog.METRIC_KEYS) == DESIGN_KEYS
    for key in DESIGN_KEYS:
        version = versions[key]
        assert version.number == 1 and version.change_reason
        assert version.calculator == key
        assert version.data_source and version.direction and version.window and version.owner


def test_section_3_thresholds_and_flags():
    versions = current_versions()
    expected = {
        "feature_drift_psi": (0.1, 0.25),
        "feature_drift_js": (0.1, 0.2),
        "feature_drift_wasserstein": (0.1, 0.2),
        "prediction_drift_psi": (0.1, 0.25),
    }
    for key, thresholds in expected.items():
        assert (versions[key].warn_threshold, versions[key].critical_threshold) == thresholds
    for key in CONTEXT_ONLY:
        assert not versions[key].has_thresholds
    for key in FAIRNESS:
        assert versions[key].sensitive and versions[key].min_samples == 30
        assert versions[key].pillar == "fairness"
        assert versions[key].params["min_group_size"] == 30
    assert versions["disparate_impact_ratio"].warn_threshold == 0.8  # the four-fifths rule
    assert versions["availability"].params == {"slo": 0.99}
    assert versions["latency_p99_ms"].params == {"exact_limit": 100000}
    assert versions["latency_p95_ms"].unit == "ms" and versions["error_rate"].direction == "lower_is_better"
    assert not any(v.sensitive for k, v in versions.items() if k in DESIGN_KEYS - FAIRNESS)


def test_every_metric_has_a_real_playbook():
    for key, version in current_versions().items():
        playbook = version.playbook
        assert len(playbook) > 300, key
        assert "1. " in playbook and "2. " in playbook and "3. " in playbook, key  # ordered steps
        if version.has_thresholds:
            assert "**Check, in order**" in playbook and "**Then**" in playbook, key
        else:
            assert "context only" in playbook.lower(), key


def test_the_migrated_catalog_matches_the_default_catalog_module():
    """If this fails after editing catalog/default_catalog.py, ship the change with a new data
    migration that creates new versions (migration 0004 is frozen)."""
    versions = current_versions()
    for item in default_catalog.METRICS:
        content = {k: v for k, v in item.items() if k != "key"}
        assert versions[item["key"]].content() == content, item["key"]


def test_the_three_weight_profiles_exist_with_every_pillar():
    profiles = {
        v.profile.name: v
        for v in WeightProfileVersion.objects.filter(is_current=True).select_related("profile")
    }
    assert set(profiles) >= {"balanced", "high-stakes", "low-latency"}
    for version in profiles.values():
        assert set(version.pillar_weights) == {"performance", "fairness", "reliability", "data_quality"}
        assert set(version.metric_weights) <= DESIGN_KEYS
    high, low = profiles["high-stakes"].pillar_weights, profiles["low-latency"].pillar_weights
    assert max(high, key=high.get) == "fairness"
    assert max(low, key=low.get) == "performance"
    assert len(set(profiles["balanced"].pillar_weights.values())) == 1
