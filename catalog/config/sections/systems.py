"""``systems:`` — systems with their models, features, cohorts, versions, environments,
deployments and access grants (DESIGN.md §10).

Keys left out of an entry leave the stored value as it is (a new object takes the default);
objects left out of the file are never deleted, only listed as left as is.

Stored telemetry keeps feature values in the model's declared feature order and by type, so
for a model that has versions (every event names one) a feature's type, the model's task and
the order of its features cannot change; new features are added at the end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model

from catalog import services
from catalog.config.plan import ApplyContext, Plan, plan_create, plan_update
from catalog.config.schema import MISSING, SLUG_RE, Checker
from catalog.config.sections.teams import ensure_team
from catalog.config.sections.weight_profiles import check_system_profile
from catalog.config.source import Node
from catalog.config.yamlstyle import Flow, FlowMap
from catalog.models import (
    CohortAttribute,
    Deployment,
    Environment,
    Feature,
    Model,
    ModelVersion,
    System,
    SystemGroupObjectPermission,
    SystemUserObjectPermission,
    Team,
)
from healthboard import access

USER_PREFIX = "user:"
TASKS = [choice.value for choice in Model.Task]
FEATURE_TYPES = [choice.value for choice in Feature.Type]
CRITICALITIES = [choice.value for choice in System.Criticality]
ENVIRONMENT_KINDS = [choice.value for choice in Environment.Kind]
DEPLOYMENT_STATUSES = [choice.value for choice in Deployment.Status]


def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


# -- what the file says ------------------------------------------------------------------------
@dataclass
class FeatureSpec:
    name: str
    type: str
    node: Node
    type_node: Node


@dataclass
class CohortSpec:
    name: str
    protected: bool | None
    node: Node


@dataclass
class ModelSpec:
    slug: str
    task: str
    positive_label: Any
    node: Node
    task_node: Node
    features: list[FeatureSpec] = field(default_factory=list)
    features_node: Node | None = None
    cohorts: list[CohortSpec] = field(default_factory=list)
    versions: list[tuple[str, Node]] = field(default_factory=list)


@dataclass
class EnvironmentSpec:
    slug: str
    kind: str | None
    region: str | None
    node: Node


@dataclass
class DeploymentSpec:
    model: str
    version: str
    environment: str
    status: str | None
    node: Node
    nodes: dict[str, Node]


@dataclass
class GrantSpec:
    team: str | None
    username: str | None
    permissions: list[str]
    node: Node

    @property
    def principal(self) -> str:
        return f"team {self.team}" if self.team else f"user {self.username}"


@dataclass
class SystemSpec:
    slug: str
    name: str
    team: str
    weight_profile: str | None
    criticality: str | None
    node: Node
    models: list[ModelSpec] = field(default_factory=list)
    environments: list[EnvironmentSpec] = field(default_factory=list)
    deployments: list[DeploymentSpec] = field(default_factory=list)
    access: list[GrantSpec] = field(default_factory=list)


# -- reading the file ----------------------------------------------------------------------
def _optional(fields: dict[str, Node], key: str, read) -> Any:
    return read(fields[key]) if key in fields else None


def _validate_feature(item: Node, check: Checker) -> FeatureSpec | None:
    fields = check.mapping(item, required=("name", "type"))
    if fields is None:
        return None
    name = check.string(fields["name"], max_length=_max_length(Feature, "name"))
    kind = check.choice(fields["type"], FEATURE_TYPES)
    return FeatureSpec(name, kind, item, fields["type"])


def _validate_cohort(item: Node, check: Checker) -> CohortSpec | None:
    fields = check.mapping(item, required=("name",), optional=("protected",))
    if fields is None:
        return None
    name = check.string(fields["name"], max_length=_max_length(CohortAttribute, "name"))
    return CohortSpec(name, _optional(fields, "protected", check.boolean), item)


def _validate_model(item: Node, check: Checker) -> ModelSpec | None:
    fields = check.mapping(
        item, required=("slug", "task"), optional=("positive_label", "features", "cohorts", "versions")
    )
    if fields is None:
        return None
    spec = ModelSpec(
        slug=check.slug(fields["slug"]),
        task=check.choice(fields["task"], TASKS),
        positive_label=check.label(fields["positive_label"]) if "positive_label" in fields else MISSING,
        node=item,
        task_node=fields["task"],
        features_node=fields.get("features"),
    )
    if "features" in fields:
        nodes = check.sequence(fields["features"]) or []
        spec.features = [f for f in (_validate_feature(n, check) for n in nodes) if f]
        check.unique(((f.name, f.node) for f in spec.features), "feature")
    if "cohorts" in fields:
        nodes = check.sequence(fields["cohorts"]) or []
        spec.cohorts = [c for c in (_validate_cohort(n, check) for n in nodes) if c]
        check.unique(((c.name, c.node) for c in spec.cohorts), "cohort")
    if "versions" in fields:
        for node in check.sequence(fields["versions"]) or []:
            version = check.version(node, max_length=_max_length(ModelVersion, "version"))
            if version is not None:
                spec.versions.append((version, node))
        check.unique(spec.versions, "version")
    return spec


def _validate_environment(item: Node, check: Checker) -> EnvironmentSpec | None:
    if not item.is_mapping:
        slug = check.slug(item)
        return EnvironmentSpec(slug, None, None, item) if slug else None
    fields = check.mapping(item, required=("slug",), optional=("kind", "region"))
    if fields is None:
        return None
    return EnvironmentSpec(
        slug=check.slug(fields["slug"]),
        kind=_optional(fields, "kind", lambda n: check.choice(n, ENVIRONMENT_KINDS)),
        region=_optional(
            fields,
            "region",
            lambda n: check.string(n, max_length=_max_length(Environment, "region"), allow_empty=True),
        ),
        node=item,
    )


def _validate_deployment(item: Node, check: Checker) -> DeploymentSpec | None:
    fields = check.mapping(item, required=("model", "version", "environment"), optional=("status",))
    if fields is None:
        return None
    return DeploymentSpec(
        model=check.slug(fields["model"]),
        version=check.version(fields["version"]),
        environment=check.slug(fields["environment"]),
        status=_optional(fields, "status", lambda n: check.choice(n, DEPLOYMENT_STATUSES)),
        node=item,
        nodes=fields,
    )


def _validate_access(node: Node, check: Checker) -> list[GrantSpec]:
    if not node.is_mapping:
        check.error(node, "must be a mapping of team slug or 'user:USERNAME' to a list of permissions")
        return []
    grants = []
    for principal, value in node.value.items():
        team = username = None
        if principal.startswith(USER_PREFIX):
            username = principal[len(USER_PREFIX) :]
        elif SLUG_RE.match(principal) and len(principal) <= _max_length(Team, "slug"):
            team = principal
        if not (team or username):
            check.error(value, f"{principal!r} is neither a team slug nor user:USERNAME", line=value.key_line)
            continue
        items = check.sequence(value) or []
        perms = [p for p in (check.choice(n, access.SYSTEM_PERMISSIONS) for n in items) if p]
        check.unique(zip(perms, items, strict=False), "permission")
        grants.append(GrantSpec(team, username, perms, value))
    return grants


def _validate_system(item: Node, check: Checker) -> SystemSpec | None:
    fields = check.mapping(
        item,
        required=("slug", "name", "team"),
        optional=("criticality", "weight_profile", "models", "environments", "deployments", "access"),
    )
    if fields is None:
        return None
    spec = SystemSpec(
        slug=check.slug(fields["slug"]),
        name=check.string(fields["name"], max_length=_max_length(System, "name")),
        team=check.slug(fields["team"]),
        weight_profile=_optional(
            fields,
            "weight_profile",
            lambda n: check.slug(n, max_length=_max_length(System, "weight_profile")),
        ),
        criticality=_optional(fields, "criticality", lambda n: check.choice(n, CRITICALITIES)),
        node=item,
    )
    if "models" in fields:
        nodes = check.sequence(fields["models"]) or []
        spec.models = [m for m in (_validate_model(n, check) for n in nodes) if m]
        check.unique(((m.slug, m.node) for m in spec.models), "model slug")
    if "environments" in fields:
        nodes = check.sequence(fields["environments"]) or []
        spec.environments = [e for e in (_validate_environment(n, check) for n in nodes) if e]
        check.unique(((e.slug, e.node) for e in spec.environments), "environment slug")
    if "deployments" in fields:
        nodes = check.sequence(fields["deployments"]) or []
        spec.deployments = [d for d in (_validate_deployment(n, check) for n in nodes) if d]
        check.unique((((d.model, d.version, d.environment), d.node) for d in spec.deployments), "deployment")
    if "access" in fields:
        spec.access = _validate_access(fields["access"], check)
    return spec


# -- comparing with the database ------------------------------------------------------------
def _same_json(a: Any, b: Any) -> bool:
    """Equal as stored JSON: ``1`` and ``true`` differ, although ``1 == True`` in Python."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _changed(diff: dict, name: str, old: Any, new: Any) -> None:
    """Add ``name`` to ``diff`` when the file sets it (``new`` is not None) to another value."""
    if new is not None and old != new:
        diff[name] = (old, new)


