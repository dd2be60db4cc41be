"""Review and release: approving or rejecting a version (four eyes, N approvals, bound to the
artifact's sha256), promoting it to a stage, rolling a stage back, archiving.

Every move runs in one transaction holding row locks (the model's row for stage changes, the
version's row for its status), checks the current state first, returns early when the step is
already done, and writes one audit row. Hashing the stored artifact happens before the lock:
it can take seconds, and the lock must not wait on it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from releases.errors import Conflict, Forbidden, InvalidInput, InvalidTransition
from releases.limits import COMMENT_MAX_CHARS, check_length
from releases.models import (
    ALLOWED_TRANSITIONS,
    MAX_REQUIRED_APPROVALS,
    ModelVersion,
    RegisteredModel,
    Review,
    ReviewDecision,
    Stage,
    StageAssignment,
    StageEvent,
    StageEventKind,
    VersionStatus,
)
from releases.selectors import rollback_target, user_can, user_is_admin, version_artifact_intact
from releases.services.audit import audit_record
from releases.services.registry import _transition

# What may happen next from each status, in words, for the 409 that refuses a move.
NEXT_STEPS: dict[str, str] = {
    VersionStatus.PENDING: "wait for validation (or for trust in its types), or archive it",
    VersionStatus.VALIDATING: "wait for validation to finish",
    VersionStatus.VALIDATED: "approve, reject or archive it",
    VersionStatus.VALIDATION_FAILED: "archive it, or upload a fixed version",
    VersionStatus.APPROVED: "promote it to staging or production, or archive it",
    VersionStatus.REJECTED: "nothing: upload a new version",
    VersionStatus.ARCHIVED: "nothing: upload a new version",
}


def refusal(version: ModelVersion, doing: str) -> str:
    """Why ``version`` cannot be ``doing`` now, and what may happen next instead."""
    return (
        f"v{version.version} is {version.get_status_display().lower()}, so it cannot be "
        f"{doing}; allowed next: {NEXT_STEPS[version.status]}."
    )


def _refuse(version: ModelVersion, doing: str) -> InvalidTransition:
    return InvalidTransition(
        refusal(version, doing),
        detail={
            "status": version.status,
            "allowed_next": NEXT_STEPS[version.status],
            "allowed_statuses": sorted(ALLOWED_TRANSITIONS[version.status]),
        },
    )


def _check_comment(comment: str, *, field: str = "comment", label: str = "comment") -> None:
    check_length(field=field, label=label, value=comment, limit=COMMENT_MAX_CHARS)


def _stages_held(version: ModelVersion) -> list[str]:
    return sorted(
        StageAssignment.objects.filter(model_version=version).values_list("stage", flat=True)
    )


def _intact_or_refuse(version: ModelVersion, doing: str) -> None:
    if not version_artifact_intact(version):
        raise Conflict(
            f"The stored file of v{version.version} no longer hashes to the sha256 it was "
            f"uploaded and approved with ({version.sha256[:12]}…), so it cannot be {doing} or "
            "served. Upload the model again as a new version.",
            code="artifact_changed",
        )


# --- Review ------------------------------------------------------------------------------------


def model_version_review(
    *, actor: User, model_version: ModelVersion, decision: str, comment: str = ""
) -> ModelVersion:
    """A reviewer approves or rejects a validated version.

    Approvals count per reviewer; the version becomes approved at the model's
    ``required_approvals`` (re-checked on a repeated approval, so lowering the setting never
    strands a version); one rejection rejects it. Repeating one's own decision changes nothing.
    """
    if decision not in ReviewDecision.values:
        raise InvalidInput("Decide 'approve' or 'reject'.", field="decision")
    comment = comment.strip()
    _check_comment(comment)
    if decision == ReviewDecision.REJECT and not comment:
        raise InvalidInput("Say why you reject it: a comment is required.", field="comment")
    model = model_version.registered_model
    if not user_can(user=actor, team_id=model.team_id, action="review"):
        raise Forbidden(f"Only reviewers of team {model.team.name!r} can review its versions.")
    if model_version.uploaded_by_id == actor.pk:
        # Four eyes, whatever roles the uploader also holds (admin included).
        raise Forbidden(f"You uploaded v{model_version.version}; another reviewer must review it.")
    from releases.artifact_store import stored_sha256

    measured = stored_sha256(str(model_version.artifact.name))

    with transaction.atomic():
        version = (
            ModelVersion.objects.select_for_update(of=("self",))
            .select_related("registered_model__team")
            .get(pk=model_version.pk)
        )
        mine = Review.objects.filter(model_version=version, reviewer=actor).first()
        if mine is not None and mine.decision != decision:
            raise Conflict(
                f"You already {'approved' if mine.decision == 'approve' else 'rejected'} "
                f"v{version.version}; a reviewer decides once.",
                code="already_reviewed",
            )
        if mine is None and version.status != VersionStatus.VALIDATED:
            raise _refuse(version, "approved" if decision == "approve" else "rejected")
        # Both checks guard an approval only: rejecting a doubtful version is always allowed.
        if decision == ReviewDecision.APPROVE and version.pending_trust:
            raise Conflict(
                "Trust or refuse these types before approving: "
                + ", ".join(version.pending_trust)
                + ".",
                code="untrusted_types",
                detail={"pending_trust": version.pending_trust},
            )
        if decision == ReviewDecision.APPROVE and measured != version.sha256:
            raise Conflict(
                f"The stored file of v{version.version} no longer hashes to the sha256 it was "
                "uploaded with; it cannot be approved. Upload the model again.",
                code="artifact_changed",
            )
        before = _review_state(version)
        if mine is None:
            Review.objects.create(
                model_version=version,
                reviewer=actor,
                decision=decision,
                comment=comment,
                artifact_sha256=measured or "",  # "" when the file is gone (a rejection)
            )
        if decision == ReviewDecision.REJECT and version.status == VersionStatus.VALIDATED:
            _transition(version, VersionStatus.REJECTED)
            version.save(update_fields=["status", "status_changed_at"])
        elif (
            decision == ReviewDecision.APPROVE
            and version.status == VersionStatus.VALIDATED
            and before["approvals"] + (mine is None) >= version.registered_model.required_approvals
        ):
            _transition(version, VersionStatus.APPROVED)
            version.save(update_fields=["status", "status_changed_at"])
        if mine is not None and _review_state(version) == before:
            return version  # a repeated click: nothing changed, nothing to record
        audit_record(
            actor=actor,
            action=f"version.{decision}",
            model_version=version,
            payload={
                "comment": comment,
                "sha256": measured,
                "before": before,
                "after": _review_state(version),
            },
        )
        return version


def _review_state(version: ModelVersion) -> dict[str, Any]:
    return {
        "status": version.status,
        "approvals": Review.objects.filter(
            model_version=version, decision=ReviewDecision.APPROVE
        ).count(),
        "required_approvals": version.registered_model.required_approvals,
    }


@transaction.atomic
def registered_model_set_required_approvals(
    *, actor: User, registered_model: RegisteredModel, required_approvals: int
) -> RegisteredModel:
    """How many different reviewers must approve a version. Reviewers and admins decide it, not
    the data scientists whose versions it gates."""
    if not user_can(user=actor, team_id=registered_model.team_id, action="review"):
        raise Forbidden(
            "Only reviewers and admins of the model's team can change its approval policy.",
            field="required_approvals",
        )
    if not 1 <= required_approvals <= MAX_REQUIRED_APPROVALS:
        raise InvalidInput(
            f"Ask for between 1 and {MAX_REQUIRED_APPROVALS} approvals.",
            field="required_approvals",
        )
    locked = RegisteredModel.objects.select_for_update().get(pk=registered_model.pk)
    if locked.required_approvals == required_approvals:
        return locked
    old = locked.required_approvals
    locked.required_approvals = required_approvals
    locked.save(update_fields=["required_approvals", "updated_at"])
    audit_record(
        actor=actor,
        action="model.update",
        registered_model=locked,
        payload={
            "fields": ["required_approvals"],
            "required_approvals": {"old": old, "new": required_approvals},
        },
    )
    return locked


# --- Stages ------------------------------------------------------------------------------------


def _require_release_role(actor: User, model: RegisteredModel, what: str) -> None:
    if not user_can(user=actor, team_id=model.team_id, action="promote"):
        raise Forbidden(f"Only reviewers and admins of team {model.team.name!r} can {what}.")


def gates_passed(version: ModelVersion) -> bool:
    """No gates (or a report from before gates existed) counts as passing."""
    report = version.validation_report if isinstance(version.validation_report, dict) else {}
    return report.get("gates_passed", True) is not False


def _assign(
    *,
    model: RegisteredModel,
    stage: str,
    version: ModelVersion,
    actor: User,
    kind: str,
    comment: str,
    override_reason: str = "",
) -> ModelVersion | None:
    """Put ``version`` in ``stage`` (replacing whoever held it) with its history row; returns
    the version it replaced. The caller holds the model's row lock."""
    current = StageAssignment.objects.filter(registered_model=model, stage=stage).first()
    previous = current.model_version if current else None
    now = timezone.now()
    if current is None:
        StageAssignment.objects.create(
            registered_model=model, stage=stage, model_version=version, assigned_by=actor,
            assigned_at=now,
        )  # fmt: skip
    else:
        current.model_version = version
        current.assigned_by = actor
        current.assigned_at = now
        current.save(update_fields=["model_version", "assigned_by", "assigned_at"])
    StageEvent.objects.create(
        registered_model=model, stage=stage, kind=kind, from_version=previous,
        to_version=version, actor=actor, comment=comment, override_reason=override_reason,
    )  # fmt: skip
    return previous


