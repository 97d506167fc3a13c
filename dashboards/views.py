"""The layered views: the executive portfolio and the drill-down chain.

portfolio → system → deployment → metric → segment → window (one MetricValue, its metric
version and computation run) → a sample of that window's raw events (the only page that reads
raw events: one window, at most ``EVENT_SAMPLE`` rows). Every page reads aggregates
(TrustScore, MetricValue, Alert) scoped through ``healthboard.access``; invisible objects are 404.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from urllib.parse import quote

from django.db.models import Avg, Count
from django.http import Http404
from django.urls import reverse

from alerts.models import Alert
from alerts.sparkline import svg as sparkline_svg
from catalog.models import Deployment, MetricVersion, System
from dashboards import charts
from dashboards.base import DashboardView, Table
from healthboard import access
from metrics.models import MetricValue
from metrics.models.trust import TrustScore

READINESS_ORDER = {"blocked": 0, "staged": 1, "ready": 2}
SEVERITIES = ("critical", "warning")
EVENT_SAMPLE = 50
SEGMENT_ALL = "all"


def seg_slug(segment: str) -> str:
    return quote(segment, safe="=") if segment else SEGMENT_ALL


def seg_value(slug: str) -> str:
    return "" if slug == SEGMENT_ALL else slug


def scoped_deployments(user, filters, **lookup):
    qs = Deployment.objects.select_related("environment__system", "model_version__model")
    return filters.deployments(access.scope(qs.filter(**lookup), user))


def get_deployment(user, pk):
    return access.get_for_user(
        Deployment.objects.select_related("environment__system__team", "model_version__model"), user, pk=pk
    )


def worst_reason(score: TrustScore) -> str:
    for reason in score.reasons or []:
        if reason.get("decision") == score.readiness:
            return reason.get("message") or reason.get("code", "")
    return ""


SCORE_FIELDS = (
    "id",
    "deployment_id",
    "window_start",
    "window_end",
    "score",
    "readiness",
    "reasons",
    "pillar_scores",
)


def latest_scores(deployment_ids, since, until) -> dict[int, TrustScore]:
    """The newest trust score of each deployment, looked for in the last two days of the range."""
    since = max(since, until - timedelta(days=2))
    qs = TrustScore.objects.filter(deployment_id__in=deployment_ids, window_end__gte=since).only(
        *SCORE_FIELDS
    )
    return {s.deployment_id: s for s in qs.latest_per_deployment()}


def crumbs_for(filters, *, system=None, deployment=None, metric=None, segment=None, value=None, last=None):
    q = filters.query()
    crumbs = [("Portfolio", reverse("dashboards:portfolio") + q)]
    if system is not None:
        crumbs.append((system.name, reverse("dashboards:system", args=[system.slug]) + q))
    if deployment is not None:
        crumbs.append(
            (
                f"{deployment.model_version.model.slug} {deployment.model_version.version} @ "
                f"{deployment.environment.slug}",
                reverse("dashboards:deployment", args=[deployment.pk]) + q,
            )
        )
    if metric is not None:
        crumbs.append((metric, reverse("dashboards:metric", args=[deployment.pk, metric]) + q))
    if segment is not None:
        crumbs.append(
            (
                segment or "all traffic",
                reverse("dashboards:segment", args=[deployment.pk, metric, seg_slug(segment)]) + q,
            )
        )
    if value is not None:
        crumbs.append(
            (f"window {value.window_start:%Y-%m-%d %H:%M}", reverse("dashboards:value", args=[value.pk]) + q)
        )
    if last:
        crumbs.append((last, None))
    if crumbs and crumbs[-1][1] is not None:
        crumbs[-1] = (crumbs[-1][0], None)
    return crumbs


class PortfolioView(DashboardView):
    """Executive: one tile per visible system, firing alerts, top five risks (aggregates only)."""

    template_name = "dashboards/portfolio.html"
    page_name = "portfolio"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, filters = self.request.user, self.filters
        systems = list(access.scope(System.objects.select_related("team").order_by("name"), user))
        system_ids = [s.id for s in systems]
        deployments = list(
            filters.deployments(
                Deployment.objects.filter(environment__system_id__in=system_ids)
            ).select_related("environment", "model_version__model")
        )
        by_id = {d.id: d for d in deployments}
        latest = latest_scores(list(by_id), filters.since, filters.end)

        # 7-day trend: the system's mean score at the same hour on each of the last 8 days (index
        # lookups, not a scan of a week of hourly scores)
        anchor = filters.end.replace(minute=0, second=0, microsecond=0)
        days = [anchor - timedelta(days=k) for k in range(7, -1, -1)]
        trend = defaultdict(list)
        for row in (
            TrustScore.objects.filter(deployment_id__in=list(by_id), window_end__in=days)
            .values("deployment__environment__system_id", "window_end")
            .annotate(avg=Avg("score"))
            .order_by("deployment__environment__system_id", "window_end")
        ):
            trend[row["deployment__environment__system_id"]].append((row["avg"], "ok"))

        alerts = defaultdict(lambda: dict.fromkeys(SEVERITIES, 0))
        alert_qs = Alert.objects.filter(system_id__in=system_ids, state="firing")
        if filters.env:
            alert_qs = alert_qs.filter(deployment__environment__kind=filters.env)
        for row in alert_qs.values("system_id", "severity").annotate(n=Count("id")):
            alerts[row["system_id"]][row["severity"]] = row["n"]
        totals = dict.fromkeys(SEVERITIES, 0)
        for counts in alerts.values():
            for severity, n in counts.items():
                totals[severity] = totals.get(severity, 0) + n

        per_system = defaultdict(list)
        for dep_id, score in latest.items():
            per_system[by_id[dep_id].environment.system_id].append(score)
        dep_count = defaultdict(int)
        for d in deployments:
            dep_count[d.environment.system_id] += 1

        q = filters.query()
        tiles = []
        for system in systems:
            scores = per_system.get(system.id, [])
            headline = min(
                scores,
                key=lambda s: (READINESS_ORDER.get(s.readiness, 3), s.score if s.score is not None else 101),
                default=None,
            )
            tiles.append(
                {
                    "system": system,
                    "url": reverse("dashboards:system", args=[system.slug]) + q,
                    "score": headline,
                    "deployment": by_id[headline.deployment_id] if headline else None,
                    "pillars": sorted(
                        (k.replace("_", " "), "-" if v is None else f"{v:.0f}", 0 if v is None else round(v))
                        for k, v in (headline.pillar_scores or {}).items()
                    )
                    if headline
                    else [],
                    "score_text": "—"
                    if headline is None or headline.score is None
                    else f"{headline.score:.0f}",
                    "ready_counts": {
                        r: sum(1 for s in scores if s.readiness == r) for r in ("ready", "staged", "blocked")
                    },
                    "deployments": dep_count[system.id],
                    "alerts": alerts[system.id],
                    "sparkline": sparkline_svg(trend.get(system.id, []), warn=80, critical=60),
                }
            )

        risks = []
        for dep_id, score in latest.items():
            if score.readiness == "ready":
                continue
            deployment = by_id[dep_id]
            risks.append(
                {
                    "score": score,
                    "deployment": deployment,
                    "system": next(s for s in systems if s.id == deployment.environment.system_id),
                    "reason": worst_reason(score),
                    "url": reverse("dashboards:deployment", args=[dep_id]) + q,
                }
            )
        risks.sort(key=lambda r: (READINESS_ORDER[r["score"].readiness], r["score"].score or 0))
        risks = risks[:5]

        context.update(
            {
                "tiles": tiles,
                "alert_totals": totals,
                "risks": risks,
                "tables": {
                    "systems": Table(
                        "systems",
                        [
                            "system",
                            "team",
                            "deployments",
                            "trust_score",
                            "readiness",
                            "worst_deployment",
                            "firing_critical",
                            "firing_warning",
                        ],
                        [
                            [
                                t["system"].slug,
                                t["system"].team.slug,
                                t["deployments"],
                                None if not t["score"] else t["score"].score,
                                t["score"].readiness if t["score"] else "",
                                t["deployment"].pk if t["deployment"] else "",
                                t["alerts"]["critical"],
                                t["alerts"]["warning"],
                            ]
                            for t in tiles
                        ],
                    ),
                    "risks": Table(
                        "risks",
                        ["system", "deployment", "readiness", "score", "reason"],
                        [
                            [
                                r["system"].slug,
                                r["deployment"].pk,
                                r["score"].readiness,
                                r["score"].score,
                                r["reason"],
                            ]
                            for r in risks
                        ],
                    ),
                },
            }
        )
        return context


class SystemView(DashboardView):
    template_name = "dashboards/system.html"
    page_name = "system"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, filters = self.request.user, self.filters
        system = access.get_for_user(System.objects.select_related("team"), user, slug=self.kwargs["slug"])
        deployments = list(scoped_deployments(user, filters, environment__system=system))
        latest = latest_scores([d.id for d in deployments], filters.since, filters.end)
        firing = defaultdict(int)
        for row in (
            Alert.objects.filter(deployment__in=deployments, state="firing")
            .values("deployment_id")
            .annotate(n=Count("id"))
        ):
            firing[row["deployment_id"]] = row["n"]
        history = defaultdict(list)
        for dep_id, end, score in (
            TrustScore.objects.filter(deployment__in=deployments, window_end__gte=filters.since)
            .order_by("deployment_id", "window_end")
            .values_list("deployment_id", "window_end", "score")
        ):
            history[dep_id].append((end, score))
        rows = []
        q = filters.query()
        for d in deployments:
            rows.append(
                {
                    "deployment": d,
                    "score": latest.get(d.id),
                    "firing": firing[d.id],
                    "url": reverse("dashboards:deployment", args=[d.pk]) + q,
                }
            )
        names = {
            d.id: f"{d.model_version.model.slug} {d.model_version.version} @ {d.environment.slug}"
            for d in deployments
        }
        chart = charts.time_chart(
            {names[k]: v for k, v in history.items()},
            annotations=charts.annotations_for(system, filters.since, filters.end),
            warn=80,
            critical=60,
            y_title="trust score",
        )
        context.update(
            {
                "system": system,
                "rows": rows,
                "chart": chart,
                "models": system.models.prefetch_related("features", "cohorts"),
                "crumbs": crumbs_for(filters, system=system),
                "tables": {
                    "deployments": Table(
                        "deployments",
                        [
                            "deployment",
                            "model",
                            "version",
                            "environment",
                            "status",
                            "trust_score",
                            "readiness",
                            "firing_alerts",
                            "window_end",
                        ],
                        [
                            [
                                r["deployment"].pk,
                                r["deployment"].model_version.model.slug,
                                r["deployment"].model_version.version,
                                r["deployment"].environment.slug,
                                r["deployment"].status,
                                r["score"].score if r["score"] else None,
                                r["score"].readiness if r["score"] else "",
                                r["firing"],
                                r["score"].window_end.isoformat() if r["score"] else "",
                            ]
                            for r in rows
                        ],
                    )
                },
            }
        )
        return context


def latest_values(deployment, *, segment="", since=None, key=None):
    """The newest value of each (metric, attribute, feature) for one segment of a deployment.

    Reads at most the last two days of values before the range end (a metric not computed in
    two days is shown as missing rather than stale)."""
    qs = MetricValue.objects.filter(deployment=deployment, segment=segment).select_related(
        "metric_version__definition", "run"
    )
    if since is not None:
        qs = qs.filter(window_start__gte=since)
    if key is not None:
        qs = qs.filter(metric_version__definition__key=key)
    newest = {}
    for value in qs.order_by("-window_start")[:5000]:
        k = (value.metric_version.definition_id, value.attribute, value.feature)
        if k not in newest:
            newest[k] = value
    return sorted(
        newest.values(),
        key=lambda v: (v.metric_version.pillar, v.metric_version.definition.key, v.attribute, v.feature),
    )


class DeploymentView(DashboardView):
    template_name = "dashboards/deployment.html"
    page_name = "deployment"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, filters = self.request.user, self.filters
        deployment = get_deployment(user, self.kwargs["pk"])
        system = deployment.environment.system
        sensitive_ok = access.has_perm(user, deployment, access.VIEW_SENSITIVE)
        since = max(filters.since, filters.end - timedelta(days=2))
        values = latest_values(deployment, segment=filters.segment, since=since)
        hidden = sum(1 for v in values if v.metric_version.sensitive and not sensitive_ok)
        values = [v for v in values if sensitive_ok or not v.metric_version.sensitive]
        q = filters.query()
        for v in values:
            v.url = reverse("dashboards:metric", args=[deployment.pk, v.metric_version.definition.key]) + q
            v.value_url = reverse("dashboards:value", args=[v.pk]) + q
        trust = TrustScore.objects.latest_for(deployment)
        context["trust"] = trust
        if trust is not None:
            context["pillars"] = sorted(
                (k.replace("_", " "), v) for k, v in (trust.pillar_scores or {}).items()
            )
            context["contributions"] = [c for c in trust.contributions if c.get("contribution", 0) > 0][:5]
        context.update(
            {
                "deployment": deployment,
                "system": system,
                "values": values,
                "hidden_sensitive": hidden,
                "crumbs": crumbs_for(filters, system=system, deployment=deployment),
                "firing": Alert.objects.filter(deployment=deployment, state="firing")
                .select_related("metric")
                .order_by("severity")[:20],
                "tables": {
                    "metrics": Table(
                        "metrics",
                        [
                            "metric",
                            "version",
                            "pillar",
                            "attribute",
                            "feature",
                            "segment",
                            "window_start",
                            "value",
                            "status",
                            "sample_size",
                            "run",
                        ],
                        [
                            [
                                v.metric_version.definition.key,
                                v.metric_version.number,
                                v.metric_version.pillar,
                                v.attribute,
                                v.feature,
                                v.segment,
                                v.window_start.isoformat(),
                                v.value,
                                v.status,
                                v.sample_size,
                                v.run_id,
                            ]
                            for v in values
                        ],
                    )
                },
            }
        )
        return context


def metric_version_or_404(key, user, deployment):
    version = (
        MetricVersion.objects.filter(definition__key=key, is_current=True)
        .select_related("definition")
        .first()
    )
    if version is None:
        raise Http404("Unknown metric.")
    if version.sensitive and not access.has_perm(user, deployment, access.VIEW_SENSITIVE):
        raise Http404("Unknown metric.")
    return version


class MetricView(DashboardView):
    """One metric of a deployment: its newest value per segment (and feature), a chart per feature."""

    template_name = "dashboards/metric.html"
    page_name = "metric"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, filters = self.request.user, self.filters
        deployment = get_deployment(user, self.kwargs["pk"])
        key = self.kwargs["key"]
        version = metric_version_or_404(key, user, deployment)
        since = max(filters.since, filters.end - timedelta(days=2))
        newest = {}
        for value in (
            MetricValue.objects.filter(
                deployment=deployment, metric_version__definition__key=key, window_start__gte=since
            )
            .select_related("metric_version", "run")
            .order_by("-window_start")[:5000]
        ):
            newest.setdefault((value.segment, value.attribute, value.feature), value)
        rows = sorted(newest.values(), key=lambda v: (v.segment, v.attribute, v.feature))
        q = filters.query()
        for v in rows:
            v.segment_url = reverse("dashboards:segment", args=[deployment.pk, key, seg_slug(v.segment)]) + q
            v.value_url = reverse("dashboards:value", args=[v.pk]) + q
        context.update(
            {
                "deployment": deployment,
                "system": deployment.environment.system,
                "version": version,
                "key": key,
                "rows": rows,
                "cohort_options": sorted({v.segment for v in rows if v.segment}),
                "crumbs": crumbs_for(
                    filters, system=deployment.environment.system, deployment=deployment, metric=key
                ),
                "tables": {
                    "segments": Table(
                        "segments",
                        [
                            "segment",
                            "attribute",
                            "feature",
                            "window_start",
                            "value",
                            "status",
                            "sample_size",
                            "metric_version",
                            "run",
                        ],
                        [
                            [
                                v.segment,
                                v.attribute,
                                v.feature,
                                v.window_start.isoformat(),
                                v.value,
                                v.status,
                                v.sample_size,
                                v.metric_version.number,
                                v.run_id,
                            ]
                            for v in rows
                        ],
                    )
                },
            }
        )
        return context


class SegmentView(DashboardView):
    """One metric and one segment over the time range: chart with markers and the window table."""

    template_name = "dashboards/segment.html"
    page_name = "segment"
    MAX_ROWS = 2200
    HTML_ROWS = 48  # the table on the page; the CSV export has every window of the range

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, filters = self.request.user, self.filters
        deployment = get_deployment(user, self.kwargs["pk"])
        key = self.kwargs["key"]
        version = metric_version_or_404(key, user, deployment)
        segment = seg_value(self.kwargs["segment"])
        feature = self.request.GET.get("feature")
        qs = MetricValue.objects.filter(
            deployment=deployment,
            metric_version__definition__key=key,
            segment=segment,
            window_start__gte=filters.since,
        ).select_related("metric_version")
        features = sorted(set(qs.values_list("feature", flat=True).distinct()))
        if feature is None:
            feature = features[0] if features else ""
        values = list(qs.filter(feature=feature).order_by("-window_start")[: self.MAX_ROWS])[::-1]
        series = defaultdict(list)
        for v in values:
            series[f"v{v.metric_version.number}" + (f" {v.attribute}" if v.attribute else "")].append(
                (v.window_start, v.value)
            )
        system = deployment.environment.system
        chart = charts.time_chart(
            dict(series),
            annotations=charts.annotations_for(system, filters.since, filters.end, metric=key),
            warn=version.warn_threshold,
            critical=version.critical_threshold,
            y_title=version.unit or key,
        )
        q = filters.query()
        for v in values:
            v.value_url = reverse("dashboards:value", args=[v.pk]) + q
        recent = values[::-1][: self.HTML_ROWS]
        context.update(
            {
                "deployment": deployment,
                "system": system,
                "version": version,
                "key": key,
                "segment": segment,
                "feature": feature,
                "features": features,
                "values": recent,
                "chart": chart,
                "crumbs": crumbs_for(
                    filters, system=system, deployment=deployment, metric=key, segment=segment
                ),
                "tables": {
                    "windows": Table(
                        "windows",
                        [
                            "window_start",
                            "window_end",
                            "feature",
                            "attribute",
                            "value",
                            "status",
                            "sample_size",
                            "metric_version",
                            "run",
                        ],
                        [
                            [
                                v.window_start.isoformat(),
                                v.window_end.isoformat(),
                                v.feature,
                                v.attribute,
                                v.value,
                                v.status,
                                v.sample_size,
                                v.metric_version.number,
                                v.run_id,
                            ]
                            for v in values[::-1]
                        ],
                    )
                },
            }
        )
        return context


def value_or_404(user, pk):
    value = (
        MetricValue.objects.select_related(
            "metric_version__definition",
            "run",
            "deployment__environment__system__team",
            "deployment__model_version__model",
        )
        .filter(pk=pk)
        .first()
    )
    if value is None or not access.has_perm(user, value.deployment, access.VIEW):
        raise Http404("No such value.")
    if value.metric_version.sensitive and not access.has_perm(user, value.deployment, access.VIEW_SENSITIVE):
        raise Http404("No such value.")
    return value


class ValueView(DashboardView):
    """One window: the value, its metric version (definition + thresholds) and its lineage run."""

    template_name = "dashboards/value.html"
    page_name = "window"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        value = value_or_404(self.request.user, self.kwargs["pk"])
        deployment = value.deployment
        key = value.metric_version.definition.key
        context.update(
            {
                "value": value,
                "deployment": deployment,
                "system": deployment.environment.system,
                "version": value.metric_version,
                "run": value.run,
                "events_url": reverse("dashboards:events", args=[value.pk]) + self.filters.query(),
                "crumbs": crumbs_for(
                    self.filters,
                    system=deployment.environment.system,
                    deployment=deployment,
                    metric=key,
                    segment=value.segment,
                    value=value,
                ),
                "tables": {
                    "details": Table(
                        "details", ["key", "value"], [[k, v] for k, v in sorted(value.details.items())]
                    )
                },
            }
        )
        return context


class EventsView(DashboardView):
    """The only page that reads raw events: a sample of one window of one deployment."""

    template_name = "dashboards/events.html"
    page_name = "events"

    def get_context_data(self, **kwargs):
        from metrics.models.events import FeatureLayout, PredictionEvent

        context = super().get_context_data(**kwargs)
        user = self.request.user
        value = value_or_404(user, self.kwargs["pk"])
        deployment = value.deployment
        sensitive_ok = access.has_perm(user, deployment, access.VIEW_SENSITIVE)
        events = list(
            PredictionEvent.objects.filter(
                deployment_id=deployment.pk, ts__gte=value.window_start, ts__lt=value.window_end
            ).order_by("ts")[:1000]
        )
        layouts = {lay.pk: lay for lay in FeatureLayout.objects.filter(pk__in={e.layout_id for e in events})}
        if value.segment and "=" in value.segment:
            attribute, wanted = value.segment.split("=", 1)
            kept = []
            for e in events:
                cohorts = layouts[e.layout_id].cohorts if e.layout_id in layouts else []
                position = cohorts.index(attribute) if attribute in cohorts else None
                if position is not None and position < len(e.cohort or []) and e.cohort[position] == wanted:
                    kept.append(e)
            events = kept
        events = events[:EVENT_SAMPLE]
        rows = []
        for e in events:
            layout = layouts.get(e.layout_id)
            features = {}
            if layout is not None:
                features.update(zip(layout.numeric, e.numeric or [], strict=False))
                features.update(zip(layout.categorical, e.categorical or [], strict=False))
            cohort = (
                dict(zip(layout.cohorts, e.cohort or [], strict=False)) if (layout and sensitive_ok) else None
            )
            rows.append({"event": e, "features": features, "cohort": cohort})
        context.update(
            {
                "value": value,
                "deployment": deployment,
                "system": deployment.environment.system,
                "rows": rows,
                "sample_limit": EVENT_SAMPLE,
                "sensitive_ok": sensitive_ok,
                "crumbs": crumbs_for(
                    self.filters,
                    system=deployment.environment.system,
                    deployment=deployment,
                    metric=value.metric_version.definition.key,
                    segment=value.segment,
                    value=value,
                    last="raw events",
                ),
                "tables": {
                    "events": Table(
                        "events",
                        ["event_id", "ts", "latency_ms", "error", "prediction", "score", "label", "features"],
                        [
                            [
                                r["event"].event_id,
                                r["event"].ts.isoformat(),
                                r["event"].latency_ms,
                                r["event"].error,
                                r["event"].prediction,
                                r["event"].score,
                                r["event"].label,
                                r["features"],
                            ]
                            for r in rows
                        ],
                    )
                },
            }
        )
        return context
