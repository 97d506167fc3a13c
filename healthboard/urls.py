from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from healthboard import views, web
from metrics.prometheus import PrometheusView

api_v1 = [
    path("", include("catalog.api.urls")),
    path("", include("metrics.api.urls")),
    path("", include("metrics.api.results_urls")),
    path("", include("metrics.api.backfill_urls")),  # recompute under a catalog version (issue 5)
    path("", include("alerts.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # the split view serves its start-up script as a file: the CSP allows no inline script
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

handler404 = "healthboard.views.page_not_found"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("metrics", PrometheusView.as_view(), name="prometheus"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("access/", web.AccessGrantView.as_view(), name="access"),
    path("audit/", web.AuditListView.as_view(), name="audit"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("catalog/", include("catalog.urls")),
    path("", include("metrics.urls")),
    path("", include("alerts.urls")),
    path("", include("dashboards.urls")),
]
