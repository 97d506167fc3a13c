"""A plan is the list of changes a config file makes, computed before anything is written.

Sections add ``Change`` objects while reading the database; nothing is written until every
section has planned without problems. Each change then runs inside the one transaction of
the apply and writes its own audit record through ``ApplyContext.audit``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from catalog.config.errors import Problem
from catalog.config.source import Node
from healthboard.audit import record_change, snapshot
from healthboard.models import AuditRecord

_SYMBOLS = {"create": "+", "update": "~", "grant": "+"}


def show(value: Any) -> str:
    """A value as it would be written in YAML-ish form, for plan lines."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return repr(value)
    return str(value)


def describe_fields(values: dict[str, Any]) -> str:
    return ", ".join(f"{key}={show(value)}" for key, value in values.items())


def describe_diff(diff: dict[str, tuple[Any, Any]]) -> str:
    return ", ".join(f"{key} {show(old)} → {show(new)}" for key, (old, new) in diff.items())


@dataclass
class ApplyContext:
    """What a change needs while it runs: who and why, for the audit record."""

    reason: str
    actor: Any = None

    def audit(
        self, action: str, obj: models.Model, *, before: dict | None = None, after: dict | None = None
    ) -> None:
        record_change(
            action=action,
            obj=obj,
            before=before,
            after=after,
            reason=self.reason,
            source=AuditRecord.Source.CONFIG,
            actor=self.actor,
        )


@dataclass
class Change:
    """One write: ``action`` is ``<object>.<verb>`` (``system.create``), ``target`` names the
    object (``system credit-risk``), ``detail`` says what changes. ``run`` performs the write
    and its audit record."""

    action: str
    target: str
    detail: str
    run: Callable[[ApplyContext], None] = field(repr=False, compare=False)

    @property
    def verb(self) -> str:
        return self.action.rsplit(".", 1)[-1]

    def describe(self) -> str:
        symbol = _SYMBOLS.get(self.verb, "*")
        text = f"{symbol} {self.verb} {self.target}"
        return f"{text}: {self.detail}" if self.detail else text


@dataclass
class Plan:
    """Everything one apply would do. ``specs`` holds every section's validated content, so
    a section can look at what another declares (e.g. overrides naming systems)."""

    filename: str
    specs: dict[str, Any] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    left_as_is: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    _declared: set[tuple[str, Hashable]] = field(default_factory=set)
    _deferred: list[Callable[[], None]] = field(default_factory=list)

    # -- building ---------------------------------------------------------------------------
    def add(self, action: str, target: str, detail: str, run: Callable[[ApplyContext], None]) -> None:
        self.changes.append(Change(action, target, detail, run))

    def leave(self, what: str) -> None:
        """Note an object that exists but is not in the file: apply never deletes."""
        self.left_as_is.append(what)

    def error(self, node: Node, message: str, *, line: int | None = None) -> None:
        self.problems.append(Problem(node.path, line if line is not None else node.line, message))

    def declare(self, kind: str, key: Hashable) -> None:
        """Record that the file names this object, so it exists once the plan is applied.
        Kinds used by the built-in sections: ``team`` (slug), ``system`` (slug),
        ``environment`` and ``model`` ((system, slug)), ``model_version`` ((system, model, version))."""
        self._declared.add((kind, key))

    def is_declared(self, kind: str, key: Hashable) -> bool:
        return (kind, key) in self._declared

    def defer(self, step: Callable[[], None]) -> None:
        """Run ``step`` once every section has planned (e.g. to list what the whole file
        leaves out, when later sections may still name an object)."""
        self._deferred.append(step)

    def finish(self) -> None:
        while self._deferred:
            self._deferred.pop(0)()

    # -- reading ----------------------------------------------------------------------------
    @property
    def is_empty(self) -> bool:
        return not self.changes

    def lines(self) -> list[str]:
        return [change.describe() for change in self.changes]

    def apply(self, context: ApplyContext) -> None:
        """Run every change in order; the caller holds the transaction."""
        for change in self.changes:
            change.run(context)


def plan_create(
    plan: Plan, kind: str, target: str, shown: dict[str, Any], build: Callable[[], models.Model]
) -> None:
    """Plan ``<kind>.create``: ``build`` makes and saves the object when the plan runs."""

    def run(ctx: ApplyContext) -> None:
        obj = build()
        ctx.audit(f"{kind}.create", obj, after=snapshot(obj))

    plan.add(f"{kind}.create", target, describe_fields(shown), run)


def plan_update(
    plan: Plan,
    kind: str,
    target: str,
    diff: dict[str, tuple[Any, Any]],
    load: Callable[[], models.Model],
    resolve: dict[str, Callable[[], Any]] | None = None,
    after: Callable[[models.Model, ApplyContext], None] | None = None,
) -> None:
    """Plan ``<kind>.update`` of the fields in ``diff`` (``{field: (old, new)}``) on the object
    ``load`` fetches. ``resolve`` turns a shown value into the stored one at apply time (a
    team slug into the team, once the team exists); ``after(obj, ctx)`` runs once it is saved."""
    if not diff:
        return
    resolve = resolve or {}

    def run(ctx: ApplyContext) -> None:
        obj = load()
        before = snapshot(obj)
        for name, (_old, new) in diff.items():
            setattr(obj, name, resolve[name]() if name in resolve else new)
        obj.save(update_fields=list(diff))
        ctx.audit(f"{kind}.update", obj, before=before, after=snapshot(obj))
        if after is not None:
            after(obj, ctx)

    plan.add(f"{kind}.update", target, describe_diff(diff), run)
