from catalog.models.changes import CatalogChangeRequest
from catalog.models.metadata import (
    CohortAttribute,
    Deployment,
    Environment,
    Feature,
    Model,
    ModelVersion,
    System,
    SystemGroupObjectPermission,
    SystemUserObjectPermission,
    Team,
)
from catalog.models.metric_catalog import MetricDefinition, MetricVersion
from catalog.models.overrides import ThresholdOverride
from catalog.models.weights import WeightProfile, WeightProfileVersion

__all__ = [
    "CatalogChangeRequest",
    "CohortAttribute",
    "Deployment",
    "Environment",
    "Feature",
    "MetricDefinition",
    "MetricVersion",
    "Model",
    "ModelVersion",
    "System",
    "SystemGroupObjectPermission",
    "SystemUserObjectPermission",
    "Team",
    "ThresholdOverride",
    "WeightProfile",
    "WeightProfileVersion",
]