def _system(slug: str) -> System:
    return System.objects.get(slug=slug)


def _recheck_trust(system: System, ctx: ApplyContext) -> None:
    """A system now scored with another weight profile: re-decide its deployments' readiness."""
    services.announce_policy_change(
        deployments=Deployment.objects.filter(environment__system=system), actor=ctx.actor
    )


def _model(system: str, slug: str) -> Model:
    return Model.objects.get(system__slug=system, slug=slug)


class SystemsSection:
    key = "systems"

    # -- validate --------------------------------------------------------------------------
    def validate(self, node: Node, check: Checker) -> list[SystemSpec]:
        specs = [s for s in (_validate_system(n, check) for n in check.sequence(node) or []) if s]
        check.unique(((s.slug, s.node) for s in specs), "system slug")
        return specs

    # -- plan ------------------------------------------------------------------------------
    def plan(self, specs: list[SystemSpec], plan: Plan) -> None:
        existing = {system.slug: system for system in System.objects.select_related("team")}
        for spec in specs:
            plan.declare("system", spec.slug)
        for spec in specs:
            self._plan_system(spec, existing.get(spec.slug), plan)
        named = {spec.slug for spec in specs}
        for slug in sorted(set(existing) - named):
            plan.leave(f"system {slug}")

    def _plan_system(self, spec: SystemSpec, system: System | None, plan: Plan) -> None:
        ensure_team(plan, spec.team)
        target = f"system {spec.slug}"
        if system is None or spec.weight_profile != system.weight_profile:
            check_system_profile(plan, spec.node.value.get("weight_profile", spec.node), spec.weight_profile)
        if system is None:
            values = {
                "name": spec.name,
                "team": spec.team,
                "criticality": spec.criticality or System.Criticality.MEDIUM.value,
                "weight_profile": spec.weight_profile or System._meta.get_field("weight_profile").default,
            }

            def build(slug=spec.slug, values=values) -> System:
                team = Team.objects.get(slug=values["team"])
                return System.objects.create(slug=slug, **{**values, "team": team})

            plan_create(plan, "system", target, values, build)
        else:
            diff: dict[str, tuple[Any, Any]] = {}
            _changed(diff, "name", system.name, spec.name)
            _changed(diff, "team", system.team.slug, spec.team)
            _changed(diff, "criticality", system.criticality, spec.criticality)
            _changed(diff, "weight_profile", system.weight_profile, spec.weight_profile)
            plan_update(
                plan,
                "system",
                target,
                diff,
                lambda slug=spec.slug: _system(slug),
                resolve={"team": lambda slug=spec.team: Team.objects.get(slug=slug)},
                after=_recheck_trust if "weight_profile" in diff else None,
            )
        self._plan_environments(spec, system, plan)
        models = {m.slug: m for m in system.models.all()} if system else {}
        for model_spec in spec.models:
            plan.declare("model", (spec.slug, model_spec.slug))
            self._plan_model(spec.slug, model_spec, models.get(model_spec.slug), plan)
        for slug in sorted(set(models) - {m.slug for m in spec.models}):
            plan.leave(f"model {spec.slug}/{slug}")
        self._plan_deployments(spec, system, plan)
        self._plan_access(spec, system, plan)

    def _plan_environments(self, spec: SystemSpec, system: System | None, plan: Plan) -> None:
        existing = {e.slug: e for e in system.environments.all()} if system else {}
        for env in spec.environments:
            plan.declare("environment", (spec.slug, env.slug))
            target = f"environment {spec.slug}/{env.slug}"
            current = existing.get(env.slug)
            if current is None:
                values = {"kind": env.kind or Environment.kind_for_slug(env.slug), "region": env.region or ""}

                def build(system=spec.slug, slug=env.slug, values=values) -> Environment:
                    return Environment.objects.create(system=_system(system), slug=slug, **values)

                plan_create(plan, "environment", target, values, build)
            else:
                diff: dict[str, tuple[Any, Any]] = {}
                _changed(diff, "kind", current.kind, env.kind)
                _changed(diff, "region", current.region, env.region)
                plan_update(
                    plan, "environment", target, diff, lambda pk=current.pk: Environment.objects.get(pk=pk)
                )
        for slug in sorted(set(existing) - {e.slug for e in spec.environments}):
            plan.leave(f"environment {spec.slug}/{slug}")

    def _plan_model(self, system_slug: str, spec: ModelSpec, model: Model | None, plan: Plan) -> None:
        target = f"model {system_slug}/{spec.slug}"
        has_versions = model is not None and model.versions.exists()
        if model is None:
            values = {"task": spec.task}
            if spec.positive_label is not MISSING:
                values["positive_label"] = spec.positive_label

            def build(system=system_slug, slug=spec.slug, values=values) -> Model:
                return Model.objects.create(system=_system(system), slug=slug, **values)

            plan_create(plan, "model", target, values, build)
        else:
            diff: dict[str, tuple[Any, Any]] = {}
            if model.task != spec.task:
                if has_versions:
                    plan.error(
                        spec.task_node,
                        f"{target} is {model.task} and has versions: changing its task to {spec.task} "
                        "would break stored data (create a new model instead)",
                    )
                else:
                    diff["task"] = (model.task, spec.task)
            if spec.positive_label is not MISSING and not _same_json(
                model.positive_label, spec.positive_label
            ):
                diff["positive_label"] = (model.positive_label, spec.positive_label)
            plan_update(plan, "model", target, diff, lambda pk=model.pk: Model.objects.get(pk=pk))
        self._plan_features(system_slug, spec, model, has_versions, plan)
        self._plan_cohorts(system_slug, spec, model, plan)
        self._plan_versions(system_slug, spec, model, plan)

    def _plan_features(
        self, system_slug: str, spec: ModelSpec, model: Model | None, has_versions: bool, plan: Plan
    ) -> None:
        """Features keep their stored position when the file lists them in the stored order
        (new ones go after the last); otherwise the file order becomes the position."""
        label = f"{system_slug}/{spec.slug}"
        existing = list(model.features.order_by("position", "id")) if model else []
        by_name = {f.name: f for f in existing}
        listed = [f for f in spec.features if f.name in by_name]
        rank = {f.name: i for i, f in enumerate(existing)}
        first_new = next(
            (i for i, f in enumerate(spec.features) if f.name not in by_name), len(spec.features)
        )
        keeps_order = [rank[f.name] for f in listed] == sorted(rank[f.name] for f in listed) and all(
            f.name not in by_name for f in spec.features[first_new:]
        )
        if keeps_order:
            next_position = max((f.position for f in existing), default=-1) + 1
            positions = {}
            for f in spec.features:
                if f.name in by_name:
                    positions[f.name] = by_name[f.name].position
                else:
                    positions[f.name] = next_position
                    next_position += 1
        else:
            positions = {f.name: i for i, f in enumerate(spec.features)}
            omitted = {f.position: f.name for f in existing if f.name not in positions}
            for f in spec.features:
                if positions[f.name] in omitted:
                    plan.error(
                        spec.features_node,
                        f"feature {omitted[positions[f.name]]!r} of {label} is not in the file and would share "
                        f"position {positions[f.name]} with {f.name!r}: list every feature to reorder them",
                    )
                    break
        for f in spec.features:
            target = f"feature {label}:{f.name}"
            current = by_name.get(f.name)
            if current is None:
                values = {"type": f.type, "position": positions[f.name]}

                def build(system=system_slug, model=spec.slug, name=f.name, values=values) -> Feature:
                    return Feature.objects.create(model=_model(system, model), name=name, **values)

                plan_create(plan, "feature", target, values, build)
                continue
            diff: dict[str, tuple[Any, Any]] = {}
            if current.type != f.type:
                if has_versions:
                    plan.error(
                        f.type_node,
                        f"{target} is {current.type} and {label} has versions: changing it to {f.type} "
                        "would break stored data (add a feature with a new name instead)",
                    )
                else:
                    diff["type"] = (current.type, f.type)
            if current.position != positions[f.name]:
                if has_versions:
                    plan.error(
                        f.node,
                        f"{target} is at position {current.position} and {label} has versions: moving it to "
                        f"{positions[f.name]} would break stored data (keep the stored order, add new "
                        "features at the end)",
                    )
                else:
                    diff["position"] = (current.position, positions[f.name])
            plan_update(plan, "feature", target, diff, lambda pk=current.pk: Feature.objects.get(pk=pk))
        for f in existing:
            if f.name not in positions:
                plan.leave(f"feature {label}:{f.name}")

    def _plan_cohorts(self, system_slug: str, spec: ModelSpec, model: Model | None, plan: Plan) -> None:
        label = f"{system_slug}/{spec.slug}"
        existing = {c.name: c for c in model.cohorts.all()} if model else {}
        for c in spec.cohorts:
            target = f"cohort {label}:{c.name}"
            current = existing.get(c.name)
            if current is None:
                values = {"protected": bool(c.protected)}

                def build(system=system_slug, model=spec.slug, name=c.name, values=values) -> CohortAttribute:
                    return CohortAttribute.objects.create(model=_model(system, model), name=name, **values)

                plan_create(plan, "cohort", target, values, build)
            else:
                diff: dict[str, tuple[Any, Any]] = {}
                _changed(diff, "protected", current.protected, c.protected)
                plan_update(
                    plan, "cohort", target, diff, lambda pk=current.pk: CohortAttribute.objects.get(pk=pk)
                )
        for name in sorted(set(existing) - {c.name for c in spec.cohorts}):
            plan.leave(f"cohort {label}:{name}")

    def _plan_versions(self, system_slug: str, spec: ModelSpec, model: Model | None, plan: Plan) -> None:
        label = f"{system_slug}/{spec.slug}"
        existing = (
            list(model.versions.order_by("created_at", "id").values_list("version", flat=True))
            if model
            else []
        )
        for version, _node in spec.versions:
            plan.declare("model_version", (system_slug, spec.slug, version))
            if version in existing:
                continue

            def build(system=system_slug, model=spec.slug, version=version) -> ModelVersion:
                return ModelVersion.objects.create(model=_model(system, model), version=version)

            plan_create(plan, "model_version", f"version {label} {version}", {}, build)
        named = {version for version, _node in spec.versions}
        for version in existing:
            if version not in named:
                plan.leave(f"version {label} {version}")

    def _plan_deployments(self, spec: SystemSpec, system: System | None, plan: Plan) -> None:
        existing: dict[tuple[str, str, str], Deployment] = {}
        if system is not None:
            for d in Deployment.objects.filter(environment__system=system).select_related(
                "model_version__model", "environment"
            ):
                existing[(d.model_version.model.slug, d.model_version.version, d.environment.slug)] = d
        for d in spec.deployments:
            if not self._references_exist(spec.slug, d, plan):
                continue
            key = (d.model, d.version, d.environment)
            target = f"deployment {spec.slug}/{d.model} {d.version} @ {d.environment}"
            current = existing.get(key)
            if current is None:
                values = {"status": d.status or Deployment.Status.ACTIVE.value}

                def build(system=spec.slug, key=key, values=values) -> Deployment:
                    model, version, env = key
                    return Deployment.objects.create(
                        model_version=ModelVersion.objects.get(
                            model__system__slug=system, model__slug=model, version=version
                        ),
                        environment=Environment.objects.get(system__slug=system, slug=env),
                        **values,
                    )

                plan_create(plan, "deployment", target, values, build)
            else:
                diff: dict[str, tuple[Any, Any]] = {}
                _changed(diff, "status", current.status, d.status)
                plan_update(
                    plan, "deployment", target, diff, lambda pk=current.pk: Deployment.objects.get(pk=pk)
                )
        named = {(d.model, d.version, d.environment) for d in spec.deployments}
        for key in sorted(set(existing) - named):
            plan.leave(f"deployment {spec.slug}/{key[0]} {key[1]} @ {key[2]}")

    @staticmethod
    def _references_exist(system: str, d: DeploymentSpec, plan: Plan) -> bool:
        ok = True
        model_known = (
            plan.is_declared("model", (system, d.model))
            or Model.objects.filter(system__slug=system, slug=d.model).exists()
        )
        if not model_known:
            plan.error(
                d.nodes["model"], f"system {system} has no model {d.model!r} (in the file or the database)"
            )
            ok = False
        elif not (
            plan.is_declared("model_version", (system, d.model, d.version))
            or ModelVersion.objects.filter(
                model__system__slug=system, model__slug=d.model, version=d.version
            ).exists()
        ):
            plan.error(
                d.nodes["version"],
                f"model {system}/{d.model} has no version {d.version!r}: list it under the model's versions",
            )
            ok = False
        if not (
            plan.is_declared("environment", (system, d.environment))
            or Environment.objects.filter(system__slug=system, slug=d.environment).exists()
        ):
            plan.error(
                d.nodes["environment"],
                f"system {system} has no environment {d.environment!r}: list it under environments",
            )
            ok = False
        return ok

    def _plan_access(self, spec: SystemSpec, system: System | None, plan: Plan) -> None:
        current = _grants(system) if system is not None else {}
        wanted: dict[str, set[str]] = {}
        for grant in spec.access:
            if grant.team:
                ensure_team(plan, grant.team)
                key = f"team {grant.team}"
            else:
                if not get_user_model().objects.filter(username=grant.username).exists():
                    plan.error(grant.node, f"no user named {grant.username!r}", line=grant.node.key_line)
                    continue
                key = f"user {grant.username}"
            wanted[key] = set(grant.permissions)
            missing = [p for p in access.SYSTEM_PERMISSIONS if p in wanted[key] - current.get(key, set())]
            if missing:
                plan.add(
                    "access.grant",
                    f"access to {spec.slug} for {grant.principal}",
                    ", ".join(missing),
                    _grant_runner(spec.slug, grant.team, grant.username, missing),
                )
        for key in sorted(current):
            extra = sorted(current[key] - wanted.get(key, set()))
            if extra:
                plan.leave(f"access to {spec.slug} for {key}: {', '.join(extra)}")

    # -- export ----------------------------------------------------------------------------
    def export(self) -> list[dict]:
        systems = System.objects.select_related("team").prefetch_related(
            "models__features", "models__cohorts", "models__versions", "environments"
        )
        deployments: dict[int, list[Deployment]] = {}
        for d in Deployment.objects.select_related("model_version__model", "environment").order_by(
            "model_version__model__slug", "model_version__created_at", "model_version_id", "environment__slug"
        ):
            deployments.setdefault(d.environment.system_id, []).append(d)
        out = []
        for system in systems.order_by("slug"):
            entry: dict[str, Any] = {
                "slug": system.slug,
                "name": system.name,
                "team": system.team.slug,
                "criticality": system.criticality,
                "weight_profile": system.weight_profile,
                "models": [_export_model(m) for m in sorted(system.models.all(), key=lambda m: m.slug)],
                "environments": [
                    _export_environment(e) for e in sorted(system.environments.all(), key=lambda e: e.slug)
                ],
            }
            if system.id in deployments:
                entry["deployments"] = [
                    FlowMap(
                        model=d.model_version.model.slug,
                        version=d.model_version.version,
                        environment=d.environment.slug,
                        status=d.status,
                    )
                    for d in deployments[system.id]
                ]
            grants = _grants(system)
            exported = {}
            for key in sorted(grants, key=lambda k: (not k.startswith("team "), k)):
                perms = [p for p in access.SYSTEM_PERMISSIONS if p in grants[key]]
                kind, _, name = key.partition(" ")
                if perms and kind in ("team", "user"):
                    exported[name if kind == "team" else f"{USER_PREFIX}{name}"] = Flow(perms)
            if exported:
                entry["access"] = exported
            out.append(entry)
        return out


