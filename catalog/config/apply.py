"""``apply_config``: read → validate every section → plan against the database → apply the
plan in one transaction. Any problem stops the run before the first write."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.db import DatabaseError, transaction

from catalog.config import registry
from catalog.config.errors import ConfigError, Problem
from catalog.config.plan import ApplyContext, Plan
from catalog.config.schema import Checker
from catalog.config.source import Node, parse


def read(path: str | Path) -> tuple[Node | None, list[Problem]]:
    filename = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            filename, [Problem("", 0, f"cannot read the file: {exc.strerror or exc}")]
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(filename, [Problem("", 0, f"the file is not UTF-8 text: {exc}")]) from None
    return parse(text, filename)


def validate(document: Node | None, filename: str, problems: Iterable[Problem] = ()) -> dict[str, Any]:
    """Every section's spec, or ConfigError listing every problem found without the database
    (``problems`` are those already found while reading the file)."""
    check = Checker()
    check.problems.extend(problems)
    if document is None:
        if check.problems:
            raise ConfigError(filename, check.problems)
        return {}
    fields = check.mapping(document, optional=registry.section_keys())
    specs: dict[str, Any] = {}
    for section in registry.SECTIONS:
        if fields and section.key in fields:
            specs[section.key] = section.validate(fields[section.key], check)
    if check.problems:
        raise ConfigError(filename, check.problems)
    return specs


def build_plan(specs: dict[str, Any], filename: str) -> Plan:
    """The changes the specs make to the database (read-only); ConfigError on conflicts with
    stored data, e.g. a feature type change that would break stored events."""
    plan = Plan(filename, specs=specs)
    for section in registry.SECTIONS:
        if section.key in specs:
            section.plan(specs[section.key], plan)
    plan.finish()
    if plan.problems:
        raise ConfigError(filename, plan.problems)
    return plan


def apply_file(
    path: str | Path,
    *,
    dry_run: bool = False,
    actor: Any = None,
    on_plan: Callable[[Plan], None] | None = None,
) -> Plan:
    """Apply the config file at ``path``; returns the plan that was applied (or, with
    ``dry_run``, would be). ``on_plan`` sees the plan before anything is written. Each change
    writes an audit record with source ``config`` and the reason ``apply_config PATH``."""
    filename = str(path)
    document, problems = read(path)
    specs = validate(document, filename, problems)
    try:
        with transaction.atomic():
            plan = build_plan(specs, filename)
            if on_plan is not None:
                on_plan(plan)
            if not dry_run:
                plan.apply(ApplyContext(reason=f"apply_config {filename}", actor=actor))
    except DatabaseError as exc:
        message = f"the database refused a change, so nothing was applied (run it again): {exc}"
        raise ConfigError(filename, [Problem("", 0, message)]) from exc
    return plan


def render(plan: Plan) -> list[str]:
    """The plan as lines for a terminal."""
    if plan.is_empty:
        lines = [f"No changes: the database already matches {plan.filename}."]
    else:
        count = len(plan.changes)
        lines = [f"Plan for {plan.filename}: {count} change{'s' if count != 1 else ''}"]
        lines += [f"  {line}" for line in plan.lines()]
    lines += [f"not in file, left as is: {what}" for what in plan.left_as_is]
    return lines
