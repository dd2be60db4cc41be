"""Teams, memberships and API tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.authtoken.models import Token

from releases.errors import (
    InvalidInput,
)
from releases.models import (
    Membership,
    Role,
    Team,
)

if TYPE_CHECKING:
    pass
from releases.services.audit import audit_record


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
    if role == Role.ADMIN and not (user.is_staff and user.is_superuser):
        # ModelGate admins administer every team, including through the Django admin site.
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
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
