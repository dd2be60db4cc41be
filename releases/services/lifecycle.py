"""Validation status moves, called by the worker's task."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from releases.errors import Conflict, Forbidden
from releases.models import (
    AuditEvent,
    ModelVersion,
    RegisteredModel,
    VersionStatus,
)
from releases.services.audit import audit_record
from releases.services.compiled import compiled_check_queue
from releases.services.registry import _enqueue_validation, _transition

logger = logging.getLogger(__name__)


# Audit actions that count as one more attempt at a validation that never finished: the sweeper
# re-queued it, or its own task was delivered again after the worker running it died.
RESET_ACTIONS = ("version.validation_swept", "version.validation_restarted")

TOO_MANY_RESETS_MESSAGE = (
    "Validation was started {attempts} times and never finished: each time the worker running it "
    "died or lost the job (the model may crash or exhaust the worker). It was stopped rather than "
    "retried forever. Check the model on your own machine, then upload it again as a new version; "
    "if other models fail the same way, ask your ModelGate administrator to check the workers."
)


def validation_resets(version: ModelVersion) -> int:
    """How many times this version's validation was restarted or re-queued after getting stuck."""
    return AuditEvent.objects.filter(model_version=version, action__in=RESET_ACTIONS).count()


def enqueue_validation(*, version_id: int) -> bool:
    """Send the validation task now; False (logged) when the broker cannot take it.

    Called from ``transaction.on_commit``: an error here would turn an upload that is already
    committed into a 500. The version stays pending and the sweeper queues it once the broker is
    back (``model_versions_sweep_stuck``)."""
    from releases.tasks import validate_model_version

    try:
        validate_model_version.delay(version_id=version_id)
    except Exception:  # kombu OperationalError, redis and socket errors: broker unreachable
        logger.exception(
            "could not queue validation of version %s; the sweeper will queue it later",
            version_id,
        )
        return False
    return True


@transaction.atomic
def model_version_start_validation(*, version_id: int, task_id: str = "") -> ModelVersion | None:
    """pending → validating. None when there is nothing to do (gone, done, awaiting trust, or
    another attempt owns it).

    A version already ``validating`` under this same ``task_id`` restarts: the broker delivered
    the task again because the worker running it died before acknowledging it (acks_late). A
    duplicate with another task id (e.g. queued by the sweeper) leaves the running attempt alone.
    """
    version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
    if version is None:
        return None
    if (
        version.status == VersionStatus.VALIDATING
        and task_id
        and version.validation_task_id == task_id
    ):
        attempts = validation_resets(version) + 1
        if attempts > settings.MODELGATE_VALIDATION_MAX_RESETS:
            _fail_too_many_resets(version, attempts)
            return None
        previous_stage = (version.validation_report or {}).get("stage", "")
        version.validation_report = {"stage": "loading model"}
        version.save(update_fields=["validation_report"])
        audit_record(
            actor=None,
            action="version.validation_restarted",
            model_version=version,
            payload={"task_id": task_id, "attempt": attempts, "stage": previous_stage},
        )
        return version
    if version.status != VersionStatus.PENDING or version.pending_trust:
        return None
    _transition(version, VersionStatus.VALIDATING)
    version.validation_report = {"stage": "loading model"}
    version.validation_task_id = task_id
    version.save(
        update_fields=["status", "status_changed_at", "validation_report", "validation_task_id"]
    )
    audit_record(actor=None, action="version.validation_started", model_version=version)
    return version


def _fail(version: ModelVersion, *, error: str, error_code: str, **payload: Any) -> ModelVersion:
    """→ validation_failed with the reason and the stage it failed in (caller holds the row
    lock): the one way every failure path records a failure."""
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
        payload={"error": error[:500], "code": error_code, **payload},
    )
    return version


def _fail_too_many_resets(version: ModelVersion, attempts: int) -> None:
    """Ends a version whose validation keeps dying (caller holds the row lock)."""
    error = TOO_MANY_RESETS_MESSAGE.format(attempts=attempts)
    _fail(version, error=error, error_code="too_many_attempts", attempts=attempts)


def model_version_report_stage(*, version_id: int, stage: str) -> None:
    """Progress for the version page; a plain update, no status change."""
    ModelVersion.objects.filter(pk=version_id, status=VersionStatus.VALIDATING).update(
        validation_report={"stage": stage}
    )


