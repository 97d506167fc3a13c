from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from catalog.models import (
    CohortAttribute,
    Deployment,
    Environment,
    Feature,
    Model,
    ModelVersion,
    System,
    Team,
)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "group")
    search_fields = ("slug", "name")


@admin.register(System)
class SystemAdmin(GuardedModelAdmin):
    list_display = ("slug", "name", "team", "criticality", "weight_profile")
    list_filter = ("criticality", "team")
    search_fields = ("slug", "name")


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
