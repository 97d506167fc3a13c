"""The deployment trust panel in Chromium: plotly.js from the package draws the waterfall and
the history (with its anomaly marker) from JSON data blocks, with no script errors."""

from __future__ import annotations

import os

import pytest

from healthboard import access
from metrics.trust import service
from tests.browser.conftest import save_screenshot
from tests.factories import DeploymentFactory, SystemFactory, UserFactory
from tests.trust.helpers import HOUR, T0, healthy, metric, value

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "trust-viewer-pass-1"


@pytest.fixture
def scored_deployment(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    system = SystemFactory(slug="clinic-triage", name="Clinic triage", weight_profile="high-stakes")
    user = UserFactory(username="dana", password=PASSWORD, roles=["data_scientist"])
    access.grant(system, [access.VIEW], user=user)
    deployment = DeploymentFactory(model_version__model__system=system, model_version__version="3.1.0")
    hours = 30
    for h in range(hours):
        end = T0 + (h + 1) * HOUR
        healthy(deployment, end=end, keys=("accuracy", "latency_p95_ms", "null_rate"))
        error = 0.03 if h == hours - 1 else 0.0050 + 0.0001 * ((h * 7) % 15)
        value(deployment, metric("error_rate"), error, end=end)
        dpd = 0.13 if h >= hours - 3 else 0.05
        value(deployment, metric("demographic_parity_difference"), dpd, attribute="sex", end=end)
        service.compute_trust(deployment.pk, end - HOUR, end)
    return deployment


def test_trust_panel_draws_its_figures(page, live_server, scored_deployment):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None
        ),
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "dana")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/deployments/{scored_deployment.pk}/trust/")
    page.wait_for_selector("#trust-waterfall .main-svg")
    page.wait_for_selector("#trust-history .main-svg")
    save_screenshot(page, "deployment-trust-debug")
    import re

    print(sorted(set(re.findall(r'class="([^"]+)"', page.locator("#trust-waterfall").inner_html())))[:80])
    assert page.locator("[data-testid=readiness]").inner_text() == "Staged"
    bars = page.locator("#trust-waterfall .waterfalllayer .point")
    assert bars.count() >= 3  # full trust, at least one metric, the score
    assert page.locator("#trust-waterfall").inner_text().count("demographic_parity_difference") >= 1
    # The history has the score line and one anomaly marker trace.
    assert page.locator("#trust-history .scatterlayer .trace").count() == 2
    assert not errors, errors
    save_screenshot(page, "deployment-trust", publish=True)
