"""Cross-cutting records: the tamper-evident audit trail and API tokens."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

__all__ = ["ApiToken", "AuditChainHead", "AuditRecord"]


class AuditRecord(models.Model):
    """One configuration change. Append-only: rows are never updated or deleted, and each
    carries a SHA-256 over its content and the previous record's hash."""

    class Source(models.TextChoices):
        UI = "ui", "UI"
        API = "api", "API"
        CONFIG = "config", "Config file"
        SYSTEM = "system", "System"

    seq = models.PositiveBigIntegerField(unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    # No database constraint and no cascade: deleting a user must never rewrite the trail.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=100, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    diff = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    prev_hash = models.CharField(max_length=64)
    record_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("Audit records are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Audit records are append-only and cannot be deleted.")

    def content(self) -> dict:
        """The fields the hash covers, in a canonical form."""
        return {
            "seq": self.seq,
            "created_at": self.created_at.isoformat(),
            "actor_id": self.actor_id,
            "actor_name": self.actor_name,
            "request_id": self.request_id,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "object_repr": self.object_repr,
            "before": self.before,
            "after": self.after,
            "diff": self.diff,
            "reason": self.reason,
            "source": self.source,
        }

    def compute_hash(self) -> str:
        payload = json.dumps(self.content(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256((self.prev_hash + payload).encode()).hexdigest()


class AuditChainHead(models.Model):
    """A single row holding the newest record's position and hash; it is locked to append,
    and lets ``verify_audit`` notice a removed tail."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    record_hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_chain_head_singleton")]

    def __str__(self) -> str:
        return f"audit head #{self.seq}"


class ApiToken(models.Model):
    """A bearer token, stored only as its SHA-256. Ingest tokens belong to one system and are
    accepted only by ingest endpoints; personal tokens act as their user on the read API."""

    class Kind(models.TextChoices):
        INGEST = "ingest", "Ingest (per system)"
        PERSONAL = "personal", "Personal API"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, help_text="First characters, shown to tell tokens apart.")
    token_hash = models.CharField(max_length=64, unique=True)
    system = models.ForeignKey(
        "catalog.System", null=True, blank=True, on_delete=models.CASCADE, related_name="ingest_tokens"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="ingest", system__isnull=False, user__isnull=True)
                    | models.Q(kind="personal", system__isnull=True, user__isnull=False)
                ),
                name="api_token_owner_matches_kind",
            )
        ]

    def __str__(self) -> str:
        owner = self.system.slug if self.system_id else getattr(self.user, "username", "?")
        return f"{self.get_kind_display()} token {self.prefix}… for {owner}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
