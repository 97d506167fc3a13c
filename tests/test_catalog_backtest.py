"""Backtest before save: windows of the last 30 days that would have been warn / critical under
the old and the new thresholds, counted from stored MetricValue rows in one aggregate query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog import services
from catalog.services import BacktestCounts, Thresholds
from metrics.models import MetricValue
from tests.catalog_support import current, deployment_in, seed_values
from tests.factories import SystemFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.catalog_fixtures"]

LOWER, HIGHER = "lower_is_better", "higher_is_better"


@pytest.fixture
def p95():
    return current("latency_p95_ms")


@pytest.fixture
def deployment():
    return deployment_in(SystemFactory(slug="checkout"))


def test_counts_windows_under_old_and_new_thresholds(p95, deployment, django_assert_num_queries):
    # 10 hourly windows: 3 ok, 3 between 500 and 1000, 2 between 1000 and 1500, 2 at/above 1500.
    seed_values(p95, deployment, [100, 200, 300, 600, 700, 999.9, 1000, 1400, 1500, 2000])
    old = Thresholds(LOWER, warn=500.0, critical=1000.0)
    new = Thresholds(LOWER, warn=500.0, critical=1500.0)
    values = MetricValue.objects.filter(metric_version__definition=p95.definition)
    with django_assert_num_queries(1):
        counts = services.count_breach_windows(values, old=old, new=new)
    assert counts == {
        deployment.pk: BacktestCounts(windows=10, old_warn=3, old_critical=4, new_warn=5, new_critical=2)
    }
    assert counts[deployment.pk].changed


def test_a_window_counts_once_with_its_worst_status(p95, deployment):
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    # Two features in the same window: one warn, one critical → the window is critical.
    seed_values(p95, deployment, [600], start=start, feature="income")
    seed_values(p95, deployment, [1200], start=start, feature="age")
    seed_values(p95, deployment, [700], start=start - timedelta(hours=1), feature="income")
    counts = services.count_breach_windows(
        MetricValue.objects.all(), old=Thresholds(LOWER, 500.0, 1000.0), new=Thresholds(LOWER, 500.0, 1000.0)
    )
    assert counts[deployment.pk] == BacktestCounts(
        windows=2, old_warn=1, old_critical=1, new_warn=1, new_critical=1
    )


def test_insufficient_data_nulls_and_min_samples_never_count(p95, deployment):
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    seed_values(p95, deployment, [5000], start=start, status="insufficient_data", sample_size=3)
    seed_values(p95, deployment, [None], start=start - timedelta(hours=1))
    seed_values(p95, deployment, [5000], start=start - timedelta(hours=2), sample_size=50)
    old = Thresholds(LOWER, 500.0, 1000.0, min_samples=0)
    new = Thresholds(LOWER, 500.0, 1000.0, min_samples=100)  # raising min_samples hides the small window
    counts = services.count_breach_windows(MetricValue.objects.all(), old=old, new=new)
    assert counts[deployment.pk] == BacktestCounts(
        windows=1, old_warn=0, old_critical=1, new_warn=0, new_critical=0
    )


def test_higher_is_better_and_missing_thresholds(deployment):
    accuracy = current("accuracy")
    seed_values(accuracy, deployment, [0.95, 0.8, 0.75, 0.7, 0.5], step=timedelta(days=1))
    counts = services.count_breach_windows(
        MetricValue.objects.all(),
        old=Thresholds(HIGHER, warn=0.8, critical=0.7),
        new=Thresholds(HIGHER, warn=None, critical=None),
    )
    assert counts[deployment.pk] == BacktestCounts(
        windows=5, old_warn=2, old_critical=2, new_warn=0, new_critical=0
    )


def test_per_deployment_thresholds(p95, deployment):
    other = deployment_in(SystemFactory(slug="search"))
    seed_values(p95, deployment, [1200, 1200])
    seed_values(p95, other, [1200, 1200])
    default = Thresholds(LOWER, 500.0, 1000.0)
    loose = Thresholds(LOWER, 500.0, 2000.0)
    counts = services.count_breach_windows(
        MetricValue.objects.all(), old=default, new=default, per_deployment={other.pk: (default, loose)}
    )
    assert counts[deployment.pk] == BacktestCounts(2, 0, 2, 0, 2)
    assert counts[other.pk] == BacktestCounts(2, 0, 2, 2, 0)


def test_backtest_of_a_catalog_edit_per_deployment(p95, deployment, admin_a):
    guarded = deployment_in(SystemFactory(slug="fraud"))
    seed_values(p95, deployment, [600, 1100, 1600])
    seed_values(p95, guarded, [600, 1100, 1600])
    # Values older than 30 days and of other metrics are ignored.
    seed_values(p95, deployment, [5000], start=timezone.now() - timedelta(days=31))
    seed_values(current("error_rate"), deployment, [0.9])
    # The fraud system pins its own critical threshold: the catalog edit does not change it.
    services.set_threshold_override(
        "latency_p95_ms",
        scope="system",
        target=guarded.environment.system,
        critical_threshold=1000.0,
        reason="strict",
        actor=admin_a,
    )
    report = services.backtest_metric_change(
        "latency_p95_ms", user=admin_a, proposed={"critical_threshold": 1500.0}
    )
    rows = {row.deployment.pk: row for row in report.rows}
    assert report.has_data and report.days == 30
    assert rows[deployment.pk].counts == BacktestCounts(3, 1, 2, 2, 1)
    assert (rows[deployment.pk].old.critical, rows[deployment.pk].new.critical) == (1000.0, 1500.0)
    assert rows[guarded.pk].counts == BacktestCounts(3, 1, 2, 1, 2)


def test_backtest_of_an_override_covers_only_its_scope(p95, deployment, admin_a):
    other = deployment_in(SystemFactory(slug="maps"))
    seed_values(p95, deployment, [1200])
    seed_values(p95, other, [1200])
    system = deployment.environment.system
    report = services.backtest_metric_change(
        "latency_p95_ms",
        user=admin_a,
        override=(
            "system",
            system,
            {"warn_threshold": None, "critical_threshold": 1500.0, "for_windows": None},
        ),
    )
    assert [row.deployment.pk for row in report.rows] == [deployment.pk]
    assert report.rows[0].counts == BacktestCounts(1, 0, 1, 1, 0)


def test_no_data_yet_and_invisible_deployments(p95, deployment):
    outsider = UserFactory(username="olga", roles=["data_scientist"])
    report = services.backtest_metric_change(
        "latency_p95_ms", user=outsider, proposed={"critical_threshold": 1500.0}
    )
    assert not report.has_data
    seed_values(p95, deployment, [1200])
    assert not services.backtest_metric_change("latency_p95_ms", user=outsider, proposed={}).has_data
    team = TeamFactory(slug="olga-team")
    outsider.groups.add(team.group)
    from healthboard import access

    access.grant(deployment.environment.system, [access.VIEW], group=team.group)
    outsider = type(outsider).objects.get(pk=outsider.pk)
    assert services.backtest_metric_change("latency_p95_ms", user=outsider, proposed={}).has_data
