from django.apps import AppConfig


class HealthboardConfig(AppConfig):
    name = "healthboard"
    verbose_name = "Healthboard core (access, audit, tokens)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the OpenAPI descriptions of the token authentication classes.
        from healthboard import schema  # noqa: F401
