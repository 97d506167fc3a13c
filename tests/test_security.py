"""Deploy hardening (issue 9 item 5): security headers and the Content-Security-Policy, login
throttling, CSRF on every form, secure production settings, and ingest endpoints that ignore
session cookies. The permission matrix (tests/test_permission_matrix.py) also checks the
headers and the CSRF token on every page it renders."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db import connection, connections
from django.test import Client

from healthboard import access
from healthboard.models import ApiToken
from healthboard.security import policy_header
from healthboard.tokens import issue_token
from metrics.models import PredictionEvent
from tests.factories import UserFactory
from tests.ingest_support import EVENTS_URL, LABELS_URL, REFERENCE_URL, event, make_model, post_json

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "pw-for-tests-1"  # UserFactory's
LOGIN_URL = "/accounts/login/"


def csp_directives(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {name: sources for name, *sources in (part.split() for part in header.split(";"))}


def assert_security_headers(response) -> None:
    """What every response carries (the matrix calls this on every response it gets)."""
    policy = csp_directives(response)
    assert policy["script-src"] == ["'self'"], policy  # no inline script, no eval, no other origin
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_policy_header_is_written_directive_by_directive():
    assert (
        policy_header(
            {"default-src": ["'self'"], "img-src": ["'self'", "data:"], "upgrade-insecure-requests": []}
        )
        == "default-src 'self'; img-src 'self' data:; upgrade-insecure-requests"
    )


@pytest.mark.django_db
def test_pages_api_and_errors_carry_the_security_headers(client, alice, system_a):
    responses = [client.get(LOGIN_URL), client.get("/api/v1/systems/"), client.get("/healthz")]
    client.force_login(alice)
    responses += [
        client.get("/"),
        client.get(f"/systems/{system_a.slug}/"),
        client.get("/api/v1/systems/"),
        client.get("/systems/no-such-system/"),  # 404 page
        client.post(EVENTS_URL, {}),  # 401 from the ingest API
    ]
    assert [r.status_code for r in responses] == [200, 401, 200, 200, 200, 200, 404, 401]
    for response in responses:
        assert_security_headers(response)


def test_the_api_docs_page_has_no_inline_script(client, db):
    """Swagger UI is served by the split view: its start-up script is a separate file."""
    client.force_login(UserFactory())
    page = client.get("/api/v1/docs/")
    html = page.content.decode()
    assert page.status_code == 200
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script> in the API docs page"
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema/" in script.content.decode()


# --- CSRF -------------------------------------------------------------------------------------

POST_FORM = re.compile(r"<form\b[^>]*\bmethod=[\"']?post[\"']?[^>]*>(.*?)</form>", re.I | re.S)


def test_every_post_form_in_the_templates_carries_the_csrf_token():
    """Static half: each ``<form method="post">`` of every template has ``{% csrf_token %}``
    (the matrix checks the rendered half: ``csrfmiddlewaretoken`` in every page it renders)."""
    forms = 0
    missing = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        for body in POST_FORM.findall(template.read_text()):
            forms += 1
            if "{% csrf_token %}" not in body:
                missing.append(str(template.relative_to(ROOT)))
    assert forms >= 20  # guards the pattern: the templates hold some 25 post forms
    assert not missing, f"post forms without {{% csrf_token %}}: {missing}"


@pytest.mark.django_db
def test_unsafe_requests_with_a_session_need_the_csrf_token(alice, deployment_a):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(alice)
    assert csrf_client.post("/sre/silences/", {"reason": "x"}).status_code == 403
    assert csrf_client.post("/accounts/logout/").status_code == 403
    api = csrf_client.post(
        f"/api/v1/deployments/{deployment_a.pk}/reference", {"start": "x"}, content_type="application/json"
    )
    assert api.status_code == 403 and "CSRF" in api.json()["message"]
    # with the token from the form the same logout goes through
    csrf_client.get("/")
    token = csrf_client.cookies[settings.CSRF_COOKIE_NAME].value
    assert csrf_client.post("/accounts/logout/", {"csrfmiddlewaretoken": token}).status_code == 302


# --- ingest: tokens only ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", [EVENTS_URL, LABELS_URL, REFERENCE_URL, EVENTS_URL + "/"])
def test_ingest_ignores_the_session_cookie(client, alice, system_a, url):
    """alice holds ``ingest`` on system A and is logged in; without an ingest token her session
    does not authenticate an ingest request, and nothing is stored."""
    make_model(system_a)
    assert access.has_perm(alice, system_a, access.INGEST)
    client.force_login(alice)
    payload = {"events": [event()], "labels": [{"event_id": "e1", "label": 1}], "model": "scorer"}
    response = post_json(client, url, None, payload)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert PredictionEvent.objects.count() == 0


@pytest.mark.django_db
def test_token_kinds_do_not_cross(client, alice, system_a):
    """A personal token is refused by ingest; an ingest token is refused by the read API."""
    make_model(system_a)
    _, personal = issue_token(kind=ApiToken.Kind.PERSONAL, user=alice)
    _, ingest = issue_token(kind=ApiToken.Kind.INGEST, system=system_a)
    assert post_json(client, EVENTS_URL, personal, {"events": [event()]}).status_code == 401
    assert client.get("/api/v1/systems/", HTTP_AUTHORIZATION=f"Bearer {ingest}").status_code == 401
    assert PredictionEvent.objects.count() == 0
    assert post_json(client, EVENTS_URL, ingest, {"events": [event()]}).json()["accepted"] == 1


# --- login throttling -------------------------------------------------------------------------


def fail_login(client, username: str, **extra):
    return client.post(LOGIN_URL, {"username": username, "password": "wrong-password"}, **extra)


def log_in(client, username: str, **extra):
    return client.post(LOGIN_URL, {"username": username, "password": PASSWORD}, **extra)


@pytest.mark.django_db
def test_repeated_failures_lock_the_username_from_that_address(client):
    UserFactory(username="dora")
    UserFactory(username="eve")
    limit = settings.AXES_FAILURE_LIMIT
    assert [fail_login(client, "dora").status_code for _ in range(limit - 1)] == [200] * (limit - 1)
    locked = fail_login(client, "dora")
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    # now even the right password is refused, and no session is opened
    refused = log_in(client, "dora")
    assert refused.status_code == 429 and "_auth_user_id" not in client.session
    # the lock is for that username from that address only
    assert log_in(Client(), "eve").status_code == 302
    assert log_in(Client(REMOTE_ADDR="10.9.8.7"), "dora").status_code == 302


@pytest.mark.django_db
def test_a_successful_login_resets_the_count(client):
    UserFactory(username="dora")
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        fail_login(client, "dora")
    assert log_in(client, "dora").status_code == 302
    client.logout()
    for _ in range(limit - 1):
        assert fail_login(client, "dora").status_code == 200
    assert log_in(client, "dora").status_code == 302


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_failures_are_counted_exactly_under_concurrency_and_hold_in_another_process(restore_migration_rows):
    """Failures sent at once from several threads (each its own database connection) are all
    counted: the counter row is locked and incremented in SQL. The lock is in the database, so a
    separate process (another web worker) refuses the right password too."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: concurrent connections to one database")
    UserFactory(username="dora")
    attempts = settings.AXES_FAILURE_LIMIT + 3
    barrier = threading.Barrier(attempts)
    statuses: list[int] = []

    def attempt():
        try:
            barrier.wait(timeout=30)
            statuses.append(fail_login(Client(), "dora").status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(statuses) == attempts and set(statuses) <= {200, 429}
    rows = AccessAttempt.objects.filter(username="dora")
    assert sum(rows.values_list("failures_since_start", flat=True)) == attempts

    other_process = subprocess.run(
        [sys.executable, "-c", LOGIN_FROM_ANOTHER_PROCESS, "dora", PASSWORD],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": _url_of_the_test_database()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert other_process.returncode == 0, other_process.stderr[-2000:]
    assert json.loads(other_process.stdout.strip().splitlines()[-1]) == {"status": 429, "logged_in": False}


LOGIN_FROM_ANOTHER_PROCESS = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthboard.settings")
import django
django.setup()
from django.test import Client
client = Client()
response = client.post("/accounts/login/", {"username": sys.argv[1], "password": sys.argv[2]})
print(json.dumps({"status": response.status_code, "logged_in": "_auth_user_id" in client.session}))
"""


def _url_of_the_test_database() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


# --- production settings ----------------------------------------------------------------------

PRODUCTION_PROBE = """
import json
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
call_command("check", deploy=True, fail_level="WARNING")
print(json.dumps({name: getattr(settings, name) for name in [
    "DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
    "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_CONTENT_TYPE_NOSNIFF",
    "X_FRAME_OPTIONS", "AXES_FAILURE_LIMIT",
]} | {"csp": "healthboard.security.ContentSecurityPolicyMiddleware" in settings.MIDDLEWARE,
      "axes": settings.MIDDLEWARE[-1] == "axes.middleware.AxesMiddleware"}))
"""


def test_production_settings_pass_the_deploy_check_with_secure_cookies(tmp_path):
    keep = {"PATH", "HOME", "LANG", "DATABASE_URL", "REDIS_URL"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env |= {
        "DJANGO_SETTINGS_MODULE": "healthboard.settings_production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "HEALTHBOARD_VAR_DIR": str(tmp_path),
        "ALLOWED_HOSTS": "healthboard.example.org",
    }
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "System check identified no issues" in result.stdout
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "X_FRAME_OPTIONS": "DENY",
        "AXES_FAILURE_LIMIT": 5,
        "csp": True,
        "axes": True,
    }
