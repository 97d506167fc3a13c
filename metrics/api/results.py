"""Read API for computed values and their lineage (DESIGN.md §10), scoped by access.

Sensitive values (fairness) are returned only for systems where the user holds
``view_sensitive``; for the others they are simply absent, as if never computed.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from healthboard import access
from healthboard.api import ID_SCHEMA, parse_instant, query_int
from metrics.models import ComputationRun, MetricValue


class MetricValueSerializer(serializers.ModelSerializer):
    metric = serializers.CharField(source="metric_version.definition.key")
    metric_version = serializers.IntegerField(source="metric_version.number")
    deployment = serializers.IntegerField(source="deployment_id")
    feature = serializers.SerializerMethodField()
    attribute = serializers.SerializerMethodField()
    run = serializers.IntegerField(source="run_id", allow_null=True)

    class Meta:
        model = MetricValue
        fields = [
            "metric",
            "metric_version",
            "deployment",
            "feature",
            "segment",
            "attribute",
            "window_start",
            "window_end",
            "value",
            "status",
            "sample_size",
            "details",
            "run",
        ]
        read_only_fields = fields

    def get_feature(self, obj) -> str | None:
        return obj.feature or None

    def get_attribute(self, obj) -> str | None:
        return obj.attribute or None


class ComputationRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = ComputationRun
        fields = [
            "id",
            "deployment",
            "kind",
            "task_id",
            "code_version",
            "catalog_versions",
            "reference_id",
            "input_rows",
            "window_start",
            "window_end",
            "status",
            "started_at",
            "finished_at",
            "error",
        ]
        read_only_fields = fields


def visible_values(user) -> QuerySet[MetricValue]:
    """Values of systems the user may view; sensitive ones only with view_sensitive."""
    queryset = access.scope(MetricValue.objects.all(), user)
    if getattr(user, "is_superuser", False):
        return queryset
    sensitive_ids = access.system_ids_for(user, access.VIEW_SENSITIVE)
    return queryset.filter(
        Q(metric_version__sensitive=False) | Q(deployment__environment__system__id__in=sensitive_ids)
    )


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("deployment", ID_SCHEMA, description="deployment id"),
            OpenApiParameter("metric", OpenApiTypes.STR, description="metric key"),
            OpenApiParameter("feature", OpenApiTypes.STR, description="feature name"),
            OpenApiParameter(
                "segment", OpenApiTypes.STR, description='"" for all traffic, or e.g. region=eu'
            ),
            OpenApiParameter("status", OpenApiTypes.STR),
            OpenApiParameter("start", OpenApiTypes.DATETIME, description="window_start ≥ start"),
            OpenApiParameter("end", OpenApiTypes.DATETIME, description="window_start < end"),
        ]
    )
)
class MetricValueViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = MetricValueSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        queryset = visible_values(self.request.user).select_related("metric_version__definition")
        params = self.request.query_params
        if (deployment := query_int(params, "deployment")) is not None:
            queryset = queryset.filter(deployment_id=deployment)
        if params.get("metric"):
            queryset = queryset.filter(metric_version__definition__key=params["metric"])
        if "feature" in params:
            queryset = queryset.filter(feature=params["feature"])
        if "segment" in params:
            queryset = queryset.filter(segment=params["segment"])
        if params.get("status"):
            queryset = queryset.filter(status=params["status"])
        if "start" in params:
            queryset = queryset.filter(window_start__gte=parse_instant(params["start"], "start"))
        if "end" in params:
            queryset = queryset.filter(window_start__lt=parse_instant(params["end"], "end"))
        return queryset.order_by("window_start", "id")


class ComputationRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Lineage: which task, code and catalog versions produced a set of values."""

    serializer_class = ComputationRunSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return access.scope(ComputationRun.objects.all(), self.request.user).order_by("-started_at")
