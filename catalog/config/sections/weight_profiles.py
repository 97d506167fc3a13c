"""``weight_profiles:`` — versioned weight profiles (DESIGN.md §5)::

    weight_profiles:
      - name: high-stakes
        description: Fairness-heavy, for decisions about people.
        pillar_weights: {performance: 0.3, fairness: 0.4, reliability: 0.1, data_quality: 0.2}
        metric_weights: {disparate_impact_ratio: 3.0}

Keys left out keep the current version's value; a new profile needs ``pillar_weights`` with
every pillar. Only a change of content creates a new version (audited); profiles are never
deleted. Systems must name a profile that exists or that the file declares
(``check_system_profile``, called where the ``systems`` section writes a system).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from catalog import services
from catalog.config.errors import ConfigError, Problem
from catalog.config.plan import ApplyContext, Plan, show
from catalog.config.schema import Checker
from catalog.config.sections.metrics import number
from catalog.config.source import Node
from catalog.config.yamlstyle import FlowMap
from catalog.models import MetricDefinition, WeightProfile, WeightProfileVersion
from healthboard.models import AuditRecord

NAME_MAX = WeightProfile._meta.get_field("name").max_length


@dataclass
class ProfileSpec:
    name: str
    values: dict[str, Any]
    node: Node
    nodes: dict[str, Node] = field(default_factory=dict)


def _weights(check: Checker, node: Node, what: str) -> dict[str, float] | None:
    if not node.is_mapping:
        return check.error(node, f"must be a mapping of {what} to weight")
    out = {}
    ok = True
    for key, child in node.value.items():
        valid, value = number(check, child, allow_null=False)
        if valid and value < 0:
            check.error(child, "must be ≥ 0")
            valid = False
        ok = ok and valid
        out[key] = value
    return out if ok else None


def check_system_profile(plan: Plan, node: Node, name: str | None) -> None:
    """A system written by the file must name an existing or declared weight profile."""
    if name is None or plan.is_declared("weight_profile", name):
        return
    if not WeightProfile.objects.filter(name=name, versions__is_current=True).exists():
        known = ", ".join(services.weight_profile_names())
        plan.error(
            node, f"no weight profile named {name!r} (known: {known}; or add it under weight_profiles)"
        )


class WeightProfilesSection:
    key = "weight_profiles"

    def validate(self, node: Node, check: Checker) -> list[ProfileSpec]:
        specs = []
        for item in check.sequence(node) or []:
            fields = check.mapping(
                item, required=("name",), optional=("description", "pillar_weights", "metric_weights")
            )
            if fields is None:
                continue
            name = check.slug(fields["name"], max_length=NAME_MAX)
            spec = ProfileSpec(name=name, values={}, node=item, nodes=fields)
            ok = name is not None
            if "description" in fields:
                spec.values["description"] = check.string(
                    fields["description"], max_length=10_000, allow_empty=True
                )
                ok = ok and spec.values["description"] is not None
            for key, what in (("pillar_weights", "pillar"), ("metric_weights", "metric key")):
                if key in fields:
                    spec.values[key] = _weights(check, fields[key], what)
                    ok = ok and spec.values[key] is not None
            if ok:
                specs.append(spec)
        check.unique(((s.name, s.node) for s in specs), "weight profile")
        return specs

    def plan(self, specs: list[ProfileSpec], plan: Plan) -> None:
        current = {
            v.profile.name: v
            for v in WeightProfileVersion.objects.filter(is_current=True).select_related("profile")
        }
        known_metrics = set(MetricDefinition.objects.values_list("key", flat=True))
        for spec in specs:
            plan.declare("weight_profile", spec.name)
            version = current.get(spec.name)
            before = version.content() if version else {}
            if version is None and "pillar_weights" not in spec.values:
                plan.error(spec.node, f"new weight profile {spec.name!r} needs pillar_weights")
                continue
            merged = {"description": "", "metric_weights": {}, **before, **spec.values}
            unknown = [
                key
                for key in merged["metric_weights"]
                if key not in known_metrics and not plan.is_declared("metric", key)
            ]
            if unknown:
                node = spec.nodes.get("metric_weights", spec.node)
                plan.error(node, f"unknown metric {unknown[0]!r} (not in the catalog or the file's metrics)")
                continue
            try:
                after = services.validate_weights(
                    {
                        **merged,
                        "metric_weights": {
                            k: v for k, v in merged["metric_weights"].items() if k in known_metrics
                        },
                    }
                )
            except ValidationError as exc:
                for key, messages in exc.message_dict.items():
                    node = spec.nodes.get(key, spec.node)
                    for message in messages:
                        plan.error(node, message)
                continue
            after["metric_weights"] = dict(sorted(merged["metric_weights"].items()))
            changed = {k: (before.get(k), after[k]) for k in after if before.get(k) != after[k]}
            if not changed:
                continue

            base_number = version.number if version else None

            def run(
                ctx: ApplyContext,
                spec=spec,
                after=after,
                create=version is None,
                base=base_number,
            ):
                try:
                    services.create_weight_profile_version(
                        spec.name,
                        after,
                        reason=ctx.reason,
                        actor=ctx.actor,
                        source=AuditRecord.Source.CONFIG,
                        create=create,
                        base_number=base,
                    )
                except ValidationError as exc:
                    raise ConfigError(
                        plan.filename, [Problem(spec.node.path, spec.node.line, " ".join(exc.messages))]
                    ) from None

            if version is None:
                plan.add("weight_profile.create", f"weight profile {spec.name}", _describe(after), run)
            else:
                detail = ", ".join(f"{k} {_flat(old)} → {_flat(new)}" for k, (old, new) in changed.items())
                plan.add(
                    "weight_profile.update",
                    f"weight profile {spec.name} v{version.number} → v{version.number + 1}",
                    detail,
                    run,
                )

        def leave_unnamed() -> None:
            for name in sorted(current):
                if not plan.is_declared("weight_profile", name):
                    plan.leave(f"weight profile {name}")

        plan.defer(leave_unnamed)

    def export(self) -> list[dict]:
        out = []
        for version in (
            WeightProfileVersion.objects.filter(is_current=True)
            .select_related("profile")
            .order_by("profile__name")
        ):
            out.append(
                {
                    "name": version.profile.name,
                    "description": version.description,
                    "pillar_weights": FlowMap(version.pillar_weights),
                    "metric_weights": dict(sorted(version.metric_weights.items())),
                }
            )
        return out


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{k}: {v:g}" if isinstance(v, float) else f"{k}: {v}" for k, v in value.items())
            + "}"
        )
    return show(value)


def _describe(content: dict) -> str:
    return f"pillar_weights={_flat(content['pillar_weights'])}"


SECTION = WeightProfilesSection()
