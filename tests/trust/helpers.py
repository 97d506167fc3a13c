"""Test helpers for trust scores: catalog metrics with chosen thresholds, stored values, and
the gate command."""

from __future__ import annotations

import datetime as dt
from io import StringIO

from django.core.management import call_command

from catalog.models import MetricDefinition, MetricVersion
from metrics.models.results import MetricValue
from metrics.trust.score import Threshold, status

T0 = dt.datetime(2026, 11, 20, 0, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)

PILLAR_OF = {
    "accuracy": ("performance", "higher_is_better", 0.8, 0.7),
    "latency_p95_ms": ("performance", "lower_is_better", 500.0, 1000.0),
    "error_rate": ("reliability", "lower_is_better", 0.01, 0.05),
    "availability": ("reliability", "higher_is_better", 0.99, 0.95),
    "feature_drift_psi": ("data_quality", "lower_is_better", 0.1, 0.25),
    "null_rate": ("data_quality", "lower_is_better", 0.05, 0.2),
    "demographic_parity_difference": ("fairness", "lower_is_better", 0.1, 0.2),
    "disparate_impact_ratio": ("fairness", "higher_is_better", 0.8, 0.7),
    "feature_drift_ks": ("data_quality", "lower_is_better", None, None),
}


def metric(
    key: str, *, warn=..., critical=..., window: str = "1h", by=None, sensitive: bool = False
) -> MetricVersion:
    """The current version of ``key`` with these thresholds (a new current version if they differ)."""
    pillar, direction, default_warn, default_critical = PILLAR_OF[key]
    warn = default_warn if warn is ... else warn
    critical = default_critical if critical is ... else critical
    definition, _ = MetricDefinition.objects.get_or_create(key=key)
    current = definition.versions.filter(is_current=True).first()
    if current is not None and (
        current.pillar,
        current.direction,
        current.warn_threshold,
        current.critical_threshold,
        current.window,
    ) == (pillar, direction, warn, critical, window):
        return current
    number = (definition.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    definition.versions.filter(is_current=True).update(is_current=False)
    return MetricVersion.objects.create(
        definition=definition,
        number=number,
        is_current=True,
        name=key.replace("_", " "),
        pillar=pillar,
        calculator=key,
        data_source="events",
        direction=direction,
        window=window,
        sensitive=sensitive,
        warn_threshold=warn,
        critical_threshold=critical,
        created_by=by,
        change_reason="test",
    )


def value(
    deployment, version: MetricVersion, x, *, end=T0 + HOUR, length=HOUR, enough=True, **fields
) -> MetricValue:
    policy = Threshold(version.direction, version.warn_threshold, version.critical_threshold)
    return MetricValue.objects.create(
        metric_version=version,
        deployment=deployment,
        window_start=end - length,
        window_end=end,
        value=x,
        status=status(x, policy, enough_data=enough) if policy.has_thresholds else "ok",
        sample_size=1000 if enough else 10,
        **fields,
    )


def healthy(deployment, *, end=T0 + HOUR, keys=("accuracy", "latency_p95_ms", "error_rate", "null_rate")):
    good = {
        "accuracy": 0.95,
        "latency_p95_ms": 120.0,
        "error_rate": 0.001,
        "availability": 0.999,
        "null_rate": 0.0,
    }
    return [value(deployment, metric(k), good[k], end=end) for k in keys]


def gate(deployment, *extra) -> tuple[int, str]:
    """``manage.py readiness_gate`` for ``deployment``: (exit code, what it printed)."""
    out = StringIO()
    mv = deployment.model_version
    args = [
        mv.model.system.slug,
        mv.model.slug,
        mv.version,
        "--environment",
        deployment.environment.slug,
        *extra,
    ]
    try:
        call_command("readiness_gate", *args, stdout=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue()
