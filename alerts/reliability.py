"""Reliability signals computed from alert data (DESIGN.md §3.5).

* ``mttd_s``: mean seconds from the end of an alert's first breaching window to its firing,
  over alerts that fired in the trailing window (default 30 days).
* ``mttr_s``: mean seconds from firing to resolved, over alerts resolved in the trailing window
  (manual and automatic resolves alike; alerts resolved before they fired do not count).
* ``open_critical_alerts``: firing alerts of severity critical right now.

Each takes an optional system / deployment filter and ``now``; the means are ``None`` when
there is nothing to average.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from alerts.models import Alert

TRAILING = timedelta(days=30)


def _scoped(system=None, deployment=None) -> QuerySet[Alert]:
    queryset = Alert.objects.all()
    if system is not None:
        queryset = queryset.filter(system=system)
    if deployment is not None:
        queryset = queryset.filter(deployment=deployment)
    return queryset


def _mean(pairs) -> float | None:
    spans = [(end - start).total_seconds() for start, end in pairs if start is not None and end is not None]
    return sum(spans) / len(spans) if spans else None


def mttd_s(*, system=None, deployment=None, now: datetime | None = None, window: timedelta = TRAILING):
    now = now or timezone.now()
    rows = _scoped(system, deployment).filter(fired_at__gt=now - window, fired_at__lte=now)
    return _mean(rows.values_list("first_breach_window_end", "fired_at"))


def mttr_s(*, system=None, deployment=None, now: datetime | None = None, window: timedelta = TRAILING):
    now = now or timezone.now()
    rows = _scoped(system, deployment).filter(
        state=Alert.State.RESOLVED, fired_at__isnull=False, resolved_at__gt=now - window, resolved_at__lte=now
    )
    return _mean(rows.values_list("fired_at", "resolved_at"))


def open_critical_alerts(*, system=None, deployment=None) -> int:
    return (
        _scoped(system, deployment).filter(state=Alert.State.FIRING, severity=Alert.Severity.CRITICAL).count()
    )