def _lock(model: RegisteredModel, version_pk: int) -> tuple[RegisteredModel, ModelVersion]:
    # Always the model first, then the version: one order everywhere, so no deadlock.
    locked_model = (
        RegisteredModel.objects.select_for_update(of=("self",))
        .select_related("team")
        .get(pk=model.pk)
    )
    version = ModelVersion.objects.select_for_update().get(pk=version_pk)
    version.registered_model = locked_model
    return locked_model, version


def model_version_promote(
    *,
    actor: User,
    model_version: ModelVersion,
    stage: str,
    comment: str = "",
    override_reason: str = "",
) -> ModelVersion:
    """Make an approved version hold ``stage``. Production also needs passing gates, unless an
    admin overrides them with a reason; four eyes and the artifact's integrity are never
    overridden. Promoting the version that already holds the stage changes nothing."""
    if stage not in Stage.values:
        raise InvalidInput("Promote to 'staging' or 'production'.", field="stage")
    comment, override_reason = comment.strip(), override_reason.strip()
    _check_comment(comment)
    _check_comment(override_reason, field="override_reason", label="override reason")
    model = model_version.registered_model
    _require_release_role(actor, model, "promote versions")
    if override_reason and not user_is_admin(user=actor):
        raise Forbidden("Only admins can override failing gates.", field="override_reason")
    # Before the lock, since hashing takes time; whatever the status read here, which a
    # concurrent approval may change before the lock is taken.
    _intact_or_refuse(model_version, "promoted")

    with transaction.atomic():
        model, version = _lock(model, model_version.pk)
        holder = StageAssignment.objects.filter(registered_model=model, stage=stage).first()
        if holder is not None and holder.model_version_id == version.pk:
            return version  # already there: a retried request is harmless
        if version.status != VersionStatus.APPROVED:
            raise _refuse(version, f"promoted to {stage}")
        kind = StageEventKind.PROMOTE
        if stage == Stage.PRODUCTION and not gates_passed(version):
            if not override_reason:
                failed = [
                    g.get("name", "?")
                    for g in version.validation_report.get("gates") or []
                    if not g.get("passed")
                ]
                raise Conflict(
                    f"v{version.version} failed its release gates"
                    + (f" ({', '.join(map(str, failed))})" if failed else "")
                    + ", so it cannot hold production; an admin may override with a reason.",
                    code="gates_failed",
                    detail={"failed_gates": failed},
                )
            kind = StageEventKind.OVERRIDE
        previous = _assign(
            model=model, stage=stage, version=version, actor=actor, kind=kind, comment=comment,
            override_reason=override_reason if kind == StageEventKind.OVERRIDE else "",
        )  # fmt: skip
        payload: dict[str, object] = {
            "comment": comment,
            "stage": stage,
            "before": {"stage": stage, "version": previous.version if previous else None},
            "after": {"stage": stage, "version": version.version},
        }
        if kind == StageEventKind.OVERRIDE:
            payload["override_reason"] = override_reason
        audit_record(actor=actor, action="version.promote", model_version=version, payload=payload)
        return version


