from rest_framework.routers import SimpleRouter

from metrics.api import results

router = SimpleRouter(trailing_slash="/?")
router.register("metric-values", results.MetricValueViewSet, basename="metric-value")
router.register("runs", results.ComputationRunViewSet, basename="run")
urlpatterns = router.urls
