"""Celery entry points: take ids, load rows, call a plain function, own the retries."""

from __future__ import annotations

import logging
import os
import socket

from celery import Task, shared_task
from django.conf import settings
from django.db import DatabaseError

from releases import services
from releases.artifact_store import local_copy
from releases.models import ModelVersion, WebhookDelivery

logger = logging.getLogger(__name__)


@shared_task(name="releases.worker_ping")
def worker_ping(*, token: str) -> dict[str, object]:
    """Proves a worker can reach the database: records who answered, and where."""
    info = {"token": token, "hostname": socket.gethostname(), "pid": os.getpid()}
    services.audit_record(actor=None, action="worker.ping", payload=info)
    return info


@shared_task(
    name="releases.validate_model_version",
    autoretry_for=(DatabaseError, OSError),
    retry_backoff=True,
    max_retries=5,
)
def validate_model_version(*, version_id: int) -> str:
    """Load the version in this worker (never in the web process) and record what it is."""
    from releases.artifact_safety import UnsafeArtifact
    from releases.signature import InvalidEvaluationData, read_evaluation_csv
    from releases.validation import ValidationFailed, validate_artifact

    version = services.model_version_start_validation(version_id=version_id)
    if version is None:
        return "skipped"
    version = ModelVersion.objects.select_related("evaluation_dataset").get(pk=version_id)
    dataset = version.evaluation_dataset
    try:
        evaluation = None
        if dataset is not None:
            with local_copy(str(dataset.file.name), suffix=".csv") as csv_path:
                evaluation = read_evaluation_csv(
                    path_or_file=csv_path,
                    target=dataset.target,
                    max_rows=settings.MODELGATE_MAX_EVALUATION_ROWS,
                )
        with local_copy(str(version.artifact.name), suffix=f".{version.format}") as path:
            report = validate_artifact(
                path=path,
                artifact_format=version.format,
                trusted=services.trusted_type_allowlist() | set(version.trusted_types),
                evaluation=evaluation,
                target=dataset.target if dataset else None,
                max_uncompressed_bytes=settings.MODELGATE_MAX_UNCOMPRESSED_BYTES,
                max_entries=settings.MODELGATE_MAX_ZIP_ENTRIES,
                on_stage=lambda stage: services.model_version_report_stage(
                    version_id=version_id, stage=stage
                ),
            )
    except UnsafeArtifact as exc:
        services.model_version_finish_validation(
            version_id=version_id, report=None, error=exc.message, error_code=exc.code
        )
        return "failed"
    except (ValidationFailed, InvalidEvaluationData) as exc:
        services.model_version_finish_validation(
            version_id=version_id, report=None, error=str(exc), error_code="unusable"
        )
        return "failed"
    except (DatabaseError, OSError):
        # Transient: put the version back to pending so the retry can start it again.
        services.model_version_reset_validation(version_id=version_id)
        raise
    except Exception as exc:
        logger.exception("validation of version %s crashed", version_id)
        services.model_version_finish_validation(
            version_id=version_id,
            report=None,
            error=f"Validation crashed ({type(exc).__name__}: {str(exc)[:300]}). Check that the "
            "model was saved with a supported scikit-learn version, then upload it again.",
            error_code="crashed",
        )
        return "failed"
    services.model_version_finish_validation(version_id=version_id, report=report)
    return "validated"


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
