"""The demo's alerts notify somebody: email channels and escalation policies from seed_demo."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from alerts import delivery, lifecycle
from alerts.evaluate import evaluate_window
from alerts.models import Alert, Channel, EscalationPolicy
from alerts.notify import plan_notifications
from alerts.testing import metric, value, window
from catalog.models import MetricVersion
from dashboards.demo import notifications
from healthboard.models import AuditRecord

pytestmark = pytest.mark.django_db


def test_ensure_is_idempotent_and_audited():
    created = notifications.ensure(webhook_url="")
    assert len(created) == 6  # three channels, three policies
    assert notifications.ensure(webhook_url="") == []
    assert set(Channel.objects.values_list("email_to", flat=True)) == set(notifications.EMAILS.values())
    reliability = EscalationPolicy.objects.get(name="demo: reliability")
    assert [(s.channel.name, s.delay_minutes) for s in reliability.steps.order_by("position")] == [
        (notifications.SRE, 0),
        (notifications.STEWARD, 15),
        (notifications.OWNER, 60),
    ]
    actions = list(AuditRecord.objects.filter(actor_name="seed_demo").values_list("action", flat=True))
    assert actions.count("channel.create") == 3 and actions.count("escalation_policy.create") == 3


def test_a_latency_alert_mails_the_sre_then_escalates_to_the_data_steward(deployment_a, settings):
    settings.ALERTS_GROUP_WAIT_S = 0
    notifications.ensure(webhook_url="")
    p95 = metric(
        "latency_p95_ms", pillar=MetricVersion.Pillar.RELIABILITY, warn=500, critical=1000, window_size="5m"
    )
    value(p95, deployment_a, 0, 2500.0)
    start, end = window(0)
    evaluate_window(deployment_a.pk, start, end, now=end)
    alert = Alert.objects.get(state="firing")
    assert alert.escalation_policy.name == "demo: reliability"
    plan_notifications(end + timedelta(seconds=1))
    assert delivery.deliver_due(end + timedelta(seconds=1)) == {"delivered": 1}
    assert [m.to for m in mail.outbox] == [["oncall-sre@demo.invalid"]]

    later = end + timedelta(minutes=16)  # unacknowledged for 15 minutes: the data steward
    assert lifecycle.advance_escalations(later) == 1
    plan_notifications(later)
    delivery.deliver_due(later)
    assert [m.to for m in mail.outbox][-1] == ["data-steward@demo.invalid"]


def test_fairness_goes_to_the_data_steward_first(deployment_a):
    notifications.ensure(webhook_url="")
    gap = metric("demographic_parity_difference", pillar=MetricVersion.Pillar.FAIRNESS, window_size="1d")
    value(gap, deployment_a, 0, 0.4, attribute="sex", size=timedelta(days=1))
    start, end = window(0, timedelta(days=1))
    evaluate_window(deployment_a.pk, start, end, now=end)
    alert = Alert.objects.get(state="firing")
    assert alert.escalation_policy.name == "demo: fairness"
    assert alert.reached_channels == [Channel.objects.get(name=notifications.STEWARD).pk]


def test_webhook_channel_when_a_sink_is_configured(settings):
    settings.ALERTS_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    notifications.ensure(webhook_url="http://127.0.0.1:8409/hooks")
    hook = Channel.objects.get(name=notifications.WEBHOOK)
    assert hook.kind == "webhook" and hook.secret.startswith("whsec_")
    first = EscalationPolicy.objects.get(name="demo: default").steps.order_by("position").first()
    assert first.channel == hook and first.delay_minutes == 0


def test_seed_demo_sets_up_the_routing_with_the_demo_systems(monkeypatch):
    import io

    from healthboard.management.commands.seed_demo import Command

    monkeypatch.delenv("DEMO_WEBHOOK_URL", raising=False)
    out = io.StringIO()
    command = Command(stdout=out)
    command._demo_systems()
    assert "created channel demo on-call SRE" in out.getvalue()
    assert EscalationPolicy.objects.filter(name__startswith="demo: ").count() == 3
