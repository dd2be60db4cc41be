"""The people every test talks about. Team "risk" owns the models under test; "growth" is
another team whose member must never see them."""

from __future__ import annotations

import pytest

from releases.models import Role
from tests.factories import PASSWORD, RegisteredModelFactory, TeamFactory, member


@pytest.fixture
def risk_team(db):
    return TeamFactory(name="risk")


@pytest.fixture
def owner(db):
    """Data scientist in team risk: uploads models."""
    return member("dana", Role.DATA_SCIENTIST, "risk")


@pytest.fixture
def reviewer(db):
    """Reviewer in team risk: approves others' versions."""
    return member("rui", Role.REVIEWER, "risk")


@pytest.fixture
def labeler(db):
    """Labeler in team risk."""
    return member("lee", Role.LABELER, "risk")


@pytest.fixture
def outsider(db):
    """Data scientist in team growth: must never see team risk's models."""
    return member("gus", Role.DATA_SCIENTIST, "growth")


@pytest.fixture
def admin_user(db):
    """Admin: sees every team."""
    return member("ada", Role.ADMIN, "platform")


@pytest.fixture
def risk_model(db, owner):
    return RegisteredModelFactory(
        name="credit-risk", team=TeamFactory(name="risk"), created_by=owner
    )


@pytest.fixture
def password():
    return PASSWORD


__all__ = [
    "admin_user",
    "labeler",
    "outsider",
    "owner",
    "password",
    "reviewer",
    "risk_model",
    "risk_team",
]
