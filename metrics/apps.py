from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Metrics: telemetry in, numbers out"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from healthboard.access import register_system_path
        from metrics.models import ComputationRun, MetricValue

        register_system_path(MetricValue, "deployment__environment__system")
        register_system_path(ComputationRun, "deployment__environment__system")
