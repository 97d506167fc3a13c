"""CSV export of any table and any chart's data, one mechanism for every page.

A page puts its tables in its context as ``Table`` objects (``tables``, by name) and its Plotly
figures as plain figure dicts under any context name. ``?format=csv&table=NAME`` returns that
table; ``?format=csv&chart=NAME`` returns the series behind the figure stored under ``NAME``
(one row per point, long format). Both come from the same view that renders the page, so the
filters and the access scoping are the same as on the page.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.http import Http404, HttpResponse

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Table:
    """A CSV-exportable table. ``rows`` may be a zero-argument callable: pages build their
    tables on every render, and a lazy table costs nothing unless it is exported."""

    name: str
    header: list[str]
    rows: list[list] | Callable[[], list[list]] = field(default_factory=list)

    def all_rows(self) -> list[list]:
        return self.rows() if callable(self.rows) else self.rows


def csv_response(table: Table, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{table.name}.csv"'
    writer = csv.writer(response)
    writer.writerow(table.header)
    for row in table.all_rows():
        writer.writerow([_safe(v) for v in row])
    return response


def _safe(value):
    """A cell as written: None empty, and text that a spreadsheet would run as a formula
    (``=``, ``+``, ``-``, ``@`` first: incident titles, reasons) quoted with a leading ``'``."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in FORMULA_PREFIXES:
        return "'" + value
    return value


def is_figure(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("data"), list) and "layout" in value


def figures_in(context: Mapping[str, Any]) -> dict[str, dict]:
    """Every Plotly figure dict of a page's context, by context name."""
    return {name: value for name, value in context.items() if is_figure(value)}


def _cell(values, index):
    if values is None or isinstance(values, str | int | float):
        return values  # a scalar applies to every point (Plotly's convention)
    return values[index] if index < len(values) else None


def figure_table(name: str, figure: Mapping[str, Any]) -> Table:
    """The data of every trace of a figure as rows ``series, x, y, value, label``.

    Line, bar and marker traces give one row per point (``value`` empty); a heatmap gives one
    row per cell, ``x`` its column, ``y`` its row and ``value`` its z (the colour)."""
    rows: list[list] = []
    for number, trace in enumerate(figure.get("data", [])):
        series = trace.get("name") or f"trace {number + 1}"
        text = trace.get("text")
        if trace.get("type") == "heatmap":
            xs, ys = trace.get("x") or [], trace.get("y") or []
            for i, z_row in enumerate(trace.get("z") or []):
                text_row = _cell(text, i) if text is not None else None
                for j, z in enumerate(z_row):
                    rows.append(
                        [series, _cell(xs, j), _cell(ys, i), z, _cell(text_row, j) if text_row else None]
                    )
            continue
        xs, ys = trace.get("x") or [], trace.get("y") or []
        for i in range(max(len(xs), len(ys))):
            rows.append([series, _cell(xs, i), _cell(ys, i), None, _cell(text, i)])
    return Table(name, ["series", "x", "y", "value", "label"], rows)


def export_response(context: Mapping[str, Any], query: Mapping[str, str], filename: str) -> HttpResponse:
    """The CSV a ``?format=csv`` request asks for, from the page's own context (404 if none)."""
    chart = query.get("chart")
    if chart:
        figure = figures_in(context).get(chart)
        if figure is None:
            raise Http404("No such chart.")
        return csv_response(figure_table(chart, figure), filename)
    tables: Mapping[str, Table] = context.get("tables") or {}
    if not tables:
        raise Http404("This page has no table to export.")
    name = query.get("table") or next(iter(tables))
    if name not in tables:
        raise Http404("No such table.")
    return csv_response(tables[name], filename)


class CsvExportMixin:
    """For a TemplateView: ``?format=csv`` returns a table or a chart's data instead of the page,
    and the page gets ``chart_names`` for the export links."""

    export_name = "page"

    def render_to_response(self, context, **response_kwargs):
        if self.request.GET.get("format") == "csv":
            return export_response(context, self.request.GET, self.export_name)
        context["chart_names"] = list(figures_in(context))
        return super().render_to_response(context, **response_kwargs)
