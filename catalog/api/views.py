"""Read API for metadata. Every queryset is scoped by ``healthboard.access``."""

from rest_framework import viewsets

from catalog.api.serializers import DeploymentSerializer, ModelSerializer, SystemSerializer
from catalog.models import Deployment, Model, System
from healthboard import access


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
