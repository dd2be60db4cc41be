"""Rows and stored files for review and release tests: validated versions whose artifact really
is in storage (so its sha256 can be checked again), and a second reviewer."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from releases.models import ModelVersion, RegisteredModel, Role
from tests.factories import member


def stored_version(
    model: RegisteredModel,
    number: int,
    *,
    uploaded_by: Any,
    status: str = "validated",
    **fields: Any,
) -> ModelVersion:
    """A version whose artifact bytes are saved in the storage under its content address."""
    content = f"model bytes of {model.name} v{number}".encode()
    digest = hashlib.sha256(content).hexdigest()
    name = f"artifacts/{digest[:2]}/{digest}.skops"
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(content))
    report = fields.pop(
        "validation_report",
        {"stage": "done", "evaluation": {"rows": 120, "metrics": {"accuracy": 0.8 + number / 100}}},
    )
    return ModelVersion.objects.create(
        registered_model=model, version=number, status=status, artifact=name, sha256=digest,
        size=len(content), format="skops", uploaded_by=uploaded_by,
        validation_report=report, **fields,
    )  # fmt: skip


def tamper(version: ModelVersion) -> None:
    """Overwrite the stored artifact in place, as an attacker with storage access would."""
    path = default_storage.path(version.artifact.name)
    with open(path, "wb") as fh:
        fh.write(b"swapped bytes")


def approved(version: ModelVersion, reviewer: Any) -> ModelVersion:
    from releases import services

    return services.model_version_review(actor=reviewer, model_version=version, decision="approve")


@pytest.fixture
def reviewer2(db):
    """A second reviewer in team risk, for N-approval policies."""
    return member("rita", Role.REVIEWER, "risk")


@pytest.fixture
def growth_reviewer(db):
    """A reviewer of team growth: must never see team risk's models."""
    return member("gia", Role.REVIEWER, "growth")


@pytest.fixture
def candidate(media_root, risk_model, owner):
    return stored_version(risk_model, 1, uploaded_by=owner)


# The fixtures, for `from tests.releases.releasing import *`; builders are imported by name.
__all__ = ["candidate", "growth_reviewer", "reviewer2"]
