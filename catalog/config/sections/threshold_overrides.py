"""``threshold_overrides:`` — per system, environment or deployment thresholds of a metric::

    threshold_overrides:
      - {metric: latency_p95_ms, system: credit-risk, critical_threshold: 1500.0}
      - {metric: error_rate, system: credit-risk, environment: prod, warn_threshold: 0.02, for_windows: 3}
      - metric: latency_p99_ms
        system: credit-risk
        deployment: {model: scorer, version: 2.3.1, environment: prod}
        critical_threshold: 2500.0

The scope is the most specific target given (deployment, else environment, else system). An
entry states the whole override: ``warn_threshold``, ``critical_threshold`` and
``for_windows`` that are left out (or null) inherit from the next level, and an entry with none
of them clears the override. Only an entry that differs from the current override creates a
new override version (audited); overrides not in the file are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from catalog import services
from catalog.config.errors import ConfigError, Problem
from catalog.config.plan import ApplyContext, Plan, show
from catalog.config.schema import Checker
from catalog.config.sections.metrics import integer, number
from catalog.config.source import Node
from catalog.config.yamlstyle import FlowMap
from catalog.models import Deployment, Environment, MetricDefinition, System, ThresholdOverride
from healthboard.models import AuditRecord

FIELDS = ("warn_threshold", "critical_threshold", "for_windows")


@dataclass
class OverrideSpec:
    metric: str
    system: str
    environment: str | None
    deployment: tuple[str, str, str] | None  # (model, version, environment)
    values: dict
    node: Node
    nodes: dict

    @property
    def scope(self) -> str:
        if self.deployment:
            return "deployment"
        return "environment" if self.environment else "system"

    @property
    def label(self) -> str:
        if self.deployment:
            model, version, env = self.deployment
            return f"{self.metric} @ deployment {self.system}/{model} {version} @ {env}"
        if self.environment:
            return f"{self.metric} @ environment {self.system}/{self.environment}"
        return f"{self.metric} @ system {self.system}"

    @property
    def identity(self) -> tuple:
        return (self.metric, self.system, self.environment, self.deployment)


def _target(spec: OverrideSpec):
    """The scope's object, looked up when the change runs (after systems were applied)."""
    if spec.deployment:
        model, version, env = spec.deployment
        return Deployment.objects.select_related("environment__system").get(
            model_version__model__system__slug=spec.system,
            model_version__model__slug=model,
            model_version__version=version,
            environment__slug=env,
        )
    if spec.environment:
        return Environment.objects.select_related("system").get(
            system__slug=spec.system, slug=spec.environment
        )
    return System.objects.get(slug=spec.system)


def _deployment_in_file(plan: Plan, system: str, key: tuple[str, str, str]) -> bool:
    for system_spec in plan.specs.get("systems") or []:
        if system_spec.slug == system:
            return any((d.model, d.version, d.environment) == key for d in system_spec.deployments)
    return False


