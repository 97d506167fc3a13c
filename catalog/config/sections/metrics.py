"""``metrics:`` — metric definitions of the versioned catalog (DESIGN.md §4).

Each entry names a metric by ``key`` and gives any content fields of its version::

    metrics:
      - key: latency_p95_ms
        warn_threshold: 500.0
        critical_threshold: 1500.0
        playbook: |
          1. …

A key left out of an entry keeps the current version's value (``null`` is a value: no
threshold). Only an entry whose content differs from the current version creates a new
version (through ``catalog.services``, audited with the file as the reason); an identical
entry changes nothing. A new key creates the definition and its version 1, and then needs at
least ``name``, ``pillar``, ``calculator``, ``data_source`` and ``direction``. Metrics are
never deleted. Config files apply directly, without the four-eyes step of the UI and API:
the review of the file is the second pair of eyes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from catalog import services
from catalog.config.errors import ConfigError, Problem
from catalog.config.plan import ApplyContext, Plan, show
from catalog.config.schema import Checker
from catalog.config.source import Node
from catalog.config.yamlstyle import FlowMap
from catalog.models import MetricVersion
from healthboard.models import AuditRecord

CONTENT = MetricVersion.CONTENT_FIELDS
REQUIRED_FOR_NEW = ("name", "pillar", "calculator", "data_source", "direction")
DEFAULTS = {
    "description": "",
    "params": {},
    "unit": "",
    "window": MetricVersion.Window.ONE_HOUR.value,
    "min_samples": 100,
    "warn_threshold": None,
    "critical_threshold": None,
    "for_windows": 1,
    "sensitive": False,
    "playbook": "",
    "owner": "",
}
LONG_TEXT = ("description", "playbook")


class Literal(str):
    """A multi-line string written as a YAML literal block (``|``)."""


def _literal(dumper, data: Literal):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style=style)


def _register_literal() -> None:
    from catalog.config import yamlstyle

    yamlstyle._Dumper.add_representer(Literal, _literal)


_register_literal()


def _max_length(name: str) -> int:
    return MetricVersion._meta.get_field(name).max_length


# -- reading values ---------------------------------------------------------------------------
def plain(node: Node) -> Any:
    """A node's value as plain data (for ``params``)."""
    if node.is_mapping:
        return {key: plain(child) for key, child in node.value.items()}
    if node.is_sequence:
        return [plain(child) for child in node.value]
    return node.value


def number(check: Checker, node: Node, *, allow_null: bool = True) -> tuple[bool, float | None]:
    """(ok, value): a finite number, or null when allowed."""
    value = node.value
    if value is None and allow_null:
        return True, None
    if isinstance(value, bool) or not isinstance(value, int | float):
        check.error(node, f"must be a number{' or null' if allow_null else ''}")
        return False, None
    if value != value or value in (float("inf"), float("-inf")):
        check.error(node, "must be a finite number")
        return False, None
    return True, float(value)


def integer(check: Checker, node: Node, *, minimum: int) -> tuple[bool, int | None]:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int):
        check.error(node, "must be a whole number")
        return False, None
    if value < minimum:
        check.error(node, f"must be at least {minimum}")
        return False, None
    return True, value


@dataclass
class MetricSpec:
    key: str
    values: dict[str, Any]
    node: Node
    nodes: dict[str, Node] = field(default_factory=dict)


def _read_field(name: str, node: Node, check: Checker) -> tuple[bool, Any]:
    if name in ("name", "calculator", "data_source"):
        value = check.string(node, max_length=_max_length(name))
    elif name in ("unit", "owner"):
        value = check.string(node, max_length=_max_length(name), allow_empty=True)
    elif name in LONG_TEXT:
        value = check.string(node, max_length=100_000, allow_empty=True)
    elif name == "pillar":
        value = check.choice(node, MetricVersion.Pillar.values)
    elif name == "direction":
        value = check.choice(node, MetricVersion.Direction.values)
    elif name == "window":
        value = check.choice(node, MetricVersion.Window.values)
    elif name == "sensitive":
        value = check.boolean(node)
    elif name == "params":
        if not node.is_mapping:
            check.error(node, "must be a mapping")
            return False, None
        return True, plain(node)
    elif name in ("warn_threshold", "critical_threshold"):
        return number(check, node)
    elif name == "min_samples":
        return integer(check, node, minimum=0)
    else:  # for_windows
        return integer(check, node, minimum=1)
    return value is not None, value


