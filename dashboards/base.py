"""What every dashboard page shares: login, the filter bar, breadcrumbs, CSV export.

A page's tables are ``Table`` objects in its context (``tables``, by name) and its charts are
Plotly figure dicts; ``?format=csv&table=NAME`` or ``?format=csv&chart=NAME`` returns that
table or that chart's data as CSV instead of the page (``dashboards.export``), with the same
filters and the same access scoping, because it is the same view that built it.
"""

from __future__ import annotations

import plotly
from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from dashboards.export import CsvExportMixin, Table, csv_response
from dashboards.filters import ENVIRONMENTS, RANGES, Filters

__all__ = ["DashboardView", "Table", "csv_response"]


class DashboardView(LoginRequiredMixin, CsvExportMixin, TemplateView):
    """Base of every dashboard page."""

    page_name = "page"

    @property
    def export_name(self) -> str:
        return self.page_name

    def get(self, request, *args, **kwargs):
        self.filters = Filters.from_request(request)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            {
                "dashboard_shell": True,
                "filters": self.filters,
                "env_choices": ENVIRONMENTS,
                "range_choices": [(key, label) for key, (label, _) in RANGES.items()],
                "plotly_version": plotly.__version__,
                "tables": {},
                "cohort_options": [],
            }
        )
        return context
