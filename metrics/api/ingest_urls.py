"""Routes of the ingest API, included from ``metrics.api.urls`` (under /api/v1/). The paths
are DESIGN.md §10's, without a trailing slash; one is tolerated."""

from django.urls import re_path

from metrics.api import ingest

urlpatterns = [
    re_path(r"^ingest/events/?$", ingest.IngestEventsView.as_view(), name="ingest-events"),
    re_path(r"^ingest/labels/?$", ingest.IngestLabelsView.as_view(), name="ingest-labels"),
    re_path(r"^ingest/reference/?$", ingest.IngestReferenceView.as_view(), name="ingest-reference"),
    re_path(
        r"^deployments/(?P<pk>[0-9]+)/reference/?$",
        ingest.DeploymentReferenceView.as_view(),
        name="deployment-reference",
    ),
]
