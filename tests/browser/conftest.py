"""Browser tests: Playwright's sync API driving Debian's Chromium (never `playwright install`).

Every test in this folder is marked ``browser``; ``make test`` runs them in a separate,
serial pytest run. Without /usr/bin/chromium they are skipped, except under CI=true, where a
missing browser is a failure.

Database: the live server runs in another thread, so tests here are transactional, and they
must use ``pytest.mark.django_db(transaction=True, serialized_rollback=True)``: each test
starts from the database as migrations left it (role groups, the default metric catalog,
weight profiles) and ends with a flush. ``_start_from_an_empty_database`` below makes the
first restore an insert into empty tables, as every later one is.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

# Playwright's sync API keeps an event loop in this thread; Django's ORM refuses to run in a
# thread with a running loop unless told the calls are safe (they are: the loop is idle).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("HEALTHBOARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"


@pytest.fixture(scope="session", autouse=True)
def _start_from_an_empty_database(django_db_setup, django_db_blocker):
    """Flush once before the first browser test.

    ``serialized_rollback`` restores the serialized migration data at the start of each test;
    onto a database that still holds those rows the restore is an UPDATE of each row, with
    timestamps the serializer has cut to milliseconds, and PostgreSQL's immutability triggers
    (catalog versions, audit records) rightly refuse such updates. After a flush the restore
    only inserts, which is what happens after every later test's own flush anyway.
    """
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command(
            "flush", interactive=False, reset_sequences=False, inhibit_post_migrate=True, verbosity=0
        )


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def chromium():
    """A headless Chromium, one per test.

    Function-scoped on purpose: Playwright's sync API switches the execution context, and
    Django's per-context database connections would then not be the ones the test database
    was set up with (a session-wide browser started before the first test's database set-up
    made ``serialized_rollback`` silently restore nothing).
    """
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{CHROMIUM} is missing under CI: install it with `apt-get install -y chromium`.")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium); browser tests skipped.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        # Connections the test opened in Playwright's context are not the test runner's:
        # close them, or the test database cannot be dropped at the end of the run.
        connections.close_all()
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def save_screenshot(page, name: str, *, publish: bool = False) -> Path:
    """Save ``test-artifacts/NAME.png``; with ``publish``, also ``docs/screenshots/NAME.png``
    when it is missing or ``UPDATE_SCREENSHOTS=1`` (so ordinary runs leave the tree clean)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if publish:
        target = SCREENSHOTS / f"{name}.png"
        if not target.exists() or os.environ.get("UPDATE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return path
