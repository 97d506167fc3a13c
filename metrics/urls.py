from django.urls import include, path

app_name = "metrics"
urlpatterns: list = []
urlpatterns += [path("", include("metrics.urls_trust"))]  # trust pages, anomaly review (issue 7)
urlpatterns += [path("", include("metrics.urls_ingest"))]  # quarantine pages (issue 4)
