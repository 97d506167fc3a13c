"""Shared data for the dashboard tests: a deployment with a day of hourly aggregates."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from alerts.models import Alert
from catalog.models import MetricVersion
from metrics.models import ComputationRun, MetricValue
from metrics.models.trust import TrustScore


def current(key: str) -> MetricVersion:
    return MetricVersion.objects.get(definition__key=key, is_current=True)


def hour(n: int):
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=n)


def populate(
    deployment, *, hours: int = 6, p95: float = 120.0, score: float = 91.0, readiness: str = "ready"
):
    """Hourly latency / error / drift / fairness values and trust scores for ``deployment``."""
    run = ComputationRun.objects.create(
        deployment=deployment, kind="window", status="succeeded", code_version="t1"
    )
    rows = []
    for n in range(1, hours + 1):
        start, end = hour(n + 1), hour(n)
        common = {
            "deployment": deployment,
            "window_start": start,
            "window_end": end,
            "run": run,
            "sample_size": 500,
        }
        rows += [
            MetricValue(metric_version=current("latency_p50_ms"), value=p95 / 2, status="ok", **common),
            MetricValue(metric_version=current("latency_p95_ms"), value=p95, status="ok", **common),
            MetricValue(metric_version=current("latency_p99_ms"), value=p95 * 1.5, status="ok", **common),
            MetricValue(metric_version=current("error_rate"), value=0.001, status="ok", **common),
            MetricValue(metric_version=current("availability"), value=0.999, status="ok", **common),
            MetricValue(
                metric_version=current("null_rate"), value=0.0, status="ok", feature="income", **common
            ),
            MetricValue(
                metric_version=current("feature_drift_psi"),
                value=0.02 * n,
                status="ok",
                feature="income",
                details={"reference_size": 1000, "current_size": 500},
                **common,
            ),
            MetricValue(
                metric_version=current("feature_drift_psi"),
                value=0.3,
                status="critical",
                feature="income",
                segment="region=eu",
                details={"reference_size": 300, "current_size": 90},
                **common,
            ),
            MetricValue(
                metric_version=current("demographic_parity_difference"),
                value=0.31,
                status="critical",
                attribute="sex",
                details={
                    "groups": {"f": {"rate": 0.2, "count": 40}, "m": {"rate": 0.51, "count": 60}},
                    "excluded": ["x"],
                },
                **common,
            ),
        ]
        TrustScore.objects.create(
            deployment=deployment,
            window_start=start,
            window_end=end,
            score=score,
            coverage=0.9,
            pillar_scores={"performance": 95.0, "fairness": 40.0, "reliability": 99.0, "data_quality": 90.0},
            readiness=readiness,
            reasons=[
                {"decision": readiness, "code": "metric_critical", "message": "latency_p95_ms is critical"}
            ],
            weight_profile="balanced",
        )
    MetricValue.objects.bulk_create(rows)
    return run


def firing_alert(deployment, severity="critical"):
    mv = current("latency_p95_ms")
    now = timezone.now()
    return Alert.objects.create(
        fingerprint=f"fp{deployment.pk}{severity}"[:16],
        metric=mv.definition,
        metric_version=mv,
        system=deployment.environment.system,
        deployment=deployment,
        state="firing",
        severity=severity,
        value=900.0,
        threshold=500.0,
        first_breach_window_end=now,
        last_window_end=now,
        fired_at=now,
    )
