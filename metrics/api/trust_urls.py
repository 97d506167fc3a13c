"""Routes of the trust API, included from ``metrics.api.urls`` (under /api/v1/)."""

from django.urls import path

from metrics.api import trust

urlpatterns = [
    path("deployments/<int:pk>/trust/", trust.DeploymentTrustView.as_view(), name="deployment-trust"),
    path(
        "deployments/<int:pk>/trust/changes/",
        trust.DeploymentTrustChangesView.as_view(),
        name="deployment-trust-changes",
    ),
    path(
        "deployments/<int:pk>/readiness/",
        trust.DeploymentReadinessView.as_view(),
        name="deployment-readiness",
    ),
]
