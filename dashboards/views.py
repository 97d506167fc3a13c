"""The layered views: the executive portfolio and the drill-down chain.

portfolio → system → deployment → metric → segment → window (one MetricValue, its metric
version and computation run) → a sample of that window's raw events (the only page that reads
raw events: one window, at most ``EVENT_SAMPLE`` rows). Every page reads aggregates
(TrustScore, MetricValue, Alert) scoped through ``healthboard.access``; invisible objects are 404.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from django.db.models import Avg, Count, Max, Min, OuterRef, Subquery
from django.db.models.functions import TruncDay
from django.http import Http404
from django.urls import get_script_prefix, reverse

from alerts.models import Alert
from alerts.sparkline import svg as sparkline_svg
from catalog.models import Deployment, MetricVersion, System
from dashboards import charts
from dashboards.base import DashboardView, Table
from dashboards.filters import RANGES
from healthboard import access
from metrics.models import MetricValue
from metrics.models.trust import TrustScore
from metrics.trust.redaction import Redactor

READINESS_ORDER = {"blocked": 0, "staged": 1, "ready": 2}
READINESS_LABELS = dict(TrustScore.Readiness.choices)
SEVERITIES = ("critical", "warning")
EVENT_SAMPLE = 50
SEGMENT_ALL = "all"
MAX_DEPLOYMENTS = 200  # rows of the per-deployment lists (SRE, data science, platform, scenarios)


def seg_slug(segment: str) -> str:
    return quote(segment, safe="=") if segment else SEGMENT_ALL


def seg_value(slug: str) -> str:
    return "" if slug == SEGMENT_ALL else slug


@functools.cache
def _url_pattern(name: str, prefix: str) -> str:
    marker = 987654321
    return reverse(name, args=[marker]).replace(str(marker), "{}")


def url_for(name: str, pk: int, query: str = "") -> str:
    """``reverse(name, args=[pk]) + query`` for the one-id routes of list rows, without a
    resolver walk per row (a 200-row table would spend ~20 ms in ``reverse``)."""
    return _url_pattern(name, get_script_prefix()).format(int(pk)) + query


def scoped_deployments(user, filters, **lookup):
    qs = Deployment.objects.select_related("environment__system", "model_version__model")
    return filters.deployments(access.scope(qs.filter(**lookup), user))


@dataclass(frozen=True)
class DeploymentRef:
    """A deployment as the list pages show it: plain values, no model instances."""

    pk: int
    system_id: int
    system: str
    model: str
    version: str
    environment: str

    @property
    def label(self) -> str:
        return f"{self.system}/{self.model} {self.version} @ {self.environment}"


def deployment_refs(user, filters, *, limit: int = MAX_DEPLOYMENTS) -> list[DeploymentRef]:
    """The deployments ``user`` may see under ``filters``, by system slug then id (at most ``limit``)."""
    qs = filters.deployments(access.scope(Deployment.objects.all(), user))
    return [
        DeploymentRef(*row)
        for row in qs.order_by("environment__system__slug", "id").values_list(
            "pk",
            "environment__system_id",
            "environment__system__slug",
            "model_version__model__slug",
            "model_version__version",
            "environment__slug",
        )[:limit]
    ]


def get_deployment(user, pk):
    return access.get_for_user(
        Deployment.objects.select_related("environment__system__team", "model_version__model"), user, pk=pk
    )


def worst_reason(readiness: str, reasons) -> str:
    """The first reason that decided ``readiness`` (its message), or ""."""
    for reason in reasons or []:
        if reason.get("decision") == readiness:
            return reason.get("message") or reason.get("code", "")
    return ""


def latest_scores(deployment_ids, since, until) -> dict[int, dict]:
    """The newest trust score of each deployment (looked for in the last two days of the range)
    as plain values: id, deployment_id, window_end, score, readiness, pillar_scores.

    One index probe per deployment (a correlated subquery on (deployment, window_end)) rather
    than DISTINCT ON over two days of hourly scores: ~10 ms instead of ~35 ms for 200."""
    since = max(since, until - timedelta(days=2))
    newest = (
        TrustScore.objects.filter(deployment_id=OuterRef("pk"), window_end__gte=since)
        .order_by("-window_end", "-window_start")
        .values("pk")[:1]
    )
    ids = (
        Deployment.objects.filter(pk__in=list(deployment_ids))
        .annotate(newest=Subquery(newest))
        .values("newest")
    )
    return {
        row["deployment_id"]: row
        for row in TrustScore.objects.filter(pk__in=ids)
        .order_by()
        .values("id", "deployment_id", "window_end", "score", "readiness", "pillar_scores")
    }


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


def _headline(scores: list[dict]) -> dict | None:
    """A system's weakest deployment score: worst readiness, then lowest score."""
    return min(
        scores,
        key=lambda s: (READINESS_ORDER.get(s["readiness"], 3), s["score"] if s["score"] is not None else 101),
        default=None,
    )


