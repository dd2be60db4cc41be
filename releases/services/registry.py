"""Registering models and uploading versions: checks, storage, numbering, trust."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from releases.artifact_store import StoredFile, discard, store_content_addressed
from releases.models import (
    ALLOWED_TRANSITIONS,
    EvaluationDataset,
    ModelVersion,
    RegisteredModel,
    Tag,
    Team,
    VersionStatus,
)
from releases.selectors import user_can
from releases.uploads import format_size
from webapp.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PayloadTooLarge,
    UnsafeArtifactRefused,
    UnsupportedFormat,
)

if TYPE_CHECKING:
    import pandas as pd
from releases.services.audit import audit_record


@transaction.atomic
def registered_model_create(
    *, actor: User, name: str, team_name: str, description: str = "", model_card: str = ""
) -> RegisteredModel:
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
        raise Conflict(
            f"A model named {name!r} already exists; choose another name.", field="name"
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
) -> RegisteredModel:
    """Edit a model's description and model card, or replace its standing evaluation set.

    ``None`` (and no CSV) leaves a field as it is; name and team never change. The CSV is checked
    exactly as on upload and stored before the transaction; a refusal removes it again.
    """
    if not user_can(user=actor, team_id=registered_model.team_id, action="edit"):
        raise Forbidden(
            f"Only data scientists of team {registered_model.team.name!r} can edit this model."
        )
    if description is not None and len(description) > 500:
        raise InvalidInput("Keep the description to 500 characters or fewer.", field="description")
    _check_evaluation_target(
        registered_model=registered_model, evaluation_data=evaluation_data, target=target
    )

    cleanups: list[Callable[[], None]] = []
    stored: StoredFile | None = None
    try:
        evaluation_frame = None
        if evaluation_data is not None:
            evaluation_path, cleanup = _as_local_file(evaluation_data)
            cleanups.append(cleanup)
            evaluation_frame = _read_evaluation(evaluation_path, target)
            stored = store_content_addressed(path=evaluation_path, kind="datasets", extension="csv")

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
                    "old_sha256": _text_sha256(locked.model_card),
                    "new_sha256": _text_sha256(model_card),
                }
                locked.model_card = model_card
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
                dataset = _evaluation_dataset_create(
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
    except BaseException:
        if stored is not None:
            _discard_unreferenced(stored)
        raise
    finally:
        for cleanup in cleanups:
            cleanup()


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _check_evaluation_target(
    *, registered_model: RegisteredModel, evaluation_data: File | None, target: str
) -> None:
    """A CSV needs its target column; a target alone must be the standing set's (the stored set
    was checked against its own target, and ignoring a new one would mislead the caller)."""
    if evaluation_data is not None and not target:
        raise InvalidInput(
            "Say which column of the evaluation CSV is the target (the 'target' field).",
            field="target",
        )
    standing = registered_model.evaluation_dataset
    if target and evaluation_data is None and (standing is None or standing.target != target):
        raise InvalidInput(
            f"The target {target!r} needs an evaluation CSV: attach one in 'evaluation_data', "
            "or leave 'target' empty (or unchanged) to keep the model's standing evaluation set"
            + (f" (target {standing.target!r})." if standing else "."),
            field="evaluation_data",
        )


def _evaluation_dataset_create(
    *,
    registered_model: RegisteredModel,
    stored: StoredFile,
    upload: File | None,
    target: str,
    frame: pd.DataFrame,
    actor: User,
) -> EvaluationDataset:
    return EvaluationDataset.objects.create(
        registered_model=registered_model,
        file=stored.name,
        original_name=((upload.name if upload else "") or "")[:255],
        sha256=stored.sha256,
        size=stored.size,
        target=target,
        n_rows=len(frame),
        columns=[str(c) for c in frame.columns],
        created_by=actor,
    )


def trusted_type_allowlist() -> frozenset[str]:
    """The shipped reviewed allowlist plus what an admin configured; never from the file."""
    from releases.artifact_safety import DEFAULT_TRUSTED_TYPES

    return DEFAULT_TRUSTED_TYPES | settings.MODELGATE_EXTRA_TRUSTED_TYPES


def _as_local_file(upload: File) -> tuple[Path, Callable[[], None]]:
    """A path for the uploaded bytes: Django's temporary upload file, or a temp copy."""
    if hasattr(upload, "temporary_file_path"):
        return Path(upload.temporary_file_path()), lambda: None
    tmp = tempfile.NamedTemporaryFile(delete=False)  # noqa: SIM115 -- removed by the cleanup
    with tmp:
        upload.seek(0)
        shutil.copyfileobj(upload, tmp, 1 << 20)
    return Path(tmp.name), lambda: os.unlink(tmp.name)


