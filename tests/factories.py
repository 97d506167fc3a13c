"""factory-boy factories shared by every test module."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

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
