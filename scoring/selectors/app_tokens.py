"""Reads of app tokens, cut to what the user may see."""

from __future__ import annotations

from django.db.models import QuerySet

from releases.errors import NotFound
from releases.models import RegisteredModel
from releases.selectors import AnyUser, registered_model_get_for_user
from scoring.models import AppToken


def app_tokens_for_model(*, registered_model: RegisteredModel) -> QuerySet[AppToken]:
    """The app tokens that name the model, newest first, revoked ones included."""
    return (
        AppToken.objects.filter(registered_models=registered_model)
        .select_related("created_by", "revoked_by")
        .prefetch_related("registered_models")
        .order_by("-created_at", "-pk")
    )


def app_token_get_for_user(*, user: AnyUser, name: str, token_id: int) -> AppToken:
    """An app token of the model, for a reviewer or admin of its team (404 / 403 otherwise)."""
    model = registered_model_get_for_user(user=user, name=name, action="promote")
    token = app_tokens_for_model(registered_model=model).filter(pk=token_id).first()
    if token is None:
        raise NotFound(f"{name} has no app token {token_id}.")
    return token
