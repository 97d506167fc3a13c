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

__all__ = [
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
]
