"""Celery fixtures, loaded with ``pytest_plugins = ["tests.celery_fixtures"]``."""

from __future__ import annotations

import pytest


@pytest.fixture
def celery_eager():
    """Tasks sent with ``delay`` run inline: the real task code, no broker, no worker."""
    from healthboard.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before
