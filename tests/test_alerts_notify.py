"""Notifications end to end against a real local HTTP receiver (threaded http.server on a port in
8500-8599): grouping, signatures, retries with backoff, Retry-After, dead letters and replay,
SSRF refusal, Alertmanager format, email."""

from __future__ import annotations

import json
import random
import socket
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from alerts import delivery, netguard, signing
from alerts.evaluate import evaluate_window
from alerts.models import Alert, Channel, DeliveryAttempt, EscalationPolicy, EscalationStep, Notification
from alerts.notify import plan_notifications
from alerts.testing import metric, value, window
from catalog.models import MetricVersion
from healthboard.models import AuditRecord
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    for port in range(8520, 8600):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8520-8599")


@pytest.fixture
def receiver(settings):
    settings.ALERTS_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the local receiver, explicitly
    server = Receiver(_free_port())
    yield server
    server.stop()


@pytest.fixture
def webhook(receiver, system_a):
    channel = Channel.objects.create(name="oncall-hook", system=system_a, kind="webhook", url=receiver.url)
    policy = EscalationPolicy.objects.create(name="default", system=system_a)
    EscalationStep.objects.create(policy=policy, position=0, channel=channel, delay_minutes=0)
    return channel


def fire(deployment, index: int, features=("income", "age"), val=0.3, now=None):
    psi = MetricVersion.objects.filter(
        definition__key="feature_drift_psi", is_current=True, change_reason="test fixture"
    ).first() or metric("feature_drift_psi")
    for feature in features:
        value(psi, deployment, index, val, feature=feature)
    start, end = window(index)
    now = now or end + timedelta(minutes=2)
    evaluate_window(deployment.pk, start, end, now=now)
    return now


def test_one_signed_notification_per_group(receiver, webhook, deployment_a, settings):
    settings.ALERTS_GROUP_WAIT_S = 30
    t = fire(deployment_a, 0)
    assert Alert.objects.filter(state="firing").count() == 2
    assert plan_notifications(t) == []  # group_wait: let simultaneous alerts batch
    queued = plan_notifications(t + timedelta(seconds=31))
    assert len(queued) == 1 and sorted(queued[0].alert_ids) == sorted(
        Alert.objects.values_list("id", flat=True)
    )
    assert plan_notifications(t + timedelta(seconds=32)) == []  # nothing new
    assert delivery.deliver_due(t + timedelta(seconds=31)) == {"delivered": 1}

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    payload = json.loads(request["body"])
    assert payload["status"] == "firing" and payload["counts"] == {"firing": 2, "resolved": 0}
    assert (
        payload["notification_id"] == request["headers"][signing.ID_HEADER] == str(queued[0].notification_id)
    )
    assert {a["feature"] for a in payload["alerts"]} == {"income", "age"}
    assert signing.verify(webhook.secret, request["body"], request["headers"][signing.HEADER])


def test_signature_verifies_and_tampering_fails(receiver, webhook, deployment_a):
    t = fire(deployment_a, 0, features=("income",))
    plan_notifications(t + timedelta(minutes=1))
    delivery.deliver_due(t + timedelta(minutes=1))
    body, header = receiver.requests[0]["body"], receiver.requests[0]["headers"][signing.HEADER]
    timestamp, _ = signing.parse(header)
    assert signing.verify(webhook.secret, body, header)
    tampered = body.replace(b'"firing"', b'"resolvd"', 1)
    assert tampered != body and not signing.verify(webhook.secret, tampered, header)
    assert not signing.verify(webhook.secret, body[:-1] + b" ", header)
    assert not signing.verify("whsec_other", body, header)
    assert not signing.verify(webhook.secret, body, header, now=timestamp + 301)  # replayed later
    assert not signing.verify(webhook.secret, body, header.replace("t=", "t=1"))


def test_receiver_down_then_up_delivers_exactly_once(receiver, webhook, deployment_a):
    receiver.script = [(500, {}), (500, {}), (500, {})]
    t = fire(deployment_a, 0) + timedelta(minutes=1)
    plan_notifications(t)
    rng = random.Random(7)
    now = t
    delays = []
    for _ in range(10):
        delivery.deliver_due(now, rng=rng)
        notification = Notification.objects.get()
        if notification.status == Notification.Status.DELIVERED:
            break
        assert notification.status == Notification.Status.PENDING
        assert delivery.deliver_due(now, rng=rng) == {}  # not due again before its backoff
        delays.append((notification.next_attempt_at - now).total_seconds())
        now = notification.next_attempt_at
    notification = Notification.objects.get()
    assert notification.status == Notification.Status.DELIVERED and notification.attempts == 4
    assert [r["status"] for r in receiver.requests] == [500, 500, 500, 200]
    assert len(receiver.accepted) == 1
    ids = {r["headers"][signing.ID_HEADER] for r in receiver.requests}
    assert ids == {str(notification.notification_id)}  # stable id across retries
    assert {r["body"] for r in receiver.requests} == {receiver.requests[0]["body"]}
    outcomes = list(notification.delivery_attempts.values_list("outcome", "status_code"))
    assert outcomes == [("retry", 500), ("retry", 500), ("retry", 500), ("delivered", 200)]
    # exponential backoff with jitter: base 10 s doubling, each in [half, full]
    assert 5 <= delays[0] <= 10 and 10 <= delays[1] <= 20 and 20 <= delays[2] <= 40
    # nothing more is ever sent for it
    later = now + timedelta(hours=1)
    assert plan_notifications(later) == [] and delivery.deliver_due(later) == {}
    assert len(receiver.requests) == 4


