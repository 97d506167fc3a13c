"""Rows the process-level tests need, written by a Django process of their own stack.

    python -m tests.integration.seed tenants 4
    python -m tests.integration.seed webhook_outbox tenant-2 http://127.0.0.1:8350/hook 3

Runs against ``DATABASE_URL`` (a private cluster's database, see ``processes.py``) and prints
one JSON line. Only test-support builders from ``tests/`` and the product's own functions are
used (factories, ``synthetic.ensure_model``, ``issue_token``, the alerts evaluation and planner).
"""

from __future__ import annotations

import json
import os
import sys


def tenants(count: str) -> dict:
    """``count`` tenants: a team and its system with the synthetic model deployed in ``prod``
    and an ingest token each; the data migrations' rows first (a dump may lack them)."""
    from metrics.engine import synthetic
    from tests.factories import SystemFactory, TeamFactory, load_migration_rows
    from tests.integration.engine_support import ingest_token

    load_migration_rows()
    made = []
    for i in range(int(count)):
        slug = f"tenant-{i}"
        system = SystemFactory(slug=slug, name=f"Tenant {i}", team=TeamFactory(slug=slug, name=f"Tenant {i}"))
        deployment = synthetic.ensure_model(system)
        made.append(
            {"slug": slug, "system": system.pk, "deployment": deployment.pk, "token": ingest_token(system)}
        )
    return {"tenants": made}


def webhook_outbox(slug: str, url: str, channels: str) -> dict:
    """``channels`` webhook channels of tenant ``slug`` at ``url/<n>``, a drift alert firing on
    its deployment now, and the notifications the planner queues for it (one per channel)."""
    from django.utils import timezone

    from alerts.evaluate import evaluate_window
    from alerts.models import Channel, EscalationPolicy, EscalationStep
    from alerts.notify import plan_notifications
    from alerts.testing import HOUR, T0, metric, value, window
    from catalog.models import Deployment

    deployment = Deployment.objects.get(environment__system__slug=slug)
    policy = EscalationPolicy.objects.create(name="fault-test", system=deployment.environment.system)
    for n in range(int(channels)):
        channel = Channel.objects.create(
            name=f"hook-{n}", system=deployment.environment.system, kind="webhook", url=f"{url}/{n}"
        )
        EscalationStep.objects.create(policy=policy, position=n, channel=channel, delay_minutes=0)
    now = timezone.now()
    index = int((now - T0) / HOUR) - 1
    psi = metric("feature_drift_psi")
    for feature in ("income", "age"):
        value(psi, deployment, index, 0.3, feature=feature)
    start, end = window(index)
    evaluate_window(deployment.pk, start, end, now=now)
    queued = plan_notifications(now)
    return {"notifications": sorted(str(n.notification_id) for n in queued)}


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthboard.settings")
    import django

    django.setup()
    name, *arguments = sys.argv[1:]
    print(json.dumps(globals()[name](*arguments)))
