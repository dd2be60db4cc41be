"""Registering and editing models, uploading versions, trusting types."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from releases.artifact_store import StoredFile
from releases.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PayloadTooLarge,
)
from releases.limits import NOTES_MAX_CHARS, check_length, check_model_texts, clean_tags
from releases.models import (
    ALLOWED_TRANSITIONS,
    ModelVersion,
    RegisteredModel,
    Tag,
    Team,
    VersionStatus,
)
from releases.selectors import user_can
from releases.services.audit import audit_record
from releases.services.inputs import (
    check_artifact,
    check_evaluation_target,
    evaluation_dataset_create,
    read_evaluation,
    text_sha256,
    upload_staging,
)
from releases.uploads import format_size


@transaction.atomic
def registered_model_create(
    *, actor: User, name: str, team_name: str, description: str = "", model_card: str = ""
) -> RegisteredModel:
    check_model_texts(description=description, model_card=model_card)
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
        # Names are global, so a taken name may belong to a team the actor cannot see: say only
        # that it is taken, never whose it is or anything else about that model.
        raise Conflict(
            f"The model name {name!r} is already taken (model names are unique across all "
            "teams); choose another name.",
            field="name",
        ) from None
    audit_record(
        actor=actor,
        action="model.register",
        registered_model=model,
        payload={"name": name, "description": description},
    )
    return model


def registered_model_update(
    *,
    actor: User,
    registered_model: RegisteredModel,
    description: str | None = None,
    model_card: str | None = None,
    evaluation_data: File | None = None,
    target: str = "",
    gates: dict[str, Any] | None = None,
) -> RegisteredModel:
    """Edit a model's description and model card, or replace its standing evaluation set.

    ``gates`` replaces the release-gate policy (checked by `releases.gates.clean_policy`).

    ``None`` (and no CSV) leaves a field as it is; name and team never change. The CSV is checked
    exactly as on upload and stored before the transaction; a refusal removes it again.
    """
    if not user_can(user=actor, team_id=registered_model.team_id, action="edit"):
        raise Forbidden(
            f"Only data scientists of team {registered_model.team.name!r} can edit this model."
        )
    check_model_texts(description=description, model_card=model_card)
    check_evaluation_target(
        registered_model=registered_model, evaluation_data=evaluation_data, target=target
    )
    if gates is not None:
        gates = _clean_gates(gates)

    stored: StoredFile | None = None
    with upload_staging() as staging:
        evaluation_frame = None
        if evaluation_data is not None:
            evaluation_path = staging.local_path(evaluation_data)
            evaluation_frame = read_evaluation(evaluation_path, target)
            stored = staging.store(path=evaluation_path, kind="datasets", extension="csv")

        with transaction.atomic():
            # The lock keeps two concurrent edits from each auditing against a stale "old" value.
            locked = (
                # Lock the model row only: PostgreSQL refuses FOR UPDATE on the nullable side of
                # the evaluation set's outer join, and the team need not be locked.
                RegisteredModel.objects.select_for_update(of=("self",))
                .select_related("team", "evaluation_dataset")
                .get(pk=registered_model.pk)
            )
            changes: dict[str, Any] = {}
            if description is not None and description != locked.description:
                changes["description"] = {"old": locked.description, "new": description}
                locked.description = description
            if model_card is not None and model_card != locked.model_card:
                # The card can be long and is already stored: the audit row keeps its digests.
                changes["model_card"] = {
                    "old_sha256": text_sha256(locked.model_card),
                    "new_sha256": text_sha256(model_card),
                }
                locked.model_card = model_card
            if gates is not None and gates != locked.gates:
                changes["gates"] = {"old": locked.gates, "new": gates}
                locked.gates = gates
            previous = locked.evaluation_dataset
            dataset = None
            if (
                stored is not None
                and evaluation_frame is not None
                and (
                    previous is None
                    or (previous.sha256, previous.target) != (stored.sha256, target)
                )
            ):
                dataset = evaluation_dataset_create(
                    registered_model=locked, stored=stored, upload=evaluation_data,
                    target=target, frame=evaluation_frame, actor=actor,
                )  # fmt: skip
                locked.evaluation_dataset = dataset
            if not changes and dataset is None:
                return locked  # nothing differs: no write, no audit row
            update_fields = [*changes, *(["evaluation_dataset"] if dataset else []), "updated_at"]
            locked.save(update_fields=update_fields)
            if changes:
                audit_record(
                    actor=actor,
                    action="model.update",
                    registered_model=locked,
                    payload={"fields": sorted(changes), **changes},
                )
            if dataset is not None:
                audit_record(
                    actor=actor,
                    action="model.evaluation_set",
                    registered_model=locked,
                    payload={
                        "sha256": dataset.sha256,
                        "target": dataset.target,
                        "rows": dataset.n_rows,
                        "previous_sha256": previous.sha256 if previous else None,
                    },
                )
        return locked


def _clean_gates(gates: Any) -> dict[str, Any]:
    from releases.gates import GatePolicyError, clean_policy

    try:
        return clean_policy(gates)
    except GatePolicyError as exc:
        raise InvalidInput(exc.message, field="gates") from None


def model_version_upload(
    *,
    actor: User,
    registered_model: RegisteredModel,
    artifact: File,
    evaluation_data: File | None = None,
    target: str = "",
    notes: str = "",
    tags: Sequence[str] = (),
) -> ModelVersion:
    """Check, store and register a new version; validation then runs in a worker.

    Everything that can refuse the upload runs before anything is written, and a failure after
    storing removes the stored files again: a refused upload leaves no row and no file.
    """
    check_length(field="notes", label="notes", value=notes, limit=NOTES_MAX_CHARS)
    clean_tag_names = clean_tags(tags)
    if not user_can(user=actor, team_id=registered_model.team_id, action="upload"):
        raise Forbidden(
            f"Only data scientists of team {registered_model.team.name!r} can upload versions."
        )
    if artifact.size is not None and artifact.size > settings.MODELGATE_MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(
            f"The model file is larger than the "
            f"{format_size(settings.MODELGATE_MAX_UPLOAD_BYTES)} limit.",
            field="artifact",
        )
    check_evaluation_target(
        registered_model=registered_model, evaluation_data=evaluation_data, target=target
    )

    with upload_staging() as staging:
        artifact_path = staging.local_path(artifact)
        artifact_format, needs_trust = check_artifact(artifact_path)
        evaluation_frame = None
        if evaluation_data is not None:
            evaluation_path = staging.local_path(evaluation_data)
            evaluation_frame = read_evaluation(evaluation_path, target)

        stored_artifact = staging.store(
            path=artifact_path, kind="artifacts", extension=artifact_format
        )
        stored_evaluation = None
        if evaluation_data is not None:
            stored_evaluation = staging.store(
                path=evaluation_path, kind="datasets", extension="csv"
            )

        with transaction.atomic():
            # The lock serialises version numbering per model.
            locked = RegisteredModel.objects.select_for_update().get(pk=registered_model.pk)
            dataset = locked.evaluation_dataset
            if stored_evaluation is not None and evaluation_frame is not None:
                # Recorded on the version only: it becomes the model's standing set once a
                # version validates on it (model_version_finish_validation), so a CSV that
                # fails validation never becomes the standard the next upload is measured on.
                dataset = evaluation_dataset_create(
                    registered_model=locked, stored=stored_evaluation, upload=evaluation_data,
                    target=target, frame=evaluation_frame, actor=actor,
                )  # fmt: skip
            last = locked.versions.aggregate(m=Max("version"))["m"] or 0
            version = ModelVersion.objects.create(
                registered_model=locked,
                version=last + 1,
                status=VersionStatus.PENDING,
                artifact=stored_artifact.name,
                sha256=stored_artifact.sha256,
                size=stored_artifact.size,
                format=artifact_format,
                untrusted_types=needs_trust,
                evaluation_dataset=dataset,
                notes=notes,
                uploaded_by=actor,
            )
            if clean_tag_names:
                version.tags.set([Tag.objects.get_or_create(name=t)[0] for t in clean_tag_names])
            audit_record(
                actor=actor,
                action="version.upload",
                model_version=version,
                payload={
                    "version": version.version,
                    "sha256": version.sha256,
                    "size": version.size,
                    "format": artifact_format,
                    "untrusted_types": needs_trust,
                    "evaluation_dataset": dataset.sha256 if dataset else None,
                },
            )
            if not needs_trust:
                _enqueue_validation(version)
        return version


def _enqueue_validation(version: ModelVersion) -> None:
    from releases.services.lifecycle import enqueue_validation

    version_id = version.pk
    # A broker that is down must not turn the committed upload into a 500: enqueue_validation
    # logs it and the sweeper queues the pending version later.
    transaction.on_commit(lambda: enqueue_validation(version_id=version_id))


def _transition(version: ModelVersion, to: str) -> None:
    if to not in ALLOWED_TRANSITIONS[version.status]:
        raise InvalidTransition(
            f"Version {version.version} is {version.status}; it cannot become {to}."
        )
    version.status = to
    version.status_changed_at = timezone.now()


@transaction.atomic
def model_version_trust_types(
    *, actor: User, model_version: ModelVersion, types: Sequence[str]
) -> ModelVersion:
    """A reviewer trusts the listed untrusted types for this version only, then it validates.

    Only what `describe_type` says a reviewer may trust (curated ML classes, pure numeric
    functions); anything else needs an administrator (MODELGATE_EXTRA_TRUSTED_TYPES).
    """
    from releases.artifact_safety import describe_type, is_forbidden_type

    version = ModelVersion.objects.select_for_update().get(pk=model_version.pk)
    if not user_can(user=actor, team_id=model_version.registered_model.team_id, action="review"):
        raise Forbidden("Only reviewers of this model's team can trust types for a version.")
    if version.uploaded_by_id == actor.pk:
        raise Forbidden("You uploaded this version; another reviewer must trust its types.")
    unknown = sorted(set(types) - set(version.untrusted_types))
    if unknown or not types:
        raise InvalidInput(
            "Trust only types this version lists as untrusted: "
            + (", ".join(version.untrusted_types) or "none")
            + ".",
            field="types",
        )
    forbidden = [t for t in types if is_forbidden_type(t)]
    if forbidden:
        raise Forbidden(
            f"{', '.join(forbidden)} can never be trusted.",
            field="types",
            detail={"refused_types": forbidden},
        )
    refused = [t for t in types if not describe_type(t).reviewer_may_trust]
    if refused:
        raise Forbidden(
            f"A reviewer cannot trust {', '.join(refused)}: only classes from known "
            "machine-learning packages and pure numeric functions can be trusted here. Only an "
            "administrator can allow other types, after reviewing them, through the "
            "MODELGATE_EXTRA_TRUSTED_TYPES setting.",
            field="types",
            detail={"refused_types": refused},
        )
    added = sorted(set(types) - set(version.trusted_types))
    if not added:
        return version  # already trusted: a repeated click changes nothing
    version.trusted_types = sorted(set(version.trusted_types) | set(added))
    version.save(update_fields=["trusted_types"])
    audit_record(
        actor=actor, action="version.trust_types", model_version=version, payload={"types": added}
    )
    if not version.pending_trust and version.status == VersionStatus.PENDING:
        _enqueue_validation(version)
    return version
