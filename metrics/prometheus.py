"""Prometheus exposition of the latest metric values (and, where stored, trust scores).

Scraped with a personal API token (``Authorization: Bearer …``) or a session; the output is
scoped by access exactly like the read API, so a scrape token sees only its user's systems.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import OuterRef, Subquery
from django.utils import timezone
from rest_framework import renderers
from rest_framework.response import Response
from rest_framework.views import APIView

from metrics.api.results import visible_values
from metrics.models import MetricValue

# Only recent windows are exported: a series that stopped updating should go stale in
# Prometheus rather than be re-exported forever.
EXPORT_HORIZON = timedelta(days=2)


class PrometheusTextRenderer(renderers.BaseRenderer):
    media_type = "text/plain"
    format = "prometheus"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data.encode() if isinstance(data, str) else str(data).encode()


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def latest_values(user):
    since = timezone.now() - EXPORT_HORIZON
    base = visible_values(user).filter(metric_version__is_current=True, window_start__gte=since)
    newest = (
        MetricValue.objects.filter(
            metric_version=OuterRef("metric_version"),
            deployment=OuterRef("deployment"),
            segment=OuterRef("segment"),
            attribute=OuterRef("attribute"),
            feature=OuterRef("feature"),
        )
        .order_by("-window_start")
        .values("window_start")[:1]
    )
    return (
        base.filter(window_start=Subquery(newest), value__isnull=False)
        .select_related(
            "metric_version__definition",
            "deployment__environment__system",
            "deployment__model_version__model",
        )
        .order_by("metric_version__definition__key", "deployment_id", "segment", "attribute", "feature")
    )


def exposition(values) -> str:
    lines = [
        "# HELP healthboard_metric_value Latest computed value of a catalog metric.",
        "# TYPE healthboard_metric_value gauge",
    ]
    for mv in values:
        deployment = mv.deployment
        labels = {
            "system": deployment.environment.system.slug,
            "model": deployment.model_version.model.slug,
            "version": deployment.model_version.version,
            "environment": deployment.environment.slug,
            "metric": mv.metric_version.definition.key,
            "feature": mv.feature,
            "segment": mv.segment,
        }
        if mv.attribute:
            labels["attribute"] = mv.attribute
        rendered = ",".join(f'{key}="{_label(value)}"' for key, value in labels.items())
        lines.append(f"healthboard_metric_value{{{rendered}}} {mv.value!r}")
    return "\n".join(lines) + "\n"


class PrometheusView(APIView):
    renderer_classes = [PrometheusTextRenderer]
    schema = None  # not part of the JSON API contract

    def get(self, request):
        return Response(exposition(latest_values(request.user)))
