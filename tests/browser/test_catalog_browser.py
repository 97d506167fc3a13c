"""A catalog admin, in Chromium: finds latency_p95_ms, raises its critical threshold with a
reason, sees the backtest, saves, and finds version 2 in the history with the diff and the
audit record."""

from __future__ import annotations

import os

import pytest

from catalog.models import MetricVersion
from healthboard.models import AuditRecord
from tests.browser.conftest import save_screenshot
from tests.catalog_support import current, deployment_in, seed_values
from tests.factories import SystemFactory, UserFactory

# Playwright's sync API runs an event loop in this thread (see tests/browser/conftest.py).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "catalog-admin-pass-1"


@pytest.fixture
def catalog_data(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    UserFactory(username="carol", password=PASSWORD, roles=["catalog_admin"])
    deployment = deployment_in(SystemFactory(slug="checkout", name="Checkout"))
    # Ten hours of p95 latency: 3 warn (500-1000 ms), 4 critical under 1000 ms; 2 of them
    # (1100, 1400 ms) become warn when critical is raised to 1500 ms.
    seed_values(current("latency_p95_ms"), deployment, [120, 300, 450, 650, 800, 950, 1100, 1400, 1600, 2100])
    return deployment


def log_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "carol")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_a_catalog_admin_raises_a_threshold_with_backtest_and_audit(page, live_server, catalog_data):
    deployment = catalog_data
    log_in(page, live_server)

    # Find the metric through the catalog navigation and search.
    page.click("nav.mainnav >> text=Catalog")
    assert page.locator("h1").inner_text() == "Metric catalog"
    page.fill("input[name=q]", "latency_p95")
    page.click("form[role=search] button[type=submit]")
    rows = page.locator("[data-metric]")
    assert rows.count() == 1
    save_screenshot(page, "catalog-list", publish=True)
    page.click("[data-metric=latency_p95_ms] a")
    assert "v1 current" in page.locator("[data-current-version]").inner_text()

    # Edit: raise critical from 1000 to 1500 ms, with a reason.
    page.click("[data-edit]")
    assert page.input_value("#id_critical_threshold") == "1000.0"
    page.fill("#id_critical_threshold", "1500")
    page.fill(
        "#id_reason", "The new GPU pool has a slower tail by design; 1000 ms pages on-call for nothing."
    )
    page.click("[data-preview]")

    # The confirm step: the diff and the backtest, nothing saved yet.
    assert "Confirm the new version" in page.locator("h1").inner_text()
    assert page.locator('[data-preview-diff] [data-changed="critical_threshold"]').count() == 1
    row = page.locator(f'[data-backtest-deployment="{deployment.pk}"]')
    cells = {
        col: row.locator(f'[data-col="{col}"]').inner_text()
        for col in ("old-warn", "old-critical", "new-warn", "new-critical")
    }
    assert cells == {"old-warn": "3", "old-critical": "4", "new-warn": "5", "new-critical": "2"}
    assert MetricVersion.objects.filter(definition__key="latency_p95_ms").count() == 1
    save_screenshot(page, "catalog-backtest", publish=True)

    page.click("[data-confirm]")
    page.wait_for_load_state("networkidle")

    # Back on the definition page: v2 is current, the history shows both, the diff and the audit.
    assert "Saved latency_p95_ms v2" in page.locator(".messages").inner_text()
    assert "v2 current" in page.locator("[data-current-version]").inner_text()
    assert page.locator("[data-history] [data-version]").count() == 2
    v2_row = page.locator('[data-history] [data-version="2"]').inner_text()
    assert "carol" in v2_row and "critical" in v2_row and "GPU pool" in v2_row
    changed = page.locator('[data-diff] [data-changed="critical_threshold"]').inner_text()
    assert "1000" in changed and "1500" in changed
    audit = page.locator("[data-audit]").inner_text()
    assert "catalog.metric.version_created" in audit and "carol" in audit and "GPU pool" in audit
    page.locator("[data-audit]").scroll_into_view_if_needed()
    save_screenshot(page, "catalog-history", publish=True)

    v2 = current("latency_p95_ms")
    assert (v2.number, v2.critical_threshold, v2.created_by.username) == (2, 1500.0, "carol")
    assert v2.playbook == MetricVersion.objects.get(definition__key="latency_p95_ms", number=1).playbook
    record = AuditRecord.objects.get(action="catalog.metric.version_created")
    assert record.diff["critical_threshold"] == [1000.0, 1500.0] and record.source == "ui"


def test_an_sre_gets_no_edit_button_and_a_403(page, live_server, catalog_data):
    UserFactory(username="sam", password=PASSWORD, roles=["sre"])
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "sam")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/catalog/metrics/latency_p95_ms/")
    assert page.locator("[data-edit]").count() == 0
    response = page.goto(f"{live_server.url}/catalog/metrics/latency_p95_ms/edit/")
    assert response.status == 403
    assert MetricVersion.objects.filter(definition__key="latency_p95_ms").count() == 1
