"""``/healthz``: database and broker reachability; 503 when either is down.

"Down" is simulated for real: the broker URL points at a local TCP port nobody listens on,
and the default database connection is swapped for a real driver connection to an
unreachable PostgreSQL server or to an SQLite file that cannot be opened.
"""

from __future__ import annotations

import socket

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import load_backend

from healthboard.celery import app as celery_app


def closed_port() -> int:
    """A local TCP port with no listener (bound once to learn a free number, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_healthz_ok_when_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_needs_no_login(client):
    # Probes carry no session: the endpoint must not redirect to the login page.
    response = client.get("/healthz", follow=False)
    assert response.status_code == 200


@pytest.fixture
def broker_down():
    """Point the Celery app at a Redis URL on a closed local port; restore afterwards."""
    conf = celery_app.conf
    saved = {key: conf[key] for key in ("broker_url", "broker_transport_options")}
    conf.broker_url = f"redis://127.0.0.1:{closed_port()}/0"
    conf.broker_transport_options = {}
    # /healthz opens a fresh connection from the current configuration; the app's connection
    # pool is left alone (closing it breaks every later task send in this process).
    try:
        yield
    finally:
        conf.update(saved)


@pytest.mark.django_db
def test_healthz_503_when_broker_is_down(client, broker_down):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["broker"] != "ok"
    assert "Connection" in body["broker"] or "refused" in body["broker"].lower()


@pytest.mark.django_db
def test_healthz_recovers_when_broker_is_back(client, broker_down):
    assert client.get("/healthz").status_code == 503
    # the fixture restores the real broker at teardown; do it early here to see recovery
    celery_app.conf.broker_url = settings.CELERY_BROKER_URL
    celery_app.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    assert client.get("/healthz").status_code == 200


def unreachable_postgres() -> dict:
    return {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": str(closed_port()),
        "NAME": "healthboard",
        "USER": "postgres",
        "PASSWORD": "",
    }


def unopenable_sqlite() -> dict:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": "/nonexistent-directory/healthboard.sqlite3"}


@pytest.fixture
def database_down(request, db):
    """Swap the default connection for a real one to a database that is not there: a
    PostgreSQL port nobody listens on, or an SQLite file in a directory that does not exist."""
    original = connections[DEFAULT_DB_ALIAS]
    settings_dict = {**original.settings_dict, "OPTIONS": {}, "CONN_MAX_AGE": 0, **request.param()}
    broken = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias=DEFAULT_DB_ALIAS)
    connections[DEFAULT_DB_ALIAS] = broken
    try:
        yield
    finally:
        broken.close()
        connections[DEFAULT_DB_ALIAS] = original


@pytest.mark.parametrize(
    "database_down",
    [
        pytest.param(unreachable_postgres, id="postgres-unreachable"),
        pytest.param(unopenable_sqlite, id="sqlite-unopenable"),
    ],
    indirect=True,
)
def test_healthz_503_when_database_is_down(client, database_down):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"].startswith("OperationalError")
    assert body["broker"] == "ok"
