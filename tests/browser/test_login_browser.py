"""Log in through the real login form in Chromium and see (or not see) the sample systems."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command

from tests.browser.conftest import save_screenshot
from tests.factories import UserFactory

SAMPLE_CONFIG = Path(settings.BASE_DIR) / "catalog" / "fixtures" / "sample_config.yaml"
DEMO_PASSWORD = "browser-demo-pass"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def sample_system_names() -> list[str]:
    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    return [system["name"] for system in config["systems"]]


@pytest.fixture
def demo_data(monkeypatch, settings):
    """What `make demo` loads: the sample config and the demo users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    monkeypatch.setenv("DEMO_PASSWORD", DEMO_PASSWORD)
    call_command("apply_config", str(SAMPLE_CONFIG), stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())


def log_in(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/")  # anonymous: redirected to the login form
    assert "/accounts/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_demo_admin_logs_in_and_sees_the_sample_systems(page, live_server, demo_data):
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.locator("h1").inner_text() == "Log in to Healthboard"
    save_screenshot(page, "login", publish=True)

    log_in(page, live_server, "admin", DEMO_PASSWORD)
    assert page.url.rstrip("/") == live_server.url
    assert page.locator("h1").inner_text() == "Portfolio"
    tiles = page.locator("[data-system]")
    names = sample_system_names()
    assert tiles.count() == len(names)
    body = page.locator("main, body").first.inner_text()
    for name in names:
        assert name in body
    save_screenshot(page, "portfolio", publish=True)


def test_wrong_password_stays_on_the_login_form(page, live_server, demo_data):
    log_in(page, live_server, "admin", "not-the-password")
    assert "/accounts/login/" in page.url
    assert "didn't match" in page.content()


def test_an_outsider_sees_none_of_the_sample_systems(page, live_server, demo_data):
    UserFactory(username="outsider", password="outsider-pass-1")
    log_in(page, live_server, "outsider", "outsider-pass-1")
    assert page.locator("h1").inner_text() == "Portfolio"
    assert page.locator("[data-system]").count() == 0
    body = page.inner_text("body")
    for name in sample_system_names():
        assert name not in body
    assert "no access to any system" in body
    save_screenshot(page, "portfolio-outsider")
