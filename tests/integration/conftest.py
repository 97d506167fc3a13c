"""Fixtures of the process-level tests (marker ``integration``): private Redis and PostgreSQL
servers, a migrated and seeded template database in the private cluster, Celery workers.

They skip with the reason when a server binary is missing, except under ``CI`` (where
``.ci/run`` installs them), where a missing piece fails the run instead of hiding it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass

import pytest
from django.db import connection

from tests.integration.processes import (
    CeleryWorker,
    PrivatePostgres,
    PrivateRedis,
    Unavailable,
    app_env,
    django_call,
    migrate,
)

TENANTS = 6


def require(build):
    """``build()``, or skip (fail under CI) when a binary it needs is missing."""
    try:
        return build()
    except Unavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI must run the integration tests)")
        pytest.skip(str(exc))


def test_database_url() -> str:
    """The URL of pytest-django's test database, for processes that must see its rows."""
    s = connection.settings_dict
    auth = s["USER"] or ""
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


test_database_url.__test__ = False  # not a test, whatever its name


@pytest.fixture(scope="session")
def broker_redis():
    """A private redis-server for this pytest process (broker DB 0, cache DB 1)."""
    server = require(PrivateRedis)
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def private_postgres():
    """A throwaway PostgreSQL cluster for this pytest process (crashed and restarted at will)."""
    cluster = require(PrivatePostgres)
    cluster.start()
    yield cluster
    cluster.close()


@dataclass
class Template:
    database: str
    tenants: list[dict]


@pytest.fixture(scope="session")
def app_template(private_postgres, django_db_setup) -> Template:
    """``hb_template`` in the private cluster: the schema (a dump of the migrated test database
    when there is one on PostgreSQL — two seconds instead of a minute of ``migrate``), the data
    migrations' rows, and ``TENANTS`` tenants with their tokens (``seed.tenants``)."""
    name = "hb_template"
    private_postgres.create_database(name)
    # pytest-django sets the test database up only when a collected test uses the database
    in_use = connection.settings_dict["NAME"] == connection.creation._get_test_db_name()
    source = test_database_url() if connection.vendor == "postgresql" and in_use else None
    env = app_env(private_postgres.url(name))
    if source:
        dump = private_postgres.dump(source)
        try:
            private_postgres.restore(name, dump)
        finally:
            shutil.rmtree(dump.parent, ignore_errors=True)
    else:
        migrate(env)
    seeded = django_call(env, "tenants", str(TENANTS))
    return Template(name, seeded["tenants"])


def clone_template(cluster: PrivatePostgres, template: Template) -> str:
    """A fresh database copied from the template (a file copy, well under a second)."""
    name = f"hb_{uuid.uuid4().hex[:10]}"
    cluster.create_database(name, template=template.database)
    return name


@pytest.fixture
def worker(broker_redis, django_db_setup, django_db_blocker):
    """A Celery worker on pytest-django's test database (the test commits its rows with
    ``transaction=True``), its broker the private Redis."""
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            message = "needs PostgreSQL (the worker process must see the test database): set DATABASE_URL"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        database_url = test_database_url()
    flush_redis(broker_redis)
    env = app_env(database_url, redis_url=broker_redis.url(1), broker_url=broker_redis.url(0))
    process = CeleryWorker(env, name="engine-test")
    process.broker_url = broker_redis.url(0)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()
        flush_redis(broker_redis)


def flush_redis(server: PrivateRedis) -> None:
    import redis

    redis.Redis.from_url(server.url(0), socket_connect_timeout=2).flushall()
