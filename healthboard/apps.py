from django.apps import AppConfig


class HealthboardConfig(AppConfig):
    name = "healthboard"
    verbose_name = "Healthboard core (access, audit, tokens)"
    default_auto_field = "django.db.models.BigAutoField"
