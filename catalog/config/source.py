"""Read YAML into nodes that remember their key path and line.

PyYAML's composer keeps a mark (line, column) on every node; the plain loaders throw the
marks away when they build Python objects. Here the document is composed and walked once,
so every value carries where it came from and any error can name ``FILE:LINE: key.path``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from catalog.config.errors import ConfigError, Problem

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_:-]+$")
_MAX_DEPTH = 50


def child_path(parent: str, key: str | int) -> str:
    """``systems`` + 1 → ``systems[1]``; ``systems[1]`` + ``name`` → ``systems[1].name``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if not _PLAIN_KEY.match(key):
        escaped = key.replace("\\", "\\\\").replace('"', '\\"')
        return f'{parent}["{escaped}"]'
    return f"{parent}.{key}" if parent else key


@dataclass(eq=False)
class Node:
    """A value from the file: ``value`` is ``dict[str, Node]``, ``list[Node]`` or a scalar.

    ``raw`` is a scalar's text as written (so ``version: 2.0`` can mean the string "2.0"),
    ``key_line`` the line of the key that introduced the value.
    """

    value: Any
    path: str
    line: int
    raw: str | None = None
    key_line: int = 0

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_sequence(self) -> bool:
        return isinstance(self.value, list)


def parse(text: str, filename: str) -> tuple[Node | None, list[Problem]]:
    """The document as a tree of nodes (None for an empty file) and the problems found while
    reading it (duplicate keys, odd keys); ConfigError when it is not YAML at all."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        loader.dispose()
        raise ConfigError(filename, [_syntax_problem(text, exc)]) from None
    except yaml.YAMLError as exc:
        loader.dispose()
        raise ConfigError(filename, [Problem("", 0, f"YAML error: {exc}")]) from None
    problems: list[Problem] = []
    try:
        tree = _build(root, "", loader, problems, ()) if root is not None else None
    finally:
        loader.dispose()
    return tree, problems


def _syntax_problem(text: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or "unreadable YAML"
    if exc.context and exc.context_mark is not None:
        message += f" ({exc.context} started at line {exc.context_mark.line + 1})"
    return Problem(_path_before_error(text), mark.line + 1 if mark else 0, f"YAML syntax error: {message}")


def _path_before_error(text: str) -> str:
    """The key path of the last value the parser reached before failing, so a syntax error
    can still say where in the structure it is (best effort; "" at the top)."""
    frames: list[list] = []  # ["map", key or None, expecting_key] | ["seq", index]

    def consumed_value() -> None:
        if frames and frames[-1][0] == "map":
            frames[-1][2] = True
        elif frames:
            frames[-1][1] += 1

    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.MappingStartEvent):
                frames.append(["map", None, True])
            elif isinstance(event, yaml.SequenceStartEvent):
                frames.append(["seq", 0])
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                frames.pop()
                consumed_value()
            elif isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
                top = frames[-1] if frames else None
                if top is not None and top[0] == "map" and top[2]:
                    top[1], top[2] = getattr(event, "value", "*"), False
                else:
                    consumed_value()
    except yaml.YAMLError:
        pass
    path = ""
    for frame in frames:
        in_value = frame[0] == "seq" or (frame[1] is not None and not frame[2])
        if in_value:
            path = child_path(path, frame[1])
    return path


def _build(node: yaml.Node, path: str, loader, problems: list[Problem], stack: tuple[int, ...]) -> Node:
    line = node.start_mark.line + 1
    if id(node) in stack or len(stack) > _MAX_DEPTH:
        problems.append(Problem(path, line, "recursive or too deeply nested value"))
        return Node(None, path, line)
    stack = (*stack, id(node))
    if isinstance(node, yaml.MappingNode):
        items: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(path, key_line, "a key must be a plain string"))
                continue
            # The key as written: ``on:`` or ``1:`` are names here, not booleans or numbers.
            key = key_node.value
            if key in items:
                problems.append(
                    Problem(
                        child_path(path, key),
                        key_line,
                        f"duplicate key {key!r} (first at line {items[key].key_line})",
                    )
                )
                continue
            child = _build(value_node, child_path(path, key), loader, problems, stack)
            child.key_line = key_line
            items[key] = child
        return Node(items, path, line, key_line=line)
    if isinstance(node, yaml.SequenceNode):
        values = [
            _build(item, child_path(path, i), loader, problems, stack) for i, item in enumerate(node.value)
        ]
        return Node(values, path, line, key_line=line)
    try:
        value = loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        problems.append(Problem(path, line, f"unreadable value {node.value!r}: {exc}"))
        value = None
    return Node(value, path, line, raw=node.value, key_line=line)
