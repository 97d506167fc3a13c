"""What one system declares, loaded once per request: models, features, cohorts, versions,
environments and deployments — and the automatic registration of a known model's unknown
version or environment (audited, source ``system``).

Everything is looked up within the token's system only, so a token of system A can never
name (let alone write into) a model of system B: B's models are not in A's context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import CohortAttribute, Deployment, Environment, Feature, Model, ModelVersion, System
from healthboard.audit import record_change
from healthboard.models import AuditRecord

SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")
VERSION_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")


@dataclass
class ModelInfo:
    id: int
    slug: str
    task: str
    numeric: list[str] = field(default_factory=list)  # declared order (Feature.position)
    categorical: list[str] = field(default_factory=list)
    cohorts: list[str] = field(default_factory=list)  # CohortAttribute order (name)
    versions: dict[str, int] = field(default_factory=dict)  # version -> ModelVersion id

    @property
    def is_binary(self) -> bool:
        return self.task == Model.Task.BINARY_CLASSIFICATION

    @property
    def feature_names(self) -> list[str]:
        return [*self.numeric, *self.categorical]


@dataclass
class SystemContext:
    system: System
    models: dict[str, ModelInfo]
    environments: dict[str, int]  # slug -> Environment id
    deployments: dict[tuple[int, int], int]  # (version id, environment id) -> Deployment id
    # (model slug, version, environment) -> Deployment id, filled as resolved
    routes: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def route(self, model: str, version: str, environment: str) -> int | None:
        key = (model, version, environment)
        dep = self.routes.get(key)
        if dep is not None:
            return dep
        info = self.models.get(model)
        if info is None:
            return None
        version_id = info.versions.get(version)
        env_id = self.environments.get(environment)
        if version_id is None or env_id is None:
            return None
        dep = self.deployments.get((version_id, env_id))
        if dep is not None:
            self.routes[key] = dep
        return dep


def load_context(system: System) -> SystemContext:
    models: dict[int, ModelInfo] = {}
    for m in Model.objects.filter(system=system).only("id", "slug", "task"):
        models[m.id] = ModelInfo(id=m.id, slug=m.slug, task=m.task)
    for model_id, name, kind in (
        Feature.objects.filter(model__system=system)
        .order_by("model_id", "position", "id")
        .values_list("model_id", "name", "type")
    ):
        info = models[model_id]
        (info.numeric if kind == Feature.Type.NUMERIC else info.categorical).append(name)
    for model_id, name in (
        CohortAttribute.objects.filter(model__system=system)
        .order_by("model_id", "name")
        .values_list("model_id", "name")
    ):
        models[model_id].cohorts.append(name)
    for version_id, model_id, version in ModelVersion.objects.filter(model__system=system).values_list(
        "id", "model_id", "version"
    ):
        models[model_id].versions[version] = version_id
    environments = dict(Environment.objects.filter(system=system).values_list("slug", "id"))
    deployments = {
        (version_id, env_id): dep_id
        for dep_id, version_id, env_id in Deployment.objects.filter(environment__system=system).values_list(
            "id", "model_version_id", "environment_id"
        )
    }
    return SystemContext(
        system=system,
        models={info.slug: info for info in models.values()},
        environments=environments,
        deployments=deployments,
    )


def check_version(version) -> str | None:
    if not isinstance(version, str) or not VERSION_RE.match(version):
        return "must be a version string of 1 to 64 printable characters"
    return None


def check_environment(environment) -> str | None:
    if not isinstance(environment, str) or not SLUG_RE.match(environment):
        return "must be a slug (letters, digits, '-' and '_'), at most 64 characters"
    return None


def ensure_version(ctx: SystemContext, model_slug: str, version: str, *, actor) -> int:
    """The id of ``version`` of a known model, registering it when new (audited)."""
    info = ctx.models[model_slug]
    if version in info.versions:
        return info.versions[version]
    with transaction.atomic():
        obj, created = _get_or_create(
            ModelVersion, {"model_id": info.id, "version": version}, {"auto_registered": True}
        )
        if created:
            record_change(
                action="model_version.auto_register",
                obj=obj,
                after={"model": info.slug, "version": version, "auto_registered": True},
                reason="first seen in ingested telemetry",
                source=AuditRecord.Source.SYSTEM,
                actor=actor,
            )
    info.versions[version] = obj.id
    return obj.id


def ensure_environment(ctx: SystemContext, slug: str, *, actor) -> int:
    if slug in ctx.environments:
        return ctx.environments[slug]
    with transaction.atomic():
        obj, created = _get_or_create(
            Environment,
            {"system_id": ctx.system.id, "slug": slug},
            {"auto_registered": True, "kind": Environment.kind_for_slug(slug)},
        )
        if created:
            record_change(
                action="environment.auto_register",
                obj=obj,
                after={"system": ctx.system.slug, "slug": slug, "kind": obj.kind, "auto_registered": True},
                reason="first seen in ingested telemetry",
                source=AuditRecord.Source.SYSTEM,
                actor=actor,
            )
    ctx.environments[slug] = obj.id
    return obj.id


def ensure_deployment(ctx: SystemContext, model_slug: str, version: str, environment: str, *, actor) -> int:
    """The deployment for (model, version, environment), registering what is missing."""
    dep = ctx.route(model_slug, version, environment)
    if dep is not None:
        return dep
    version_id = ensure_version(ctx, model_slug, version, actor=actor)
    env_id = ensure_environment(ctx, environment, actor=actor)
    with transaction.atomic():
        obj, created = _get_or_create(
            Deployment,
            {"model_version_id": version_id, "environment_id": env_id},
            {"started_at": timezone.now()},
        )
        if created:
            record_change(
                action="deployment.auto_register",
                obj=obj,
                after={
                    "system": ctx.system.slug,
                    "model": model_slug,
                    "version": version,
                    "environment": environment,
                },
                reason="first seen in ingested telemetry",
                source=AuditRecord.Source.SYSTEM,
                actor=actor,
            )
    ctx.deployments[(version_id, env_id)] = obj.id
    ctx.routes[(model_slug, version, environment)] = obj.id
    return obj.id


def _get_or_create(model, lookup: dict, defaults: dict):
    """get_or_create that survives a concurrent insert of the same row (unique constraint)."""
    try:
        return model.objects.get(**lookup), False
    except model.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return model.objects.create(**lookup, **defaults), True
    except IntegrityError:
        return model.objects.get(**lookup), False
