from rest_framework.routers import SimpleRouter

from catalog.api import views

app_name = "catalog-api"
router = SimpleRouter()
router.register("systems", views.SystemViewSet, basename="system")
router.register("models", views.ModelViewSet, basename="model")
router.register("deployments", views.DeploymentViewSet, basename="deployment")
router.register("catalog/metrics", views.MetricDefinitionViewSet, basename="catalog-metric")
urlpatterns = router.urls
