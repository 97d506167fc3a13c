"""Computation tasks (queue ``compute``): thin wrappers — take ids, call ``metrics.engine``.

* ``schedule`` (beat, every minute): leases and enqueues one ``compute_deployment`` per
  deployment with closed buckets beyond its watermark or dirty buckets behind it.
* ``compute_deployment``: the deployment's forward pass (bounded) and dirty windows; after
  each committed unit the hook (alerts evaluation, trust score) runs.
* ``reap_stuck_runs`` (beat): runs stuck in ``running`` (a killed worker) → ``failed``.
* ``backfill_metric``: recompute a metric's history under one catalog version.
* ``recheck_trust_policy``: after a catalog threshold / weight change, re-decide the latest
  trust scores it affects (``metrics.trust.recheck``).

At-least-once (``acks_late``, ``reject_on_worker_lost`` in ``healthboard.celery``): every task
is idempotent — values are upserted on their unique key, a unit commits all-or-nothing, and a
redelivered task (same id) takes its own lease back. Retries only for named transient errors:
database connection/operational errors, broker connection errors, and a window whose rows
changed between its two reads.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

from metrics.engine import conf, runs, scheduling
from metrics.engine.read import ConcurrentChange

TRANSIENT = (OperationalError, InterfaceError, BrokerOperationalError, ConcurrentChange)
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="metrics.tasks_compute.schedule", ignore_result=True)
def schedule() -> dict:
    """Enqueue the work of this tick (a broker error fails the tick; the next one catches up)."""
    expires = conf.queue_expiry().total_seconds()

    def send(deployment_id: int, task_id: str) -> None:
        compute_deployment.apply_async((deployment_id,), task_id=task_id, expires=expires)

    sent = scheduling.enqueue(send)
    return {"enqueued": len(sent), "deployments": sent}


@shared_task(bind=True, name="metrics.tasks_compute.compute_deployment", ignore_result=True, **RETRY)
def compute_deployment(self, deployment_id: int) -> dict:
    summary = scheduling.run_deployment(int(deployment_id), owner=self.request.id or "eager")
    if summary is None:
        return {"skipped": "leased by another task"}
    return {
        "windows": summary.windows,
        "values": summary.values,
        "buckets": summary.buckets,
        "dirty_recomputed": summary.dirty_recomputed,
        "dirty_dropped": summary.dirty_dropped,
        "hook_errors": len(summary.hook_errors),
    }


@shared_task(name="metrics.tasks_compute.reap_stuck_runs", ignore_result=True)
def reap_stuck_runs() -> int:
    return runs.reap_stuck()


@shared_task(bind=True, name="metrics.tasks_compute.backfill_metric", ignore_result=True, **RETRY)
def backfill_metric(self, run_id: int) -> dict:
    from metrics.engine import backfill

    summary = backfill.run(int(run_id), task_id=self.request.id or "eager")
    return {"windows": summary.windows, "values": summary.values}


@shared_task(name="metrics.tasks_compute.recheck_trust_policy", ignore_result=True, **RETRY)
def recheck_trust_policy(deployment_ids: list[int] | None, actor_id: int | None = None) -> dict:
    from metrics.trust import recheck

    return {"rescored": len(recheck.recheck(deployment_ids, actor_id))}
