"""The audit trail: every service writes one row per action (append-only in the database)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import User

from releases.models import (
    AuditEvent,
    ModelVersion,
    RegisteredModel,
    Team,
)

if TYPE_CHECKING:
    pass


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
