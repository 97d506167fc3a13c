"""The SRE pages: queue order and filters, incident timeline, post-mortem pre-filled with the
timeline, channels (SSRF refused in the form), escalation policies, dead letters with replay,
and the static assets (htmx from django-htmx, no inline script)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings

from alerts import reliability
from alerts.evaluate import evaluate_window
from alerts.models import Alert, Channel, EscalationPolicy, Incident, Notification, PostMortem
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
def queue(deployment_a):
    """A warning that fired first, a critical that fired later, a pending one."""
    psi = metric("feature_drift_psi")
    lat = metric("latency_p95_ms", pillar="performance", warn=300, critical=500)
    acc = metric(
        "accuracy", pillar="performance", direction="higher_is_better", warn=0.85, critical=0.8, for_windows=3
    )
    value(psi, deployment_a, 0, 0.12, feature="income")
    evaluate_window(deployment_a.pk, *window(0), now=window(0)[1] + timedelta(minutes=2))
    value(lat, deployment_a, 1, 900)
    value(acc, deployment_a, 1, 0.84)
    evaluate_window(deployment_a.pk, *window(1), now=window(1)[1] + timedelta(minutes=2))
    return {a.metric.key: a for a in Alert.objects.all()}


def card_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-alert-id="(\d+)"', html)]


def test_queue_is_sorted_by_severity_then_state_then_age(client, sre, queue):
    client.force_login(sre)
    html = client.get("/sre/alerts/").content.decode()
    assert card_ids(html) == [queue["latency_p95_ms"].id, queue["feature_drift_psi"].id, queue["accuracy"].id]
    assert "<svg" in html and "Playbook" in html and "Drill down" in html and "run #" in html


def test_queue_filters(client, sre, queue):
    client.force_login(sre)
    assert card_ids(client.get("/sre/alerts/?severity=critical").content.decode()) == [
        queue["latency_p95_ms"].id
    ]
    assert card_ids(client.get("/sre/alerts/?state=pending").content.decode()) == [queue["accuracy"].id]
    assert card_ids(client.get("/sre/alerts/?pillar=data_quality").content.decode()) == [
        queue["feature_drift_psi"].id
    ]
    assert card_ids(client.get("/sre/alerts/?system=system-b").content.decode()) == []


def test_queue_query_count_is_bounded(client, sre, queue, django_assert_max_num_queries):
    client.force_login(sre)
    client.get("/sre/alerts/")
    with django_assert_max_num_queries(14):
        client.get("/sre/alerts/")


def test_templates_have_no_inline_script_and_htmx_is_served_locally(client, sre, queue):
    client.force_login(sre)
    html = client.get("/sre/alerts/").content.decode()
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts and all("src=" in s for s in scripts)
    assert "/static/django_htmx/htmx-2.min.js" in html and "cdn" not in html.lower()
    for template in (Path(settings.BASE_DIR) / "templates" / "alerts").glob("*.html"):
        for tag in re.findall(r"<script[^>]*>", template.read_text()):
            assert "src=" in tag, template
    from django.contrib.staticfiles import finders

    assert finders.find("django_htmx/htmx-2.min.js")  # shipped inside django-htmx, no copy in the repo


def test_alert_detail_shows_evaluations_with_rule_snapshot(client, sre, queue):
    client.force_login(sre)
    html = client.get(f"/sre/alerts/{queue['latency_p95_ms'].id}/").content.decode()
    assert "warn 300.0 / crit 500.0 / for 1" in html and "Lineage" in html


def test_incident_timeline_includes_catalog_changes_and_deploys(
    client, sre, queue, deployment_a, catalog_admin
):
    from catalog import services

    incident = Incident.objects.get()
    services.set_threshold_override(
        "latency_p95_ms",
        scope="deployment",
        target=deployment_a,
        warn_threshold=250,
        reason="tighten after the incident",
        actor=catalog_admin,
    )
    client.force_login(sre)
    html = client.get(f"/sre/incidents/{incident.pk}/").content.decode()
    assert "Incident opened" in html and "Alert fired" in html
    assert "Catalog change" in html and "tighten after the incident" in html
    # the deployment started "now", inside the open incident's period
    assert "<strong>Deploy</strong>" in html and f"{deployment_a.model_version} deployed" in html


def test_incident_note_and_postmortem_prefilled_with_the_timeline(client, sre, queue):
    incident = Incident.objects.get()
    client.force_login(sre)
    client.post(f"/sre/incidents/{incident.pk}/notes/", {"text": "Upstream team paged"})
    form = client.get(f"/sre/incidents/{incident.pk}/postmortem/").content.decode()
    prefilled = re.search(r'<textarea name="what_happened"[^>]*>(.*?)</textarea>', form, re.S).group(1)
    assert "Alert fired" in prefilled and "Upstream team paged" in prefilled
    version = queue["latency_p95_ms"].metric_version
    response = client.post(
        f"/sre/incidents/{incident.pk}/postmortem/",
        {
            "root_cause_category": "infrastructure",
            "summary": "A saturated load balancer slowed every request.",
            "what_happened": prefilled,
            "actions-TOTAL_FORMS": "2",
            "actions-INITIAL_FORMS": "0",
            "actions-MIN_NUM_FORMS": "0",
            "actions-MAX_NUM_FORMS": "1000",
            "actions-0-description": "Tighten the latency threshold",
            "actions-0-metric_version": version.pk,
            "actions-0-link": "",
            "actions-1-description": "",
            "actions-1-link": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    postmortem = PostMortem.objects.get(incident=incident)
    assert postmortem.root_cause_category == "infrastructure" and postmortem.author == sre
    assert [(a.description, a.metric_version) for a in postmortem.actions.all()] == [
        ("Tighten the latency threshold", version)
    ]
    assert AuditRecord.objects.filter(action="postmortem.create").exists()
    assert client.get(f"/api/v1/incidents/{incident.pk}/").json()["postmortem"]["root_cause_category"] == (
        "infrastructure"
    )


def test_viewer_cannot_write_a_postmortem(client, alice, queue):
    incident = Incident.objects.get()
    client.force_login(alice)
    assert client.get(f"/sre/incidents/{incident.pk}/postmortem/").status_code == 200
    response = client.post(f"/sre/incidents/{incident.pk}/postmortem/", {"root_cause_category": "data"})
    assert response.status_code == 403 and not PostMortem.objects.exists()
    assert client.post(f"/sre/incidents/{incident.pk}/notes/", {"text": "x"}).status_code == 403


def test_channel_form_refuses_ssrf_and_saves_public_hooks(client, sre, system_a, settings):
    settings.ALERTS_WEBHOOK_ALLOWED_NETWORKS = []
    client.force_login(sre)
    bad = client.post(
        "/sre/channels/",
        {
            "name": "x",
            "system": system_a.pk,
            "kind": "webhook",
            "url": "http://169.254.169.254/latest/",
            "payload_format": "healthboard",
            "enabled": "on",
            "send_resolved": "on",
        },
    )
    assert bad.status_code == 200 and "non-public address" in bad.content.decode()
    assert not Channel.objects.exists()
    ok = client.post(
        "/sre/channels/",
        {
            "name": "pager",
            "system": system_a.pk,
            "kind": "webhook",
            "url": "https://93.184.216.34/hook",
            "payload_format": "alertmanager",
            "enabled": "on",
            "send_resolved": "on",
        },
    )
    assert ok.status_code == 302
    channel = Channel.objects.get()
    assert channel.payload_format == "alertmanager" and channel.secret.startswith("whsec_")
    record = AuditRecord.objects.get(action="channel.create")
    assert "secret" not in record.after
    page = client.get("/sre/channels/").content.decode()
    assert channel.secret not in page


def test_non_admin_cannot_create_shared_channels_or_policies(client, sre):
    client.force_login(sre)
    response = client.post(
        "/sre/channels/",
        {"name": "x", "kind": "email", "email_to": "a@example.org", "payload_format": "healthboard"},
    )
    assert response.status_code == 200 and not Channel.objects.exists()  # system is required


def test_policy_ui_creates_ordered_steps(client, sre, system_a):
    oncall = Channel.objects.create(name="oncall", system=system_a, kind="email", email_to="o@example.org")
    steward = Channel.objects.create(name="steward", system=system_a, kind="email", email_to="s@example.org")
    client.force_login(sre)
    response = client.post(
        "/sre/escalation-policies/",
        {
            "name": "latency",
            "system": system_a.pk,
            "pillar": "performance",
            "severity": "",
            "steps-TOTAL_FORMS": "3",
            "steps-INITIAL_FORMS": "0",
            "steps-MIN_NUM_FORMS": "1",
            "steps-MAX_NUM_FORMS": "1000",
            "steps-0-position": "0",
            "steps-0-channel": oncall.pk,
            "steps-0-delay_minutes": "0",
            "steps-1-position": "1",
            "steps-1-channel": steward.pk,
            "steps-1-delay_minutes": "15",
            "steps-2-position": "",
            "steps-2-channel": "",
            "steps-2-delay_minutes": "0",
        },
    )
    assert response.status_code == 302, re.findall(
        r"errorlist[^>]*>(.*?)</ul>", response.content.decode(), re.S
    )
    policy = EscalationPolicy.objects.get()
    assert [(s.channel.name, s.delay_minutes) for s in policy.steps.order_by("position")] == [
        ("oncall", 0),
        ("steward", 15),
    ]
    assert AuditRecord.objects.filter(action="escalation_policy.create").exists()
    assert "steward after 15 min" in client.get("/sre/escalation-policies/").content.decode()


def test_deliveries_page_lists_dead_letters_and_replays(client, sre, queue, system_a):
    channel = Channel.objects.create(name="mail", system=system_a, kind="email", email_to="o@example.org")
    incident = Incident.objects.get()
    dead = Notification.objects.create(
        channel=channel,
        incident=incident,
        group_key=incident.group_key,
        state_hash="x",
        kind="firing",
        status="dead",
        last_error="HTTP 503",
    )
    client.force_login(sre)
    page = client.get("/sre/deliveries/").content.decode()
    assert str(dead.notification_id) in page and "Replay" in page
    assert client.post(f"/sre/deliveries/{dead.pk}/replay/").status_code == 302
    dead.refresh_from_db()
    assert dead.status == "pending" and dead.replay_count == 1


def test_incident_list_and_reliability_numbers(client, sre, queue):
    client.force_login(sre)
    html = client.get("/sre/incidents/").content.decode()
    assert "INC-" in html
    assert reliability.open_critical_alerts() == 1
