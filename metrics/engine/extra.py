"""Calculators that read other apps' tables instead of window profiles (DESIGN.md §3.5).

``mttd_s``, ``mttr_s`` and ``open_critical_alerts`` come from the alerts app
(``alerts.reliability``), evaluated *as of the window's end* so a recomputation of an old window
gives the value that window had: the trailing 30 days (``params.trailing_days``) end at the
window's end, and open critical alerts are those fired at or before it and not resolved by
then. When the alerts app is not installed they are simply not computed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from metrics.compute.results import MetricResult

__all__ = ["EXTRA", "available"]

Fn = Callable[[int, datetime, Mapping[str, Any]], MetricResult]


def _alerts():
    try:
        from alerts import reliability
        from alerts.models import Alert
    except ImportError:  # the alerts app is optional for the engine
        return None, None
    return reliability, Alert


def _trailing(params: Mapping[str, Any]) -> timedelta:
    return timedelta(days=float(params.get("trailing_days", 30)))


def mttd_s(deployment_id: int, at: datetime, params: Mapping[str, Any]) -> MetricResult:
    reliability, Alert = _alerts()
    window = _trailing(params)
    value = reliability.mttd_s(deployment=deployment_id, now=at, window=window)
    n = Alert.objects.filter(
        deployment_id=deployment_id,
        fired_at__gt=at - window,
        fired_at__lte=at,
        first_breach_window_end__isnull=False,
    ).count()
    if value is None:
        return MetricResult(
            None, 0, {"reason": "no alert fired in the trailing window", "trailing_days": window.days}
        )
    return MetricResult(value, n, {"alerts": n, "trailing_days": window.days})


def mttr_s(deployment_id: int, at: datetime, params: Mapping[str, Any]) -> MetricResult:
    reliability, Alert = _alerts()
    window = _trailing(params)
    value = reliability.mttr_s(deployment=deployment_id, now=at, window=window)
    n = Alert.objects.filter(
        deployment_id=deployment_id,
        state=Alert.State.RESOLVED,
        fired_at__isnull=False,
        resolved_at__gt=at - window,
        resolved_at__lte=at,
    ).count()
    if value is None:
        return MetricResult(
            None, 0, {"reason": "no alert resolved in the trailing window", "trailing_days": window.days}
        )
    return MetricResult(value, n, {"alerts": n, "trailing_days": window.days})


def open_critical_alerts(deployment_id: int, at: datetime, params: Mapping[str, Any]) -> MetricResult:
    _, Alert = _alerts()
    ids = list(
        Alert.objects.filter(deployment_id=deployment_id, severity=Alert.Severity.CRITICAL, fired_at__lte=at)
        .exclude(resolved_at__lte=at)
        .order_by("id")
        .values_list("id", flat=True)
    )
    count = len(ids)
    return MetricResult(float(count), 1, {"alerts": ids[:50], "as_of": at.isoformat()})


EXTRA: dict[str, Fn] = {
    "mttd_s": mttd_s,
    "mttr_s": mttr_s,
    "open_critical_alerts": open_critical_alerts,
}


def available(calculator: str) -> bool:
    return calculator in EXTRA and _alerts()[0] is not None
