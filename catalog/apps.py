from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog: systems, models, deployments and metric definitions"
    default_auto_field = "django.db.models.BigAutoField"
