from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from alerts import models
        from healthboard.access import register_system_path

        deployment_system = "deployment__environment__system"
        register_system_path(models.Alert, "system")
        register_system_path(models.AlertEvaluation, deployment_system)
        register_system_path(models.Incident, "system")
        register_system_path(models.IncidentEvent, "incident__system")
        register_system_path(models.PostMortem, "incident__system")
        register_system_path(models.FollowUpAction, "postmortem__incident__system")
        register_system_path(models.Silence, "system")
        # Channels and policies without a system are shared; scoping shows only system-owned
        # ones, and the views add the shared ones explicitly (read-only for non-admins).
        register_system_path(models.Channel, "system")
        register_system_path(models.EscalationPolicy, "system")
        register_system_path(models.EscalationStep, "policy__system")
        register_system_path(models.NotificationLog, "incident__system")
        register_system_path(models.Notification, "incident__system")
        register_system_path(models.DeliveryAttempt, "notification__incident__system")
