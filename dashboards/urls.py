from django.urls import path

from dashboards import views

app_name = "dashboards"
urlpatterns = [
    path("", views.PortfolioView.as_view(), name="portfolio"),
    path("systems/<slug:slug>/", views.SystemView.as_view(), name="system"),
]
