"""``compute_metrics`` over a day of demo traffic fills every metric of the default catalog for
every deployment where the data for it exists (issue 5, "done when").

Two deployments, replayed as if live by ``metrics.engine.synthetic`` through the ingestion
pipeline: a binary classifier (protected cohort ``sex``, scores, late labels, a reference) and a
regression model. Alert history (two alerts that fired and resolved during the day) is the data
``mttd_s`` / ``mttr_s`` need; a few malformed events give ``ingest_rejection_rate`` something
to count.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import timedelta

import pytest
from django.core.management import call_command

from catalog.models import MetricVersion
from metrics.engine import compute, context, synthetic
from metrics.models import ComputationRun, MetricValue, WindowProfile
from tests.factories import SystemFactory
from tests.integration.engine_support import day_start

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def _alert_history(deployment, day):
    from alerts.models import Alert

    version = MetricVersion.objects.select_related("definition").get(
        definition__key="error_rate", is_current=True
    )
    for i, hour in enumerate((6, 14)):
        breach_end = day + timedelta(hours=hour)
        Alert.objects.create(
            fingerprint=f"demo{deployment.pk}-{i}",
            metric=version.definition,
            metric_version=version,
            system=deployment.environment.system,
            deployment=deployment,
            pillar=version.pillar,
            state=Alert.State.RESOLVED,
            severity=Alert.Severity.CRITICAL,
            first_breach_window_end=breach_end,
            last_window_end=breach_end + timedelta(minutes=30),
            fired_at=breach_end + timedelta(minutes=5 * (i + 1)),
            resolved_at=breach_end + timedelta(minutes=40),
        )


def test_a_day_of_demo_traffic_fills_every_metric_of_the_default_catalog(capsys):
    day = day_start(2)
    binary = synthetic.ensure_model(SystemFactory(slug="demo-credit"), slug="scorer")
    regression = synthetic.ensure_model(
        SystemFactory(slug="demo-pricing"), slug="pricer", task=synthetic.REGRESSION
    )
    started = time.monotonic()
    for seed, deployment in enumerate((binary, regression), start=1):
        traffic = synthetic.ingest(
            deployment,
            start=day,
            end=day + DAY,
            events_per_hour=1300,
            seed=seed,
            drift=0.3,
            invalid_share=0.002,
            reference_rows=3000,
        )
        assert traffic.accepted > 30_000 and traffic.rejected > 0 and traffic.labelled > 15_000
        _alert_history(deployment, day)
    ingested = time.monotonic() - started

    started = time.monotonic()
    call_command("compute_metrics", start=day.isoformat(), end=(day + DAY).isoformat())
    seconds = time.monotonic() - started
    out = capsys.readouterr().out
    assert "windows" in out and "values" in out and "seconds" in out

    versions = list(MetricVersion.objects.filter(is_current=True).select_related("definition"))
    from catalog.default_catalog import METRIC_KEYS

    assert {v.definition.key for v in versions} >= set(METRIC_KEYS)
    covered: set[str] = set()
    for deployment in (binary, regression):
        ctx = context.load(deployment.pk)
        expected = {p.key for p in compute.plan(ctx, versions) if compute.instances(p, ctx)}
        good = defaultdict(int)
        for key, status in MetricValue.objects.filter(deployment=deployment, segment="").values_list(
            "metric_version__definition__key", "status"
        ):
            if status != "insufficient_data":
                good[key] += 1
        missing = sorted(expected - set(good))
        assert not missing, f"deployment {deployment.pk} ({ctx.task}): no sufficient value for {missing}"
        covered |= set(good)
        # every window of the day, exactly once
        assert (
            MetricValue.objects.filter(
                deployment=deployment, segment="", metric_version__definition__key="throughput_per_min"
            ).count()
            == 288
        )
        assert WindowProfile.objects.filter(deployment=deployment, segment="").count() == 288
        assert not ComputationRun.objects.filter(deployment=deployment).exclude(status="succeeded").exists()
    assert covered >= set(METRIC_KEYS), sorted(set(METRIC_KEYS) - covered)
    print(f"\ndemo day: ingest {ingested:.1f} s, compute_metrics {seconds:.1f} s; {out.strip()}")
