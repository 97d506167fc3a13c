"""How exported config is written: block style, with short lists and records in flow style
(``environments: [prod, staging]``, ``- {name: income, type: numeric}``) as in DESIGN.md §10."""

from __future__ import annotations

from typing import Any

import yaml


class Flow(list):
    """A list written on one line: ``[a, b]``."""


class FlowMap(dict):
    """A mapping written on one line: ``{name: income, type: numeric}``."""


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        # Indent list items under their key ("models:\n  - slug: …"), as people write YAML.
        return super().increase_indent(flow, False)


def _mapping(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items())


def _flow_mapping(dumper: yaml.SafeDumper, data: FlowMap) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=True)


def _flow_sequence(dumper: yaml.SafeDumper, data: Flow) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


_Dumper.add_representer(dict, _mapping)
_Dumper.add_representer(FlowMap, _flow_mapping)
_Dumper.add_representer(Flow, _flow_sequence)


def dump(data: dict, header: str = "") -> str:
    """``data`` as YAML, keys in insertion order (callers order them deterministically)."""
    text = yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100
    )
    return header + text
