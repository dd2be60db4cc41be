"""Turning shadow mode on and off. Keyword-only, ``actor`` always passed, one transaction, one
audit row per change."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from releases.errors import Conflict, Forbidden
from releases.models import RegisteredModel, VersionStatus
from releases.selectors import staging_version, user_can
from releases.services.audit import audit_record
from scoring.models import ShadowMode


@transaction.atomic
def shadow_mode_set(*, actor: User, registered_model: RegisteredModel, enabled: bool) -> ShadowMode:
    """Turn on (or off) "staging shadows production" for the model: while on, the approved
    version holding staging scores every logged production request off the request path.

    Live answers never change: production keeps answering whatever this says. Turning it on
    needs an approved version in staging (409 otherwise). Idempotent: setting the current
    state again writes nothing. The audit row moves the serving generation, so every serving
    process picks the change up within a second."""
    if not user_can(user=actor, team_id=registered_model.team_id, action="promote"):
        raise Forbidden(
            f"Only reviewers and admins of team {registered_model.team.name!r} can turn shadow "
            "mode on or off."
        )
    ShadowMode.objects.get_or_create(
        registered_model=registered_model,
        defaults={"enabled": False, "changed_at": timezone.now()},
    )
    mode = ShadowMode.objects.select_for_update().get(registered_model=registered_model)
    staging = staging_version(registered_model=registered_model)
    if enabled and (staging is None or staging.status != VersionStatus.APPROVED):
        raise Conflict(
            f"{registered_model.name} has no approved version in staging to shadow production; "
            "promote an approved version to staging first.",
            code="no_staging_version",
            field="enabled",
        )
    if mode.enabled == enabled:
        return mode
    mode.enabled = enabled
    mode.changed_by = actor
    mode.changed_at = timezone.now()
    mode.save(update_fields=["enabled", "changed_by", "changed_at"])
    audit_record(
        actor=actor,
        action="model.shadow",
        registered_model=registered_model,
        model_version=staging if enabled else None,
        payload={
            "enabled": enabled,
            "shadow_version": staging.version if enabled and staging is not None else None,
        },
    )
    return mode
