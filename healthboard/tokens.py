"""API tokens: issue, revoke, authenticate.

Tokens are 32 random bytes, shown once and stored only as SHA-256 (high-entropy secrets need
no slow hash). Ingest tokens (``hbi_…``) are accepted only by ingest endpoints; personal
tokens (``hbp_…``) act as their user on the read API.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from rest_framework import authentication, exceptions

from healthboard.audit import record_change
from healthboard.models import ApiToken, AuditRecord

PREFIXES = {ApiToken.Kind.INGEST: "hbi_", ApiToken.Kind.PERSONAL: "hbp_"}
# Writing last_used_at on every request would turn each read into a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(
    *, kind: str, system=None, user=None, name: str = "", created_by=None, source: str = AuditRecord.Source.UI
) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is never stored."""
    raw = PREFIXES[kind] + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            kind=kind,
            system=system,
            user=user,
            name=name,
            prefix=raw[:12],
            token_hash=hash_token(raw),
            created_by=created_by,
        )
        record_change(
            action="token.issue",
            obj=token,
            after={
                "kind": kind,
                "system": getattr(system, "slug", None),
                "user": getattr(user, "username", None),
                "prefix": token.prefix,
                "name": name,
            },
            source=source,
            actor=created_by,
        )
    return token, raw


def revoke_token(
    token: ApiToken, *, actor=None, reason: str = "", source: str = AuditRecord.Source.UI
) -> None:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_change(
            action="token.revoke",
            obj=token,
            before={"revoked_at": None},
            after={"revoked_at": token.revoked_at},
            reason=reason,
            source=source,
            actor=actor,
        )


def find_active_token(raw: str) -> ApiToken | None:
    token = (
        ApiToken.objects.select_related("system", "user")
        .filter(token_hash=hash_token(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def bearer_from(request) -> str | None:
    header = authentication.get_authorization_header(request).decode("latin-1")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    if not value or " " in value:
        raise exceptions.AuthenticationFailed("Malformed Authorization header; use 'Bearer <token>'.")
    return value


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    """Read API: a personal token acts as its user. Ingest tokens are refused here."""

    def authenticate(self, request):
        raw = bearer_from(request)
        if raw is None:
            return None
        token = find_active_token(raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if token.kind != ApiToken.Kind.PERSONAL:
            raise exceptions.AuthenticationFailed("Ingest tokens are accepted only by ingest endpoints.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's user is inactive.")
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class IngestTokenAuthentication(authentication.BaseAuthentication):
    """Ingest endpoints: only a system's ingest token; session cookies are ignored."""

    def authenticate(self, request):
        raw = bearer_from(request)
        if raw is None:
            raise exceptions.NotAuthenticated("An ingest token is required: Authorization: Bearer <token>.")
        token = find_active_token(raw)
        if token is None or token.kind != ApiToken.Kind.INGEST:
            raise exceptions.AuthenticationFailed("Invalid or revoked ingest token.")
        return IngestClient(token), token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="ingest"'


class IngestClient:
    """The principal behind an ingest token: a system, not a person."""

    is_authenticated = True
    is_active = True
    is_superuser = False
    is_staff = False
    is_anonymous = False
    username = ""

    def __init__(self, token: ApiToken):
        self.token = token
        self.system = token.system
        self.username = f"ingest:{token.system.slug}"

    def __str__(self) -> str:
        return self.username
