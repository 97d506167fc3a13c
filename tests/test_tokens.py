"""Tokens: hashed at rest, shown once, revocable, and each kind accepted only where it belongs."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import call_command

from healthboard.models import ApiToken, AuditRecord
from healthboard.tokens import issue_token, revoke_token

pytestmark = pytest.mark.django_db


def _issue(*args) -> str:
    out = StringIO()
    call_command("issue_token", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip().splitlines()[-1]


def test_issue_token_prints_the_secret_alone_and_stores_only_its_hash(system_a):
    raw = _issue(system_a.slug)
    token = ApiToken.objects.get()
    assert raw.startswith("hbi_") and len(raw) > 40
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {getattr(token, f.attname) for f in ApiToken._meta.concrete_fields}
    assert token.system == system_a and token.kind == ApiToken.Kind.INGEST
    assert AuditRecord.objects.filter(action="token.issue", object_id=str(token.pk)).exists()


def test_personal_token_reads_the_api_as_its_user(client, alice, system_a, system_b):
    raw = _issue("--user", "alice")
    response = client.get("/api/v1/systems/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert [s["slug"] for s in response.json()["results"]] == ["system-a"]
    assert ApiToken.objects.get().last_used_at is not None


def test_ingest_token_is_refused_by_a_read_endpoint(client, system_a):
    raw = _issue(system_a.slug)
    response = client.get("/api/v1/systems/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401
    assert "ingest" in response.json()["message"].lower()


def test_revoked_and_wrong_tokens_are_401(client, alice):
    token, raw = issue_token(kind=ApiToken.Kind.PERSONAL, user=alice)
    assert client.get("/api/v1/systems/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    revoke_token(token, reason="laptop lost")
    assert client.get("/api/v1/systems/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    assert client.get("/api/v1/systems/", HTTP_AUTHORIZATION="Bearer hbp_wrong").status_code == 401
    assert AuditRecord.objects.filter(action="token.revoke", reason="laptop lost").exists()


def test_revoke_token_command(alice):
    token, _ = issue_token(kind=ApiToken.Kind.PERSONAL, user=alice)
    call_command("revoke_token", str(token.pk), "--reason", "rotation", stdout=StringIO())
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_anonymous_api_request_is_401(client, system_a):
    assert client.get("/api/v1/systems/").status_code in (401, 403)
