"""Validation helpers that read nodes and record problems with their key path and line.

Each reader returns the checked value, or ``None`` after recording a problem, so one pass
over the file reports every mistake at once instead of stopping at the first.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Hashable, Iterable
from typing import Any

from catalog.config.errors import Problem
from catalog.config.source import Node, child_path

SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+$")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""An optional key that is absent (``None`` is a value: YAML's null)."""


def describe(value: Any) -> str:
    """The YAML-ish kind of a constructed value, for messages."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, dt.date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    return type(value).__name__


def _node_kind(node: Node) -> str:
    return describe(node.value)


class Checker:
    """Collects problems while sections read their part of the file."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    # -- recording ----------------------------------------------------------------------
    def error(self, node: Node | None, message: str, *, path: str | None = None, line: int | None = None):
        self.problems.append(
            Problem(
                path if path is not None else (node.path if node else ""),
                line if line is not None else (node.line if node else 0),
                message,
            )
        )
        return None

    # -- containers -----------------------------------------------------------------------
    def mapping(
        self, node: Node, *, required: Iterable[str] = (), optional: Iterable[str] = ()
    ) -> dict[str, Node] | None:
        """The node's known keys. Unknown keys are recorded as problems (and dropped, so the
        known ones are still checked); a missing required key, or a node that is not a
        mapping, gives None."""
        if not node.is_mapping:
            return self.error(node, f"must be a mapping, not {_node_kind(node)}")
        required, optional = list(required), list(optional)
        allowed = [*required, *optional]
        ok = True
        for key, child in node.value.items():
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                self.error(
                    child,
                    f"unknown key {key!r} (allowed: {', '.join(allowed)}){suggestion}",
                    line=child.key_line,
                )
        for key in required:
            if key not in node.value:
                ok = False
                self.error(node, f"missing required key {key!r}", path=child_path(node.path, key))
        return {key: child for key, child in node.value.items() if key in allowed} if ok else None

    def sequence(self, node: Node) -> list[Node] | None:
        if not node.is_sequence:
            return self.error(node, f"must be a list, not {_node_kind(node)}")
        return node.value

    # -- scalars --------------------------------------------------------------------------
    def string(
        self, node: Node, *, max_length: int, slug: bool = False, allow_empty: bool = False
    ) -> str | None:
        value = node.value
        if not isinstance(value, str):
            return self.error(node, f"must be a string, not {_node_kind(node)}")
        if not value and not allow_empty:
            return self.error(node, "must not be empty")
        if len(value) > max_length:
            return self.error(node, f"is longer than {max_length} characters")
        if slug and not SLUG_RE.match(value):
            return self.error(node, f"{value!r} is not a slug (letters, digits, '-' and '_' only)")
        return value

    def slug(self, node: Node, *, max_length: int = 64) -> str | None:
        return self.string(node, max_length=max_length, slug=True)

    def choice(self, node: Node, choices: Iterable[str]) -> str | None:
        choices = list(choices)
        if not isinstance(node.value, str):
            return self.error(node, f"must be one of: {', '.join(choices)}; not {_node_kind(node)}")
        if node.value not in choices:
            hint = difflib.get_close_matches(node.value, choices, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            return self.error(node, f"{node.value!r} is not one of: {', '.join(choices)}{suggestion}")
        return node.value

    def boolean(self, node: Node) -> bool | None:
        if not isinstance(node.value, bool):
            return self.error(node, f"must be true or false, not {_node_kind(node)}")
        return node.value

    def label(self, node: Node) -> Any:
        """A JSON scalar (string, integer, number, boolean or null), e.g. a positive label."""
        if node.is_mapping or node.is_sequence or not isinstance(node.value, str | int | float | bool | None):
            return self.error(node, f"must be a string, number, boolean or null, not {_node_kind(node)}")
        if isinstance(node.value, float) and node.value != node.value:
            return self.error(node, "must not be NaN")
        return node.value

    def version(self, node: Node, *, max_length: int = 64) -> str | None:
        """A version label taken as written, so ``2.0`` stays "2.0" and is not the number 2.0."""
        if node.is_mapping or node.is_sequence or node.value is None:
            return self.error(node, f"must be a version string, not {_node_kind(node)}")
        text = node.value if isinstance(node.value, str) else node.raw
        if not text or not text.strip():
            return self.error(node, "must not be empty")
        if len(text) > max_length:
            return self.error(node, f"is longer than {max_length} characters")
        return text

    # -- across items ----------------------------------------------------------------------
    def unique(self, entries: Iterable[tuple[Hashable, Node]], what: str) -> set:
        """Record a problem for each repeated key; returns the set of keys that repeat."""
        first: dict[Hashable, Node] = {}
        repeated = set()
        for key, node in entries:
            if key is None:
                continue
            if key in first:
                repeated.add(key)
                shown = "/".join(map(str, key)) if isinstance(key, tuple) else key
                self.error(node, f"duplicate {what} {shown!r} (first at line {first[key].line})")
            else:
                first[key] = node
        return repeated
