"""The audit trail: every service writes one row per action (append-only in the database).

Actions in ``WEBHOOK_EVENT_FOR_ACTION`` are also announced to the model's webhooks: the
deliveries are rows of the same transaction and are sent once it commits.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from releases.models import (
    WEBHOOK_EVENT_FOR_ACTION,
    AuditEvent,
    ModelVersion,
    RegisteredModel,
    Team,
)


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
    event = AuditEvent.objects.create(
        actor=actor,
        action=action,
        team=team,
        registered_model=registered_model,
        model_version=model_version,
        payload=payload or {},
    )
    webhook_event = WEBHOOK_EVENT_FOR_ACTION.get(action)
    if webhook_event is not None and registered_model is not None:
        from releases.services.webhooks import webhook_deliveries_enqueue

        webhook_deliveries_enqueue(audit_event=event, event=webhook_event)
    return event
