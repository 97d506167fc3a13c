"""The outbox dispatcher: claim due notifications, send them, record every attempt.

Claiming uses ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers share the
outbox without sending a row twice; on SQLite (no row locks) each claim is a compare-and-set
``UPDATE … WHERE status = 'pending'`` that only one worker can win. A claimed row carries a
lease: if its worker dies, the row is claimable again once the lease expires (at-least-once
delivery; receivers deduplicate on the notification id).

Failures are retried with exponential backoff and jitter (``base x 2^(n-1)``, capped, then a
random factor in [0.5, 1]), never sooner than the receiver's ``Retry-After``. A notification
older than ``ALERTS_DELIVERY_MAX_AGE_S`` (counted from its creation, or its last manual
replay) or refused permanently becomes a dead letter, listed in the UI with a Replay button.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts import conf, lifecycle, transports
from alerts.models import Channel, DeliveryAttempt, Notification
from healthboard.audit import record_change

LEASE = timedelta(minutes=2)


def _due(now: datetime) -> Q:
    return Q(status=Notification.Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Notification.Status.SENDING, lease_expires_at__lt=now
    )


def claim(now: datetime, limit: int = 20) -> list[int]:
    """Claim up to ``limit`` due notifications for this worker; returns their ids."""
    lease_until = now + LEASE
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            ids = list(
                Notification.objects.select_for_update(skip_locked=True)
                .filter(_due(now))
                .order_by("next_attempt_at", "id")
                .values_list("id", flat=True)[:limit]
            )
            Notification.objects.filter(id__in=ids).update(
                status=Notification.Status.SENDING, lease_expires_at=lease_until
            )
        return ids
    claimed = []
    candidates = Notification.objects.filter(_due(now)).order_by("next_attempt_at", "id")
    for notification_id in candidates.values_list("id", flat=True)[:limit]:
        won = Notification.objects.filter(_due(now), id=notification_id).update(
            status=Notification.Status.SENDING, lease_expires_at=lease_until
        )
        if won == 1:
            claimed.append(notification_id)
    return claimed


def backoff(attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt after ``attempt`` failures."""
    rng = rng or random
    base, cap = conf.get("ALERTS_RETRY_BASE_S"), conf.get("ALERTS_RETRY_MAX_S")
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    delay = rng.uniform(delay / 2, delay)
    if retry_after is not None:
        delay = max(delay, min(float(retry_after), cap))
    return delay


def deliver(notification_id: int, now: datetime, rng: random.Random | None = None) -> str:
    """Attempt one claimed notification; returns the attempt's outcome."""
    notification = Notification.objects.select_related("channel", "incident").get(pk=notification_id)
    if notification.status != Notification.Status.SENDING:
        return "skipped"
    channel = notification.channel
    number = notification.attempts + 1
    max_age = conf.seconds("ALERTS_DELIVERY_MAX_AGE_S")
    started = time.monotonic()
    error, status_code, retry_after, outcome = "", None, None, DeliveryAttempt.Outcome.DELIVERED
    disable = False
    if not channel.enabled:
        error, outcome = (
            f"channel disabled: {channel.disabled_reason or 'by an administrator'}",
            DeliveryAttempt.Outcome.DEAD,
        )
    else:
        try:
            sent = transports.send(channel, notification)
            status_code = sent.status_code
        except transports.DeliveryError as exc:
            error, status_code, retry_after = exc.message, exc.status_code, exc.retry_after
            disable = exc.disable_channel
            if exc.refused:
                outcome = DeliveryAttempt.Outcome.REFUSED
            elif exc.permanent:
                outcome = DeliveryAttempt.Outcome.DEAD
            else:
                outcome = DeliveryAttempt.Outcome.RETRY
    duration_ms = (time.monotonic() - started) * 1000

    next_at = None
    if outcome == DeliveryAttempt.Outcome.RETRY:
        next_at = now + timedelta(seconds=backoff(number, retry_after, rng))
        if next_at - notification.deadline_from > max_age:
            outcome = DeliveryAttempt.Outcome.DEAD
            error = f"{error}; gave up: older than {int(max_age.total_seconds())} s"
            next_at = None

    with transaction.atomic():
        DeliveryAttempt.objects.create(
            notification=notification,
            number=number,
            started_at=now,
            duration_ms=duration_ms,
            status_code=status_code,
            retry_after_s=retry_after,
            outcome=outcome,
            error=error[:2000],
            next_attempt_at=next_at,
        )
        fields = {"attempts": F("attempts") + 1, "lease_expires_at": None, "last_error": error[:2000]}
        if outcome == DeliveryAttempt.Outcome.DELIVERED:
            fields.update(status=Notification.Status.DELIVERED, delivered_at=now)
        elif outcome == DeliveryAttempt.Outcome.RETRY:
            fields.update(status=Notification.Status.PENDING, next_attempt_at=next_at)
        else:
            fields.update(status=Notification.Status.DEAD, dead_at=now)
        Notification.objects.filter(pk=notification.pk, status=Notification.Status.SENDING).update(**fields)
        if disable:
            Channel.objects.filter(pk=channel.pk).update(enabled=False, disabled_reason=error[:200])
    return outcome


def deliver_due(now: datetime | None = None, *, limit: int = 100, rng: random.Random | None = None) -> dict:
    """Claim and attempt due notifications until none is left (or ``limit``); counts by outcome."""
    now = now or timezone.now()
    counts: dict[str, int] = {}
    done = 0
    while done < limit:
        ids = claim(now, limit=min(20, limit - done))
        if not ids:
            break
        for notification_id in ids:
            outcome = deliver(notification_id, now, rng)
            counts[outcome] = counts.get(outcome, 0) + 1
            done += 1
    return counts


def replay(
    notification: Notification, *, user, reason: str = "", now: datetime | None = None
) -> Notification:
    """Put a dead letter back in the outbox (audited). Its age counts again from now."""
    now = now or timezone.now()
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification.pk)
        if notification.status != Notification.Status.DEAD:
            return notification
        before = {"status": notification.status, "replay_count": notification.replay_count}
        notification.status = Notification.Status.PENDING
        notification.next_attempt_at = now
        notification.deadline_from = now
        notification.dead_at = None
        notification.replay_count += 1
        notification.save(
            update_fields=["status", "next_attempt_at", "deadline_from", "dead_at", "replay_count"]
        )
        record_change(
            action="notification.replay",
            obj=notification,
            before=before,
            after={"status": notification.status, "replay_count": notification.replay_count},
            reason=reason or "manual replay",
            actor=user,
        )
        lifecycle.record_event(
            notification.incident,
            lifecycle.Kind.NOTE,
            at=now,
            actor=user,
            message=f"Notification {notification.notification_id} replayed",
        )
    return notification
