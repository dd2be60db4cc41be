"""People: teams, memberships (roles) and API tokens.

The command line (``adduser``, ``actor=None``), the admin site and the pages all call these, so a
role granted anywhere behaves the same and every change leaves an audit row.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from releases.errors import Conflict, Forbidden, InvalidInput
from releases.models import ApiToken, Membership, Role, Team
from releases.selectors import user_is_admin
from releases.services.audit import audit_record


def _require_admin(actor: User | None, what: str) -> None:
    # actor=None is the server's command line, which already has the database's full power.
    if actor is not None and not user_is_admin(user=actor):
        raise Forbidden(f"Only ModelGate admins can {what}.")


def _clean(obj: Team | Membership, **kwargs: Any) -> None:
    try:
        obj.full_clean(**kwargs)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(" ".join(messages), field=field) from None


# --- Teams -------------------------------------------------------------------------------------


@transaction.atomic
def team_get_or_create(*, actor: User | None, name: str) -> Team:
    team = Team.objects.filter(name=name).first()
    return team or team_create(actor=actor, name=name)


@transaction.atomic
def team_create(*, actor: User | None, name: str, display_name: str = "") -> Team:
    _require_admin(actor, "create teams")
    team = Team(name=name, display_name=display_name)
    _clean(team, validate_unique=False)
    if Team.objects.filter(name=name).exists():
        raise Conflict(f"A team named {name!r} already exists.", field="name")
    team.save()
    audit_record(
        actor=actor,
        action="team.create",
        team=team,
        payload={"name": name, "display_name": display_name},
    )
    return team


@transaction.atomic
def team_update(
    *, actor: User | None, team: Team, name: str | None = None, display_name: str | None = None
) -> Team:
    """Rename a team (its name, its display name or both); ``None`` leaves a field as it is."""
    _require_admin(actor, "rename teams")
    locked = Team.objects.select_for_update().get(pk=team.pk)
    changes: dict[str, dict[str, str]] = {}
    if name is not None and name != locked.name:
        if Team.objects.filter(name=name).exclude(pk=locked.pk).exists():
            raise Conflict(f"A team named {name!r} already exists.", field="name")
        changes["name"] = {"old": locked.name, "new": name}
        locked.name = name
    if display_name is not None and display_name != locked.display_name:
        changes["display_name"] = {"old": locked.display_name, "new": display_name}
        locked.display_name = display_name
    if not changes:
        return locked
    _clean(locked, validate_unique=False)
    locked.save(update_fields=list(changes))
    audit_record(
        actor=actor,
        action="team.update",
        team=locked,
        payload={"fields": sorted(changes), **changes},
    )
    return locked


# --- Memberships -------------------------------------------------------------------------------


def _sync_admin_site_access(user: User) -> None:
    """ModelGate admins reach the Django admin site as staff, never as superusers: the admin
    classes grant access by ModelGate role (releases.admin), so no Django permission rows or
    superuser powers (editing people's passwords or flags, reading tables) are needed."""
    staff = user.is_superuser or Membership.objects.filter(user=user, role=Role.ADMIN).exists()
    if user.is_staff != staff:
        user.is_staff = staff
        user.save(update_fields=["is_staff"])


def _membership_payload(membership: Membership) -> dict[str, str]:
    return {"username": membership.user.get_username(), "role": membership.role}


@transaction.atomic
def membership_add(*, actor: User | None, user: User, team: Team, role: str) -> Membership:
    """Give ``user`` ``role`` in ``team``; nothing happens if they already hold it."""
    _require_admin(actor, "grant roles")
    if role not in Role.values:
        raise InvalidInput(
            f"Unknown role {role!r}; use one of: {', '.join(Role.values)}.", field="role"
        )
    membership, added = Membership.objects.get_or_create(user=user, team=team, role=role)
    if added:
        audit_record(
            actor=actor, action="membership.add", team=team, payload=_membership_payload(membership)
        )
        _sync_admin_site_access(user)
    return membership


@transaction.atomic
def membership_change_role(*, actor: User | None, membership: Membership, role: str) -> Membership:
    _require_admin(actor, "change roles")
    if role not in Role.values:
        raise InvalidInput(
            f"Unknown role {role!r}; use one of: {', '.join(Role.values)}.", field="role"
        )
    locked = (
        Membership.objects.select_for_update().select_related("user", "team").get(pk=membership.pk)
    )
    old = locked.role
    if old == role:
        return locked
    if Membership.objects.filter(user=locked.user, team=locked.team, role=role).exists():
        raise Conflict(
            f"{locked.user.get_username()} already is {role} in {locked.team.name}.", field="role"
        )
    locked.role = role
    locked.save(update_fields=["role"])
    audit_record(
        actor=actor,
        action="membership.change_role",
        team=locked.team,
        payload={
            "username": locked.user.get_username(),
            "old_role": old,
            "role": role,
            "before": {"role": old},
            "after": {"role": role},
        },
    )
    _sync_admin_site_access(locked.user)
    return locked


@transaction.atomic
def membership_remove(*, actor: User | None, membership: Membership) -> None:
    _require_admin(actor, "remove roles")
    locked = (
        Membership.objects.select_for_update()
        .select_related("user", "team")
        .filter(pk=membership.pk)
        .first()
    )
    if locked is None:
        return  # already removed
    payload = _membership_payload(locked)
    locked.delete()
    audit_record(actor=actor, action="membership.remove", team=locked.team, payload=payload)
    _sync_admin_site_access(locked.user)


@transaction.atomic
def user_upsert(
    *,
    actor: User | None,
    username: str,
    role: str,
    team_name: str,
    password: str | None = None,
    email: str = "",
) -> User:
    """Create or update a user and give them ``role`` in ``team_name`` (created if missing).

    API keys are issued separately (``api_token_rotate``): a key can only be shown when made.
    """
    _require_admin(actor, "add people")
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
    if created:
        audit_record(actor=actor, action="user.create", team=team, payload={"username": username})
    membership_add(actor=actor, user=user, team=team, role=role)
    return user


# --- API tokens --------------------------------------------------------------------------------


@transaction.atomic
def api_token_rotate(*, actor: User | None, user: User) -> tuple[ApiToken, str]:
    """Revoke ``user``'s API keys and issue a new one: returns the row and the key.

    The key exists only in the return value (the table keeps its SHA-512 digest): show it once.
    Only the person themself (or the server's command line) may do this; an admin may revoke a
    person's keys but never obtain one.
    """
    if actor is not None and actor.pk != user.pk:
        raise Forbidden("Only the person themself can create their API token.")
    revoked = ApiToken.objects.filter(user=user).delete()[0]
    token, key = ApiToken.objects.create(user=user)
    audit_record(
        actor=actor,
        action="token.rotate",
        payload={
            "username": user.get_username(),
            "token_key": token.token_key,
            "revoked": revoked,
            "expires": token.expiry.isoformat() if token.expiry else None,
        },
    )
    return token, key


@transaction.atomic
def api_tokens_revoke(*, actor: User | None, user: User) -> int:
    """Revoke every API key of ``user`` (the person, or an admin); returns how many."""
    if actor is not None and actor.pk != user.pk:
        _require_admin(actor, "revoke other people's API tokens")
    keys = list(ApiToken.objects.filter(user=user).values_list("token_key", flat=True))
    ApiToken.objects.filter(user=user).delete()
    if keys:
        audit_record(
            actor=actor,
            action="token.revoke",
            payload={"username": user.get_username(), "token_keys": keys, "revoked": len(keys)},
        )
    return len(keys)
