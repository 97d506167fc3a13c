"""Escalation policies with a frozen clock (``now`` is passed explicitly): steps by delay,
acknowledging stops escalation, routing by system / pillar / severity, manual escalation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts import actions
from alerts.evaluate import evaluate_window
from alerts.lifecycle import advance_escalations
from alerts.models import Alert, Channel, EscalationPolicy, EscalationStep, IncidentEvent, Notification
from alerts.notify import plan_notifications
from alerts.silences import create_silence
from alerts.testing import metric, value, window
from healthboard import access
from healthboard.models import AuditRecord
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
MIN = timedelta(minutes=1)


@pytest.fixture
def sre(system_a):
    user = UserFactory(username="sam", roles=["sre"])
    access.grant(system_a, [access.VIEW, access.MANAGE_ALERTS], user=user)
    return user


@pytest.fixture
def channels(system_a):
    def make(name):
        return Channel.objects.create(
            name=name, system=system_a, kind="email", email_to=f"{name}@example.org"
        )

    return {name: make(name) for name in ("oncall", "steward", "owner", "tickets")}


@pytest.fixture
def policies(system_a, channels):
    latency = EscalationPolicy.objects.create(name="latency", system=system_a, pillar="performance")
    for position, (name, delay) in enumerate([("oncall", 0), ("steward", 15), ("owner", 60)]):
        EscalationStep.objects.create(
            policy=latency, position=position, channel=channels[name], delay_minutes=delay
        )
    fairness = EscalationPolicy.objects.create(name="fairness", system=system_a, pillar="fairness")
    EscalationStep.objects.create(policy=fairness, position=0, channel=channels["steward"], delay_minutes=0)
    EscalationStep.objects.create(policy=fairness, position=1, channel=channels["owner"], delay_minutes=240)
    return {"latency": latency, "fairness": fairness}


def fire(deployment, key, index=0, val=900.0, *, pillar="performance", segment="", now=None, **rule):
    version = metric(key, pillar=pillar, **rule) if rule or key not in _made else _made[key]
    _made[key] = version
    value(version, deployment, index, val, segment=segment)
    start, end = window(index)
    now = now or end + timedelta(minutes=2)
    evaluate_window(deployment.pk, start, end, now=now)
    return Alert.objects.get(metric__key=key, segment=segment, state__in=["firing", "pending"]), now


_made: dict = {}


@pytest.fixture(autouse=True)
def _reset_made():
    _made.clear()


def reached(alert, channels):
    alert.refresh_from_db()
    by_id = {c.id: name for name, c in channels.items()}
    return [by_id[i] for i in alert.reached_channels]


def test_steps_are_reached_by_delay_and_ack_stops_escalation(deployment_a, policies, channels, sre):
    alert, t = fire(deployment_a, "latency_p95_ms", warn=300, critical=500)
    assert alert.escalation_policy == policies["latency"]
    assert reached(alert, channels) == ["oncall"]
    assert alert.next_escalation_at == t + 15 * MIN

    assert advance_escalations(t + 14 * MIN) == 0
    assert reached(alert, channels) == ["oncall"]
    assert advance_escalations(t + 15 * MIN) == 1
    assert reached(alert, channels) == ["oncall", "steward"]
    alert.refresh_from_db()
    assert alert.next_escalation_at == t + 60 * MIN

    actions.acknowledge(alert, user=sre, comment="looking at the load balancer", now=t + 20 * MIN)
    alert.refresh_from_db()
    assert alert.next_escalation_at is None
    assert advance_escalations(t + 61 * MIN) == 0
    assert reached(alert, channels) == ["oncall", "steward"]  # the product owner is never paged
    kinds = list(IncidentEvent.objects.filter(alert=alert).values_list("kind", flat=True))
    assert kinds.count("escalated") == 2 and "acknowledged" in kinds


def test_unacknowledged_alert_reaches_every_step(deployment_a, policies, channels):
    alert, t = fire(deployment_a, "latency_p95_ms", warn=300, critical=500)
    assert advance_escalations(t + 2 * 60 * MIN) == 2  # both late steps at once when overdue
    assert reached(alert, channels) == ["oncall", "steward", "owner"]
    alert.refresh_from_db()
    assert alert.next_escalation_at is None


def test_each_reached_channel_gets_its_notification(deployment_a, policies, channels):
    _, t = fire(deployment_a, "latency_p95_ms", warn=300, critical=500)
    first = plan_notifications(t + MIN)
    assert [n.channel.name for n in first] == ["oncall"]
    advance_escalations(t + 15 * MIN)
    second = plan_notifications(t + 15 * MIN)
    assert [n.channel.name for n in second] == ["steward"]
    assert Notification.objects.count() == 2


def test_fairness_goes_to_the_data_steward_first(deployment_a, policies, channels):
    alert, _ = fire(
        deployment_a, "demographic_parity_difference", val=0.3, pillar="fairness", warn=0.1, critical=0.2
    )
    assert alert.escalation_policy == policies["fairness"]
    assert reached(alert, channels) == ["steward"]


def test_most_specific_policy_wins(deployment_a, system_b, channels, catalog_admin):
    shared = Channel.objects.create(name="shared", kind="email", email_to="all@example.org")
    everything = EscalationPolicy.objects.create(name="global default")
    EscalationStep.objects.create(policy=everything, position=0, channel=shared)
    alert, _ = fire(
        deployment_a, "feature_drift_psi", val=0.3, pillar="data_quality", warn=0.1, critical=0.25
    )
    assert alert.escalation_policy == everything  # nothing more specific exists
    mine = EscalationPolicy.objects.create(name="system a", system=deployment_a.system)
    EscalationStep.objects.create(policy=mine, position=0, channel=channels["tickets"])
    other = EscalationPolicy.objects.create(name="system b", system=system_b, pillar="data_quality")
    EscalationStep.objects.create(policy=other, position=0, channel=shared)
    second, _ = fire(deployment_a, "feature_drift_psi", index=1, val=0.3, segment="region=eu")
    assert second.escalation_policy == mine


def test_severity_raise_reroutes_to_a_critical_policy(deployment_a, channels):
    tickets = EscalationPolicy.objects.create(
        name="latency tickets", system=deployment_a.system, pillar="performance"
    )
    EscalationStep.objects.create(policy=tickets, position=0, channel=channels["tickets"])
    page = EscalationPolicy.objects.create(
        name="latency page", system=deployment_a.system, pillar="performance", severity="critical"
    )
    EscalationStep.objects.create(policy=page, position=0, channel=channels["oncall"])
    alert, _ = fire(deployment_a, "latency_p95_ms", val=350, warn=300, critical=500)
    assert alert.severity == "warning" and alert.escalation_policy == tickets
    same, _ = fire(deployment_a, "latency_p95_ms", index=1, val=900)
    assert same.pk == alert.pk and same.severity == "critical"
    assert same.escalation_policy == page
    assert reached(same, channels) == ["tickets", "oncall"]


def test_silenced_alerts_do_not_escalate_until_the_silence_ends(deployment_a, policies, channels, sre):
    alert, t = fire(deployment_a, "latency_p95_ms", warn=300, critical=500)
    create_silence(
        system=deployment_a.system, starts_at=t, ends_at=t + 30 * MIN, reason="maintenance", author=sre
    )
    assert advance_escalations(t + 20 * MIN) == 0
    assert reached(alert, channels) == ["oncall"]
    assert advance_escalations(t + 31 * MIN) == 1
    assert reached(alert, channels) == ["oncall", "steward"]


def test_manual_escalation_is_audited(deployment_a, policies, channels, sre):
    alert, t = fire(deployment_a, "latency_p95_ms", warn=300, critical=500)
    actions.escalate(alert, user=sre, comment="need the steward now", now=t + 2 * MIN)
    assert reached(alert, channels) == ["oncall", "steward"]
    alert.refresh_from_db()
    assert alert.next_escalation_at == t + 60 * MIN
    record = AuditRecord.objects.get(action="alert.escalate")
    assert record.actor == sre and record.reason == "need the steward now"
    assert record.diff["escalation_step"] == [1, 2]
