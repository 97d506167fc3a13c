"""An SRE triages in Chromium: the queue is sorted by severity and age, and acknowledging an
alert (with a comment) updates its row in place over HTMX, without reloading the page.

Run alone with a port in the alerts range:
    .venv/bin/python -m pytest -p no:cacheprovider tests/browser/test_alerts_browser.py --liveserver 127.0.0.1:8560
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.evaluate import evaluate_window
from alerts.models import Alert, Channel, EscalationPolicy, EscalationStep
from alerts.testing import HOUR, T0, metric, value, window
from healthboard import access
from healthboard.models import AuditRecord
from tests.browser.conftest import save_screenshot
from tests.factories import DeploymentFactory, SystemFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def triage_data(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    team = TeamFactory(slug="risk-ml", name="Risk ML")
    system = SystemFactory(slug="credit-risk", name="Credit risk scoring", team=team)
    deployment = DeploymentFactory(
        model_version__model__system=system,
        model_version__model__slug="scorer",
        model_version__version="2.3.1",
        environment__slug="prod",
    )
    sre = UserFactory(username="sre-on-call", password="sre-pass-12345", roles=["sre"])
    access.grant(system, [access.VIEW, access.MANAGE_ALERTS], user=sre)
    oncall = Channel.objects.create(
        name="on-call SRE", system=system, kind="email", email_to="oncall@example.org"
    )
    steward = Channel.objects.create(
        name="data steward", system=system, kind="email", email_to="dst@example.org"
    )
    policy = EscalationPolicy.objects.create(name="credit-risk default", system=system)
    EscalationStep.objects.create(policy=policy, position=0, channel=oncall)
    EscalationStep.objects.create(policy=policy, position=1, channel=steward, delay_minutes=15)

    psi = metric(
        "feature_drift_psi",
        playbook="1. Open the drift heatmap for the feature.\n2. Check the upstream income feed.",
    )
    latency = metric("latency_p95_ms", pillar="performance", warn=300, critical=500, params={})
    accuracy = metric(
        "accuracy", pillar="performance", direction="higher_is_better", warn=0.85, critical=0.8, for_windows=3
    )
    psi_series = [0.03, 0.04, 0.05, 0.06, 0.09, 0.12, 0.14, 0.16]
    latency_series = [180, 190, 210, 205, 230, 260, 380, 640]
    base = int((timezone.now() - T0) / HOUR) - 8  # the last eight closed hours
    for offset in range(8):
        index = base + offset
        value(psi, deployment, index, psi_series[offset], feature="income")
        value(latency, deployment, index, latency_series[offset])
        value(accuracy, deployment, index, 0.9 if offset < 7 else 0.83)
        evaluate_window(deployment.pk, *window(index), now=window(index)[1] + timedelta(minutes=2))
    return {"sre": sre, "deployment": deployment}


def test_sre_acknowledges_an_alert_on_the_triage_page(page, live_server, triage_data):
    critical = Alert.objects.get(metric__key="latency_p95_ms")
    warning = Alert.objects.get(metric__key="feature_drift_psi")
    pending = Alert.objects.get(metric__key="accuracy")
    assert (critical.severity, warning.severity, pending.state) == ("critical", "warning", "pending")

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "sre-on-call")
    page.fill("#id_password", "sre-pass-12345")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/sre/alerts/")
    assert page.locator("h1").inner_text() == "Alert queue"

    order = page.locator("article.alert-card").evaluate_all("cards => cards.map(c => c.dataset.alertId)")
    assert order == [str(critical.pk), str(warning.pk), str(pending.pk)]  # severity, then state and age
    row = page.locator(f"#alert-{critical.pk}")
    assert row.locator("svg.sparkline").count() == 1
    assert "640" in row.inner_text() and "500" in row.inner_text()  # value vs threshold
    assert row.locator("a", has_text="Drill down").count() == 1
    assert page.locator("script:not([src])").count() == 0  # no inline scripts (CSP)
    page.evaluate("window.__noReload = 'still here'")

    row.locator("input[name=comment]").first.fill("Load balancer saturated, scaling out")
    row.locator("button.act-ack").click()
    page.locator(f"#alert-{critical.pk} .acked-badge").wait_for()

    assert page.evaluate("window.__noReload") == "still here"  # updated in place, no reload
    row = page.locator(f"#alert-{critical.pk}")
    assert "acknowledged by sre-on-call" in row.inner_text()
    assert "Acknowledged." in row.inner_text()
    assert row.locator("button.act-ack").count() == 0
    save_screenshot(page, "sre-alerts", publish=True)

    critical.refresh_from_db()
    assert critical.acknowledged_by == triage_data["sre"]
    assert critical.ack_comment == "Load balancer saturated, scaling out"
    assert critical.next_escalation_at is None  # acknowledging stopped the escalation
    record = AuditRecord.objects.get(action="alert.acknowledge")
    assert record.actor == triage_data["sre"] and record.object_id == str(critical.pk)