def _check_artifact(path: Path) -> tuple[str, list[str]]:
    """Content checks that need no loading: format by content, zip limits, skops type policy.
    Returns (format, types needing a reviewer's trust). Raises a 4xx DomainError."""
    from releases.artifact_safety import (
        SNIFF_BYTES,
        UnsafeArtifact,
        check_onnx,
        check_zip,
        classify_untrusted,
        skops_untrusted_types,
        sniff_format,
    )

    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    try:
        artifact_format = sniff_format(head=head)
        if artifact_format == "onnx":
            check_onnx(path=path)
            return artifact_format, []
        check_zip(
            path=path,
            max_uncompressed_bytes=settings.MODELGATE_MAX_UNCOMPRESSED_BYTES,
            max_entries=settings.MODELGATE_MAX_ZIP_ENTRIES,
        )
        report = classify_untrusted(
            untrusted=skops_untrusted_types(path=path), trusted=trusted_type_allowlist()
        )
    except UnsafeArtifact as exc:
        error_class = (
            UnsupportedFormat
            if exc.code in {"pickle_refused", "unknown_format"}
            else UnsafeArtifactRefused
        )
        raise error_class(exc.message, code=exc.code, field="artifact") from exc
    if report.forbidden:
        raise UnsafeArtifactRefused(
            "This model refers to "
            + ", ".join(report.forbidden)
            + ", which can run arbitrary code or touch files, so ModelGate will never load it. "
            "Rebuild the model without it (for example without a FunctionTransformer wrapping "
            "that function), save it with skops.io.dump and upload it again.",
            code="forbidden_type",
            field="artifact",
            detail={"forbidden_types": list(report.forbidden)},
        )
    return artifact_format, list(report.needs_trust)


def _read_evaluation(path: Path, target: str) -> pd.DataFrame:
    from releases.signature import InvalidEvaluationData, read_evaluation_csv

    try:
        return read_evaluation_csv(
            path_or_file=path, target=target, max_rows=settings.MODELGATE_MAX_EVALUATION_ROWS
        )
    except InvalidEvaluationData as exc:
        raise InvalidInput(
            str(exc), code="invalid_evaluation_data", field="evaluation_data"
        ) from exc


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
    _check_evaluation_target(
        registered_model=registered_model, evaluation_data=evaluation_data, target=target
    )
    clean_tags = sorted({t.strip().lower() for t in tags if t.strip()})
    for tag in clean_tags:
        if len(tag) > 50:
            raise InvalidInput(f"Tag {tag[:20]!r}... is longer than 50 characters.", field="tags")

    cleanups: list[Callable[[], None]] = []
    stored: list[StoredFile] = []
    try:
        artifact_path, cleanup = _as_local_file(artifact)
        cleanups.append(cleanup)
        artifact_format, needs_trust = _check_artifact(artifact_path)
        evaluation_frame = None
        if evaluation_data is not None:
            evaluation_path, cleanup = _as_local_file(evaluation_data)
            cleanups.append(cleanup)
            evaluation_frame = _read_evaluation(evaluation_path, target)

        stored_artifact = store_content_addressed(
            path=artifact_path, kind="artifacts", extension=artifact_format
        )
        stored.append(stored_artifact)
        stored_evaluation = None
        if evaluation_data is not None:
            stored_evaluation = store_content_addressed(
                path=evaluation_path, kind="datasets", extension="csv"
            )
            stored.append(stored_evaluation)

        with transaction.atomic():
            # The lock serialises version numbering per model.
            locked = RegisteredModel.objects.select_for_update().get(pk=registered_model.pk)
            dataset = locked.evaluation_dataset
            if stored_evaluation is not None and evaluation_frame is not None:
                dataset = _evaluation_dataset_create(
                    registered_model=locked, stored=stored_evaluation, upload=evaluation_data,
                    target=target, frame=evaluation_frame, actor=actor,
                )  # fmt: skip
                locked.evaluation_dataset = dataset
                locked.save(update_fields=["evaluation_dataset", "updated_at"])
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
            if clean_tags:
                version.tags.set([Tag.objects.get_or_create(name=t)[0] for t in clean_tags])
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
    except BaseException:
        for item in stored:
            _discard_unreferenced(item)
        raise
    finally:
        for cleanup in cleanups:
            cleanup()


def _discard_unreferenced(stored: StoredFile) -> None:
    """Remove a file this failed upload stored, unless a committed row already shares the bytes.
    (An identical upload still in flight can lose its file; its own check then finds it gone.)"""
    if (
        ModelVersion.objects.filter(artifact=stored.name).exists()
        or EvaluationDataset.objects.filter(file=stored.name).exists()
    ):
        return
    discard(stored)


def _enqueue_validation(version: ModelVersion) -> None:
    from releases.tasks import validate_model_version

    version_id = version.pk
    transaction.on_commit(lambda: validate_model_version.delay(version_id=version_id))


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
    """A reviewer trusts the listed untrusted types for this version only, then it validates."""
    from releases.artifact_safety import is_forbidden_type

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
        raise Forbidden(f"{', '.join(forbidden)} can never be trusted.", field="types")
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
