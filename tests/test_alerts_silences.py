"""Silences suppress notifications only (evaluation, state and the queue are unaffected),
need an end, a reason and an author, are listed when expired, and are audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from alerts import actions
from alerts.evaluate import evaluate_window
from alerts.models import (
    Alert,
    AlertEvaluation,
    Channel,
    EscalationPolicy,
    EscalationStep,
    Notification,
    Silence,
)
from alerts.notify import plan_notifications
from alerts.silences import create_silence, expire_silence
from alerts.testing import metric, value, window
from healthboard import access
from healthboard.models import AuditRecord
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sre(system_a):
    user = UserFactory(username="sam", roles=["sre"])
    access.grant(system_a, [access.VIEW, access.MANAGE_ALERTS], user=user)
    return user


@pytest.fixture
def routed(system_a):
    channel = Channel.objects.create(name="mail", system=system_a, kind="email", email_to="sre@example.org")
    policy = EscalationPolicy.objects.create(name="all", system=system_a)
    EscalationStep.objects.create(policy=policy, position=0, channel=channel)
    return channel


def evaluate(deployment, version, index, val, **kw):
    value(version, deployment, index, val, **kw)
    start, end = window(index)
    evaluate_window(deployment.pk, start, end, now=end + timedelta(minutes=2))
    return end + timedelta(minutes=2)


def test_silence_suppresses_notifications_not_evaluation(deployment_a, routed, sre):
    psi = metric("feature_drift_psi")
    t0 = window(0)[0]
    silence = create_silence(
        system=deployment_a.system,
        deployment=deployment_a,
        metric=psi.definition,
        starts_at=t0,
        ends_at=t0 + timedelta(hours=3),
        reason="known upstream backfill",
        author=sre,
    )
    t = evaluate(deployment_a, psi, 0, 0.3, feature="income")
    alert = Alert.objects.get()
    assert alert.state == "firing" and AlertEvaluation.objects.count() == 1  # evaluated as usual
    assert alert.incident is not None
    assert plan_notifications(t + timedelta(minutes=5)) == []  # ... but nobody is told
    # another metric on the same deployment is not matched by this silence
    lat = metric("latency_p95_ms", pillar="performance", warn=300, critical=500)
    t = evaluate(deployment_a, lat, 0, 900)
    queued = plan_notifications(t + timedelta(minutes=5))
    assert [n.alert_ids for n in queued] == [[Alert.objects.get(metric__key="latency_p95_ms").id]]
    # the silence expires: the still-firing drift alert is notified at the next interval
    later = silence.ends_at + timedelta(minutes=10)
    queued = plan_notifications(later)
    assert len(queued) == 1 and alert.id in queued[0].alert_ids
    assert silence.status(later) == Silence.Status.EXPIRED


def test_segment_matcher(deployment_a, routed, sre):
    psi = metric("feature_drift_psi")
    t0 = window(0)[0]
    create_silence(
        system=deployment_a.system,
        segment="region=eu",
        starts_at=t0,
        ends_at=t0 + timedelta(hours=3),
        reason="eu data migration",
        author=sre,
    )
    evaluate(deployment_a, psi, 0, 0.3, segment="region=eu")
    t = evaluate(deployment_a, psi, 0, 0.3, segment="")
    queued = plan_notifications(t + timedelta(minutes=5))
    assert len(queued) == 1
    assert queued[0].alert_ids == [Alert.objects.get(segment="").id]


def test_silence_requires_end_reason_and_author(system_a, sre):
    now = window(0)[0]
    with pytest.raises(ValidationError):
        create_silence(system=system_a, ends_at=None, reason="x", author=sre, starts_at=now)
    with pytest.raises(ValidationError):
        create_silence(
            system=system_a, ends_at=now + timedelta(hours=1), reason="  ", author=sre, starts_at=now
        )
    with pytest.raises(ValidationError):
        create_silence(
            system=system_a, ends_at=now - timedelta(hours=1), reason="x", author=sre, starts_at=now
        )
    with pytest.raises(ValidationError):
        create_silence(
            system=system_a, ends_at=now + timedelta(hours=1), reason="x", author=None, starts_at=now
        )
    assert (
        not Silence.objects.exists() and not AuditRecord.objects.filter(action__startswith="silence").exists()
    )


def test_silences_are_audited_and_expired_ones_listed(client, system_a, sre):
    now = window(0)[0]
    silence = create_silence(
        system=system_a, starts_at=now, ends_at=now + timedelta(days=400), reason="deploy", author=sre
    )
    record = AuditRecord.objects.get(action="silence.create")
    assert record.actor == sre and record.reason == "deploy" and record.object_id == str(silence.pk)
    expire_silence(silence, user=sre, reason="done early")
    assert AuditRecord.objects.filter(action="silence.expire", actor=sre).count() == 1
    client.force_login(sre)
    page = client.get("/sre/silences/").content.decode()
    expired_table = page.split('class="table silences-expired"')[1].split("</table>")[0]
    assert "deploy" in expired_table and "ended early by sam" in expired_table


def test_silence_from_the_alert_action(deployment_a, routed, sre):
    psi = metric("feature_drift_psi")
    t = evaluate(deployment_a, psi, 0, 0.3, feature="income")
    alert = Alert.objects.get()
    silence = actions.silence(alert, user=sre, reason="investigating", duration=timedelta(hours=1), now=t)
    assert (silence.deployment, silence.metric, silence.segment) == (deployment_a, psi.definition, "")
    assert silence.ends_at == t + timedelta(hours=1)
    assert plan_notifications(t + timedelta(minutes=5)) == []
    assert Notification.objects.count() == 0
    assert alert.incident.events.filter(kind="silenced").exists()
    with pytest.raises(ValidationError):
        actions.silence(alert, user=sre, reason="", duration=timedelta(hours=1), now=t)


def test_silence_form_creates_and_refuses_unmanaged_systems(client, system_a, system_b, sre):
    client.force_login(sre)
    start = window(0)[0]
    response = client.post(
        "/sre/silences/",
        {
            "system": system_a.pk,
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "reason": "load test",
            "segment_text": "all",
        },
    )
    assert response.status_code == 302
    silence = Silence.objects.get()
    assert silence.segment == "" and silence.created_by == sre
    response = client.post(
        "/sre/silences/",
        {
            "system": system_b.pk,
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "reason": "x",
        },
    )
    assert response.status_code == 200 and Silence.objects.count() == 1  # not a choice: form error
    missing_end = client.post("/sre/silences/", {"system": system_a.pk, "reason": "x"})
    assert missing_end.status_code == 200 and Silence.objects.count() == 1