def registered_model_rollback(
    *, actor: User, registered_model: RegisteredModel, stage: str, comment: str = ""
) -> ModelVersion:
    """Give ``stage`` back to the version that held it before the current one, in one step.

    Not idempotent by nature: each call goes one version further back, as a person clicking
    "roll back" twice means."""
    if stage not in Stage.values:
        raise InvalidInput("Roll back 'staging' or 'production'.", field="stage")
    comment = comment.strip()
    _check_comment(comment)
    _require_release_role(actor, registered_model, "roll back a stage")
    target = rollback_target(registered_model=registered_model, stage=stage)
    if target is None:
        raise Conflict(
            f"{registered_model.name} has no earlier {stage} version to roll back to.",
            code="nothing_to_roll_back",
        )
    _intact_or_refuse(target, "restored")

    with transaction.atomic():
        model, version = _lock(registered_model, target.pk)
        # Someone may have moved the stage while we hashed: decide again under the lock.
        if rollback_target(registered_model=model, stage=stage) != version:
            raise Conflict(
                f"The {stage} stage of {model.name} changed while you asked; look again.",
                code="stage_changed",
            )
        if version.status != VersionStatus.APPROVED:
            raise _refuse(version, f"restored to {stage}")
        previous = _assign(
            model=model, stage=stage, version=version, actor=actor,
            kind=StageEventKind.ROLLBACK, comment=comment,
        )  # fmt: skip
        audit_record(
            actor=actor,
            action="model.rollback",
            registered_model=model,
            model_version=version,
            payload={
                "comment": comment,
                "stage": stage,
                "before": {"stage": stage, "version": previous.version if previous else None},
                "after": {"stage": stage, "version": version.version},
            },
        )
        return version


