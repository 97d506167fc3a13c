"""``export_config``: every registered section, in registry order, as YAML that
``apply_config`` reads back without a change."""

from __future__ import annotations

from catalog.config import registry
from catalog.config.yamlstyle import dump

HEADER = (
    "# Healthboard configuration (DESIGN.md §10), written by `manage.py export_config`.\n"
    "# Apply with `manage.py apply_config FILE`; objects left out of a file are never deleted.\n"
)


def export_data() -> dict:
    """The database's configuration as plain data, one key per section."""
    data = {}
    for section in registry.SECTIONS:
        value = section.export()
        if value is not None:
            data[section.key] = value
    return data


def export_yaml() -> str:
    return dump(export_data(), header=HEADER)
