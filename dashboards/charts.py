"""Plotly figures built server-side from aggregates (never raw events).

Figures are plain Plotly figure dicts (``{"data": [...], "layout": {...}}``). Every time chart takes ``annotations`` — deploys, incidents and threshold changes as vertical
markers — from :func:`annotations_for`. Figures go to the page as JSON data blocks
(``json_script``) and ``static/dashboards/charts.js`` draws them with the locally served plotly.js.
"""

from __future__ import annotations

from catalog.models import Deployment, MetricVersion

STATUS_CODE = {"ok": 0, "insufficient_data": 1, "warn": 2, "critical": 3}
STATUS_COLOURS = [
    [0.0, "#dcf3e5"],
    [0.25, "#dcf3e5"],
    [0.25, "#e5e7eb"],
    [0.5, "#e5e7eb"],
    [0.5, "#f6c66b"],
    [0.75, "#f6c66b"],
    [0.75, "#e0604f"],
    [1.0, "#e0604f"],
]
MARKER_COLOURS = {"deploy": "#2457c5", "incident": "#c0392b", "threshold": "#7c3aed"}
PALETTE = ["#2457c5", "#b7791f", "#c0392b", "#1f8a4c", "#7c3aed", "#0e7490"]


def _x(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def annotations_for(system, since, until, *, metric=None) -> list[dict]:
    """Deploys of the system (an instance, an id, or several ids: then each label names its
    system), its incidents and (for one metric) threshold changes in the range (50 of each)."""
    from alerts.models import Incident

    several = isinstance(system, list | tuple | set | frozenset)
    ids = list(system) if several else [getattr(system, "pk", system)]
    marks = []
    for started_at, version, env, slug in Deployment.objects.filter(
        environment__system_id__in=ids, started_at__gte=since, started_at__lte=until
    ).values_list("started_at", "model_version__version", "environment__slug", "environment__system__slug")[
        :50
    ]:
        where = f"{slug}/{env}" if several else env
        marks.append({"at": started_at, "kind": "deploy", "label": f"deploy {version} @ {where}"})
    for opened_at, title, slug in Incident.objects.filter(
        system_id__in=ids, opened_at__gte=since, opened_at__lte=until
    ).values_list("opened_at", "title", "system__slug")[:50]:
        label = f"incident ({slug}): {title}" if several else f"incident: {title}"
        marks.append({"at": opened_at, "kind": "incident", "label": label})
    if metric is not None:
        for created_at, number in MetricVersion.objects.filter(
            definition__key=metric, created_at__gte=since, created_at__lte=until
        ).values_list("created_at", "number")[:50]:
            marks.append({"at": created_at, "kind": "threshold", "label": f"{metric} v{number}"})
    return sorted(marks, key=lambda m: m["at"])


def _marker_shapes(annotations: list[dict]) -> tuple[list[dict], list[dict]]:
    shapes, traces = [], []
    for mark in annotations:
        colour = MARKER_COLOURS.get(mark["kind"], "#6b7280")
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": _x(mark["at"]),
                "x1": _x(mark["at"]),
                "y0": 0,
                "y1": 1,
                "line": {"color": colour, "width": 1, "dash": "dot"},
            }
        )
    for kind, colour in MARKER_COLOURS.items():
        marks = [m for m in annotations if m["kind"] == kind]
        if marks:
            # A marker trace per kind gives the vertical lines a legend entry and hover text.
            traces.append(
                {
                    "type": "scatter",
                    "x": [_x(m["at"]) for m in marks],
                    "y": [0] * len(marks),
                    "yaxis": "y2",
                    "mode": "markers",
                    "name": kind,
                    "marker": {"symbol": "triangle-up", "size": 10, "color": colour},
                    "text": [m["label"] for m in marks],
                    "hovertemplate": "%{x}<br>%{text}<extra></extra>",
                }
            )
    return shapes, traces


def time_chart(
    series: dict[str, list[tuple]],
    *,
    annotations: list[dict] = (),
    warn=None,
    critical=None,
    y_title: str = "",
    height: int = 280,
) -> dict:
    """Lines over time: ``series`` maps a name to [(x, y), …]. A plain Plotly figure dict (building
    it with plotly.graph_objects costs ~100 ms of validation per figure; this costs ~1 ms)."""
    data = [
        {
            "type": "scatter",
            "x": [_x(p[0]) for p in points],
            "y": [p[1] for p in points],
            "mode": "lines" if len(points) > 2 else "lines+markers",  # a line of one point is invisible
            "name": name,
            "line": {"color": PALETTE[index % len(PALETTE)], "width": 1.6},
        }
        for index, (name, points) in enumerate(series.items())
    ]
    shapes = [
        {
            "type": "line",
            "xref": "paper",
            "yref": "y",
            "x0": 0,
            "x1": 1,
            "y0": level,
            "y1": level,
            "line": {"dash": "dash", "color": colour, "width": 1},
        }
        for level, colour in ((warn, "#b7791f"), (critical, "#c0392b"))
        if level is not None
    ]
    marker_shapes, marker_traces = _marker_shapes(list(annotations))
    layout = {
        "margin": {"l": 50, "r": 10, "t": 30, "b": 30},
        "height": height,
        "yaxis": {"title": {"text": y_title}},
        "xaxis": {"type": "date"},
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "hovermode": "x unified",
        "shapes": shapes + marker_shapes,
    }
    if marker_traces:
        layout["yaxis2"] = {"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True}
    return {"data": data + marker_traces, "layout": layout}


def status_heatmap(rows: list[str], columns: list, cells: dict, *, x_title: str = "") -> dict:
    """A grid coloured by status; ``cells[(row, column)] = (status, value)``."""
    z, text = [], []
    for row in rows:
        z_row, t_row = [], []
        for column in columns:
            status, value = cells.get((row, column), (None, None))
            z_row.append(None if status is None else STATUS_CODE.get(status, 1))
            t_row.append("" if value is None else f"{value:.3g}")
        z.append(z_row)
        text.append(t_row)
    return {
        "data": [
            {
                "type": "heatmap",
                "z": z,
                "x": [str(c) for c in columns],
                "y": rows,
                "text": text,
                "zmin": 0,
                "zmax": 3,
                "colorscale": STATUS_COLOURS,
                "showscale": False,
                "xgap": 1,
                "ygap": 1,
                "hovertemplate": "%{y} · %{x}<br>%{text}<extra></extra>",
            }
        ],
        "layout": {
            "margin": {"l": 120, "r": 10, "t": 10, "b": 60},
            "height": max(160, 28 * len(rows) + 80),
            "xaxis": {"title": {"text": x_title}, "type": "category"},
            "yaxis": {"autorange": "reversed"},
        },
    }


def histogram_overlay(labels: list[str], reference: list[float], current: list[float]) -> dict:
    return {
        "data": [
            {"type": "bar", "x": labels, "y": reference, "name": "reference", "marker": {"color": "#9ca3af"}},
            {"type": "bar", "x": labels, "y": current, "name": "window", "marker": {"color": "#2457c5"}},
        ],
        "layout": {
            "barmode": "group",
            "margin": {"l": 50, "r": 10, "t": 30, "b": 80},
            "height": 300,
            "yaxis": {"title": {"text": "share"}, "tickformat": ".0%"},
            "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        },
    }
