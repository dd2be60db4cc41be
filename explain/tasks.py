"""Celery entry points: take ids, load rows, call a plain function, own the retries."""

from __future__ import annotations

import logging
import time
import uuid
from contextlib import ExitStack

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from explain import services
from explain.sandbox_ops import shap_report_in_sandbox
from releases.artifact_store import local_copy
from releases.models import ModelVersion
from releases.sandbox import SandboxFailure
from releases.services import sandbox_limits, trusted_type_allowlist

logger = logging.getLogger(__name__)


@shared_task(
    name="explain.shap_report",
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=3,
)
def shap_report_run(*, version_id: int) -> str:
    """Compute the version's SHAP report in the sandbox; this worker never loads the model."""
    report = services.shap_report_start(version_id=version_id)
    if report is None:
        return "skipped"
    version = ModelVersion.objects.select_related(
        "evaluation_dataset", "registered_model__evaluation_dataset"
    ).get(pk=version_id)
    dataset = version.evaluation_dataset or version.registered_model.evaluation_dataset
    features = [f["name"] for f in (version.signature or {}).get("features", [])]
    error = ""
    if version.format != "skops":
        error = (
            "SHAP reports cover scikit-learn models uploaded as .skops files; this version is "
            f"{version.format}, so it has no report."
        )
    elif dataset is None:
        error = (
            "This model has no evaluation data, so there is nothing to explain. Upload a version "
            "with an evaluation CSV."
        )
    elif not features:
        error = "The version's signature lists no input features, so there is nothing to explain."
    if error:
        services.shap_report_fail(version_id=version_id, error=error)
        return "failed"
    assert dataset is not None
    started = time.monotonic()
    try:
        with ExitStack() as stack:
            csv_path = stack.enter_context(local_copy(str(dataset.file.name), suffix=".csv"))
            path = stack.enter_context(local_copy(str(version.artifact.name), suffix=".skops"))
            result = shap_report_in_sandbox(
                artifact_path=path,
                trusted=trusted_type_allowlist() | set(version.trusted_types),
                evaluation_path=csv_path,
                target=dataset.target,
                features=features,
                sample_rows=settings.MODELGATE_SHAP_SAMPLE_ROWS,
                background_rows=settings.MODELGATE_SHAP_BACKGROUND_ROWS,
                max_evaluation_rows=settings.MODELGATE_MAX_EVALUATION_ROWS,
                max_uncompressed_bytes=settings.MODELGATE_MAX_UNCOMPRESSED_BYTES,
                max_entries=settings.MODELGATE_MAX_ZIP_ENTRIES,
                max_schema_bytes=settings.MODELGATE_MAX_SCHEMA_BYTES,
                limits=sandbox_limits(),
                mode=settings.MODELGATE_SANDBOX,
            )
    except SandboxFailure as exc:
        logger.info("SHAP report of version %s failed: %r", version_id, exc)
        services.shap_report_fail(version_id=version_id, error=_reworded(exc.message))
        return "failed"
    except Exception:
        reference = uuid.uuid4().hex[:10]
        logger.exception("SHAP report of version %s crashed (reference %s)", version_id, reference)
        services.shap_report_fail(
            version_id=version_id,
            error=f"The SHAP report stopped because of an internal error (reference {reference}). "
            "Give this reference to your ModelGate administrator.",
        )
        return "failed"
    services.shap_report_finish(
        version_id=version_id,
        summary=result.data,
        arrays=result.arrays,
        seconds=round(time.monotonic() - started, 4),
    )
    return "done"


def _reworded(message: str) -> str:
    # The sandbox's sentences speak of validation; this job is the SHAP report.
    return message.replace("Validation stopped", "The SHAP report stopped")
