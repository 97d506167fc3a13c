from django.urls import path

from dashboards import scenarios, views, views_roles

app_name = "dashboards"
urlpatterns = [
    path("", views.PortfolioView.as_view(), name="portfolio"),
    path("systems/<slug:slug>/", views.SystemView.as_view(), name="system"),
    path("d/<int:pk>/", views.DeploymentView.as_view(), name="deployment"),
    path("d/<int:pk>/metrics/<slug:key>/", views.MetricView.as_view(), name="metric"),
    path(
        "d/<int:pk>/metrics/<slug:key>/segments/<str:segment>/", views.SegmentView.as_view(), name="segment"
    ),
    path("values/<int:pk>/", views.ValueView.as_view(), name="value"),
    path("values/<int:pk>/events/", views.EventsView.as_view(), name="events"),
    path("sre/", views_roles.SreView.as_view(), name="sre"),
    path("ds/", views_roles.DataScienceView.as_view(), name="ds"),
    path("ds/distribution/", views_roles.DistributionView.as_view(), name="ds-distribution"),
    path("platform/", views_roles.PlatformView.as_view(), name="platform"),
    path("scenarios/", scenarios.ScenarioView.as_view(), name="scenarios"),
]