def _export_model(model: Model) -> dict:
    return {
        "slug": model.slug,
        "task": model.task,
        "positive_label": model.positive_label,
        "features": [
            FlowMap(name=f.name, type=f.type)
            for f in sorted(model.features.all(), key=lambda f: (f.position, f.id))
        ],
        "cohorts": [
            FlowMap(name=c.name, protected=c.protected)
            for c in sorted(model.cohorts.all(), key=lambda c: c.name)
        ],
        "versions": Flow(v.version for v in sorted(model.versions.all(), key=lambda v: (v.created_at, v.id))),
    }


def _export_environment(env: Environment) -> str | dict:
    if env.kind == Environment.kind_for_slug(env.slug) and not env.region:
        return env.slug
    entry = FlowMap(slug=env.slug, kind=env.kind)
    if env.region:
        entry["region"] = env.region
    return entry


def _grants(system: System) -> dict[str, set[str]]:
    """Object permissions held on ``system``: ``{"team risk-ml" | "user alice" | "group X": {codename}}``."""
    grants: dict[str, set[str]] = {}
    teams = dict(Team.objects.values_list("group_id", "slug"))
    for group_id, group_name, codename in SystemGroupObjectPermission.objects.filter(
        content_object=system
    ).values_list("group_id", "group__name", "permission__codename"):
        key = f"team {teams[group_id]}" if group_id in teams else f"group {group_name}"
        grants.setdefault(key, set()).add(codename)
    for username, codename in SystemUserObjectPermission.objects.filter(content_object=system).values_list(
        "user__username", "permission__codename"
    ):
        grants.setdefault(f"user {username}", set()).add(codename)
    return grants


def _grant_runner(system_slug: str, team: str | None, username: str | None, perms: list[str]):
    def run(ctx: ApplyContext) -> None:
        system = _system(system_slug)
        if team:
            access.grant(system, perms, group=Team.objects.get(slug=team).group)
            target = {"team": team}
        else:
            access.grant(system, perms, user=get_user_model().objects.get(username=username))
            target = {"user": username}
        ctx.audit("access.grant", system, after={**target, "permissions": perms})

    return run


SECTION = SystemsSection()
