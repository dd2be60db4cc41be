"""Celery entry points: take ids, load rows, call a plain function, own the retries."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from contextlib import ExitStack
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import DatabaseError

from releases import selectors, services
from releases.artifact_store import local_copy
from releases.models import VALIDATION_STAGES, ModelVersion, WebhookDelivery
from releases.sandbox import SandboxFailure
from releases.sandbox.compiled_check import compiled_check_in_sandbox
from releases.sandbox.validation import ProductionInput, validate_in_sandbox

logger = logging.getLogger(__name__)


@shared_task(name="releases.worker_ping")
def worker_ping(*, token: str) -> dict[str, object]:
    """Proves a worker can reach the database: records who answered, and where."""
    info = {"token": token, "hostname": socket.gethostname(), "pid": os.getpid()}
    services.audit_record(actor=None, action="worker.ping", payload=info)
    return info


class ValidationTask(Task):  # type: ignore[misc]
    """Owns the end of a validation job that cannot complete: no version waits forever."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        # Reached when the task raised after its last retry (or an error it does not retry):
        # the version would otherwise stay pending with nothing left to queue it.
        version_id = (kwargs or {}).get("version_id")
        if version_id is None:
            return
        logger.error("validation of version %s gave up: %r", version_id, exc)
        try:
            services.model_version_abandon_validation(
                version_id=version_id, error=GAVE_UP_MESSAGE, error_code="unavailable"
            )
        except DatabaseError:
            logger.exception("could not mark version %s validation_failed", version_id)


GAVE_UP_MESSAGE = (
    "Validation could not complete: the model's files or the database stayed unavailable after "
    "several attempts. Upload the version again; if this keeps happening, ask your ModelGate "
    "administrator to check the storage and the database."
)


@shared_task(
    bind=True,
    base=ValidationTask,
    name="releases.validate_model_version",
    autoretry_for=(DatabaseError, OSError),
    retry_backoff=True,
    max_retries=5,
)
def validate_model_version(self: Task, *, version_id: int) -> str:
    """Validate the version in the sandbox; this worker never deserializes the user's model."""
    version = services.model_version_start_validation(
        version_id=version_id, task_id=self.request.id or ""
    )
    if version is None:
        return "skipped"
    version = ModelVersion.objects.select_related("evaluation_dataset", "registered_model").get(
        pk=version_id
    )
    dataset = version.evaluation_dataset
    champion = selectors.production_version(registered_model=version.registered_model)
    if champion is not None and (champion.pk == version.pk or not champion.artifact):
        champion = None
    disagreements: dict[str, Any] = {}
    try:
        with ExitStack() as stack:
            csv_path = (
                stack.enter_context(local_copy(str(dataset.file.name), suffix=".csv"))
                if dataset is not None
                else None
            )
            path = stack.enter_context(
                local_copy(str(version.artifact.name), suffix=f".{version.format}")
            )
            production = None
            if champion is not None and dataset is not None:
                # Champion vs challenger: the same child loads both, on the same rows.
                production = ProductionInput(
                    path=stack.enter_context(
                        local_copy(str(champion.artifact.name), suffix=f".{champion.format}")
                    ),
                    artifact_format=champion.format,
                    trusted=services.trusted_type_allowlist() | set(champion.trusted_types),
                    version=champion.version,
                )
            report = validate_in_sandbox(
                artifact_path=path,
                artifact_format=version.format,
                trusted=services.trusted_type_allowlist() | set(version.trusted_types),
                evaluation_path=csv_path,
                target=dataset.target if dataset else None,
                max_rows=settings.MODELGATE_MAX_EVALUATION_ROWS,
                max_uncompressed_bytes=settings.MODELGATE_MAX_UNCOMPRESSED_BYTES,
                max_entries=settings.MODELGATE_MAX_ZIP_ENTRIES,
                max_schema_bytes=settings.MODELGATE_MAX_SCHEMA_BYTES,
                limits=services.sandbox_limits(),
                mode=settings.MODELGATE_SANDBOX,
                on_stage=lambda stage: services.model_version_report_stage(
                    version_id=version_id, stage=stage
                ),
                stages=VALIDATION_STAGES,
                production=production,
                disagreements=disagreements,
            )
    except SandboxFailure as exc:
        logger.info("validation of version %s failed: %r", version_id, exc)
        services.model_version_finish_validation(
            version_id=version_id, report=None, error=exc.message, error_code=exc.code
        )
        return "failed"
    except (DatabaseError, OSError) as exc:
        attempt = self.request.retries + 1
        if self.max_retries is not None and self.request.retries >= self.max_retries:
            # Last attempt: end the version here rather than reset it for a retry nobody runs.
            logger.error("validation of version %s failed on its last attempt: %r", version_id, exc)
            services.model_version_abandon_validation(
                version_id=version_id, error=GAVE_UP_MESSAGE, error_code="unavailable"
            )
            return "failed"
        # Transient: back to pending so the retry starts it cleanly; autoretry_for retries.
        services.model_version_reset_validation(
            version_id=version_id, reason=_transient_reason(exc), attempt=attempt
        )
        raise
    except Exception:
        reference = uuid.uuid4().hex[:10]
        logger.exception("validation of version %s crashed (reference %s)", version_id, reference)
        services.model_version_finish_validation(
            version_id=version_id,
            report=None,
            error=f"Validation stopped because of an internal error (reference {reference}). "
            "Give this reference to your ModelGate administrator.",
            error_code="internal",
        )
        return "failed"
    services.model_version_finish_validation(
        version_id=version_id, report=report, disagreements=disagreements
    )
    return "validated"


