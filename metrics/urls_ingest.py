"""Pages of ingestion (platform area), included from ``metrics.urls``."""

from django.urls import path

from metrics import views

urlpatterns = [
    path("platform/quarantine/", views.QuarantineListView.as_view(), name="quarantine"),
    path("platform/quarantine/replay/", views.QuarantineReplayView.as_view(), name="quarantine-replay"),
]
