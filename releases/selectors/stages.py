"""Which version holds each stage, its history, and where a rollback goes."""

from __future__ import annotations

from releases.models import (
    ModelVersion,
    RegisteredModel,
    Stage,
    StageAssignment,
    StageEvent,
    VersionStatus,
)


def stage_version(*, registered_model: RegisteredModel, stage: str) -> ModelVersion | None:
    """The version holding ``stage`` of the model now, from the stage rows."""
    assignment = (
        StageAssignment.objects.filter(registered_model=registered_model, stage=stage)
        .select_related("model_version__registered_model__team", "model_version__uploaded_by")
        .first()
    )
    return assignment.model_version if assignment else None


def production_version(*, registered_model: RegisteredModel) -> ModelVersion | None:
    """The version live traffic gets: the one holding the production stage, or None."""
    return stage_version(registered_model=registered_model, stage=Stage.PRODUCTION)


def staging_version(*, registered_model: RegisteredModel) -> ModelVersion | None:
    return stage_version(registered_model=registered_model, stage=Stage.STAGING)


def stages_of_model(*, registered_model: RegisteredModel) -> dict[str, ModelVersion]:
    """stage -> the version holding it now (absent stages are left out), in one query."""
    return {
        a.stage: a.model_version
        for a in StageAssignment.objects.filter(registered_model=registered_model).select_related(
            "model_version"
        )
    }


def stage_events_for_model(
    *, registered_model: RegisteredModel, limit: int = 100
) -> list[StageEvent]:
    """The model's stage history, newest first."""
    return list(
        StageEvent.objects.filter(registered_model=registered_model)
        .select_related("from_version", "to_version", "actor")
        .order_by("-created_at", "-pk")[:limit]
    )


def rollback_target(*, registered_model: RegisteredModel, stage: str) -> ModelVersion | None:
    """The version that held ``stage`` before the current one, replaying the stage's history
    as a stack: a promotion pushes its version, a rollback pops the version it replaced, a
    version archived out of the stage leaves it. Repeated rollbacks walk further back, past
    versions no longer approved."""
    events = StageEvent.objects.filter(registered_model=registered_model, stage=stage).order_by(
        "created_at", "pk"
    )
    stack: list[int] = []
    for from_id, to_id, kind in events.values_list("from_version_id", "to_version_id", "kind"):
        if to_id is None or kind == "rollback":
            stack = [v for v in stack if v != from_id]
        if to_id is not None:
            stack = [v for v in stack if v != to_id] + [to_id]
    current = StageAssignment.objects.filter(
        registered_model=registered_model, stage=stage
    ).values_list("model_version_id", flat=True)
    current_id = current.first()
    # Only a version that may still serve is a target: archived ones are gone for good.
    servable = set(
        ModelVersion.objects.filter(pk__in=stack, status=VersionStatus.APPROVED).values_list(
            "pk", flat=True
        )
    )
    candidates = [v for v in stack if v != current_id and v in servable]
    if not candidates:
        return None
    return ModelVersion.objects.get(pk=candidates[-1])
