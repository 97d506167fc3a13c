"""Who the demo's alerts notify: three email channels and the escalation policies of DESIGN.md §6.

``seed_demo --telemetry`` calls :func:`ensure`. The channels are shared (no system) and send
email through Django's mail backend — the console backend by default, so ``make demo``'s worker
prints every notification in the terminal (``EMAIL_BACKEND`` can point elsewhere). With
``DEMO_WEBHOOK_URL`` set (e.g. a local receiver; its network must be allowed by
``ALERTS_WEBHOOK_ALLOWED_NETWORKS``), a signed webhook channel is added as a first step too.

Routing (the most specific policy wins): reliability alerts reach the on-call SRE at once, the
data steward after 15 minutes unacknowledged and the product owner after 60; fairness alerts
reach the data steward first; everything else the on-call SRE, then the data steward.

Idempotent: objects are found by name; every created one is audited.
"""

from __future__ import annotations

import os

from django.db import transaction

from alerts.models import Channel, EscalationPolicy, EscalationStep
from healthboard.audit import record_change, snapshot
from healthboard.models import AuditRecord

SRE, STEWARD, OWNER, WEBHOOK = "demo on-call SRE", "demo data steward", "demo product owner", "demo webhook"
EMAILS = {
    SRE: "oncall-sre@demo.invalid",
    STEWARD: "data-steward@demo.invalid",
    OWNER: "product-owner@demo.invalid",
}
# policy name -> (pillar, [(channel, delay minutes), …]); "" = every pillar
POLICIES = {
    "demo: reliability": ("reliability", [(SRE, 0), (STEWARD, 15), (OWNER, 60)]),
    "demo: fairness": ("fairness", [(STEWARD, 0), (OWNER, 60)]),
    "demo: default": ("", [(SRE, 0), (STEWARD, 15)]),
}


def _audit(action: str, obj, after: dict) -> None:
    record_change(
        action=action,
        obj=obj,
        after=after,
        reason="seed_demo: demo notification routing",
        source=AuditRecord.Source.SYSTEM,
        actor="seed_demo",
    )


def _channel(name: str, **fields) -> tuple[Channel, bool]:
    channel = Channel.objects.filter(name=name, system__isnull=True).first()
    if channel is not None:
        return channel, False
    channel = Channel(name=name, **fields)
    channel.full_clean()
    channel.save()
    _audit("channel.create", channel, snapshot(channel, exclude=["secret"]))
    return channel, True


@transaction.atomic
def ensure(webhook_url: str | None = None) -> list[str]:
    """Create what is missing; returns one line per object created."""
    webhook_url = webhook_url if webhook_url is not None else os.environ.get("DEMO_WEBHOOK_URL", "")
    created: list[str] = []
    channels: dict[str, Channel] = {}
    for name, address in EMAILS.items():
        channels[name], new = _channel(name, kind=Channel.Kind.EMAIL, email_to=address)
        if new:
            created.append(f"channel {name} (email to {address})")
    if webhook_url:
        channels[WEBHOOK], new = _channel(WEBHOOK, kind=Channel.Kind.WEBHOOK, url=webhook_url)
        if new:
            created.append(f"channel {WEBHOOK} ({webhook_url})")
    for name, (pillar, steps) in POLICIES.items():
        if EscalationPolicy.objects.filter(name=name, system__isnull=True).exists():
            continue
        policy = EscalationPolicy.objects.create(name=name, pillar=pillar)
        if WEBHOOK in channels:
            steps = [(WEBHOOK, 0), *steps]
        for position, (channel, delay) in enumerate(steps):
            EscalationStep.objects.create(
                policy=policy, position=position, channel=channels[channel], delay_minutes=delay
            )
        _audit(
            "escalation_policy.create",
            policy,
            {**snapshot(policy), "steps": [[p, c, d] for p, (c, d) in enumerate(steps)]},
        )
        created.append(f"escalation policy {name}: " + ", ".join(f"{c} +{d} min" for c, d in steps))
    return created
