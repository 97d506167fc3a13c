"""What every dashboard page shares: login, the filter bar, breadcrumbs, CSV export of tables.

A page's tables are ``Table`` objects in its context (``tables``, by name); ``?format=csv``
(optionally ``&table=NAME``) returns that table as CSV instead of the page, with the same
filters and the same access scoping, because it is the same view that built it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

import plotly
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpResponse
from django.views.generic import TemplateView

from dashboards.filters import ENVIRONMENTS, RANGES, Filters


@dataclass
class Table:
    name: str
    header: list[str]
    rows: list[list] = field(default_factory=list)


def csv_response(table: Table, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{table.name}.csv"'
    writer = csv.writer(response)
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow(["" if v is None else v for v in row])
    return response


class DashboardView(LoginRequiredMixin, TemplateView):
    """Base of every dashboard page."""

    page_name = "page"

    def get(self, request, *args, **kwargs):
        self.filters = Filters.from_request(request)
        context = self.get_context_data(**kwargs)
        if request.GET.get("format") == "csv":
            tables: dict[str, Table] = context.get("tables") or {}
            if not tables:
                raise Http404("This page has no table to export.")
            name = request.GET.get("table") or next(iter(tables))
            if name not in tables:
                raise Http404("No such table.")
            return csv_response(tables[name], self.page_name)
        return self.render_to_response(context)

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
