"""``/healthz``: database and broker reachability; 503 when either is down.

"Down" is simulated for real: the broker URL points at a local TCP port nobody listens on,
and the database case runs a separate process whose ``DATABASE_URL`` names an unreachable
PostgreSQL server or an SQLite file that cannot be opened.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from healthboard.celery import app as celery_app

ROOT = Path(settings.BASE_DIR)


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
    celery_app.pool.force_close_all()
    try:
        yield
    finally:
        conf.update(saved)
        celery_app.pool.force_close_all()


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


HEALTHZ_IN_A_FRESH_PROCESS = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/healthz")
print(json.dumps({"status_code": response.status_code, "body": response.json()}))
"""


def healthz_with_environment(tmp_path: Path, **env: str) -> dict:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="healthboard.settings", HEALTHBOARD_VAR_DIR=str(tmp_path), **env
    )
    result = subprocess.run(
        [sys.executable, "-c", HEALTHZ_IN_A_FRESH_PROCESS],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "database_url",
    [
        pytest.param(
            lambda: f"postgres://postgres@127.0.0.1:{closed_port()}/healthboard", id="postgres-unreachable"
        ),
        pytest.param(lambda: "sqlite:////nonexistent-directory/healthboard.sqlite3", id="sqlite-unopenable"),
    ],
)
def test_healthz_503_when_database_is_down(tmp_path, database_url):
    result = healthz_with_environment(tmp_path, DATABASE_URL=database_url())
    assert result["status_code"] == 503
    assert result["body"]["status"] == "unavailable"
    assert result["body"]["database"] != "ok"
    assert "OperationalError" in result["body"]["database"]
    assert result["body"]["broker"] == "ok"


def test_healthz_ok_in_a_fresh_process_with_embedded_defaults(tmp_path):
    """The control case of the test above: the same process set-up with a reachable database."""
    result = healthz_with_environment(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'ok.sqlite3'}")
    assert result == {"status_code": 200, "body": {"status": "ok", "database": "ok", "broker": "ok"}}
