"""What exists: teams, systems, models, versions, environments, deployments, features, cohorts.

Everything hangs off a ``System``; object permissions are granted on the system and
inherited by all that is under it (see ``healthboard.access``).
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import models
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

__all__ = [
    "CohortAttribute",
    "Deployment",
    "Environment",
    "Feature",
    "Model",
    "ModelVersion",
    "System",
    "SystemGroupObjectPermission",
    "SystemUserObjectPermission",
    "Team",
]


class Team(models.Model):
    """A group of people owning systems. Membership is the team's auth group, so granting a
    team access to a system is a guardian group permission."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="team")

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name or self.slug

    def save(self, *args, **kwargs):
        if self.group_id is None:
            self.group, _ = Group.objects.get_or_create(name=f"team:{self.slug}")
        super().save(*args, **kwargs)


class System(models.Model):
    class Criticality(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="systems")
    criticality = models.CharField(max_length=10, choices=Criticality.choices, default=Criticality.MEDIUM)
    weight_profile = models.CharField(max_length=64, default="balanced")

    class Meta:
        ordering = ["slug"]
        permissions = [
            ("ingest", "Can send telemetry for the system"),
            ("manage_alerts", "Can acknowledge, silence and resolve the system's alerts"),
            ("view_sensitive", "Can see the system's per-group fairness detail"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("dashboards:system", args=[self.slug])


class SystemUserObjectPermission(UserObjectPermissionBase):
    """Direct-foreign-key permission table: faster and with referential integrity."""

    content_object = models.ForeignKey(System, on_delete=models.CASCADE)


class SystemGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(System, on_delete=models.CASCADE)


class Model(models.Model):
    class Task(models.TextChoices):
        BINARY_CLASSIFICATION = "binary_classification", "Binary classification"
        REGRESSION = "regression", "Regression"

    system = models.ForeignKey(System, on_delete=models.CASCADE, related_name="models")
    slug = models.SlugField(max_length=64)
    task = models.CharField(max_length=32, choices=Task.choices)
    positive_label = models.JSONField(null=True, blank=True, help_text="The label that counts as positive.")

    class Meta:
        ordering = ["system__slug", "slug"]
        constraints = [models.UniqueConstraint(fields=["system", "slug"], name="catalog_model_unique_slug")]

    def __str__(self) -> str:
        return f"{self.system.slug}/{self.slug}"


class ModelVersion(models.Model):
    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=64)
    auto_registered = models.BooleanField(default=False, help_text="Registered by ingestion, not by config.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["model_id", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="catalog_modelversion_unique_version")
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.version}"


class Environment(models.Model):
    class Kind(models.TextChoices):
        PRODUCTION = "production", "Production"
        STAGING = "staging", "Staging"
        EDGE = "edge", "Edge"
        DEVELOPMENT = "development", "Development"

    system = models.ForeignKey(System, on_delete=models.CASCADE, related_name="environments")
    slug = models.SlugField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PRODUCTION)
    region = models.CharField(max_length=64, blank=True)
    auto_registered = models.BooleanField(default=False)

    class Meta:
        ordering = ["system__slug", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["system", "slug"], name="catalog_environment_unique_slug")
        ]

    def __str__(self) -> str:
        return f"{self.system.slug}/{self.slug}"

    @staticmethod
    def kind_for_slug(slug: str) -> str:
        """A sensible kind for an environment named only by its slug."""
        lowered = slug.lower()
        for prefix, kind in (
            ("prod", "production"),
            ("stag", "staging"),
            ("edge", "edge"),
            ("dev", "development"),
        ):
            if lowered.startswith(prefix):
                return kind
        return Environment.Kind.PRODUCTION


class Deployment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        CANARY = "canary", "Canary"
        RETIRED = "retired", "Retired"

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="deployments")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="deployments")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "environment"], name="catalog_deployment_unique_version_env"
            )
        ]

    def __str__(self) -> str:
        return f"{self.model_version} @ {self.environment.slug}"

    @property
    def system(self) -> System:
        return self.environment.system


class Feature(models.Model):
    class Type(models.TextChoices):
        NUMERIC = "numeric", "Numeric"
        CATEGORICAL = "categorical", "Categorical"

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="features")
    name = models.CharField(max_length=128)
    type = models.CharField(max_length=12, choices=Type.choices)
    position = models.PositiveIntegerField(
        default=0, help_text="Declared order; raw events store feature values in this order."
    )

    class Meta:
        ordering = ["model_id", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["model", "name"], name="catalog_feature_unique_name")]

    def __str__(self) -> str:
        return f"{self.model}:{self.name}"


class CohortAttribute(models.Model):
    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="cohorts")
    name = models.CharField(max_length=128)
    protected = models.BooleanField(default=False, help_text="Fairness metrics are computed over it.")

    class Meta:
        ordering = ["model_id", "name"]
        constraints = [models.UniqueConstraint(fields=["model", "name"], name="catalog_cohort_unique_name")]

    def __str__(self) -> str:
        return f"{self.model}:{self.name}"
