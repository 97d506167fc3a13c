"""Shared helpers of the catalog tests (tests/test_catalog_*.py)."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone

from catalog.models import Environment, MetricVersion
from tests.factories import DeploymentFactory, EnvironmentFactory

PASSWORD = "pw-for-tests-1"


def current(key: str) -> MetricVersion:
    return MetricVersion.objects.select_related("definition").get(definition__key=key, is_current=True)


def edit_data(version: MetricVersion, **changes) -> dict:
    """The metric edit form's POST data: ``version``'s content with ``changes`` applied."""
    data = {**version.content(), "base_version": version.number, "reason": "", **changes}
    out = {}
    for key, value in data.items():
        if value is None:
            out[key] = ""
        elif isinstance(value, bool):
            if value:
                out[key] = "on"
        elif isinstance(value, dict):
            out[key] = json.dumps(value)
        else:
            out[key] = str(value)
    return out


def deployment_in(system, env_slug: str = "prod", kind: str = Environment.Kind.PRODUCTION):
    environment = Environment.objects.filter(system=system, slug=env_slug).first() or EnvironmentFactory(
        system=system, slug=env_slug, kind=kind
    )
    return DeploymentFactory(model_version__model__system=system, environment=environment)


def seed_values(
    version,
    deployment,
    values,
    *,
    start=None,
    step=timedelta(hours=1),
    feature="",
    status="ok",
    sample_size=500,
):
    """One MetricValue per value, in consecutive windows going back from ``start``."""
    from metrics.models import MetricValue

    start = start or timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    rows = []
    for index, value in enumerate(values):
        window_start = start - index * step
        rows.append(
            MetricValue(
                metric_version=version,
                deployment=deployment,
                feature=feature,
                window_start=window_start,
                window_end=window_start + step,
                value=value,
                status=status,
                sample_size=sample_size,
            )
        )
    return MetricValue.objects.bulk_create(rows)
