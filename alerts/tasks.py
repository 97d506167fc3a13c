"""Celery tasks of the alerts app: thin wrappers around plain functions, all on the ``notify``
queue (``healthboard.celery`` routes ``alerts.tasks.*`` there), so heavy computation never
delays alert delivery. Every task is idempotent (acks_late redelivery is harmless)."""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import shared_task
from django.utils import timezone


@shared_task(name="alerts.tasks.evaluate_window", ignore_result=True)
def evaluate_window_task(deployment_id: int, window_start: str, window_end: str) -> dict:
    from alerts.evaluate import evaluate_window

    report = evaluate_window(
        deployment_id, datetime.fromisoformat(window_start), datetime.fromisoformat(window_end)
    )
    return {"evaluated": report.evaluated, "applied": report.applied, "transitions": len(report.transitions)}


@shared_task(name="alerts.tasks.advance_escalations", ignore_result=True)
def advance_escalations_task() -> int:
    from alerts.lifecycle import advance_escalations

    return advance_escalations(timezone.now())


@shared_task(name="alerts.tasks.dispatch_notifications", ignore_result=True)
def dispatch_notifications_task() -> dict:
    """Queue what the groups need to say now, then deliver everything due."""
    from alerts.delivery import deliver_due
    from alerts.notify import plan_notifications

    now = timezone.now()
    queued = plan_notifications(now)
    counts = deliver_due(now)
    return {"queued": len(queued), **counts}


@shared_task(name="alerts.tasks.prune_evaluations", ignore_result=True)
def prune_evaluations_task() -> int:
    from alerts import conf
    from alerts.models import AlertEvaluation

    cutoff = timezone.now() - timedelta(days=conf.get("ALERTS_EVALUATION_RETENTION_DAYS"))
    deleted, _ = AlertEvaluation.objects.filter(window_end__lt=cutoff).delete()
    return deleted
