"""Routes of the ingest API, included from ``metrics.api.urls`` (under /api/v1/). The paths
are DESIGN.md §10's, without a trailing slash; the same path with one is tolerated (and left
out of the OpenAPI schema)."""

from django.urls import path

from metrics.api import ingest

ROUTES = [
    ("ingest/events", ingest.IngestEventsView, "ingest-events"),
    ("ingest/labels", ingest.IngestLabelsView, "ingest-labels"),
    ("ingest/reference", ingest.IngestReferenceView, "ingest-reference"),
    ("deployments/<int:pk>/reference", ingest.DeploymentReferenceView, "deployment-reference"),
]

urlpatterns = [path(route, view.as_view(), name=name) for route, view, name in ROUTES] + [
    path(f"{route}/", view.as_view(schema=None)) for route, view, _ in ROUTES
]