def test_429_retry_after_is_honoured(receiver, webhook, deployment_a):
    receiver.script = [(429, {"Retry-After": "120"})]
    t = fire(deployment_a, 0) + timedelta(minutes=1)
    plan_notifications(t)
    assert delivery.deliver_due(t, rng=random.Random(1)) == {"retry": 1}
    notification = Notification.objects.get()
    assert (notification.next_attempt_at - t).total_seconds() >= 120
    assert DeliveryAttempt.objects.get().retry_after_s == 120
    assert delivery.deliver_due(t + timedelta(seconds=119)) == {}
    assert len(receiver.requests) == 1
    assert delivery.deliver_due(t + timedelta(seconds=121)) == {"delivered": 1}
    assert [r["status"] for r in receiver.requests] == [429, 200]


def test_retry_after_as_http_date():
    from alerts.transports import parse_retry_after

    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412420.0) == 60.0
    assert parse_retry_after("30") == 30.0 and parse_retry_after("soon") is None


def test_dead_letter_after_max_age_then_manual_replay(
    receiver, webhook, deployment_a, settings, catalog_admin
):
    settings.ALERTS_DELIVERY_MAX_AGE_S = 60
    receiver.script = [(503, {})] * 20
    t = fire(deployment_a, 0) + timedelta(minutes=1)
    plan_notifications(t)
    now = t
    for _ in range(20):
        delivery.deliver_due(now, rng=random.Random(3))
        notification = Notification.objects.get()
        if notification.status == Notification.Status.DEAD:
            break
        now = notification.next_attempt_at
    assert notification.status == Notification.Status.DEAD and "gave up" in notification.last_error
    assert notification.delivery_attempts.last().outcome == "dead"
    attempts_before = len(receiver.requests)
    assert delivery.deliver_due(now + timedelta(hours=1)) == {}  # dead letters are not retried

    receiver.script = []
    from healthboard import access

    access.grant(deployment_a.system, [access.VIEW, access.MANAGE_ALERTS], user=catalog_admin)
    delivery.replay(notification, user=catalog_admin, reason="receiver fixed", now=now + timedelta(hours=2))
    assert delivery.deliver_due(now + timedelta(hours=2)) == {"delivered": 1}
    assert len(receiver.requests) == attempts_before + 1
    assert AuditRecord.objects.filter(action="notification.replay").count() == 1


def test_410_gone_disables_the_channel(receiver, webhook, deployment_a):
    receiver.script = [(410, {})]
    t = fire(deployment_a, 0) + timedelta(minutes=1)
    plan_notifications(t)
    assert delivery.deliver_due(t) == {"dead": 1}
    webhook.refresh_from_db()
    assert not webhook.enabled and "410" in webhook.disabled_reason


def test_group_interval_batches_changes_and_resolves_are_sent(receiver, webhook, deployment_a, settings):
    settings.ALERTS_GROUP_WAIT_S = 30
    settings.ALERTS_GROUP_INTERVAL_S = 300
    t = window(0)[1] + timedelta(minutes=2)
    fire(deployment_a, 0, features=("income",), now=t)
    assert len(plan_notifications(t + timedelta(seconds=40))) == 1
    # a second alert joins the incident a minute later: held back until the group interval
    fire(deployment_a, 1, features=("age",), now=t + timedelta(seconds=60))
    assert plan_notifications(t + timedelta(seconds=61)) == []
    assert plan_notifications(t + timedelta(seconds=339)) == []
    second = plan_notifications(t + timedelta(seconds=341))
    assert len(second) == 1 and len(second[0].alert_ids) == 2
    # both resolve: the resolve waits for the interval too, then goes out once
    fire(deployment_a, 2, features=("income", "age"), val=0.01, now=t + timedelta(seconds=400))
    assert plan_notifications(t + timedelta(seconds=401)) == []
    resolved = plan_notifications(t + timedelta(seconds=642))
    assert len(resolved) == 1 and resolved[0].kind == "resolved"
    assert plan_notifications(t + timedelta(hours=6)) == []
    delivery.deliver_due(t + timedelta(hours=6))
    assert len(receiver.requests) == 3
    last = json.loads(receiver.requests[-1]["body"])
    assert last["status"] == "resolved" and {a["status"] for a in last["alerts"]} == {"resolved"}
    assert len(last["alerts"]) == 2


