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

__all__ = [
    "CohortAttribute",
    "Deployment",
    "Environment",
    "Feature",
    "Model",
    "ModelVersion",
    "System",
    "SystemGroupObjectPermission",
    "SystemUserObjectPermission",
    "Team",
]
