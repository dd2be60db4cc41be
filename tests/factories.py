from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from releases.models import Membership, ModelVersion, RegisteredModel, Role, Team

PASSWORD = "correct-horse-battery-9"


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"team-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    team = factory.SubFactory(TeamFactory)
    role = Role.DATA_SCIENTIST


class RegisteredModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegisteredModel

    name = factory.Sequence(lambda n: f"model-{n}")
    team = factory.SubFactory(TeamFactory)
    description = "A test model"


def member(username: str, role: str, team: str):
    user = UserFactory(username=username)
    MembershipFactory(user=user, team=TeamFactory(name=team), role=role)
    return user


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A version row without a stored file, for pages and commands that only read rows."""

    class Meta:
        model = ModelVersion

    registered_model = factory.SubFactory(RegisteredModelFactory)
    version = factory.Sequence(lambda n: n + 1)
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    artifact = factory.LazyAttribute(lambda o: f"artifacts/{o.sha256[:2]}/{o.sha256}.skops")
    size = 123_456
    format = "skops"
