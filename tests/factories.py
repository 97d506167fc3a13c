"""factory-boy factories shared by every test module."""

from __future__ import annotations

from datetime import datetime, timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from catalog.models import (
    CohortAttribute,
    Deployment,
    Environment,
    Feature,
    Model,
    ModelVersion,
    System,
    Team,
)


def _hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.django.Password("pw-for-tests-1")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            for role in extracted:
                self.groups.add(Group.objects.get(name=role))


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class SystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = System
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"system-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    team = factory.SubFactory(TeamFactory)


class ModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Model

    system = factory.SubFactory(SystemFactory)
    slug = factory.Sequence(lambda n: f"model-{n}")
    task = Model.Task.BINARY_CLASSIFICATION
    positive_label = 1


class FeatureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Feature

    model = factory.SubFactory(ModelFactory)
    name = factory.Sequence(lambda n: f"feature_{n}")
    type = Feature.Type.NUMERIC
    position = factory.Sequence(lambda n: n)


class CohortAttributeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CohortAttribute

    model = factory.SubFactory(ModelFactory)
    name = factory.Sequence(lambda n: f"cohort_{n}")
    protected = False


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    model = factory.SubFactory(ModelFactory)
    version = factory.Sequence(lambda n: f"1.{n}.0")


class EnvironmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Environment

    system = factory.SubFactory(SystemFactory)
    slug = factory.Sequence(lambda n: f"env-{n}")
    kind = Environment.Kind.PRODUCTION


class DeploymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deployment

    model_version = factory.SubFactory(ModelVersionFactory)
    environment = factory.SubFactory(
        EnvironmentFactory, system=factory.SelfAttribute("..model_version.model.system")
    )


class MetricDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "catalog.MetricDefinition"
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"test_metric_{n}")


class MetricVersionFactory(factory.django.DjangoModelFactory):
    """A current version of a test metric (keys never collide with the default catalog)."""

    class Meta:
        model = "catalog.MetricVersion"

    definition = factory.SubFactory(MetricDefinitionFactory)
    number = 1
    is_current = True
    name = factory.LazyAttribute(lambda o: o.definition.key.replace("_", " "))
    pillar = "performance"
    calculator = "latency_p95_ms"
    data_source = "events"
    unit = "ms"
    direction = "lower_is_better"
    window = "1h"
    min_samples = 100
    warn_threshold = 200.0
    critical_threshold = 500.0
    change_reason = "test fixture"


class MetricValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "metrics.MetricValue"

    metric_version = factory.SubFactory(MetricVersionFactory)
    deployment = factory.SubFactory(DeploymentFactory)
    window_start = factory.Sequence(lambda n: _hour_floor(timezone.now()) - timedelta(hours=n + 1))
    window_end = factory.LazyAttribute(lambda o: o.window_start + timedelta(hours=1))
    value = 120.0
    status = "ok"
    sample_size = 1000


def load_migration_rows() -> None:
    """Put back the data migrations' rows (role groups, default catalog, weight profiles) that a
    transactional test's flush removes; both loaders are idempotent. Also seeds databases the
    integration tests restore from a schema dump."""
    import importlib
    from types import SimpleNamespace

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    apps = MigrationExecutor(connection).loader.project_state().apps
    editor = SimpleNamespace(connection=connection)
    importlib.import_module("healthboard.migrations.0002_roles").create_roles(apps, editor)
    importlib.import_module("catalog.migrations.0004_default_catalog").load(apps, editor)
