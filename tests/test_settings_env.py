"""A bad environment value stops start-up with an error naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from healthboard.env import env_bool, env_int, env_list, parse_database_url

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("reader", "name", "value"),
    [
        (env_bool, "DEBUG", "maybe"),
        (env_int, "EMAIL_PORT", "twenty-five"),
        (env_list, "ALLOWED_HOSTS", "a,,b"),
    ],
)
def test_typed_readers_name_the_variable(monkeypatch, reader, name, value):
    monkeypatch.setenv(name, value)
    default = {env_bool: False, env_int: 25, env_list: []}[reader]
    with pytest.raises(ImproperlyConfigured, match=name):
        reader(name, default)


def test_database_url_parsing():
    pg = parse_database_url("DATABASE_URL", "postgres://u:p%40ss@db.example:6543/hb", base_dir=ROOT)
    assert (pg["ENGINE"], pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == (
        "django.db.backends.postgresql",
        "hb",
        "u",
        "p@ss",
        "db.example",
        "6543",
    )
    lite = parse_database_url("DATABASE_URL", "sqlite:///var/x.sqlite3", base_dir=ROOT)
    assert lite["NAME"] == str(ROOT / "var/x.sqlite3")
    assert "journal_mode=WAL" in lite["OPTIONS"]["init_command"]
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        parse_database_url("DATABASE_URL", "mysql://x/y", base_dir=ROOT)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "perhaps"),
        ("DATABASE_URL", "oracle://nope/db"),
        ("EMAIL_PORT", "-3"),
        ("INGEST_RATE_LIMIT_PER_MINUTE", "x"),
    ],
)
def test_bad_value_fails_at_start_up_with_its_name(variable, value):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env[variable] = value
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and variable in result.stderr


def test_production_settings_require_a_real_secret_key():
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY",)}
    env["DJANGO_SETTINGS_MODULE"] = "healthboard.settings_production"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr
