from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog: systems, models, deployments and metric definitions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from catalog.models import ThresholdOverride
        from healthboard.access import register_system_path

        register_system_path(ThresholdOverride, "system")
