"""Dashboards in Chromium: each role logs in and opens its view; the executive follows a
drill-down from the portfolio to raw events; a data scientist opens a drift cell's
distribution; a scenario runs. Screenshots go to test-artifacts/ and docs/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from healthboard import access
from metrics.ingest.parse import Parsed
from metrics.ingest.pipeline import ingest_events
from tests.browser.conftest import save_screenshot
from tests.factories import SystemFactory, TeamFactory, UserFactory
from tests.ingest_support import event, make_model
from tests.test_dashboards_support import firing_alert, hour, populate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
PASSWORD = "pw-for-tests-1"


@pytest.fixture
def demo(db):
    team = TeamFactory(slug="clin", name="Clinical ML")
    system = SystemFactory(slug="clinical-triage", name="Clinical triage", team=team)
    _, deployment = make_model(system)
    populate(deployment, hours=24, p95=640.0, score=52.0, readiness="blocked")
    firing_alert(deployment)
    # raw events inside the newest populated window [hour(2), hour(1))
    at = hour(2) + timedelta(minutes=20)
    records = [
        event(timestamp=(at + timedelta(seconds=i)).astimezone(UTC).isoformat().replace("+00:00", "Z"))
        for i in range(12)
    ]
    ingest_events(system, Parsed(records=records), now=datetime.now(UTC))
    users = {}
    for role in ("executive", "sre", "data_scientist", "platform"):
        user = UserFactory(username=role, roles=[role])
        perms = [access.VIEW] + ([access.VIEW_SENSITIVE] if role == "data_scientist" else [])
        access.grant(system, perms, user=user)
        users[role] = user
    return {"system": system, "deployment": deployment, "users": users}


def login(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def collect_errors(page):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def test_executive_drills_down_from_portfolio_to_raw_events(page, live_server, demo):
    errors = collect_errors(page)
    login(page, live_server, "executive")
    page.goto(f"{live_server.url}/")
    tile = page.locator('a.tile[data-system="clinical-triage"]')
    assert "52" in tile.inner_text() and "Blocked" in tile.inner_text()
    assert page.locator('[data-testid="risk"]').count() == 1
    save_screenshot(page, "dashboards-portfolio", publish=True)

    tile.click()
    page.wait_for_selector("#system-chart .main-svg")
    save_screenshot(page, "dashboards-system", publish=True)
    page.click('[data-testid="deployments"] a')
    page.wait_for_selector('[data-testid="metric-values"]')
    save_screenshot(page, "dashboards-deployment", publish=True)
    page.click('[data-testid="metric-values"] a:text-is("latency_p95_ms")')
    page.wait_for_selector('[data-testid="segments"]')
    page.click('[data-testid="segments"] a:text-is("all traffic")')
    page.wait_for_selector("#segment-chart .main-svg")
    save_screenshot(page, "dashboards-metric-segment", publish=True)
    page.locator('[data-testid="windows"] tbody a').first.click()
    page.wait_for_selector('[data-testid="lineage"]')
    assert "Computation run" in page.inner_text('[data-testid="lineage"]')
    save_screenshot(page, "dashboards-window", publish=True)
    page.click('[data-testid="raw-events-link"]')
    rows = page.locator('[data-testid="raw-events"] tbody tr')
    assert rows.count() == 12
    assert "Portfolio" in page.inner_text("nav.breadcrumbs")
    save_screenshot(page, "dashboards-raw-events", publish=True)
    assert errors == []


def test_sre_and_platform_views(page, live_server, demo):
    errors = collect_errors(page)
    login(page, live_server, "sre")
    page.goto(f"{live_server.url}/sre/")
    page.wait_for_selector("#latency-chart .main-svg")
    assert "640.000" in page.inner_text('[data-testid="service-table"]')
    save_screenshot(page, "dashboards-sre", publish=True)
    page.click('[data-testid="alert-queue-link"]')
    assert "/sre/alerts/" in page.url
    page.click('button:text-is("Log out")')
    login(page, live_server, "platform")
    page.goto(f"{live_server.url}/platform/")
    page.wait_for_selector("#throughput-chart .main-svg")
    save_screenshot(page, "dashboards-platform", publish=True)
    assert errors == []


def test_data_scientist_opens_a_drift_cell(page, live_server, demo):
    errors = collect_errors(page)
    login(page, live_server, "data_scientist")
    page.goto(f"{live_server.url}/ds/?cohort=region%3Deu")
    page.wait_for_selector("#drift-heatmap .main-svg")
    assert page.locator('[data-testid="fairness"]').count() == 1
    page.click("details summary")
    page.locator('[data-testid="drift-cell"]').last.click()
    page.wait_for_selector('[data-testid="drift-stats"]')
    assert "feature_drift_psi" in page.inner_text('[data-testid="distribution"]')
    save_screenshot(page, "dashboards-ds", publish=True)

    assert errors == []


@pytest.fixture
def computed_hour(demo):
    """An hour of synthetic telemetry computed by the engine (the simulator recomputes it)."""
    from django.core.management import call_command

    from metrics.engine import synthetic
    from metrics.ingest import partitions

    partitions.forget_known_days()
    system = SystemFactory(slug="fraud-scoring", name="Fraud scoring", team=demo["system"].team)
    deployment = synthetic.ensure_model(system)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    synthetic.ingest(deployment, start=end - timedelta(hours=1), end=end, events_per_hour=1500, seed=5)
    call_command(
        "compute_metrics",
        deployment=[deployment.pk],
        start=(end - timedelta(hours=1)).isoformat(),
        end=end.isoformat(),
        verbosity=0,
    )
    access.grant(system, [access.VIEW, access.VIEW_SENSITIVE], user=demo["users"]["data_scientist"])
    return deployment


def test_data_scientist_runs_a_scenario(page, live_server, computed_hour):
    errors = collect_errors(page)
    login(page, live_server, "data_scientist")
    page.goto(f"{live_server.url}/scenarios/")
    page.select_option('select[name="deployment"]', str(computed_hour.pk))
    page.select_option('select[name="fault"]', "latency_spike")
    page.fill('input[name="size"]', "40")
    page.click('[data-testid="scenario-form"] button[type=submit]')
    page.wait_for_selector('[data-testid="scenario-result"]')
    assert page.inner_text('[data-testid="sim-readiness"]') == "blocked"
    assert int(page.inner_text('[data-testid="changed-metrics"]')) > 0
    assert "latency_p95_ms" in page.inner_text('[data-testid="scenario-table"]')
    assert "fired" in page.inner_text('[data-testid="scenario-alerts"]')
    save_screenshot(page, "dashboards-scenarios", publish=True)
    assert errors == []
