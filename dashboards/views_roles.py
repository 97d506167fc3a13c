"""The role views: SRE ``/sre/``, data science ``/ds/`` and platform ``/platform/``.

All of them read aggregates only (MetricValue, WindowProfile, IngestionStat, Alert/Incident);
the drift cell's distribution overlay merges the stored 5-minute profiles of one window and the
reference profile — never raw events.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import timedelta
from urllib.parse import urlencode

from django.db import connection
from django.db.models import Max
from django.http import Http404
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe

from alerts.models import Incident
from catalog.models import MetricVersion, System
from dashboards import charts, throughput
from dashboards.base import DashboardView, Table
from dashboards.filters import RANGES
from dashboards.views import deployment_refs, get_deployment, seg_slug, url_for
from dashboards.workers import UNTIMED_TASKS, compute_durations, notify_durations, queue_depths
from healthboard import access
from healthboard.api import instant_or_none
from metrics.models import MetricValue
from metrics.models.engine import WindowProfile

SRE_KEYS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate", "availability")
DRIFT_KEYS = ("feature_drift_psi", "feature_drift_js", "feature_drift_wasserstein", "feature_drift_ks")
FAIRNESS_KEYS = (
    "demographic_parity_difference",
    "disparate_impact_ratio",
    "equal_opportunity_difference",
    "equalized_odds_difference",
    "group_accuracy_gap",
)
QUALITY_KEYS = ("accuracy", "accuracy_delta_vs_baseline")
HEATMAP_WINDOWS = 24


def pick_deployment(request, deployments):
    wanted = request.GET.get("deployment")
    for d in deployments:
        if wanted and str(d.pk) == wanted:
            return d
    return deployments[0] if deployments else None


def newest_by(values, key):
    out = {}
    for v in values:
        out.setdefault(key(v), v)
    return out


class SreView(DashboardView):
    template_name = "dashboards/sre.html"
    page_name = "sre"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, filters = self.request.user, self.filters
        deployments = deployment_refs(user, filters)
        recent = filters.end - timedelta(hours=3)
        # metric version id -> key (every version of the five metrics; a handful of rows), so the
        # value queries need no join
        version_keys = dict(
            MetricVersion.objects.filter(definition__key__in=SRE_KEYS).values_list("pk", "definition__key")
        )
        latest = {}
        for dep_id, version_id, value, status, pk in (
            MetricValue.objects.filter(
                deployment_id__in=[d.pk for d in deployments],
                metric_version_id__in=list(version_keys),
                segment=filters.segment,
                feature="",
                attribute="",
                window_start__gte=recent,
            )
            .order_by("-window_start")
            .values_list("deployment_id", "metric_version_id", "value", "status", "pk")
        ):
            latest.setdefault(
                (dep_id, version_keys[version_id]), {"value": value, "status": status, "pk": pk}
            )
        q = filters.query()
        selected = pick_deployment(self.request, deployments)
        row_url = reverse("dashboards:sre") + (f"{q}&" if q else "?") + "deployment="
        rows = []
        for d in deployments:
            cells = [latest.get((d.pk, key)) for key in SRE_KEYS]
            # one pre-rendered row: 200 rows x 6 cells through the template engine cost ~15 ms;
            # numbers, ids and status codes need no escaping, the label is escaped
            html = f'<td><a href="{row_url}{d.pk}">{escape(d.label)}</a></td>' + "".join(
                f'<td><a class="badge status-{c["status"]}" href="{url_for("dashboards:value", c["pk"])}">'
                f"{'-' if c['value'] is None else format(c['value'], '.3f')}</a></td>"
                if c
                else '<td><span class="muted">-</span></td>'
                for c in cells
            )
            rows.append(
                {
                    "html": mark_safe(html),
                    "deployment": d,
                    "selected": selected is not None and d.pk == selected.pk,
                    "cells": cells,
                }
            )
        latency_chart = error_chart = None
        if selected is not None:
            series = defaultdict(list)
            for version_id, start, value in (
                MetricValue.objects.filter(
                    deployment_id=selected.pk,
                    metric_version_id__in=list(version_keys),
                    segment=filters.segment,
                    feature="",
                    attribute="",
                    window_start__gte=filters.since,
                )
                .order_by("window_start")
                .values_list("metric_version_id", "window_start", "value")[:20000]
            ):
                series[version_keys[version_id]].append((start, value))
            marks = charts.annotations_for(selected.system_id, filters.since, filters.end)
            latency_chart = charts.time_chart(
                {k.replace("latency_", "").replace("_ms", ""): series.get(k, []) for k in SRE_KEYS[:3]},
                annotations=marks,
                y_title="latency ms",
            )
            error_chart = charts.time_chart(
                {"error rate": series.get("error_rate", []), "availability": series.get("availability", [])},
                annotations=marks,
                y_title="share",
                height=240,
            )
        incidents = list(
            access.scope(Incident.objects.select_related("system"), user)
            .exclude(state="resolved")
            .order_by("-opened_at")[:25]
        )
        context.update(
            {
                "rows": rows,
                "keys": SRE_KEYS,
                "selected": selected,
                "selected_label": selected.label if selected else "",
                "latency_chart": latency_chart,
                "error_chart": error_chart,
                "incidents": incidents,
                "extra_params": {"deployment": selected.pk} if selected else {},
                "q": q,
                "tables": {
                    "service": Table(
                        "service",
                        ["deployment", "label", *SRE_KEYS],
                        lambda: [
                            [
                                r["deployment"].pk,
                                r["deployment"].label,
                                *[c["value"] if c else None for c in r["cells"]],
                            ]
                            for r in rows
                        ],
                    ),
                    "incidents": Table(
                        "incidents",
                        ["incident", "system", "title", "state", "severity", "opened_at"],
                        lambda: [
                            [i.pk, i.system.slug, i.title, i.state, i.severity, i.opened_at.isoformat()]
                            for i in incidents
                        ],
                    ),
                },
            }
        )
        return context


class DataScienceView(DashboardView):
    template_name = "dashboards/ds.html"
    page_name = "ds"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, filters, request = self.request.user, self.filters, self.request
        deployments = deployment_refs(user, filters)
        selected = pick_deployment(request, deployments)
        metric = request.GET.get("metric", "feature_drift_psi")
        if metric not in DRIFT_KEYS:
            metric = "feature_drift_psi"
        context.update(
            {
                "deployments": [(d.pk, d.label) for d in deployments],
                "selected": selected,
                "metric": metric,
                "drift_keys": DRIFT_KEYS,
                "extra_params": {"deployment": selected.pk, "metric": metric} if selected else {},
            }
        )
        if selected is None:
            return context
        # metric version id -> key for the keys this page reads (a handful of rows), so the value
        # queries filter on the (indexed) version id instead of joining the catalog
        version_keys = dict(
            MetricVersion.objects.filter(
                definition__key__in=(metric, *FAIRNESS_KEYS, *QUALITY_KEYS)
            ).values_list("pk", "definition__key")
        )

        def versions(*keys):
            return [pk for pk, key in version_keys.items() if key in keys]

        # feature by window (the newest HEATMAP_WINDOWS windows of the range, one segment)
        drift = list(
            MetricValue.objects.filter(
                deployment_id=selected.pk,
                metric_version_id__in=versions(metric),
                segment=filters.segment,
                window_start__gte=filters.since,
            )
            .order_by("-window_start")
            .values_list("feature", "window_start", "status", "value")[:5000]
        )
        windows = sorted({w for _, w, _, _ in drift}, reverse=True)[:HEATMAP_WINDOWS][::-1]
        column = {w: w.strftime("%m-%d %H:%M") for w in windows}
        features = sorted({f for f, *_ in drift})
        cells = {(f, column[w]): (s, v) for f, w, s, v in drift if w in column}
        heatmap = charts.status_heatmap(features, list(column.values()), cells, x_title="window")
        self.window_index = {label: w.isoformat() for w, label in column.items()}
        window_set = set(windows)
        # the heatmap's cells as plain links (keyboard, no JavaScript), built here rather than
        # with two {% url %} tags per cell
        cell_base = (
            reverse("dashboards:ds-distribution")
            + "?"
            + urlencode({"deployment": selected.pk, "segment": filters.segment})
        )
        cell_links = [
            (
                f,
                [
                    (w.strftime("%H:%M"), f"{cell_base}&{urlencode({'feature': f, 'window': w.isoformat()})}")
                    for w in windows
                ],
            )
            for f in features
        ]
        # feature by cohort: the newest value per (feature, segment) in the last windows
        cohort_rows = newest_by(
            MetricValue.objects.filter(
                deployment_id=selected.pk,
                metric_version_id__in=versions(metric),
                window_start__gte=max(filters.since, filters.end - timedelta(days=2)),
            )
            .order_by("-window_start")
            .values_list("feature", "segment", "status", "value", "window_start")[:20000],
            lambda r: (r[0], r[1]),
        )
        segments = sorted({s for (_, s) in cohort_rows}, key=lambda s: (s != "", s))
        cohort_map = charts.status_heatmap(
            features,
            [s or "all" for s in segments],
            {(f, s or "all"): (r[2], r[3]) for (f, s), r in cohort_rows.items()},
            x_title="segment",
        )
        sensitive_ok = selected.system_id in access.system_ids_for(user, access.VIEW_SENSITIVE)
        fairness = []
        if sensitive_ok:
            fairness = list(
                newest_by(
                    MetricValue.objects.filter(
                        deployment_id=selected.pk,
                        metric_version_id__in=versions(*FAIRNESS_KEYS),
                        window_start__gte=filters.since,
                    )
                    .select_related("metric_version__definition")
                    .order_by("-window_start")[:500],
                    lambda v: (v.metric_version.definition.key, v.attribute),
                ).values()
            )
            fairness.sort(key=lambda v: (v.attribute, v.metric_version.definition.key))
        quality = defaultdict(list)
        for version_id, start, value in (
            MetricValue.objects.filter(
                deployment_id=selected.pk,
                metric_version_id__in=versions(*QUALITY_KEYS),
                segment=filters.segment,
                window_start__gte=filters.since,
            )
            .order_by("window_start")
            .values_list("metric_version_id", "window_start", "value")[:5000]
        ):
            quality[version_keys[version_id]].append((start, value))
        marks = charts.annotations_for(selected.system_id, filters.since, filters.end)
        quality_chart = charts.time_chart(
            dict(quality), annotations=marks, y_title="accuracy / delta", height=240
        )
        cell_url = (
            reverse("dashboards:ds-distribution")
            + f"?deployment={selected.pk}&segment={filters.segment}&feature=__row__&window=__col__"
        )
        context.update(
            {
                "heatmap": heatmap,
                "cohort_map": cohort_map,
                "window_index": self.window_index,
                "cell_url": cell_url,
                "fairness": fairness,
                "sensitive_ok": sensitive_ok,
                "quality_chart": quality_chart,
                "has_quality": bool(quality),
                "features": features,
                "windows": windows,
                "cell_links": cell_links,
                "cohort_options": [s for s in segments if s],
                "tables": {
                    "drift": Table(
                        "drift",
                        ["feature", "window_start", "status", "value"],
                        lambda: [[f, w.isoformat(), s, v] for f, w, s, v in drift if w in window_set],
                    ),
                    **(
                        {
                            "fairness": Table(
                                "fairness",
                                [
                                    "metric",
                                    "attribute",
                                    "window_start",
                                    "value",
                                    "status",
                                    "groups",
                                    "excluded",
                                ],
                                lambda: [
                                    [
                                        v.metric_version.definition.key,
                                        v.attribute,
                                        v.window_start.isoformat(),
                                        v.value,
                                        v.status,
                                        v.details.get("groups"),
                                        v.details.get("excluded"),
                                    ]
                                    for v in fairness
                                ],
                            )
                        }
                        if sensitive_ok
                        else {}
                    ),
                },
            }
        )
        return context


def _bin_labels(edges) -> list[str]:
    edges = list(edges)
    if not edges:
        return ["all"]
    labels = [f"< {edges[0]:.3g}"]
    labels += [f"[{a:.3g}, {b:.3g})" for a, b in itertools.pairwise(edges)]
    labels.append(f"≥ {edges[-1]:.3g}")
    return labels


class DistributionView(DashboardView):
    """Reference vs one window for one feature: histogram overlay from stored profiles + values.

    Served as an HTMX partial when a drift cell is clicked, and as a full page otherwise."""

    template_name = "dashboards/distribution.html"
    page_name = "distribution"

    def get_template_names(self):
        if getattr(self.request, "htmx", False):
            return ["dashboards/_distribution.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        from metrics.compute.profiles import WindowProfile as Profile
        from metrics.compute.profiles import merge
        from metrics.engine import context as engine_context

        context = super().get_context_data(**kwargs)
        get = self.request.GET
        deployment = get_deployment(self.request.user, get.get("deployment"))
        feature = get.get("feature", "")
        segment = get.get("segment", "")
        window_raw = get.get("window", "")
        values = MetricValue.objects.filter(
            deployment=deployment,
            feature=feature,
            segment=segment,
            metric_version__definition__key__in=(*DRIFT_KEYS, "feature_drift_chi2_p"),
        ).select_related("metric_version__definition", "run")
        start = instant_or_none(window_raw, assume_utc=True)
        if start is None:
            # a heatmap label "MM-DD HH:MM": find that window among the newest values
            newest = values.order_by("-window_start").values_list("window_start", flat=True)[:2000]
            start = next((w for w in newest if w.strftime("%m-%d %H:%M") == window_raw), None)
        if start is None:
            raise Http404("No such window.")
        window_values = list(values.filter(window_start=start))
        if not window_values:
            raise Http404("No drift values for this window.")
        end = window_values[0].window_end
        stored = list(
            WindowProfile.objects.filter(
                deployment=deployment, segment=segment, bucket_start__gte=start, bucket_start__lt=end
            ).values_list("profile", flat=True)
        )
        overlay = None
        note = ""
        ctx = engine_context.load(deployment.pk)
        ref = ctx.reference_data()
        ref_profile = ref.profile(segment) or ref.whole if ref is not None else None
        if segment and ref is not None and ref.profile(segment) is None:
            note = "The segment has too few reference rows; compared with the whole reference."
        if stored and ref_profile is not None:
            current = merge([Profile.from_dict(p) for p in stored])
            ref_num, cur_num = ref_profile.numeric.get(feature), current.numeric.get(feature)
            if ref_num is not None and cur_num is not None and len(ref_num.counts) == len(cur_num.counts):
                labels = _bin_labels(ref_num.edges)
                r, c = ref_num.counts, cur_num.counts
                overlay = charts.histogram_overlay(
                    labels,
                    [x / max(1, r.sum()) for x in r.tolist()],
                    [x / max(1, c.sum()) for x in c.tolist()],
                )
            else:
                ref_cat, cur_cat = ref_profile.categorical.get(feature), current.categorical.get(feature)
                if ref_cat is not None and cur_cat is not None:
                    rd, cd = ref_cat.to_dict().get("counts", {}), cur_cat.to_dict().get("counts", {})
                    cats = sorted(set(rd) | set(cd))
                    rt, ct = max(1, sum(rd.values())), max(1, sum(cd.values()))
                    overlay = charts.histogram_overlay(
                        cats, [rd.get(k, 0) / rt for k in cats], [cd.get(k, 0) / ct for k in cats]
                    )
        elif not stored:
            note = "The 5-minute profiles of this window are no longer stored."
        context.update(
            {
                "deployment": deployment,
                "feature": feature,
                "segment": segment,
                "window_start": start,
                "window_end": end,
                "values": sorted(window_values, key=lambda v: v.metric_version.definition.key),
                "overlay": overlay,
                "note": note,
                "segment_slug": seg_slug(segment),
                "tables": {
                    "statistics": Table(
                        "statistics",
                        [
                            "metric",
                            "value",
                            "status",
                            "reference_size",
                            "current_size",
                            "metric_version",
                            "run",
                        ],
                        lambda: [
                            [
                                v.metric_version.definition.key,
                                v.value,
                                v.status,
                                v.details.get("reference_size"),
                                v.details.get("current_size"),
                                v.metric_version.number,
                                v.run_id,
                            ]
                            for v in window_values
                        ],
                    )
                },
            }
        )
        return context


def table_sizes() -> list[tuple[str, int]]:
    """PostgreSQL: total size (with indexes and TOAST) of the project's tables; elsewhere: []."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() "
            "AND (c.relname LIKE 'metrics_%%' OR c.relname LIKE 'alerts_%%' OR c.relname LIKE 'catalog_%%') "
            "AND NOT c.relispartition ORDER BY 2 DESC LIMIT 20"
        )
        return list(cursor.fetchall())


