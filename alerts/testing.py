"""Helpers to build rules and metric values for alert tests and demos (no test framework
needed). ``metric`` creates a current metric version with thresholds; ``value`` stores a
MetricValue for a window as the computation engine would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from catalog.models import MetricDefinition, MetricVersion
from metrics.models import ComputationRun, MetricValue

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def window(index: int, size: timedelta = HOUR) -> tuple[datetime, datetime]:
    start = T0 + index * size
    return start, start + size


def metric(
    key: str,
    *,
    pillar: str = MetricVersion.Pillar.DATA_QUALITY,
    direction: str = MetricVersion.Direction.LOWER_IS_BETTER,
    warn: float | None = 0.1,
    critical: float | None = 0.25,
    for_windows: int = 1,
    window_size: str = "1h",
    playbook: str = "1. Check the upstream feed.\n2. Compare with the reference.",
    params: dict | None = None,
) -> MetricVersion:
    definition, _ = MetricDefinition.objects.get_or_create(key=key)
    number = (definition.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    definition.versions.filter(is_current=True).update(is_current=False)
    return MetricVersion.objects.create(
        definition=definition,
        number=number,
        is_current=True,
        name=key.replace("_", " ").capitalize(),
        pillar=pillar,
        calculator=key,
        params=params or {},
        data_source="events",
        direction=direction,
        window=window_size,
        warn_threshold=warn,
        critical_threshold=critical,
        for_windows=for_windows,
        playbook=playbook,
        change_reason="test fixture",
    )


def _status(version: MetricVersion, value: float | None) -> str:
    if value is None:
        return MetricValue.Status.INSUFFICIENT_DATA
    lower = version.direction == MetricVersion.Direction.LOWER_IS_BETTER

    def worse(threshold):
        return threshold is not None and (value >= threshold if lower else value <= threshold)

    if worse(version.critical_threshold):
        return MetricValue.Status.CRITICAL
    if worse(version.warn_threshold):
        return MetricValue.Status.WARN
    return MetricValue.Status.OK


def value(
    version: MetricVersion,
    deployment,
    index: int,
    val: float | None,
    *,
    segment: str = "",
    attribute: str = "",
    feature: str = "",
    status: str | None = None,
    size: timedelta = HOUR,
    run: ComputationRun | bool | None = True,
) -> MetricValue:
    start, end = window(index, size)
    if run is True:
        run = ComputationRun.objects.create(
            deployment=deployment,
            window_start=start,
            window_end=end,
            status=ComputationRun.Status.SUCCEEDED,
            code_version="test",
        )
    obj, _ = MetricValue.objects.update_or_create(
        metric_version=version,
        deployment=deployment,
        segment=segment,
        attribute=attribute,
        feature=feature,
        window_start=start,
        defaults={
            "window_end": end,
            "value": val,
            "status": status or _status(version, val),
            "sample_size": 0 if val is None else 500,
            "run": run or None,
        },
    )
    return obj
