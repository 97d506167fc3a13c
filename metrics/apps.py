from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Metrics: telemetry in, numbers out"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from healthboard.access import register_system_path
        from metrics.models import (
            ComputationRun,
            DirtyWindow,
            IngestionRejection,
            IngestionStat,
            MetricValue,
            PredictionEvent,
            QuarantinedRecord,
            ReferenceDataset,
        )

        register_system_path(MetricValue, "deployment__environment__system")
        register_system_path(ComputationRun, "deployment__environment__system")
        register_system_path(PredictionEvent, "system")
        register_system_path(QuarantinedRecord, "system")
        register_system_path(IngestionStat, "system")
        register_system_path(IngestionRejection, "system")
        register_system_path(ReferenceDataset, "model_version__model__system")
        register_system_path(DirtyWindow, "deployment__environment__system")

        from metrics.models import ScoreAnomaly, TrustScore

        register_system_path(TrustScore, "deployment__environment__system")
        register_system_path(ScoreAnomaly, "deployment__environment__system")

        from metrics.models import ComputeWatermark, WindowProfile

        register_system_path(WindowProfile, "deployment__environment__system")
        register_system_path(ComputeWatermark, "deployment__environment__system")

        from catalog.signals import policy_changed
        from metrics.trust.recheck import on_policy_changed

        policy_changed.connect(on_policy_changed, dispatch_uid="metrics.trust.recheck")
