"""The demo telemetry carries the incidents the views must reveal (pure numpy, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from dashboards.demo.telemetry import SPECS, hour_events

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
SPEC = {s.system: s for s in SPECS}


def latencies(events, region=None):
    return np.array([e["latency_ms"] for e in events if region is None or e["cohort"]["region"] == region])


def test_regional_latency_spike_after_the_deploy():
    spec, deploy = SPEC["web-search"], NOW - timedelta(days=2)
    before = hour_events(spec, "prod", NOW - timedelta(days=3), NOW, deploy, 2000)
    after = hour_events(spec, "prod", NOW - timedelta(days=1), NOW, deploy, 2000)
    assert np.median(latencies(after, "eu")) > 3 * np.median(latencies(before, "eu"))
    assert np.median(latencies(after, "us")) < 1.5 * np.median(latencies(before, "us"))


def test_gradual_drift_and_error_burst():
    spec = SPEC["shop-recommendations"]
    old = hour_events(spec, "prod", NOW - timedelta(days=13), NOW, None, 2000)
    new = hour_events(spec, "prod", NOW - timedelta(hours=3), NOW, None, 2000)
    mean = lambda evs: np.mean([e["features"]["basket_value"] for e in evs])  # noqa: E731
    assert mean(new) > 1.3 * mean(old)
    fraud = SPEC["payments-fraud"]
    burst = hour_events(fraud, "prod", NOW - timedelta(hours=24), NOW, None, 1000)
    calm = hour_events(fraud, "prod", NOW - timedelta(hours=30), NOW, None, 1000)
    assert np.mean([e["error"] for e in burst]) > 0.25 > 0.01 > np.mean([e["error"] for e in calm])


def test_fairness_regression_in_a_small_clinical_subgroup():
    spec = SPEC["clinical-triage"]
    events = hour_events(spec, "prod", NOW - timedelta(days=1), NOW, None, 6000)
    subgroup = [e for e in events if e["cohort"]["sex"] == "f" and e["cohort"]["age_band"] == "80+"]
    assert 0 < len(subgroup) < 0.05 * len(events)
    assert all(e["prediction"] == 0.0 for e in subgroup)
    assert any(e["prediction"] == 1.0 for e in events if e not in subgroup)


def test_events_are_deterministic_for_idempotent_seeding():
    spec = SPEC["payments-fraud"]
    a = hour_events(spec, "edge", NOW - timedelta(hours=5), NOW, None, 50)
    b = hour_events(spec, "edge", NOW - timedelta(hours=5), NOW, None, 50)
    assert a == b and len({e["event_id"] for e in a}) == 50
