"""The one filter bar every dashboard page shares: environment, time range, cohort.

The filters live in the URL query string (``?env=production&range=7d&cohort=region%3Deu``), so a
view is a shareable link. ``Filters.from_request`` never raises: unknown values fall back to the
defaults, so a hand-edited link still renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.utils import timezone

from catalog.models import Environment

RANGES = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "14d": ("Last 14 days", timedelta(days=14)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "90d": ("Last 90 days", timedelta(days=90)),
}
DEFAULT_RANGE = "7d"
ENVIRONMENTS = [("", "All environments"), *Environment.Kind.choices]


@dataclass(frozen=True)
class Filters:
    env: str = ""
    range: str = DEFAULT_RANGE
    cohort: str = ""  # "" = all traffic, else a segment "attribute=value"
    now: datetime | None = None

    @classmethod
    def from_request(cls, request) -> Filters:
        get = request.GET
        env = get.get("env", "")
        if env not in dict(ENVIRONMENTS):
            env = ""
        range_ = get.get("range", DEFAULT_RANGE)
        if range_ not in RANGES:
            range_ = DEFAULT_RANGE
        cohort = get.get("cohort", "").strip()[:200]
        if cohort and "=" not in cohort:
            cohort = ""
        return cls(env=env, range=range_, cohort=cohort, now=timezone.now())

    @property
    def end(self) -> datetime:
        return self.now or timezone.now()

    @property
    def since(self) -> datetime:
        return self.end - RANGES[self.range][1]

    @property
    def range_label(self) -> str:
        return RANGES[self.range][0]

    @property
    def segment(self) -> str:
        return self.cohort

    def params(self, **extra) -> dict:
        values = {"env": self.env, "range": self.range, "cohort": self.cohort}
        values.update(extra)
        return {
            k: v
            for k, v in values.items()
            if v not in ("", None) and not (k == "range" and v == DEFAULT_RANGE)
        }

    def query(self, **extra) -> str:
        """The query string (with a leading ``?`` when not empty) that keeps these filters."""
        encoded = urlencode(self.params(**extra))
        return f"?{encoded}" if encoded else ""

    def deployments(self, queryset):
        """Restrict a Deployment queryset to the chosen environment kind."""
        return queryset.filter(environment__kind=self.env) if self.env else queryset
