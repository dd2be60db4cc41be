"""Scoring writes for app tokens (create, revoke). Keyword-only, ``actor`` always passed, one
transaction each, one audit row each."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from releases.errors import Forbidden, InvalidInput, NotFound
from releases.limits import check_length
from releases.models import RegisteredModel
from releases.selectors import user_can
from releases.services.audit import audit_record
from scoring.models import AppToken
from scoring.serving import APP_TOKEN_PREFIX, app_token_digest

MAX_MODELS_PER_TOKEN = 50


def _require_releaser(actor: User, model: RegisteredModel, what: str) -> None:
    if not user_can(user=actor, team_id=model.team_id, action="promote"):
        raise Forbidden(f"Only reviewers and admins of team {model.team.name!r} can {what}.")


@transaction.atomic
def app_token_create(
    *,
    actor: User,
    registered_model: RegisteredModel,
    name: str,
    also_models: list[str] | None = None,
) -> tuple[AppToken, str]:
    """A new app key that may predict on ``registered_model`` (and ``also_models``, of the same
    team). Returns the row and the key; only the key's SHA-256 is stored: show the key once."""
    _require_releaser(actor, registered_model, "create app tokens")
    name = name.strip()
    if not name:
        raise InvalidInput("Name the app that will use the token.", field="name")
    check_length(field="name", label="name", value=name, limit=100)
    models = [registered_model]
    for other in dict.fromkeys(also_models or []):
        if other == registered_model.name:
            continue
        found = RegisteredModel.objects.filter(name=other, team_id=registered_model.team_id).first()
        if found is None:
            raise NotFound(
                f"No model {other!r} in team {registered_model.team.name!r}; an app token "
                "names models of one team.",
                field="models",
            )
        _require_releaser(actor, found, "create app tokens")
        models.append(found)
    if len(models) > MAX_MODELS_PER_TOKEN:
        raise InvalidInput(
            f"An app token names at most {MAX_MODELS_PER_TOKEN} models.", field="models"
        )
    key = APP_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = AppToken.objects.create(
        team_id=registered_model.team_id,
        name=name,
        prefix=key[:10],
        digest=app_token_digest(key),
        created_by=actor,
    )
    token.registered_models.set(models)
    audit_record(
        actor=actor,
        action="app_token.create",
        registered_model=registered_model,
        payload={
            "app_token_id": token.pk,
            "name": name,
            "prefix": token.prefix,
            "models": [m.name for m in models],
        },
    )
    return token, key


@transaction.atomic
def app_token_revoke(*, actor: User, app_token: AppToken) -> AppToken:
    """Revoke an app key: every serving process refuses it within a second (the audit row
    moves the serving generation). Idempotent."""
    locked = AppToken.objects.select_for_update().get(pk=app_token.pk)
    models = list(locked.registered_models.select_related("team"))
    if not models or not all(
        user_can(user=actor, team_id=m.team_id, action="promote") for m in models
    ):
        raise Forbidden("Only reviewers and admins of the token's team can revoke it.")
    if locked.revoked_at is not None:
        return locked
    locked.revoked_at = timezone.now()
    locked.revoked_by = actor
    locked.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(
        actor=actor,
        action="app_token.revoke",
        registered_model=models[0],
        payload={
            "app_token_id": locked.pk,
            "name": locked.name,
            "prefix": locked.prefix,
            "models": [m.name for m in models],
        },
    )
    return locked