class PortfolioView(DashboardView):
    """Executive: one tile per visible system, firing alerts, top five risks (aggregates only)."""

    template_name = "dashboards/portfolio.html"
    page_name = "portfolio"
    RISKS = 5

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, filters = self.request.user, self.filters
        systems = list(access.scope(System.objects.select_related("team").order_by("name"), user))
        by_system_id = {s.id: s for s in systems}
        # deployment id -> (system id, environment slug, model slug)
        deployments = {
            pk: (system_id, env, model)
            for pk, system_id, env, model in filters.deployments(
                Deployment.objects.filter(environment__system_id__in=list(by_system_id))
            ).values_list("pk", "environment__system_id", "environment__slug", "model_version__model__slug")
        }
        latest = latest_scores(list(deployments), filters.since, filters.end)

        # 7-day trend: the system's mean score at the same hour on each of the last 8 days (index
        # lookups, not a scan of a week of hourly scores)
        anchor = filters.end.replace(minute=0, second=0, microsecond=0)
        days = [anchor - timedelta(days=k) for k in range(7, -1, -1)]
        trend = defaultdict(list)
        for row in (
            TrustScore.objects.filter(deployment_id__in=list(deployments), window_end__in=days)
            .values("deployment__environment__system_id", "window_end")
            .annotate(avg=Avg("score"))
            .order_by("deployment__environment__system_id", "window_end")
        ):
            trend[row["deployment__environment__system_id"]].append((row["avg"], "ok"))

        alerts = defaultdict(lambda: dict.fromkeys(SEVERITIES, 0))
        alert_qs = Alert.objects.filter(system_id__in=list(by_system_id), state="firing")
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
            per_system[deployments[dep_id][0]].append(score)
        dep_count = defaultdict(int)
        for system_id, _, _ in deployments.values():
            dep_count[system_id] += 1

        q = filters.query()
        system_url = reverse("dashboards:system", args=["slug"])[: -len("slug/")]
        tiles = []
        for system in systems:
            scores = per_system.get(system.id, [])
            headline = _headline(scores)
            readiness = headline["readiness"] if headline else ""
            tiles.append(
                {
                    "system": system,
                    "url": f"{system_url}{system.slug}/{q}",
                    "score": headline,
                    "readiness_label": READINESS_LABELS.get(readiness, readiness),
                    "pillars": sorted(
                        (k.replace("_", " "), "-" if v is None else f"{v:.0f}", 0 if v is None else round(v))
                        for k, v in (headline["pillar_scores"] or {}).items()
                    )
                    if headline
                    else [],
                    "score_text": "—"
                    if headline is None or headline["score"] is None
                    else f"{headline['score']:.0f}",
                    "ready_counts": {
                        r: sum(1 for s in scores if s["readiness"] == r)
                        for r in ("ready", "staged", "blocked")
                    },
                    "deployments": dep_count[system.id],
                    "alerts": alerts[system.id],
                    "sparkline": sparkline_svg(trend.get(system.id, []), warn=80, critical=60),
                }
            )

        at_risk = sorted(
            (s for s in latest.values() if s["readiness"] != "ready"),
            key=lambda s: (READINESS_ORDER.get(s["readiness"], 3), s["score"] or 0),
        )[: self.RISKS]
        reasons = dict(
            TrustScore.objects.filter(pk__in=[s["id"] for s in at_risk]).values_list("pk", "reasons")
        )
        sensitive_ok = access.system_ids_for(user, access.VIEW_SENSITIVE) if at_risk else set()
        redactor = None  # one for every system without view_sensitive: the sensitive keys are global
        risks = []
        for score in at_risk:
            system_id, environment, model = deployments[score["deployment_id"]]
            why = reasons.get(score["id"]) or []
            if system_id not in sensitive_ok:
                redactor = redactor or Redactor(user, by_system_id[system_id])
                why = redactor.reasons(why)
            risks.append(
                {
                    "score": score,
                    "deployment_id": score["deployment_id"],
                    "model": model,
                    "environment": environment,
                    "system": by_system_id[system_id],
                    "reason": worst_reason(score["readiness"], why),
                    "url": url_for("dashboards:deployment", score["deployment_id"], q),
                }
            )

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
                        lambda: [
                            [
                                t["system"].slug,
                                t["system"].team.slug,
                                t["deployments"],
                                t["score"]["score"] if t["score"] else None,
                                t["score"]["readiness"] if t["score"] else "",
                                t["score"]["deployment_id"] if t["score"] else "",
                                t["alerts"]["critical"],
                                t["alerts"]["warning"],
                            ]
                            for t in tiles
                        ],
                    ),
                    "risks": Table(
                        "risks",
                        ["system", "deployment", "readiness", "score", "reason"],
                        lambda: [
                            [
                                r["system"].slug,
                                r["deployment_id"],
                                r["score"]["readiness"],
                                r["score"]["score"],
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
        dep_ids = [d.id for d in deployments]
        latest = latest_scores(dep_ids, filters.since, filters.end)
        firing = defaultdict(int)
        for row in (
            Alert.objects.filter(deployment_id__in=dep_ids, state="firing")
            .values("deployment_id")
            .annotate(n=Count("id"))
        ):
            firing[row["deployment_id"]] = row["n"]
        history = defaultdict(list)
        for dep_id, end, score in (
            TrustScore.objects.filter(deployment_id__in=dep_ids, window_end__gte=filters.since)
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
                    "url": url_for("dashboards:deployment", d.pk, q),
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
                        lambda: [
                            [
                                r["deployment"].pk,
                                r["deployment"].model_version.model.slug,
                                r["deployment"].model_version.version,
                                r["deployment"].environment.slug,
                                r["deployment"].status,
                                r["score"]["score"] if r["score"] else None,
                                r["score"]["readiness"] if r["score"] else "",
                                r["firing"],
                                r["score"]["window_end"].isoformat() if r["score"] else "",
                            ]
                            for r in rows
                        ],
                    )
                },
            }
        )
        return context


