"""The README's environment-variable table names every variable the settings read."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = [ROOT / "healthboard" / "settings.py", ROOT / "healthboard" / "settings_production.py"]
READERS = {"env_str", "env_bool", "env_int", "env_list", "parse_database_url"}


def variables_read(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in READERS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def test_settings_read_the_variables_we_expect_to_find():
    # guards the parser above: if it found nothing, the next test would pass vacuously
    names = set().union(*(variables_read(p) for p in SETTINGS))
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"} <= names


def test_every_environment_variable_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    names = set().union(*(variables_read(p) for p in SETTINGS))
    missing = sorted(name for name in names if f"| `{name}` |" not in readme)
    assert not missing, f"add these to the README's environment variable table: {missing}"
