"""Re-decide trust scores when the catalog's policy changes (DESIGN.md §5.6).

The catalog sends ``catalog.signals.policy_changed`` inside the transaction of every change of
thresholds or weights (metric versions, overrides, weight profiles, a system's profile, an
approved four-eyes change, a config file). Once that transaction commits, ``on_policy_changed``
sends the ``recheck_trust_policy`` task (queue ``compute``), which re-scores the latest window of
each affected deployment under the new policy with ``service.recheck_policy``: a change that
alone moves a deployment from ``blocked`` to ``ready`` is flagged at once, naming its author —
not only when the engine scores the next window (which would flag it too, from the audit trail).

The task is sent with ``robust=True``: a broker that is down loses the early re-check, never the
committed catalog change (the next window still catches the flip).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from metrics.models.trust import TrustScore
from metrics.trust import service

__all__ = ["on_policy_changed", "recheck"]


def on_policy_changed(sender, *, deployment_ids: list[int] | None, actor=None, **kwargs) -> None:
    """Receiver of ``catalog.signals.policy_changed`` (connected in ``MetricsConfig.ready``)."""
    actor_id = getattr(actor, "pk", None)

    def send_recheck() -> None:  # a named function: Django logs a robust callback's __qualname__
        _send(deployment_ids, actor_id)

    transaction.on_commit(send_recheck, robust=True)


def _send(deployment_ids: list[int] | None, actor_id: int | None) -> None:
    from metrics.tasks_compute import recheck_trust_policy

    recheck_trust_policy.delay(deployment_ids, actor_id)


def recheck(deployment_ids: list[int] | None, actor_id: int | None = None) -> list[TrustScore]:
    """What the task does: re-score the latest window of ``deployment_ids`` (None: every scored
    deployment); ``actor_id`` names the change's author, else the audit trail does."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    return service.recheck_policy(deployment_ids, actor=actor)
