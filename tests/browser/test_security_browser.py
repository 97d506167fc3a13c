"""The Content-Security-Policy in Chromium: the main pages render their Plotly charts, htmx
swaps its partials, and the browser logs no CSP violation; an inline script is refused (so the
violation listener is shown to hear what it listens for)."""

from __future__ import annotations

import pytest

from alerts.models import Alert
from healthboard import access
from tests.factories import SystemFactory, TeamFactory, UserFactory
from tests.ingest_support import make_model
from tests.test_dashboards_support import firing_alert, populate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
PASSWORD = "pw-for-tests-1"


@pytest.fixture
def demo(db):
    team = TeamFactory(slug="risk", name="Risk ML")
    system = SystemFactory(slug="credit-risk", name="Credit risk", team=team)
    _, deployment = make_model(system)
    populate(deployment, hours=24, p95=640.0, score=52.0, readiness="blocked")
    alert = firing_alert(deployment)
    user = UserFactory(username="oncall", roles=["executive", "sre", "data_scientist", "platform"])
    access.grant(system, [access.VIEW, access.VIEW_SENSITIVE, access.MANAGE_ALERTS], user=user)
    return {"system": system, "deployment": deployment, "alert": alert}


def csp_messages(page) -> list[str]:
    found: list[str] = []

    def listen(message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            found.append(f"{page.url}: {message.text}")

    page.on("console", listen)
    return found


def test_main_pages_render_charts_with_no_csp_violation(page, live_server, demo):
    violations = csp_messages(page)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "oncall")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")

    deployment = demo["deployment"]
    charts = {
        "/": None,
        f"/systems/{demo['system'].slug}/": "#system-chart",
        f"/d/{deployment.pk}/metrics/latency_p95_ms/segments/all/": "#segment-chart",
        "/sre/": "#latency-chart",
        "/platform/": "#throughput-chart",
        f"/deployments/{deployment.pk}/trust/": None,
        "/sre/alerts/": None,
        f"/sre/alerts/{demo['alert'].pk}/": None,
        "/catalog/": None,
        "/catalog/metrics/latency_p95_ms/": None,
    }
    for path, chart in charts.items():
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        if chart:
            page.wait_for_selector(f"{chart} .main-svg")

    # the trust page's charts come from a separate script (metrics/trust.js)
    page.goto(f"{live_server.url}/deployments/{deployment.pk}/trust/")
    page.wait_for_load_state("networkidle")
    assert page.locator(".js-plotly-plot").count() >= 1

    # htmx under the policy: a drift cell loads its distribution partial in place
    page.goto(f"{live_server.url}/ds/?cohort=region%3Deu")
    page.wait_for_selector("#drift-heatmap .main-svg")
    page.click("details summary")
    page.locator('[data-testid="drift-cell"]').last.click()
    page.wait_for_selector('[data-testid="drift-stats"]')
    assert "/ds/?" in page.url  # swapped in place, not navigated

    # htmx posts with the form's CSRF token: acknowledging an alert swaps its row
    page.goto(f"{live_server.url}/sre/alerts/")
    page.locator(f"#alert-{demo['alert'].pk} button.act-ack").click()
    page.locator(f"#alert-{demo['alert'].pk} .acked-badge").wait_for()
    assert Alert.objects.get(pk=demo["alert"].pk).acknowledged_at is not None

    # Swagger UI starts from its own script file
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .info")

    assert violations == [], "\n".join(violations)
    assert errors == []

    # the listener hears a violation when there is one: an inline script is refused
    page.goto(f"{live_server.url}/catalog/")
    page.wait_for_load_state("networkidle")
    with pytest.raises(Exception):  # noqa: B017 - Playwright reports the refused script
        page.add_script_tag(content="window.__inlineRan = true;")
    assert page.evaluate("window.__inlineRan === undefined")
    assert any("inline script" in v for v in violations), violations
