"""Trust pages, included from ``metrics.urls`` (namespace ``metrics``)."""

from django.urls import path

from metrics import views_trust

urlpatterns = [
    path(
        "deployments/<int:pk>/trust/", views_trust.DeploymentTrustPageView.as_view(), name="deployment-trust"
    ),
    path("trust/anomalies/", views_trust.AnomalyListView.as_view(), name="trust-anomalies"),
    path("trust/anomalies/<int:pk>/review/", views_trust.review_anomaly, name="trust-anomaly-review"),
    path("vendor/plotly-<str:version>.min.js", views_trust.plotly_js, name="plotly-js"),
]
