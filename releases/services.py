"""Every write in the registry. Keyword-only arguments, ``actor`` always passed, one transaction
each, and an audit row for every action.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from releases.models import AuditEvent, Membership, ModelVersion, RegisteredModel, Role, Team
from releases.selectors import user_can
from webapp.errors import Conflict, Forbidden, InvalidInput, NotFound


def audit_record(
    *,
    actor: User | None,
    action: str,
    team: Team | None = None,
    registered_model: RegisteredModel | None = None,
    model_version: ModelVersion | None = None,
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    if model_version is not None and registered_model is None:
        registered_model = model_version.registered_model
    if registered_model is not None and team is None:
        team = registered_model.team
    return AuditEvent.objects.create(
        actor=actor,
        action=action,
        team=team,
        registered_model=registered_model,
        model_version=model_version,
        payload=payload or {},
    )


@transaction.atomic
def team_get_or_create(*, actor: User | None, name: str) -> Team:
    team, created = Team.objects.get_or_create(name=name)
    if created:
        team.full_clean()
        audit_record(actor=actor, action="team.create", team=team, payload={"name": name})
    return team


@transaction.atomic
def user_upsert(
    *,
    actor: User | None,
    username: str,
    role: str,
    team_name: str,
    password: str | None = None,
    email: str = "",
) -> tuple[User, Token]:
    """Create or update a user, give them ``role`` in ``team_name``, return their API token."""
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}; use one of: {', '.join(Role.values)}.")
    team = team_get_or_create(actor=actor, name=team_name)
    user, created = User.objects.get_or_create(username=username, defaults={"email": email})
    if password:
        user.set_password(password)
        user.save(update_fields=["password"])
    elif created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    _, added = Membership.objects.get_or_create(user=user, team=team, role=role)
    token, _ = Token.objects.get_or_create(user=user)
    if created:
        audit_record(actor=actor, action="user.create", team=team, payload={"username": username})
    if added:
        audit_record(
            actor=actor,
            action="membership.add",
            team=team,
            payload={"username": username, "role": role},
        )
    return user, token


@transaction.atomic
def user_token_rotate(*, actor: User) -> Token:
    """Replace the actor's API token; the old key stops working at once."""
    Token.objects.filter(user=actor).delete()
    token = Token.objects.create(user=actor)
    audit_record(actor=actor, action="token.rotate", payload={"username": actor.get_username()})
    return token


@transaction.atomic
def registered_model_create(
    *, actor: User, name: str, team_name: str, description: str = "", model_card: str = ""
) -> RegisteredModel:
    team = Team.objects.filter(name=team_name).first()
    if team is None or not user_can(user=actor, team_id=team.id, action="view"):
        raise NotFound(f"No team named {team_name!r} that you belong to.", field="team")
    if not user_can(user=actor, team_id=team.id, action="upload"):
        raise Forbidden(
            f"Only data scientists or admins of team {team_name!r} can register models.",
            field="team",
        )
    model = RegisteredModel(
        name=name, team=team, description=description, model_card=model_card, created_by=actor
    )
    model.full_clean(exclude=["evaluation_dataset", "created_by"], validate_unique=False)
    try:
        with transaction.atomic():
            model.save()
    except IntegrityError:
        raise Conflict(
            f"A model named {name!r} already exists; choose another name.", field="name"
        ) from None
    audit_record(
        actor=actor,
        action="model.register",
        registered_model=model,
        payload={"name": name, "description": description},
    )
    return model