class PlatformView(DashboardView):
    template_name = "dashboards/platform.html"
    page_name = "platform"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, filters = self.request.user, self.filters
        system_ids = (
            access.system_ids_for(user)
            if not user.is_superuser
            else set(System.objects.values_list("id", flat=True))
        )
        stats = throughput.buckets(
            system_ids, filters.since, filters.end, by_day=RANGES[filters.range][1] > timedelta(days=7)
        )
        throughput_chart = charts.time_chart(
            {
                "accepted / min": [(s["start"], s["accepted"] / s["minutes"]) for s in stats],
                "rejected / min": [(s["start"], s["rejected"] / s["minutes"]) for s in stats],
            },
            annotations=charts.annotations_for(sorted(system_ids), filters.since, filters.end),
            y_title="records per minute",
            height=240,
        )
        rejections = throughput.rejections(system_ids, filters.since, filters.end)
        deployments = deployment_refs(user, filters)
        newest = dict(
            WindowProfile.objects.filter(
                deployment_id__in=[d.pk for d in deployments],
                segment="",
                bucket_start__gte=filters.end - timedelta(days=2),
            )
            .values("deployment_id")
            .annotate(newest=Max("newest_event_at"))
            .values_list("deployment_id", "newest")
        )
        freshness = []
        for d in deployments:
            at = newest.get(d.pk)
            lag = (filters.end - at).total_seconds() if at else None
            stale = lag is None or lag > 3600
            badge = "no data" if lag is None else f"{lag:.0f} s"
            # pre-rendered like the SRE rows (200 of them); the label is escaped
            html = (
                f'<td><a href="{url_for("dashboards:deployment", d.pk)}">{escape(d.label)}</a></td>'
                f'<td class="small">{at.strftime("%Y-%m-%d %H:%M") if at else "-"}</td>'
                f'<td><span class="badge status-{"critical" if stale else "ok"}">{badge}</span></td>'
            )
            freshness.append(
                {"deployment": d, "label": d.label, "newest": at, "lag": lag, "html": mark_safe(html)}
            )
        freshness.sort(key=lambda r: -(r["lag"] if r["lag"] is not None else 1e18))
        sizes = table_sizes()
        queues, queue_note = queue_depths()
        durations = [
            *compute_durations([d.pk for d in deployments], filters.since),
            *notify_durations(system_ids, filters.since),
        ]
        context.update(
            {
                "throughput_chart": throughput_chart,
                "totals": {
                    "accepted": sum(s["accepted"] for s in stats),
                    "rejected": sum(s["rejected"] for s in stats),
                    "duplicates": sum(s["duplicates"] for s in stats),
                },
                "rejections": rejections,
                "freshness": freshness,
                "sizes": sizes,
                "sizes_supported": connection.vendor == "postgresql",
                "queues": queues,
                "queue_note": queue_note,
                "durations": durations,
                "untimed_tasks": UNTIMED_TASKS,
                "tables": {
                    "throughput": Table(
                        "throughput",
                        ["bucket_start", "minutes", "accepted", "rejected", "duplicates"],
                        lambda: [
                            [s["start"], s["minutes"], s["accepted"], s["rejected"], s["duplicates"]]
                            for s in stats
                        ],
                    ),
                    "rejections": Table(
                        "rejections",
                        ["system", "kind", "reason", "records", "requests"],
                        lambda: [
                            [r["system__slug"], r["kind"], r["reason"], r["records"], r["requests"]]
                            for r in rejections
                        ],
                    ),
                    "freshness": Table(
                        "freshness",
                        ["deployment", "label", "newest_event_at", "lag_s"],
                        lambda: [
                            [
                                r["deployment"].pk,
                                r["label"],
                                r["newest"].isoformat() if r["newest"] else "",
                                r["lag"],
                            ]
                            for r in freshness
                        ],
                    ),
                    "storage": Table("storage", ["table", "bytes"], lambda: [list(s) for s in sizes]),
                    "queues": Table("queues", ["queue", "depth"], lambda: [list(q) for q in queues]),
                    "task_durations": Table(
                        "task_durations",
                        ["task", "queue", "unit", "count", "failures", "p50_s", "p95_s", "max_s", "newest"],
                        lambda: [
                            [
                                t.task,
                                t.queue,
                                t.unit,
                                t.count,
                                t.failures,
                                t.p50_s,
                                t.p95_s,
                                t.max_s,
                                t.newest.isoformat() if t.newest else "",
                            ]
                            for t in durations
                        ],
                    ),
                },
            }
        )
        return context
