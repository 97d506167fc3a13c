from django.contrib import admin

from healthboard.models import ApiToken, AuditRecord


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    """Read-only: the trail is append-only."""

    list_display = ("seq", "created_at", "actor_name", "source", "action", "object_type", "object_id")
    list_filter = ("source", "action")
    search_fields = ("actor_name", "object_repr", "reason", "request_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "kind", "system", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("kind",)
    readonly_fields = ("prefix", "token_hash", "kind", "system", "user", "created_at", "last_used_at")

    def has_add_permission(self, request):
        return False  # tokens are issued with `manage.py issue_token`, which shows the secret once
