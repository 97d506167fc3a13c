"""The scenario simulator: an hour of real telemetry, computed by the engine (values, alerts,
trust score), then faults injected into copies of it — recomputed with the engine's calculators
and compared with what is stored. It never writes anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse

from alerts.models import Alert, AlertEvaluation, Notification
from dashboards import simulation
from metrics.engine import read, synthetic
from metrics.models import ComputationRun, MetricValue, WindowProfile
from metrics.models.trust import TrustScore

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)
# A run reads the hour's events and reference once, the catalog's policies, the stored values,
# the trust inputs, and (per recomputed window) the clock and ingestion counters: bounded by
# the hour's 13 windows, not by the number of events or metrics.
SCENARIO_QUERIES = 70


@pytest.fixture
def hour(system_a):
    """One hour of synthetic traffic (ingested live, with a reference) computed by the engine:
    5-minute and hourly values, alert evaluation and the hour's trust score."""
    deployment = synthetic.ensure_model(system_a)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 2 * HOUR
    start = end - HOUR
    synthetic.ingest(deployment, start=start, end=end, events_per_hour=1500, seed=5, reference_rows=2000)
    call_command("compute_metrics", deployment=[deployment.pk], start=start.isoformat(), end=end.isoformat())
    assert MetricValue.objects.filter(
        deployment=deployment, window_end=end, metric_version__window="1h"
    ).exists()
    assert TrustScore.objects.filter(deployment=deployment, window_end=end).exists()
    return deployment, end


def snapshot():
    """Every row the simulator could touch, with the columns that would change."""
    return {
        "values": list(
            MetricValue.objects.order_by("pk").values_list("pk", "value", "status", "computed_at")
        ),
        "scores": list(
            TrustScore.objects.order_by("pk").values_list("pk", "score", "readiness", "computed_at")
        ),
        "alerts": list(Alert.objects.order_by("pk").values_list("pk", "state", "severity", "breaches")),
        "evaluations": list(
            AlertEvaluation.objects.order_by("pk").values_list("pk", "level", "evaluated_at")
        ),
        "notifications": Notification.objects.count(),
        "profiles": list(WindowProfile.objects.order_by("pk").values_list("pk", "computed_at")),
        "runs": list(ComputationRun.objects.order_by("pk").values_list("pk", "status", "finished_at")),
    }


def run(client, user, deployment, end, **params):
    client.force_login(user)
    response = client.get(
        reverse("dashboards:scenarios"), {"deployment": deployment.pk, "period": end.isoformat(), **params}
    )
    assert response.status_code == 200
    return response


def changed(response, key, segment="", target=""):
    return [
        m
        for m in response.context["simulation"].changed_metrics
        if m.key == key and m.segment == segment and m.target == target
    ]


def test_no_fault_recomputes_exactly_what_the_engine_stored(
    client, alice, hour, django_assert_max_num_queries
):
    deployment, end = hour
    with django_assert_max_num_queries(SCENARIO_QUERIES):
        response = run(client, alice, deployment, end, fault="latency_spike", size="1")
    result = response.context["simulation"]
    assert result.events > 1000 and len(result.metrics) > 50
    assert result.changed_metrics == [] and result.changed_alerts == []
    assert result.sim.readiness == result.real.readiness
    assert result.sim.score == pytest.approx(result.real.score)
    stored = TrustScore.objects.get(deployment=deployment, window_end=end)
    assert result.real.readiness == stored.readiness and result.real.score == pytest.approx(stored.score)


def test_latency_spike_blocks_fires_and_writes_nothing(client, alice, hour):
    deployment, end = hour
    before = snapshot()
    response = run(client, alice, deployment, end, fault="latency_spike", size="40")
    assert snapshot() == before
    result = response.context["simulation"]
    p95 = changed(response, "latency_p95_ms")
    assert p95 and p95[0].real.worst == "ok" and p95[0].sim.worst == "critical"
    assert p95[0].sim.breaching == 12  # every 5-minute window of the hour
    assert p95[0].sim.worst_value == pytest.approx(40 * p95[0].real.worst_value, rel=0.05)
    fired = [a for a in result.changed_alerts if a.key == "latency_p95_ms" and a.segment == ""]
    assert fired and fired[0].sim.startswith("firing (critical)") and "fired" in fired[0].sim
    assert result.sim.readiness == "blocked" and result.sim.score < result.real.score
    assert not any(r.get("metric") == "latency_p95_ms" for r in result.real.reasons)
    assert any(r["code"] == "metric_critical" and r["metric"] == "latency_p95_ms" for r in result.sim.reasons)
    html = response.content.decode()
    assert 'data-testid="sim-readiness">blocked<' in html and 'class="changed"' in html
    assert not changed(response, "feature_drift_psi", target="income")


def test_drift_moves_one_feature_only(client, alice, hour):
    deployment, end = hour
    response = run(client, alice, deployment, end, fault="drift", size="1.5", feature="income")
    psi = changed(response, "feature_drift_psi", target="income")
    assert psi and psi[0].sim.worst == "critical" and psi[0].real.worst in ("ok", "warn")
    assert not changed(response, "feature_drift_psi", target="age")
    assert not changed(response, "latency_p95_ms")