def newest_ids(values_qs, *fields: str, limit: int = 5000) -> list[int]:
    """Ids of the newest value (by window start) per combination of ``fields``, read as plain
    tuples so that only the winners become model instances."""
    newest: dict[tuple, int] = {}
    for pk, *key in values_qs.order_by("-window_start").values_list("pk", *fields)[:limit]:
        newest.setdefault(tuple(key), pk)
    return list(newest.values())


def latest_values(deployment, *, segment="", since=None, key=None):
    """The newest value of each (metric, attribute, feature) for one segment of a deployment."""
    qs = MetricValue.objects.filter(deployment=deployment, segment=segment)
    if since is not None:
        qs = qs.filter(window_start__gte=since)
    if key is not None:
        qs = qs.filter(metric_version__definition__key=key)
    ids = newest_ids(qs, "metric_version__definition_id", "attribute", "feature")
    values = MetricValue.objects.filter(pk__in=ids).select_related("metric_version__definition", "run")
    return sorted(
        values,
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
        firing = list(
            Alert.objects.filter(deployment=deployment, state="firing")
            .select_related("metric", "metric_version")
            .order_by("severity")[:20]
        )
        for alert in firing:  # a fairness alert is named, its value needs view_sensitive
            alert.value_hidden = alert.metric_version.sensitive and not sensitive_ok
        trust = TrustScore.objects.latest_for(deployment)
        context["trust"] = trust
        if trust is not None and not sensitive_ok:
            trust.reasons = Redactor(user, deployment).reasons(trust.reasons)  # for display only
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
                "firing": firing,
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
                        lambda: [
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
        ids = newest_ids(
            MetricValue.objects.filter(
                deployment=deployment, metric_version__definition__key=key, window_start__gte=since
            ),
            "segment",
            "attribute",
            "feature",
        )
        rows = sorted(
            MetricValue.objects.filter(pk__in=ids).select_related("metric_version", "run"),
            key=lambda v: (v.segment, v.attribute, v.feature),
        )
        q = filters.query()
        for v in rows:
            v.segment_url = reverse("dashboards:segment", args=[deployment.pk, key, seg_slug(v.segment)]) + q
            v.value_url = url_for("dashboards:value", v.pk, q)
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
                        lambda: [
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
        )
        features = sorted(qs.order_by().values_list("feature", flat=True).distinct())
        if feature is None:
            feature = features[0] if features else ""
        qs = qs.filter(feature=feature).order_by("-window_start")
        daily = RANGES[filters.range][1] > timedelta(days=7)
        if daily:
            # Beyond a week the chart shows each day's worst value (an hourly spike stays visible;
            # 2,160 hourly points of 90 days would cost more to build and draw than they show).
            worst = (
                Min("value")
                if version.direction == MetricVersion.Direction.HIGHER_IS_BETTER
                else Max("value")
            )
            points = list(
                qs.order_by()
                .values_list("metric_version__number", "attribute", TruncDay("window_start"))
                .annotate(worst=worst)
                .order_by(TruncDay("window_start"))
            )
        else:
            # plain tuples for every window of the range (no model instances)
            points = list(
                qs.values_list("metric_version__number", "attribute", "window_start", "value")[
                    : self.MAX_ROWS
                ]
            )[::-1]
        series = defaultdict(list)
        suffix = " (daily worst)" if daily else ""
        for number, attribute, start, value in points:
            series[f"v{number}" + (f" {attribute}" if attribute else "") + suffix].append((start, value))
        system = deployment.environment.system
        chart = charts.time_chart(
            dict(series),
            annotations=charts.annotations_for(system, filters.since, filters.end, metric=key),
            warn=version.warn_threshold,
            critical=version.critical_threshold,
            y_title=version.unit or key,
        )
        q = filters.query()
        recent = list(qs.select_related("metric_version")[: self.HTML_ROWS])
        for v in recent:
            v.value_url = url_for("dashboards:value", v.pk, q)

        def every_window():
            return [
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
                for v in qs.select_related("metric_version")[: self.MAX_ROWS]
            ]

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
                "daily": daily,
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
                        every_window,
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
                        "details",
                        ["key", "value"],
                        lambda: [[k, v] for k, v in sorted(value.details.items())],
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
                        lambda: [
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
