"""Alert access: another team's alerts and incidents are 404 (UI and API); a viewer without
``manage_alerts`` gets 403 for every action and nothing changes; managers' actions are audited."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.evaluate import evaluate_window
from alerts.models import Alert, Channel, EscalationPolicy, EscalationStep, IncidentEvent, Silence
from alerts.testing import metric, value, window
from healthboard import access
from healthboard.models import AuditRecord
from healthboard.tokens import issue_token
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ACTIONS = ["acknowledge", "resolve", "silence", "escalate"]


@pytest.fixture
def firing(deployment_a):
    channel = Channel.objects.create(
        name="mail", system=deployment_a.system, kind="email", email_to="a@example.org"
    )
    policy = EscalationPolicy.objects.create(name="p", system=deployment_a.system)
    EscalationStep.objects.create(policy=policy, position=0, channel=channel)
    EscalationStep.objects.create(policy=policy, position=1, channel=channel, delay_minutes=30)
    psi = metric("feature_drift_psi")
    value(psi, deployment_a, 0, 0.3, feature="income")
    evaluate_window(deployment_a.pk, *window(0), now=window(0)[1] + timedelta(minutes=2))
    return Alert.objects.get()


@pytest.fixture
def sre_a(system_a):
    user = UserFactory(username="sam", roles=["sre"])
    access.grant(system_a, [access.VIEW, access.MANAGE_ALERTS], user=user)
    return user


def snapshot_state(alert):
    alert.refresh_from_db()
    return (
        alert.state,
        alert.acknowledged_at,
        alert.resolved_at,
        alert.escalation_step,
        alert.reached_channels,
        Silence.objects.count(),
        AuditRecord.objects.filter(action__startswith="alert.").count(),
        IncidentEvent.objects.exclude(kind__in=["opened", "fired", "escalated"]).count(),
    )


def post_action(client, alert, action, htmx=False):
    data = {"comment": "x", "reason": "because", "duration": "60", "scope": "series"}
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(f"/sre/alerts/{alert.pk}/{action}/", data, **headers)


@pytest.mark.parametrize("action", ACTIONS)
def test_outsider_gets_404_and_nothing_changes(client, firing, bob, action):
    before = snapshot_state(firing)
    client.force_login(bob)
    assert post_action(client, firing, action).status_code == 404
    assert post_action(client, firing, action, htmx=True).status_code == 404
    assert client.post(
        f"/api/v1/alerts/{firing.pk}/{action}/",
        {"reason": "x", "duration_minutes": 5},
        content_type="application/json",
    ).status_code in (404, 405)
    assert snapshot_state(firing) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_viewer_without_manage_alerts_gets_403_and_nothing_changes(client, firing, alice, action):
    assert access.has_perm(alice, firing, access.VIEW) and not access.has_perm(
        alice, firing, access.MANAGE_ALERTS
    )
    before = snapshot_state(firing)
    client.force_login(alice)
    assert post_action(client, firing, action).status_code == 403
    assert post_action(client, firing, action, htmx=True).status_code == 403
    api = client.post(
        f"/api/v1/alerts/{firing.pk}/{action}/",
        {"reason": "x", "duration_minutes": 5},
        content_type="application/json",
    )
    assert api.status_code == (403 if action != "escalate" else 404)  # escalate is UI-only
    assert snapshot_state(firing) == before


def test_api_scoping_lists_and_details(client, firing, bob, alice, deployment_b):
    psi = metric("feature_drift_psi", warn=0.1, critical=0.25)
    value(psi, deployment_b, 0, 0.3)
    evaluate_window(deployment_b.pk, *window(0), now=window(0)[1] + timedelta(minutes=2))
    other = Alert.objects.get(deployment=deployment_b)
    client.force_login(bob)
    ids = [a["id"] for a in client.get("/api/v1/alerts/").json()["results"]]
    assert ids == [other.id]
    assert client.get(f"/api/v1/alerts/{firing.pk}/").status_code == 404
    assert client.get(f"/api/v1/incidents/{firing.incident_id}/").status_code == 404
    assert [i["id"] for i in client.get("/api/v1/incidents/").json()["results"]] == [other.incident_id]
    assert client.get(f"/sre/alerts/{firing.pk}/").status_code == 404
    assert client.get(f"/sre/incidents/{firing.incident_id}/").status_code == 404
    assert f'id="alert-{firing.pk}"' not in client.get("/sre/alerts/").content.decode()
    client.force_login(alice)
    body = client.get("/api/v1/alerts/?state=firing&severity=critical&system=system-a").json()
    assert [a["id"] for a in body["results"]] == [firing.id]
    assert body["results"][0]["metric"] == "feature_drift_psi" and body["results"][0]["system"] == "system-a"
    assert client.get("/api/v1/alerts/?state=resolved").json()["results"] == []
    assert client.get("/api/v1/alerts/?severity=warning").json()["results"] == []


def test_manager_actions_through_the_api_are_audited(client, firing, sre_a):
    token = issue_token(kind="personal", user=sre_a)
    raw = token[1] if isinstance(token, tuple) else token
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    response = client.post(
        f"/api/v1/alerts/{firing.pk}/acknowledge/",
        {"comment": "on it"},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 200, response.content
    assert response.json()["acknowledged_by"] == "sam" and response.json()["ack_comment"] == "on it"
    record = AuditRecord.objects.get(action="alert.acknowledge")
    assert record.source == "api" and record.actor == sre_a and record.reason == "on it"

    bad = client.post(
        f"/api/v1/alerts/{firing.pk}/silence/", {"reason": "x"}, content_type="application/json", **auth
    )
    assert bad.status_code == 400 and "ends_at" in bad.json()["errors"]
    ok = client.post(
        f"/api/v1/alerts/{firing.pk}/silence/",
        {"reason": "deploy", "duration_minutes": 30},
        content_type="application/json",
        **auth,
    )
    assert ok.status_code == 201 and ok.json()["author"] == "sam"
    assert client.get(f"/api/v1/alerts/{firing.pk}/", **auth).json()["silenced"] is True

    resolved = client.post(
        f"/api/v1/alerts/{firing.pk}/resolve/", {"comment": "fixed"}, content_type="application/json", **auth
    )
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    again = client.post(f"/api/v1/alerts/{firing.pk}/resolve/", {}, content_type="application/json", **auth)
    assert again.status_code == 400
    assert AuditRecord.objects.filter(action__in=["alert.resolve", "silence.create"]).count() == 2
    incident = client.get(f"/api/v1/incidents/{firing.incident_id}/", **auth).json()
    kinds = [e["kind"] for e in incident["timeline"]]
    assert {"fired", "acknowledged", "silenced", "resolved", "incident_resolved"} <= set(kinds)


def test_manager_actions_in_the_ui_with_htmx(client, firing, sre_a):
    client.force_login(sre_a)
    response = post_action(client, firing, "acknowledge", htmx=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<article") and f'id="alert-{firing.pk}"' in html
    assert "acknowledged by sam" in html and "<html" not in html
    escalated = post_action(client, firing, "escalate", htmx=True).content.decode()
    assert "Escalated." in escalated
    refused = post_action(client, firing, "escalate", htmx=True).content.decode()
    assert "No escalation step is left" in refused  # shown in the row, not a 500
    plain = post_action(client, firing, "resolve")
    assert plain.status_code == 302
    firing.refresh_from_db()
    assert firing.state == "resolved" and firing.resolved_by == sre_a
    assert AuditRecord.objects.filter(action__startswith="alert.").count() == 3


def test_actions_accept_urls_without_the_final_slash(client, firing, sre_a):
    client.force_login(sre_a)
    response = client.post(
        f"/api/v1/alerts/{firing.pk}/acknowledge", {"comment": "no slash"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["ack_comment"] == "no slash"
