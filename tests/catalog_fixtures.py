"""Fixtures of the catalog tests, loaded with ``pytest_plugins = ["tests.catalog_fixtures"]``."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory


@pytest.fixture
def admin_a(db):
    return UserFactory(username="carol", roles=["catalog_admin"])


@pytest.fixture
def admin_b(db):
    return UserFactory(username="dave", roles=["catalog_admin"])


@pytest.fixture
def sre_user(db):
    return UserFactory(username="sam", roles=["sre"])


@pytest.fixture
def executive_user(db):
    return UserFactory(username="erin", roles=["executive"])