class ThresholdOverridesSection:
    key = "threshold_overrides"

    def validate(self, node: Node, check: Checker) -> list[OverrideSpec]:
        specs = []
        for item in check.sequence(node) or []:
            fields = check.mapping(
                item, required=("metric", "system"), optional=("environment", "deployment", *FIELDS)
            )
            if fields is None:
                continue
            metric = check.slug(fields["metric"])
            system = check.slug(fields["system"])
            environment = check.slug(fields["environment"]) if "environment" in fields else None
            ok = None not in (metric, system) and ("environment" not in fields or environment is not None)
            deployment = None
            if "deployment" in fields:
                parts = check.mapping(fields["deployment"], required=("model", "version", "environment"))
                if parts is None:
                    ok = False
                else:
                    deployment = (
                        check.slug(parts["model"]),
                        check.version(parts["version"]),
                        check.slug(parts["environment"]),
                    )
                    ok = ok and None not in deployment
                    if environment and deployment[2] and environment != deployment[2]:
                        check.error(fields["environment"], "differs from the deployment's environment")
                        ok = False
            values = dict.fromkeys(FIELDS)
            for name in ("warn_threshold", "critical_threshold"):
                if name in fields:
                    valid, values[name] = number(check, fields[name])
                    ok = ok and valid
            if "for_windows" in fields and fields["for_windows"].value is not None:
                valid, values["for_windows"] = integer(check, fields["for_windows"], minimum=1)
                ok = ok and valid
            if ok:
                specs.append(
                    OverrideSpec(
                        metric, system, None if deployment else environment, deployment, values, item, fields
                    )
                )
        check.unique(((s.identity, s.node) for s in specs), "override")
        return specs

    def plan(self, specs: list[OverrideSpec], plan: Plan) -> None:
        current = {
            o.pk: o
            for o in ThresholdOverride.objects.filter(is_current=True).select_related(
                "definition",
                "system",
                "environment",
                "deployment__model_version__model",
                "deployment__environment",
            )
        }
        named: set[int] = set()
        for spec in specs:
            if not self._references_exist(spec, plan):
                continue
            existing = self._existing(spec)
            override = None
            if existing is not None:
                override = ThresholdOverride.objects.filter(
                    definition__key=spec.metric,
                    scope_key=ThresholdOverride.key_for(spec.scope, existing.pk),
                    is_current=True,
                ).first()
            if override is not None:
                named.add(override.pk)
            before = override.content() if override else dict.fromkeys(FIELDS)
            if before == spec.values:
                continue
            if existing is not None and MetricDefinition.objects.filter(key=spec.metric).exists():
                try:
                    services.validate_override_content(
                        MetricDefinition.objects.get(key=spec.metric), spec.scope, existing, spec.values
                    )
                except ValidationError as exc:
                    for key, messages in exc.message_dict.items():
                        node = spec.nodes.get(key, spec.node)
                        for message in messages:
                            plan.error(node, message)
                    continue

            base_number = override.number if override else None

            def run(ctx: ApplyContext, spec=spec, base=base_number) -> None:
                try:
                    services.set_threshold_override(
                        spec.metric,
                        scope=spec.scope,
                        target=_target(spec),
                        reason=ctx.reason,
                        actor=ctx.actor,
                        source=AuditRecord.Source.CONFIG,
                        base_number=base,
                        **spec.values,
                    )
                except ValidationError as exc:
                    raise ConfigError(
                        plan.filename, [Problem(spec.node.path, spec.node.line, " ".join(exc.messages))]
                    ) from None

            detail = ", ".join(
                f"{k} {show(before[k])} → {show(spec.values[k])}"
                for k in FIELDS
                if before[k] != spec.values[k]
            )
            verb = "create" if override is None else "update"
            plan.add(f"threshold_override.{verb}", f"threshold override {spec.label}", detail, run)
        for pk, override in sorted(current.items()):
            if pk not in named and not override.is_cleared:
                plan.leave(f"threshold override {override}")

    @staticmethod
    def _existing(spec: OverrideSpec):
        try:
            return _target(spec)
        except (System.DoesNotExist, Environment.DoesNotExist, Deployment.DoesNotExist):
            return None

    @staticmethod
    def _references_exist(spec: OverrideSpec, plan: Plan) -> bool:
        ok = True
        if not (
            plan.is_declared("metric", spec.metric)
            or MetricDefinition.objects.filter(key=spec.metric).exists()
        ):
            plan.error(
                spec.nodes["metric"], f"no metric {spec.metric!r} (in the catalog or the file's metrics)"
            )
            ok = False
        if not (plan.is_declared("system", spec.system) or System.objects.filter(slug=spec.system).exists()):
            plan.error(spec.nodes["system"], f"no system {spec.system!r} (in the file or the database)")
            return False
        if spec.environment and not (
            plan.is_declared("environment", (spec.system, spec.environment))
            or Environment.objects.filter(system__slug=spec.system, slug=spec.environment).exists()
        ):
            plan.error(
                spec.nodes["environment"], f"system {spec.system} has no environment {spec.environment!r}"
            )
            ok = False
        if spec.deployment and not (
            _deployment_in_file(plan, spec.system, spec.deployment)
            or ThresholdOverridesSection._existing(spec) is not None
        ):
            model, version, env = spec.deployment
            plan.error(
                spec.nodes["deployment"],
                f"system {spec.system} has no deployment of {model} {version} @ {env}",
            )
            ok = False
        return ok

    def export(self) -> list[dict]:
        out = []
        overrides = ThresholdOverride.objects.filter(is_current=True).select_related(
            "definition",
            "system",
            "environment",
            "deployment__model_version__model",
            "deployment__environment",
        )
        rows = []
        for o in overrides:
            if o.is_cleared:
                continue
            entry = FlowMap(metric=o.definition.key, system=o.system.slug)
            if o.scope == ThresholdOverride.Scope.ENVIRONMENT:
                entry["environment"] = o.environment.slug
            elif o.scope == ThresholdOverride.Scope.DEPLOYMENT:
                entry["deployment"] = FlowMap(
                    model=o.deployment.model_version.model.slug,
                    version=o.deployment.model_version.version,
                    environment=o.deployment.environment.slug,
                )
            for name in FIELDS:
                if getattr(o, name) is not None:
                    entry[name] = getattr(o, name)
            sort_key = (
                o.definition.key,
                o.system.slug,
                ["system", "environment", "deployment"].index(o.scope),
                str(entry),
            )
            rows.append((sort_key, entry))
        out = [entry for _key, entry in sorted(rows, key=lambda r: r[0])]
        return out


SECTION = ThresholdOverridesSection()