def test_error_burst_and_null_rate(client, alice, hour):
    deployment, end = hour
    burst = run(client, alice, deployment, end, fault="error_burst", size="0.3")
    errors = changed(burst, "error_rate")
    assert errors and errors[0].sim.worst == "critical"
    assert 0.25 < errors[0].sim.worst_value < 0.4
    nulls = run(client, alice, deployment, end, fault="null_rate", size="0.5", feature="age")
    age = changed(nulls, "null_rate", target="age")
    assert age and age[0].sim.worst == "critical" and 0.4 < age[0].sim.worst_value < 0.6
    assert not changed(nulls, "null_rate", target="income")


def test_a_fault_in_one_cohort_leaves_the_others(client, alice, hour):
    deployment, end = hour
    response = run(
        client, alice, deployment, end, fault="latency_spike", size="40", fault_segment="age_band=18-29"
    )
    series = {(m.key, m.segment): m for m in response.context["simulation"].metrics}
    hit, spared = series[("latency_p95_ms", "age_band=18-29")], series[("latency_p95_ms", "age_band=50+")]
    # a cohort's 5-minute windows hold fewer events than latency's min_samples: the values move,
    # the statuses stay insufficient_data
    assert all(
        s == pytest.approx(40 * r, rel=0.05) for r, s in zip(hit.real.values, hit.sim.values, strict=True)
    )
    assert spared.sim.values == pytest.approx(spared.real.values, rel=1e-9)
    assert not changed(response, "latency_p95_ms", segment="age_band=50+")


def test_invalid_fault_is_explained_and_csv_exports_every_series(client, alice, hour):
    deployment, end = hour
    html = run(client, alice, deployment, end, fault="error_burst", size="3").content.decode()
    assert 'data-testid="fault-error"' in html and "between 0 and 1" in html
    csv = run(client, alice, deployment, end, fault="latency_spike", size="40", format="csv", table="metrics")
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("metric,window,segment,feature_or_attribute,real_worst_status")
    assert any(line.startswith("latency_p95_ms,5m,,,ok,critical") for line in lines)


def test_apply_fault_copies():
    cols = read.Columns(
        4,
        ts=np.arange(4, dtype=np.int64),
        latency_ms=np.array([10.0, 20.0, 30.0, 40.0]),
        error=np.zeros(4, dtype=bool),
        numeric={"x": np.array([1.0, 2.0, 3.0, 4.0])},
        categorical={"c": np.array(["a", "a", "b", None], dtype=object)},
        cohorts={"region": np.array(["eu", "us", "eu", "us"], dtype=object)},
    )
    spiked = simulation.apply_fault(cols, simulation.Fault("latency_spike", 3.0, segment="region=eu"))
    assert spiked.latency_ms.tolist() == [30.0, 20.0, 90.0, 40.0]
    assert cols.latency_ms.tolist() == [10.0, 20.0, 30.0, 40.0]  # the input is untouched
    drifted = simulation.apply_fault(
        cols, simulation.Fault("drift", 2.0, feature="x"), reference_std={"x": 0.5}
    )
    assert drifted.numeric["x"].tolist() == [2.0, 3.0, 4.0, 5.0] and cols.numeric["x"][0] == 1.0
    moved = simulation.apply_fault(
        cols, simulation.Fault("drift", 1.0, feature="c"), reference_rarest={"c": "z"}
    )
    assert moved.categorical["c"].tolist() == ["z", "z", "z", None]
    nulled = simulation.apply_fault(cols, simulation.Fault("null_rate", 1.0))
    assert np.isnan(nulled.numeric["x"]).all() and all(v is None for v in nulled.categorical["c"])
    with pytest.raises(ValueError):
        simulation.Fault("drift", 1.0)


def test_outsider_gets_404(client, bob, deployment_a):
    client.force_login(bob)
    assert client.get(reverse("dashboards:scenarios"), {"deployment": deployment_a.pk}).status_code == 404


def test_hour_without_events_says_so(client, alice, deployment_a):
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    html = run(client, alice, deployment_a, end).content.decode()
    assert "No raw events are stored for this hour" in html


def test_readiness_reasons_hide_sensitive_values_without_view_sensitive(client, alice, hour, system_a):
    from catalog.models import MetricVersion
    from healthboard import access

    deployment, end = hour
    MetricValue.objects.create(  # a daily fairness value the hour's readiness takes into account
        metric_version=MetricVersion.objects.get(
            definition__key="demographic_parity_difference", is_current=True
        ),
        deployment=deployment,
        attribute="sex",
        window_start=end - timedelta(days=1),
        window_end=end,
        value=0.4142,
        status="critical",
        sample_size=900,
    )
    html = run(client, alice, deployment, end, fault="latency_spike", size="1").content.decode()
    assert "demographic_parity_difference" in html and "value hidden" in html and "0.4142" not in html
    access.grant(system_a, [access.VIEW_SENSITIVE], user=alice)
    access.forget_cached_access(alice)
    assert "0.4142" in run(client, alice, deployment, end, fault="latency_spike", size="1").content.decode()
