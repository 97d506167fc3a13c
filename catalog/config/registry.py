"""The top-level sections of a config file, in the order they are applied and exported.

A section is a module-level object with:

- ``key``: its top-level key in the file (``systems``);
- ``validate(node, check) -> spec``: read the section's node with the ``Checker``, recording
  problems with their key path and line; no database access;
- ``plan(spec, plan)``: compare the spec with the database and add ``Change`` objects (and
  ``plan.leave(...)`` notes, ``plan.error(...)`` problems that need the database); no writes;
- ``export() -> data | None``: the section as plain data (dicts, lists, scalars) in the
  shape ``validate`` reads, deterministically ordered; ``None`` leaves it out of the file.

Adding a section (e.g. ``metrics``, ``threshold_overrides``, ``weight_profiles``) is one new
module under ``catalog/config/sections/`` and one line in ``SECTIONS`` below. Sections are
planned in this order, so a later section can rely on what an earlier one ``declare``d.
"""

from __future__ import annotations

from typing import Any, Protocol

from catalog.config.plan import Plan
from catalog.config.schema import Checker
from catalog.config.sections import metrics, systems, teams, threshold_overrides, weight_profiles
from catalog.config.source import Node


class Section(Protocol):
    key: str

    def validate(self, node: Node, check: Checker) -> Any: ...

    def plan(self, spec: Any, plan: Plan) -> None: ...

    def export(self) -> Any: ...


SECTIONS: tuple[Section, ...] = (
    teams.SECTION,
    metrics.SECTION,
    weight_profiles.SECTION,
    systems.SECTION,
    threshold_overrides.SECTION,
)


def section_keys() -> list[str]:
    return [section.key for section in SECTIONS]