def _problems(exc: ValidationError, spec_node: Node, nodes: dict[str, Node]) -> list[Problem]:
    problems = []
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
    for name, messages in errors.items():
        node = nodes.get(name, spec_node)
        for message in messages:
            problems.append(Problem(node.path, node.line, message))
    return problems


def _short(name: str, value: Any) -> str:
    if name in LONG_TEXT:
        return "(text)"
    return show(value)


class MetricsSection:
    key = "metrics"

    def validate(self, node: Node, check: Checker) -> list[MetricSpec]:
        specs = []
        for item in check.sequence(node) or []:
            fields = check.mapping(item, required=("key",), optional=CONTENT)
            if fields is None:
                continue
            key = check.slug(fields["key"])
            spec = MetricSpec(key=key, values={}, node=item, nodes=fields)
            ok = key is not None
            for name in CONTENT:
                if name in fields:
                    valid, value = _read_field(name, fields[name], check)
                    ok = ok and valid
                    spec.values[name] = value
            if ok:
                specs.append(spec)
        check.unique(((s.key, s.node) for s in specs), "metric key")
        return specs

    def plan(self, specs: list[MetricSpec], plan: Plan) -> None:
        current = {
            v.definition.key: v
            for v in MetricVersion.objects.filter(is_current=True).select_related("definition")
        }
        for spec in specs:
            plan.declare("metric", spec.key)
            version = current.get(spec.key)
            if version is None:
                self._plan_create(spec, plan)
            else:
                self._plan_version(spec, version, plan)

    def _plan_create(self, spec: MetricSpec, plan: Plan) -> None:
        missing = [name for name in REQUIRED_FOR_NEW if name not in spec.values]
        if missing:
            plan.error(spec.node, f"new metric {spec.key!r} needs {', '.join(missing)}")
            return
        content = {**DEFAULTS, **spec.values}
        try:
            content = services.validate_metric_content(content)
        except ValidationError as exc:
            plan.problems.extend(_problems(exc, spec.node, spec.nodes))
            return

        def run(ctx: ApplyContext, key=spec.key, content=content) -> None:
            services.create_metric_definition(
                key, content, reason=ctx.reason, actor=ctx.actor, source=AuditRecord.Source.CONFIG
            )

        shown = ", ".join(
            f"{k}={_short(k, content[k])}" for k in ("pillar", "warn_threshold", "critical_threshold")
        )
        plan.add("metric.create", f"metric {spec.key}", shown, run)

    def _plan_version(self, spec: MetricSpec, version: MetricVersion, plan: Plan) -> None:
        before = version.content()
        try:
            after = services.validate_metric_content({**before, **spec.values})
        except ValidationError as exc:
            plan.problems.extend(_problems(exc, spec.node, spec.nodes))
            return
        changed = {name: (before[name], after[name]) for name in CONTENT if before[name] != after[name]}
        if not changed:
            return

        def run(ctx: ApplyContext, key=spec.key, number=version.number, spec=spec) -> None:
            try:
                services.create_metric_version(
                    key,
                    {name: after[name] for name in changed},
                    reason=ctx.reason,
                    actor=ctx.actor,
                    source=AuditRecord.Source.CONFIG,
                    base_number=number,
                )
            except ValidationError as exc:
                raise ConfigError(plan.filename, _problems(exc, spec.node, spec.nodes)) from None

        detail = ", ".join(f"{k} {_short(k, old)} → {_short(k, new)}" for k, (old, new) in changed.items())
        plan.add("metric.update", f"metric {spec.key} v{version.number} → v{version.number + 1}", detail, run)

    def export(self) -> list[dict]:
        out = []
        for version in (
            MetricVersion.objects.filter(is_current=True)
            .select_related("definition")
            .order_by("definition__key")
        ):
            entry: dict[str, Any] = {"key": version.definition.key}
            for name in CONTENT:
                value = getattr(version, name)
                if name in LONG_TEXT:
                    value = Literal(value)
                elif name == "params":
                    value = FlowMap(sorted(value.items()))
                entry[name] = value
            out.append(entry)
        return out


SECTION = MetricsSection()
