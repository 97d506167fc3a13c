"""Read-mostly admin for ingestion records (raw events are too many for the admin)."""

from django.contrib import admin

from metrics.models import IngestionStat, QuarantinedRecord, ReferenceDataset


@admin.register(QuarantinedRecord)
class QuarantinedRecordAdmin(admin.ModelAdmin):
    list_display = ("id", "system", "kind", "reason", "event_id", "received_at", "replay_result")
    list_filter = ("kind", "reason", "replay_result")
    search_fields = ("event_id",)
    readonly_fields = ("received_at",)


@admin.register(ReferenceDataset)
class ReferenceDatasetAdmin(admin.ModelAdmin):
    list_display = ("id", "model_version", "is_current", "source", "row_count", "created_at")
    list_filter = ("is_current", "source")
    readonly_fields = ("numeric_edges", "categories", "output_edges", "null_counts")


@admin.register(IngestionStat)
class IngestionStatAdmin(admin.ModelAdmin):
    list_display = ("system", "bucket", "kind", "requests", "accepted", "duplicates", "rejected", "bytes")
    list_filter = ("kind",)
