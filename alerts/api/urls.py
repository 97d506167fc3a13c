from rest_framework.routers import SimpleRouter

from alerts.api import views

app_name = "alerts-api"
router = SimpleRouter()
router.trailing_slash = "/?"  # with or without the final slash (DRF's argument only takes a bool)
router.register("alerts", views.AlertViewSet, basename="alert")
router.register("incidents", views.IncidentViewSet, basename="incident")
urlpatterns = router.urls
