"""Config as code: ``apply_config FILE`` and ``export_config`` (DESIGN.md §4, §10).

The file is read into nodes that know their key path and line (``source``), each top-level
section validates its part (``schema``), plans its changes against the database (``plan``),
and the plan runs in one transaction with an audit record per change (``apply``). Sections
are listed in ``registry``; ``export`` writes them back in the same shape.
"""

from catalog.config.apply import apply_file, build_plan, read, render, validate
from catalog.config.errors import ConfigError, Problem
from catalog.config.export import export_data, export_yaml
from catalog.config.plan import Plan

__all__ = [
    "ConfigError",
    "Plan",
    "Problem",
    "apply_file",
    "build_plan",
    "export_data",
    "export_yaml",
    "read",
    "render",
    "validate",
]