def _transient_reason(exc: BaseException) -> str:
    # For the audit trail, which the team can read: the kind of failure, never its text.
    return "database unavailable" if isinstance(exc, DatabaseError) else "file storage unavailable"


@shared_task(
    bind=True,
    name="releases.compiled_check",
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=3,
)
def compiled_check_run(self: Task, *, version_id: int) -> str:
    """Convert the validated version to ONNX and check it against scikit-learn on the whole
    evaluation set, in the sandbox (this worker never loads the model). Validation does not
    wait for it; scikit-learn serves the version until it passes."""
    version = services.compiled_check_start(version_id=version_id, task_id=self.request.id or "")
    if version is None:
        return "skipped"
    version = ModelVersion.objects.select_related("evaluation_dataset").get(pk=version_id)
    dataset = version.evaluation_dataset
    features = [f["name"] for f in (version.signature or {}).get("features", [])]
    if dataset is None or not features:
        services.compiled_check_fail(
            version_id=version_id,
            error="The version has no evaluation set or no features to check a compiled form on.",
        )
        return "failed"
    started = time.monotonic()
    try:
        with ExitStack() as stack:
            csv_path = stack.enter_context(local_copy(str(dataset.file.name), suffix=".csv"))
            path = stack.enter_context(local_copy(str(version.artifact.name), suffix=".skops"))
            evidence, onnx = compiled_check_in_sandbox(
                artifact_path=path,
                trusted=services.trusted_type_allowlist() | set(version.trusted_types),
                evaluation_path=csv_path,
                target=dataset.target,
                features=features,
                signature=version.signature or {},
                max_rows=settings.MODELGATE_MAX_EVALUATION_ROWS,
                max_uncompressed_bytes=settings.MODELGATE_MAX_UNCOMPRESSED_BYTES,
                max_entries=settings.MODELGATE_MAX_ZIP_ENTRIES,
                max_schema_bytes=settings.MODELGATE_MAX_SCHEMA_BYTES,
                limits=services.sandbox_limits(),
                mode=settings.MODELGATE_SANDBOX,
            )
    except SandboxFailure as exc:
        logger.info("compiled check of version %s failed: %r", version_id, exc)
        message = exc.message.replace("Validation stopped", "The compiled-form check stopped")
        services.compiled_check_fail(version_id=version_id, error=message)
        return "failed"
    except Exception:
        reference = uuid.uuid4().hex[:10]
        logger.exception("compiled check of version %s crashed (ref %s)", version_id, reference)
        services.compiled_check_fail(
            version_id=version_id,
            error=f"The compiled-form check stopped because of an internal error (reference "
            f"{reference}).",
        )
        return "failed"
    services.compiled_check_finish(
        version_id=version_id, evidence=evidence, onnx=onnx, seconds=time.monotonic() - started
    )
    return "done"


@shared_task(name="releases.deliver_webhook", bind=True, max_retries=None)
def deliver_webhook(self: Task, *, delivery_id: int) -> str:
    """One attempt at a webhook delivery; on a network error, a timeout, 408/425/429 or a 5xx
    it comes back after an exponential backoff, until MODELGATE_WEBHOOK_MAX_ATTEMPTS attempts
    (counted in the delivery row, so the bound survives worker restarts)."""
    outcome = services.webhook_delivery_attempt(delivery_id=delivery_id)
    if outcome == "retry":
        attempts = WebhookDelivery.objects.filter(pk=delivery_id).values_list("attempts", flat=True)
        delay = services.webhook_retry_delay(attempt=attempts.first() or 1)
        raise self.retry(countdown=delay)
    return outcome


@shared_task(name="releases.sweep_stuck_compiled_checks")
def sweep_stuck_compiled_checks() -> list[int]:
    """Run by Celery beat: queue again compiled-form checks whose job was lost."""
    return services.compiled_checks_sweep_stuck(
        after_seconds=settings.MODELGATE_SWEEP_AFTER_SECONDS,
        max_resets=settings.MODELGATE_VALIDATION_MAX_RESETS,
    )


@shared_task(name="releases.sweep_stuck_validations")
def sweep_stuck_validations() -> dict[str, list[int]]:
    """Run by Celery beat (CELERY_BEAT_SCHEDULE): re-queue versions whose job was lost."""
    result = services.model_versions_sweep_stuck()
    return {"requeued": result.requeued, "failed": result.failed}
