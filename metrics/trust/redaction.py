"""Hide sensitive metric values from users without ``view_sensitive`` (DESIGN.md §3.4, §8).

A trust score names its reasons and contributions by metric; for a *sensitive* metric (the
catalog's ``sensitive`` flag: fairness) the number itself is hidden from users who lack
``view_sensitive`` on the system, the same rule as the metric-values API and the dashboards.
The metric is still named (a blocked deployment must say why), with its threshold and health;
per-group detail is never part of a trust payload anyway.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from catalog.models import MetricVersion
from healthboard import access

__all__ = ["Redactor"]

HIDDEN = "value hidden: needs view_sensitive"


class Redactor:
    """Redacts for one user and one deployment; a no-op when the user may see sensitive values."""

    def __init__(self, user, deployment):
        self.active = not access.has_perm(user, deployment, access.VIEW_SENSITIVE)
        self.keys: set[str] = set()
        if self.active:
            self.keys = set(
                MetricVersion.objects.filter(is_current=True, sensitive=True).values_list(
                    "definition__key", flat=True
                )
            )

    def hides(self, metric: str | None) -> bool:
        return self.active and metric in self.keys

    def reasons(self, reasons: Iterable[dict]) -> list[dict]:
        out = []
        for reason in reasons:
            if not self.hides(reason.get("metric")):
                out.append(reason)
                continue
            reason = dict(reason, value=None, redacted=True)
            what = reason["metric"] + (
                f" (attribute {reason['attribute']})" if reason.get("attribute") else ""
            )
            level = "critical" if reason.get("code") == "metric_critical" else "warn"
            reason["message"] = (
                f"{str(reason.get('pillar', '')).replace('_', ' ')} metric {what} is at or beyond its "
                f"{level} threshold {reason.get('threshold')} ({HIDDEN})"
            )
            out.append(reason)
        return out

    def rows(self, rows: Iterable[dict]) -> list[dict]:
        """Lineage inputs (``metric``, ``value``) and contributions (``worst.value``)."""
        out = []
        for row in rows:
            if not self.hides(row.get("metric")):
                out.append(row)
                continue
            row = copy.deepcopy(row)
            if "value" in row:
                row["value"] = None
            if isinstance(row.get("worst"), dict):
                row["worst"]["value"] = None
            row["redacted"] = True
            out.append(row)
        return out
