from rest_framework.routers import SimpleRouter

from alerts.api import views

app_name = "alerts-api"
router = SimpleRouter()
router.register("alerts", views.AlertViewSet, basename="alert")
router.register("incidents", views.IncidentViewSet, basename="incident")
urlpatterns = router.urls
