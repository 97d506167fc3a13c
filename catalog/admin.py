from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from guardian.admin import GuardedModelAdmin

from catalog import services
from catalog.models import (
    CatalogChangeRequest,
    CohortAttribute,
    Deployment,
    Environment,
    Feature,
    MetricDefinition,
    MetricVersion,
    Model,
    ModelVersion,
    System,
    Team,
    ThresholdOverride,
    WeightProfile,
    WeightProfileVersion,
)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "group")
    search_fields = ("slug", "name")


class SystemAdminForm(forms.ModelForm):
    class Meta:
        model = System
        fields = ["slug", "name", "team", "criticality", "weight_profile"]

    def clean_weight_profile(self):
        name = self.cleaned_data["weight_profile"]
        try:
            services.validate_weight_profile_name(name)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["weight_profile"]) from None
        return name


@admin.register(System)
class SystemAdmin(GuardedModelAdmin):
    form = SystemAdminForm
    list_display = ("slug", "name", "team", "criticality", "weight_profile")
    list_filter = ("criticality", "team")
    search_fields = ("slug", "name")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "weight_profile" in form.changed_data:
            services.announce_policy_change(
                deployments=Deployment.objects.filter(environment__system=obj), actor=request.user
            )


class FeatureInline(admin.TabularInline):
    model = Feature
    extra = 0


class CohortInline(admin.TabularInline):
    model = CohortAttribute
    extra = 0


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ("slug", "system", "task", "positive_label")
    list_filter = ("task", "system")
    inlines = [FeatureInline, CohortInline]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("model", "version", "auto_registered", "created_at")
    list_filter = ("auto_registered",)


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ("slug", "system", "kind", "region", "auto_registered")
    list_filter = ("kind",)


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ("id", "model_version", "environment", "status", "started_at")
    list_filter = ("status",)


admin.site.register(Feature)
admin.site.register(CohortAttribute)


# --- the versioned catalog: read-only here; changes go through /catalog/ (audited, with a reason)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MetricDefinition)
class MetricDefinitionAdmin(ReadOnlyAdmin):
    list_display = ("key", "created_at")
    search_fields = ("key",)


@admin.register(MetricVersion)
class MetricVersionAdmin(ReadOnlyAdmin):
    list_display = (
        "definition",
        "number",
        "is_current",
        "pillar",
        "warn_threshold",
        "critical_threshold",
        "created_by",
        "created_at",
    )
    list_filter = ("is_current", "pillar")
    search_fields = ("definition__key", "name", "change_reason")


@admin.register(ThresholdOverride)
class ThresholdOverrideAdmin(ReadOnlyAdmin):
    list_display = (
        "definition",
        "scope_key",
        "number",
        "is_current",
        "warn_threshold",
        "critical_threshold",
        "for_windows",
    )
    list_filter = ("scope", "is_current")


@admin.register(WeightProfile)
class WeightProfileAdmin(ReadOnlyAdmin):
    list_display = ("name", "created_at")


@admin.register(WeightProfileVersion)
class WeightProfileVersionAdmin(ReadOnlyAdmin):
    list_display = ("profile", "number", "is_current", "created_by", "created_at")


@admin.register(CatalogChangeRequest)
class CatalogChangeRequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "definition", "target_key", "status", "proposed_by", "decided_by", "proposed_at")
    list_filter = ("status", "kind")
