"""Read API for metadata (every system-owned queryset is scoped by ``healthboard.access``) and
the metric catalog API."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from catalog import services
from catalog.api.serializers import (
    DeploymentSerializer,
    EffectivePolicySerializer,
    MetricDefinitionDetailSerializer,
    MetricDefinitionSerializer,
    MetricVersionCreateSerializer,
    MetricVersionSerializer,
    ModelSerializer,
    SystemSerializer,
)
from catalog.models import Deployment, MetricDefinition, MetricVersion, Model, System
from healthboard import access
from healthboard.models import AuditRecord


class ScopedReadOnlyViewSet(viewsets.ReadOnlyModelViewSet):
    """A read-only viewset whose rows are those the user may see; others are 404."""

    base_queryset = None

    def get_queryset(self):
        return access.scope(self.base_queryset, self.request.user)


class SystemViewSet(ScopedReadOnlyViewSet):
    serializer_class = SystemSerializer
    base_queryset = System.objects.select_related("team")


class ModelViewSet(ScopedReadOnlyViewSet):
    serializer_class = ModelSerializer
    base_queryset = Model.objects.select_related("system").prefetch_related("versions", "features", "cohorts")

    def get_queryset(self):
        queryset = super().get_queryset()
        system = self.request.query_params.get("system")
        return queryset.filter(system__slug=system) if system else queryset


class DeploymentViewSet(ScopedReadOnlyViewSet):
    serializer_class = DeploymentSerializer
    base_queryset = Deployment.objects.select_related("environment__system", "model_version__model")

    def get_queryset(self):
        queryset = super().get_queryset()
        params = self.request.query_params
        if params.get("system"):
            queryset = queryset.filter(environment__system__slug=params["system"])
        if params.get("environment"):
            queryset = queryset.filter(environment__slug=params["environment"])
        if params.get("model"):
            queryset = queryset.filter(model_version__model__slug=params["model"])
        return queryset


class IsCatalogAdminForWrites(permissions.BasePermission):
    """Reading the catalog needs a signed-in user; writing needs the catalog_admin role."""

    message = "Only catalog admins may change the catalog."

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return access.is_catalog_admin(request.user)


class MetricDefinitionViewSet(viewsets.ReadOnlyModelViewSet):
    """The metric catalog: every definition with its current content and its versions.

    Filters: ``?pillar=`` and ``?q=`` (key, name or description contains). Catalog admins
    create versions with ``POST …/{key}/versions/`` (a reason is required; with four-eyes on, a
    production threshold change answers 202 with the pending change instead of 201).
    """

    permission_classes = [permissions.IsAuthenticated, IsCatalogAdminForWrites]
    lookup_field = "key"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"

    def get_queryset(self):
        queryset = MetricDefinition.objects.prefetch_related(
            Prefetch("versions", queryset=MetricVersion.objects.select_related("created_by"))
        ).order_by("key")
        params = self.request.query_params
        if params.get("pillar"):
            queryset = queryset.filter(versions__is_current=True, versions__pillar=params["pillar"])
        if params.get("q"):
            query = params["q"]
            queryset = queryset.filter(
                Q(key__icontains=query)
                | Q(versions__is_current=True, versions__name__icontains=query)
                | Q(versions__is_current=True, versions__description__icontains=query)
            ).distinct()
        return queryset

    def get_serializer_class(self):
        if self.action == "retrieve":
            return MetricDefinitionDetailSerializer
        if self.action == "versions" and self.request.method == "POST":
            return MetricVersionCreateSerializer
        return MetricDefinitionSerializer

    @extend_schema(
        methods=["GET"], responses=MetricVersionSerializer(many=True), summary="All versions of a metric"
    )
    @extend_schema(
        methods=["POST"],
        request=MetricVersionCreateSerializer,
        responses={201: MetricVersionSerializer, 202: dict},
        summary="Create a new version (catalog admins; reason required)",
    )
    @action(detail=True, methods=["get", "post"], url_path="versions", pagination_class=None)  # a plain list
    def versions(self, request, key=None):
        definition = self.get_object()
        if request.method == "GET":
            versions = definition.versions.select_related("created_by").order_by("number")
            return Response(MetricVersionSerializer(versions, many=True).data)
        serializer = MetricVersionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            outcome = services.create_metric_version(
                definition,
                serializer.changes(),
                reason=serializer.validated_data["reason"],
                actor=request.user,
                source=AuditRecord.Source.API,
                base_number=serializer.validated_data.get("base_version"),
            )
        except DjangoValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            raise ValidationError(detail) from None
        if outcome.is_pending:
            change = outcome.pending
            return Response(
                {
                    "status": "pending",
                    "pending_change": change.pk,
                    "message": "Four-eyes: this production threshold change waits for a second catalog admin.",
                    "proposed": change.proposed,
                },
                status=status.HTTP_202_ACCEPTED,
            )
        return Response(MetricVersionSerializer(outcome.version).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("deployment", int, required=True)],
        responses=EffectivePolicySerializer,
        summary="Effective threshold policy of the metric on one deployment, with its sources",
    )
    @action(detail=True, methods=["get"], url_path="policy")
    def policy(self, request, key=None):
        definition = self.get_object()
        deployment = access.get_for_user(
            Deployment.objects.select_related("environment"),
            request.user,
            pk=request.query_params.get("deployment"),
        )
        version = definition.versions.get(is_current=True)
        return Response(EffectivePolicySerializer(services.effective_policy(version, deployment)).data)