def test_repeat_interval_only_for_unacknowledged(receiver, webhook, deployment_a, settings, catalog_admin):
    settings.ALERTS_REPEAT_INTERVAL_S = 3600
    t = fire(deployment_a, 0, features=("income",)) + timedelta(minutes=1)
    plan_notifications(t)
    assert plan_notifications(t + timedelta(minutes=59)) == []
    repeat = plan_notifications(t + timedelta(minutes=61))
    assert len(repeat) == 1 and repeat[0].epoch == 1
    from alerts import actions
    from healthboard import access

    access.grant(deployment_a.system, [access.VIEW, access.MANAGE_ALERTS], user=catalog_admin)
    actions.acknowledge(Alert.objects.get(), user=catalog_admin, comment="on it")
    assert plan_notifications(t + timedelta(hours=5)) == []


def test_outbox_key_is_unique(receiver, webhook, deployment_a):
    t = fire(deployment_a, 0, features=("income",)) + timedelta(minutes=1)
    row = plan_notifications(t)[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(
            channel=row.channel,
            incident=row.incident,
            group_key=row.group_key,
            state_hash=row.state_hash,
            epoch=row.epoch,
            kind="firing",
        )


def test_claim_is_exclusive_and_leases_expire(receiver, webhook, deployment_a):
    t = fire(deployment_a, 0, features=("income",)) + timedelta(minutes=1)
    row = plan_notifications(t)[0]
    assert delivery.claim(t) == [row.pk]
    assert delivery.claim(t) == []  # claimed: another worker gets nothing
    assert delivery.claim(t + delivery.LEASE + timedelta(seconds=1)) == [row.pk]  # worker died: reclaimed


def test_alertmanager_payload_option(receiver, webhook, deployment_a):
    webhook.payload_format = Channel.PayloadFormat.ALERTMANAGER
    webhook.save()
    t = fire(deployment_a, 0, features=("income",)) + timedelta(minutes=1)
    plan_notifications(t)
    delivery.deliver_due(t)
    payload = json.loads(receiver.requests[0]["body"])
    assert payload["version"] == "4" and payload["status"] == "firing"
    assert payload["groupLabels"] == {"system": "system-a"}
    alert = payload["alerts"][0]
    assert alert["labels"]["alertname"] == "feature_drift_psi" and alert["labels"]["feature"] == "income"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z" and alert["fingerprint"]
    assert set(payload) >= {
        "receiver",
        "groupKey",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    }


def test_email_channel(system_a, deployment_a):
    channel = Channel.objects.create(
        name="oncall-mail", system=system_a, kind="email", email_to="sre@example.org"
    )
    policy = EscalationPolicy.objects.create(name="mail", system=system_a)
    EscalationStep.objects.create(policy=policy, position=0, channel=channel)
    t = fire(deployment_a, 0) + timedelta(minutes=1)
    plan_notifications(t)
    assert delivery.deliver_due(t) == {"delivered": 1}
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["sre@example.org"] and message.subject.startswith("[FIRING:2]")
    assert signing.ID_HEADER in message.extra_headers


SSRF_TARGETS = [
    "http://127.0.0.1/hook",
    "http://localhost:8080/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://10.1.2.3/hook",
    "http://172.16.5.4/hook",
    "http://192.168.1.10/hook",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[fd00::1]/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://2130706433/hook",
    "file:///etc/passwd",
    "gopher://127.0.0.1:25/",
    "ftp://example.org/",
]


@pytest.mark.parametrize("url", SSRF_TARGETS)
def test_ssrf_targets_are_refused_on_save(url, system_a, settings):
    settings.ALERTS_WEBHOOK_ALLOWED_NETWORKS = []
    with pytest.raises(ValidationError):
        Channel.objects.create(name="bad", system=system_a, kind="webhook", url=url)
    with pytest.raises(ValidationError):
        Channel(name="bad", system=system_a, kind="webhook", url=url).full_clean()
    assert not Channel.objects.exists()


def test_public_addresses_are_allowed(system_a, settings):
    settings.ALERTS_WEBHOOK_ALLOWED_NETWORKS = []
    Channel.objects.create(name="ok", system=system_a, kind="webhook", url="https://93.184.216.34/hook")
    assert netguard.is_address_allowed("8.8.8.8") and not netguard.is_address_allowed("127.0.0.1")


def test_ssrf_is_checked_again_when_sending(receiver, webhook, deployment_a, settings):
    """Allowed when saved, no longer allowed at send time: refused, nothing reaches the host."""
    t = fire(deployment_a, 0, features=("income",)) + timedelta(minutes=1)
    plan_notifications(t)
    settings.ALERTS_WEBHOOK_ALLOWED_NETWORKS = []
    assert delivery.deliver_due(t) == {"refused": 1}
    assert receiver.requests == []
    assert Notification.objects.get().status == Notification.Status.DEAD


def test_the_connected_peer_is_checked(receiver, settings):
    """DNS rebinding: whatever a name resolved to earlier, the socket's peer is checked."""
    settings.ALERTS_WEBHOOK_ALLOWED_NETWORKS = []
    port = int(receiver.url.split(":")[2].split("/")[0])
    connection = netguard.GuardedHTTPConnection("127.0.0.1", port, timeout=2)
    with pytest.raises(netguard.UnsafeURL):
        connection.connect()
    assert receiver.requests == []