def model_version_archive(
    *, actor: User, model_version: ModelVersion, comment: str = ""
) -> ModelVersion:
    """Take a version out of every stage and out of use. Reviewers and admins may archive any
    version of their team; a data scientist only their own, and only while it holds no stage."""
    comment = comment.strip()
    _check_comment(comment)
    model = model_version.registered_model
    if not user_can(user=actor, team_id=model.team_id, action="archive"):
        raise Forbidden(f"Your role in team {model.team.name!r} does not allow archiving.")
    releaser = user_can(user=actor, team_id=model.team_id, action="promote")

    with transaction.atomic():
        model, version = _lock(model, model_version.pk)
        if version.status == VersionStatus.ARCHIVED:
            return version  # already archived
        if not releaser and version.uploaded_by_id != actor.pk:
            raise Forbidden("Data scientists can archive only versions they uploaded.")
        stages = _stages_held(version)
        if stages and not releaser:
            raise Forbidden(
                f"v{version.version} holds {' and '.join(stages)}; only a reviewer or an admin "
                "can take it out."
            )
        if VersionStatus.ARCHIVED not in _allowed(version):
            raise _refuse(version, "archived")
        before = {"status": version.status, "stages": stages}
        for assignment in StageAssignment.objects.filter(model_version=version):
            StageEvent.objects.create(
                registered_model=model, stage=assignment.stage, kind=StageEventKind.ARCHIVE,
                from_version=version, to_version=None, actor=actor, comment=comment,
            )  # fmt: skip
            assignment.delete()
        _transition(version, VersionStatus.ARCHIVED)
        version.save(update_fields=["status", "status_changed_at"])
        audit_record(
            actor=actor,
            action="version.archive",
            model_version=version,
            payload={
                "comment": comment,
                "before": before,
                "after": {"status": version.status, "stages": []},
            },
        )
        return version


def _allowed(version: ModelVersion) -> frozenset[str]:
    return ALLOWED_TRANSITIONS[version.status]
