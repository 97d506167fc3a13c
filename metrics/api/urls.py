from django.urls import include, path

app_name = "metrics-api"
urlpatterns: list = []
urlpatterns += [path("", include("metrics.api.trust_urls"))]  # trust score, readiness (issue 7)
urlpatterns += [path("", include("metrics.api.ingest_urls"))]  # ingestion (issue 4)
