"""Shared fixtures: a fixed cast (alice owns team A's system, bob is on another team)."""

from __future__ import annotations

import pytest

from healthboard import access
from tests.factories import DeploymentFactory, SystemFactory, TeamFactory, UserFactory, load_migration_rows


@pytest.fixture(autouse=True)
def _fresh_partition_cache():
    """Ingestion caches, per process, the day partitions it has seen (PostgreSQL); a test's
    rollback or flush removes partitions it created, so every test starts with an empty cache."""
    from metrics.ingest import partitions

    partitions.forget_known_days()
    yield
    partitions.forget_known_days()


@pytest.fixture
def team_a(db):
    return TeamFactory(slug="team-a", name="Team A")


@pytest.fixture
def team_b(db):
    return TeamFactory(slug="team-b", name="Team B")


@pytest.fixture
def system_a(team_a):
    return SystemFactory(slug="system-a", name="System A", team=team_a)


@pytest.fixture
def system_b(team_b):
    return SystemFactory(slug="system-b", name="System B", team=team_b)


@pytest.fixture
def deployment_a(system_a):
    return DeploymentFactory(model_version__model__system=system_a)


@pytest.fixture
def deployment_b(system_b):
    return DeploymentFactory(model_version__model__system=system_b)


@pytest.fixture
def alice(team_a, system_a):
    """A data scientist on team A, which may view and ingest into system A."""
    user = UserFactory(username="alice", roles=["data_scientist"])
    user.groups.add(team_a.group)
    access.grant(system_a, [access.VIEW, access.INGEST], group=team_a.group)
    return user


@pytest.fixture
def bob(team_b, system_b):
    """An SRE on team B: an outsider to system A."""
    user = UserFactory(username="bob", roles=["sre"])
    user.groups.add(team_b.group)
    access.grant(system_b, [access.VIEW, access.MANAGE_ALERTS], group=team_b.group)
    return user


@pytest.fixture
def catalog_admin(db):
    return UserFactory(username="carol", roles=["catalog_admin"])


@pytest.fixture
def restore_migration_rows(db):
    """A transactional test's flush removes the data migrations' rows (role groups, default
    catalog, weight profiles); put them back (both loaders are idempotent)."""
    load_migration_rows()
