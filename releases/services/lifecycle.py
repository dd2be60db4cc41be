"""Validation status moves, called by the worker's task."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from releases.models import (
    ModelVersion,
    RegisteredModel,
    VersionStatus,
)
from releases.services.audit import audit_record
from releases.services.registry import _transition


@transaction.atomic
def model_version_start_validation(*, version_id: int) -> ModelVersion | None:
    """pending → validating. None when there is nothing to do (gone, done, or awaiting trust)."""
    version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
    if version is None or version.status != VersionStatus.PENDING or version.pending_trust:
        return None
    _transition(version, VersionStatus.VALIDATING)
    version.validation_report = {"stage": "loading model"}
    version.save(update_fields=["status", "status_changed_at", "validation_report"])
    audit_record(actor=None, action="version.validation_started", model_version=version)
    return version


def model_version_report_stage(*, version_id: int, stage: str) -> None:
    """Progress for the version page; a plain update, no status change."""
    ModelVersion.objects.filter(pk=version_id, status=VersionStatus.VALIDATING).update(
        validation_report={"stage": stage}
    )


@transaction.atomic
def model_version_finish_validation(
    *, version_id: int, report: dict[str, Any] | None, error: str = "", error_code: str = ""
) -> ModelVersion | None:
    """validating → validated (with what was learned) or validation_failed (with why)."""
    from releases.selectors import production_version
    from releases.signature import diff_signatures

    version = (
        ModelVersion.objects.select_for_update(of=("self",))
        .select_related("registered_model__team")
        .filter(pk=version_id)
        .first()
    )
    if version is None or version.status != VersionStatus.VALIDATING:
        return version
    if report is None:
        stage = (version.validation_report or {}).get("stage", "")
        _transition(version, VersionStatus.VALIDATION_FAILED)
        version.validation_error = error
        version.validation_report = {
            "stage": "failed",
            "error_code": error_code,
            "failed_stage": stage,
        }
        version.save(
            update_fields=["status", "status_changed_at", "validation_error", "validation_report"]
        )
        audit_record(
            actor=None,
            action="version.validation_failed",
            model_version=version,
            payload={"error": error[:500], "code": error_code},
        )
        return version
    production = production_version(registered_model=version.registered_model)
    _transition(version, VersionStatus.VALIDATED)
    version.estimator_class = report["estimator_class"][:300]
    version.parameters = report["parameters"]
    version.library_versions = report["library_versions"]
    version.signature = report["signature"]
    version.signature_diff = (
        {
            "against_version": production.version,
            **diff_signatures(old=production.signature, new=report["signature"]),
        }
        if production is not None and production.signature
        else None
    )
    version.validation_report = {
        "stage": "done",
        "steps": report.get("steps", []),
        "evaluation": report.get("evaluation"),
        "load_seconds": report.get("load_seconds"),
    }
    version.save()
    _adopt_evaluation_set(version)
    audit_record(
        actor=None,
        action="version.validated",
        model_version=version,
        payload={
            "signature_changed": bool(version.signature_diff and version.signature_diff["changed"]),
            "metrics": (report.get("evaluation") or {}).get("metrics"),
        },
    )
    _request_shap_report(version.pk)
    return version


def _request_shap_report(version_id: int) -> None:
    # Explaining the model is explain's job, queued after this commit; the version never waits.
    from explain.services import shap_report_enqueue

    shap_report_enqueue(version_id=version_id)


def _adopt_evaluation_set(version: ModelVersion) -> None:
    """A CSV uploaded with a version becomes the model's standing evaluation set only once a
    version validated on it, and only if it is newer than the standing one (versions may finish
    out of order). The model row's lock serialises this with uploads and edits."""
    dataset = version.evaluation_dataset
    if dataset is None:
        return
    model = (
        RegisteredModel.objects.select_for_update(of=("self",))
        .select_related("evaluation_dataset")
        .get(pk=version.registered_model_id)
    )
    previous = model.evaluation_dataset
    if previous is not None and previous.pk >= dataset.pk:
        return
    model.evaluation_dataset = dataset
    model.save(update_fields=["evaluation_dataset", "updated_at"])
    audit_record(
        actor=None,
        action="model.evaluation_set",
        registered_model=model,
        payload={
            "sha256": dataset.sha256,
            "target": dataset.target,
            "rows": dataset.n_rows,
            "previous_sha256": previous.sha256 if previous else None,
            "validated_version": version.version,
        },
    )


@transaction.atomic
def model_version_reset_validation(*, version_id: int, reason: str, attempt: int) -> None:
    """validating → pending after a transient failure, so the retried task starts cleanly."""
    version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
    if version is None or version.status != VersionStatus.VALIDATING:
        return
    _transition(version, VersionStatus.PENDING)
    version.save(update_fields=["status", "status_changed_at"])
    audit_record(
        actor=None,
        action="version.validation_reset",
        model_version=version,
        payload={"reason": reason, "attempt": attempt},
    )


@transaction.atomic
def model_version_abandon_validation(*, version_id: int, error: str, error_code: str) -> None:
    """pending or validating → validation_failed when the job cannot complete (its retries ran
    out): the version ends with the reason instead of waiting for a job nobody will run."""
    version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
    if version is None or version.status not in {VersionStatus.PENDING, VersionStatus.VALIDATING}:
        return
    if version.status == VersionStatus.PENDING and version.pending_trust:
        return  # waiting for a reviewer, not for this job
    stage = (version.validation_report or {}).get("stage", "")
    _transition(version, VersionStatus.VALIDATION_FAILED)
    version.validation_error = error
    version.validation_report = {"stage": "failed", "error_code": error_code, "failed_stage": stage}
    version.save(
        update_fields=["status", "status_changed_at", "validation_error", "validation_report"]
    )
    audit_record(
        actor=None,
        action="version.validation_failed",
        model_version=version,
        payload={"error": error[:500], "code": error_code},
    )
