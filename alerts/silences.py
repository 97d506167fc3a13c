"""Silences: create and expire (audited), and the matching used by notifications/escalation."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts.models import Silence
from healthboard.audit import record_change, snapshot


def active_silences(system_ids: Iterable[int], now: datetime) -> list[Silence]:
    """Silences in force at ``now`` for these systems (one query)."""
    ids = set(system_ids)
    if not ids:
        return []
    return list(
        Silence.objects.filter(system_id__in=ids, starts_at__lte=now, ends_at__gt=now).filter(
            Q(expired_at__isnull=True) | Q(expired_at__gt=now)
        )
    )


def silencing(alert, silences: Iterable[Silence]) -> Silence | None:
    for silence in silences:
        if silence.matches(alert):
            return silence
    return None


def create_silence(
    *,
    system,
    ends_at: datetime,
    reason: str,
    author,
    starts_at: datetime | None = None,
    deployment=None,
    metric=None,
    segment: str | None = None,
    source: str = "ui",
) -> Silence:
    """Validate, save and audit a silence (in one transaction)."""
    silence = Silence(
        system=system,
        deployment=deployment,
        metric=metric,
        segment=segment,
        starts_at=starts_at or timezone.now(),
        ends_at=ends_at,
        reason=(reason or "").strip(),
        created_by=author,
    )
    silence.full_clean()
    with transaction.atomic():
        silence.save()
        record_change(
            action="silence.create",
            obj=silence,
            after=snapshot(silence),
            reason=silence.reason,
            source=source,
            actor=author,
        )
    return silence


def expire_silence(silence: Silence, *, user, reason: str = "", source: str = "ui", now=None) -> Silence:
    now = now or timezone.now()
    with transaction.atomic():
        silence = Silence.objects.select_for_update().get(pk=silence.pk)
        if silence.status(now) == Silence.Status.EXPIRED:
            return silence
        before = snapshot(silence)
        silence.expired_at = now
        silence.expired_by = user
        silence.save(update_fields=["expired_at", "expired_by"])
        record_change(
            action="silence.expire",
            obj=silence,
            before=before,
            after=snapshot(silence),
            reason=reason or "ended early",
            source=source,
            actor=user,
        )
    return silence
