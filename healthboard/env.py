"""Typed readers for settings taken from the environment.

Every reader fails loudly with ``ImproperlyConfigured`` naming the variable, so a bad
deployment value stops the process at start-up instead of surfacing later as odd behaviour.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"Environment variable {name} is required but not set.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"Environment variable {name}={raw!r} is not a boolean; use one of true/false, 1/0, yes/no, on/off."
    )


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"Environment variable {name}={raw!r} is not an integer.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"Environment variable {name}={value} must be at least {minimum}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    items = [item.strip() for item in raw.split(",")]
    if any(not item for item in items):
        raise ImproperlyConfigured(
            f"Environment variable {name}={raw!r} has an empty item in its comma list."
        )
    return items


def parse_database_url(name: str, url: str, *, base_dir: Path) -> dict:
    """Turn ``postgres://user:pw@host:port/db`` or ``sqlite:///path`` into a Django DATABASES entry."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        raw_path = unquote(parts.path)
        # sqlite:///relative/path and sqlite:////absolute/path, as in dj-database-url.
        path = Path(raw_path[1:]) if raw_path.startswith("/") else Path(raw_path)
        if not str(path):
            raise ImproperlyConfigured(f"Environment variable {name}={url!r} names no SQLite file.")
        if not path.is_absolute():
            path = base_dir / path
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(path),
            "OPTIONS": {
                # WAL lets the web process read while a worker writes; IMMEDIATE avoids
                # "database is locked" on read-then-write transactions. A worker catching up
                # holds the single write lock for longer than 10 s at times (seen in
                # `make demo`: ingest requests answered 500 after a 10 s wait), so writers
                # wait up to 60 s.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=60000;",
                "transaction_mode": "IMMEDIATE",
            },
        }
    if scheme in {"postgres", "postgresql", "pgsql"}:
        database = unquote(parts.path.lstrip("/"))
        if not database:
            raise ImproperlyConfigured(f"Environment variable {name}={url!r} names no database.")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured(f"Environment variable {name}={url!r} has an invalid port.") from None
        options = dict(parse_qsl(parts.query))
        config = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": database,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": unquote(parts.hostname or ""),
            "PORT": str(port or ""),
            "CONN_MAX_AGE": int(options.pop("conn_max_age", "60")),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
        return config
    raise ImproperlyConfigured(
        f"Environment variable {name}={url!r} has unsupported scheme {scheme!r}; use postgres:// or sqlite:///."
    )
