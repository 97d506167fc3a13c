"""``teams:`` — the teams that own systems: ``[{slug, name}]``.

The section is optional: a team named by a system (``team:``) or an access grant that does
not exist yet is created with a name made from its slug (``ensure_team``).
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.config.plan import Plan, plan_create, plan_update
from catalog.config.schema import Checker
from catalog.config.source import Node
from catalog.config.yamlstyle import FlowMap
from catalog.models import Team

NAME_MAX = Team._meta.get_field("name").max_length


@dataclass
class TeamSpec:
    slug: str
    name: str
    node: Node


def default_name(slug: str) -> str:
    return slug.replace("-", " ").replace("_", " ").title()


def ensure_team(plan: Plan, slug: str) -> None:
    """Make sure team ``slug`` exists after the apply: plan its creation when it is neither in
    the database nor declared by the file."""
    if plan.is_declared("team", slug):
        return
    plan.declare("team", slug)
    if not Team.objects.filter(slug=slug).exists():
        _plan_create(plan, slug, default_name(slug))


def _plan_create(plan: Plan, slug: str, name: str) -> None:
    plan_create(
        plan, "team", f"team {slug}", {"name": name}, lambda: Team.objects.create(slug=slug, name=name)
    )


class TeamsSection:
    key = "teams"

    def validate(self, node: Node, check: Checker) -> list[TeamSpec]:
        items = check.sequence(node) or []
        specs: list[TeamSpec] = []
        for item in items:
            fields = check.mapping(item, required=("slug", "name"))
            if fields is None:
                continue
            slug = check.slug(fields["slug"])
            name = check.string(fields["name"], max_length=NAME_MAX)
            if slug is not None and name is not None:
                specs.append(TeamSpec(slug, name, item))
        check.unique(((spec.slug, spec.node) for spec in specs), "team slug")
        return specs

    def plan(self, specs: list[TeamSpec], plan: Plan) -> None:
        existing = {team.slug: team for team in Team.objects.all()}
        for spec in specs:
            plan.declare("team", spec.slug)
            team = existing.get(spec.slug)
            if team is None:
                _plan_create(plan, spec.slug, spec.name)
            else:
                plan_update(
                    plan,
                    "team",
                    f"team {spec.slug}",
                    {"name": (team.name, spec.name)} if team.name != spec.name else {},
                    lambda slug=spec.slug: Team.objects.get(slug=slug),
                )

        def leave_unnamed() -> None:
            for slug in sorted(existing):
                if not plan.is_declared("team", slug):
                    plan.leave(f"team {slug}")

        plan.defer(leave_unnamed)

    def export(self) -> list[dict] | None:
        return [FlowMap(slug=team.slug, name=team.name) for team in Team.objects.order_by("slug")]


SECTION = TeamsSection()