@transaction.atomic
def model_version_finish_validation(
    *,
    version_id: int,
    report: dict[str, Any] | None,
    error: str = "",
    error_code: str = "",
    disagreements: dict[str, Any] | None = None,
) -> ModelVersion | None:
    """validating → validated (with what was learned) or validation_failed (with why).

    A validated version's report gets the signature diff against production and the model's
    gates checked against it; a version that fails a gate is still validated (promotion
    enforces the gates). ``disagreements`` (positions and both predictions, from the sandbox)
    is stored as a file for the disagreement CSV download.
    """
    from releases import gates
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
        return _fail(version, error=error, error_code=error_code)
    production = production_version(registered_model=version.registered_model)
    _transition(version, VersionStatus.VALIDATED)
    compiled_check_queue(version)
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
    comparison = report.get("comparison")
    if comparison is not None:
        comparison["signature_diff"] = version.signature_diff
        if disagreements and "positions" in disagreements:
            comparison["disagreements_file"] = _store_disagreements(disagreements)
    stored = {
        "stage": "done",
        "steps": report.get("steps", []),
        "evaluation": report.get("evaluation"),
        "load_seconds": report.get("load_seconds"),
        "timings": report.get("timings", {}),
        "comparison": comparison,
        "cost": report.get("cost"),
    }
    if report.get("comparison_error"):
        stored["comparison_error"] = report["comparison_error"]
    stored["gates"], stored["gates_passed"] = gates.evaluate(
        version.registered_model.gates or {}, {**stored, "signature_diff": version.signature_diff}
    )
    version.validation_report = stored
    version.save()
    _adopt_evaluation_set(version)
    audit_record(
        actor=None,
        action="version.validated",
        model_version=version,
        payload={
            "signature_changed": bool(version.signature_diff and version.signature_diff["changed"]),
            "metrics": (report.get("evaluation") or {}).get("metrics"),
            "gates_passed": stored["gates_passed"],
        },
    )
    _request_shap_report(version.pk)
    return version


def _request_shap_report(version_id: int) -> None:
    # Explaining the model is explain's job, queued after this commit; the version never waits.
    from explain.services import shap_report_enqueue

    shap_report_enqueue(version_id=version_id)


def _store_disagreements(arrays: dict[str, Any]) -> str:
    """Save the disagreement arrays (numbers and text only: loaded back without pickle) through
    the storage API; the CSV download rebuilds the rows from them and the evaluation set."""
    import numpy as np

    from releases.artifact_store import store_content_addressed

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "disagreements.npz"
        plain: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}
        np.savez_compressed(path, **plain)
        return store_content_addressed(path=path, kind="reports", extension="npz").name


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
    _fail(version, error=error, error_code=error_code)


RERUNNABLE = frozenset({VersionStatus.VALIDATED, VersionStatus.VALIDATION_FAILED})


@transaction.atomic
def model_version_rerun_validation(*, actor: User, model_version: ModelVersion) -> ModelVersion:
    """validated or validation_failed → pending, and validate again (on the model's current
    production version and gates). The uploader, and reviewers and admins of the team, may."""
    from releases.selectors import user_can

    version = (
        ModelVersion.objects.select_for_update(of=("self",))
        .select_related("registered_model__team")
        .get(pk=model_version.pk)
    )
    team_id = version.registered_model.team_id
    if not (
        (
            version.uploaded_by_id == actor.pk
            and user_can(user=actor, team_id=team_id, action="view")
        )
        or user_can(user=actor, team_id=team_id, action="review")
    ):
        raise Forbidden(
            "Only the version's uploader, or a reviewer or admin of team "
            f"{version.registered_model.team.name!r}, can re-run its validation."
        )
    if version.status not in RERUNNABLE:
        raise Conflict(
            f"Version {version.version} is {version.status}; only validated or failed versions "
            "can be validated again."
        )
    previous = version.status
    _transition(version, VersionStatus.PENDING)
    version.validation_error = ""
    version.validation_report = {}
    version.save(
        update_fields=["status", "status_changed_at", "validation_error", "validation_report"]
    )
    audit_record(
        actor=actor,
        action="version.validation_rerun",
        model_version=version,
        payload={"previous_status": previous},
    )
    if not version.pending_trust:
        _enqueue_validation(version)
    return version
