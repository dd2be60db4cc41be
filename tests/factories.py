from __future__ import annotations

import uuid

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from releases.models import (
    EvaluationDataset,
    Membership,
    ModelVersion,
    RegisteredModel,
    Role,
    Tag,
    Team,
)
from scoring.models import Prediction

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


class EvaluationDatasetFactory(factory.django.DjangoModelFactory):
    """An evaluation set row without a stored file (the one way tests build these rows)."""

    class Meta:
        model = EvaluationDataset

    registered_model = factory.SubFactory(RegisteredModelFactory)
    file = factory.Sequence(lambda n: f"datasets/eval-{n}.csv")
    original_name = "eval.csv"
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    size = 2048
    target = "label"
    n_rows = 120
    columns = factory.LazyAttribute(lambda o: ["age", "income", "city", o.target])


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A version row without a stored file, for pages and commands that only read rows (the one
    way tests build version rows without uploading; ``tags=[...]`` names its tags)."""

    class Meta:
        model = ModelVersion
        skip_postgeneration_save = True

    registered_model = factory.SubFactory(RegisteredModelFactory)
    version = factory.Sequence(lambda n: n + 1)
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    artifact = factory.LazyAttribute(lambda o: f"artifacts/{o.sha256[:2]}/{o.sha256}.skops")
    size = 123_456
    format = "skops"

    @factory.post_generation
    def tags(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.tags.set([Tag.objects.get_or_create(name=t)[0] for t in extracted])


class PredictionFactory(factory.django.DjangoModelFactory):
    """A logged prediction of a version, as the prediction log writes it."""

    class Meta:
        model = Prediction

    model_version = factory.SubFactory(ModelVersionFactory)
    registered_model = factory.SelfAttribute("model_version.registered_model")
    request_id = factory.LazyFunction(uuid.uuid4)
    inputs = factory.LazyFunction(lambda: {"x": 1.0})
    prediction = 0
    probabilities = factory.LazyFunction(lambda: [0.7, 0.3])
    confidence = 0.7
    latency_ms = 1.0
    caller = "app:1"
    created_at = factory.LazyFunction(timezone.now)
