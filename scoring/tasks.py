"""Celery entry points: take ids, load rows, call plain functions, own the retries."""

from __future__ import annotations

import logging
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path

from celery import Task, shared_task
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError

from releases.artifact_store import local_copy
from releases.errors import DomainError, InvalidInput
from releases.sandbox import SandboxFailure
from releases.services import sandbox_limits, trusted_type_allowlist
from scoring import batch_files, services
from scoring.batch_sandbox import rows_before, score_in_sandbox
from scoring.models import BatchJob

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name="scoring.batch_job",
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=3,
)
def batch_job_run(self: Task, *, job_id: str) -> str:
    """Check the file's rows, score the good ones in the sandbox chunk by chunk, store the
    result (and the errors file listing the rows set aside)."""
    job = services.batch_job_start(job_id=job_id, task_id=self.request.id or "")
    if job is None:
        return "skipped"
    job = BatchJob.objects.select_related("model_version").get(pk=job_id)
    version = job.model_version
    signature = version.signature or {}
    fmt = job.input_format
    try:
        with ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="modelgate-batch-")))
            source = stack.enter_context(local_copy(str(job.input_file.name), suffix=f".{fmt}"))
            frame = batch_files.read_frame(
                source, fmt, signature=signature, max_rows=settings.MODELGATE_BATCH_MAX_ROWS
            )
            services.batch_job_progress(job_id=job_id, rows_done=0, rows_total=len(frame))
            checked = batch_files.check_rows(
                frame,
                fmt,
                signature=signature,
                chunk_rows=settings.MODELGATE_BATCH_CHUNK_ROWS,
                max_bad_rows=settings.MODELGATE_BATCH_MAX_BAD_ROWS,
            )
            rows_path = tmp / "rows.parquet"
            checked.frame.to_parquet(rows_path, index=False)
            scored_rows = frame.iloc[checked.kept]
            artifact = stack.enter_context(
                local_copy(str(version.artifact.name), suffix=f".{version.format}")
            )
            labels, probabilities, classes = score_in_sandbox(
                artifact_path=artifact,
                artifact_format=version.format,
                trusted=trusted_type_allowlist() | set(version.trusted_types),
                rows_path=rows_path,
                signature=signature,
                chunk_rows=settings.MODELGATE_BATCH_CHUNK_ROWS,
                max_uncompressed_bytes=settings.MODELGATE_MAX_UNCOMPRESSED_BYTES,
                max_entries=settings.MODELGATE_MAX_ZIP_ENTRIES,
                max_schema_bytes=settings.MODELGATE_MAX_SCHEMA_BYTES,
                limits=sandbox_limits(),
                mode=settings.MODELGATE_SANDBOX,
                on_stage=lambda stage: _progress(job_id, stage),
            )
            if len(labels) != len(scored_rows):
                raise InvalidInput(
                    f"The model returned {len(labels)} predictions for {len(scored_rows)} rows."
                )
            result_path = tmp / f"result.{fmt}"
            batch_files.write_result(
                scored_rows,
                predictions=labels,
                probabilities=probabilities,
                classes=classes,
                fmt=fmt,
                path=result_path,
            )
            with result_path.open("rb") as fh:
                name = default_storage.save(f"batch/{job_id}/result.{fmt}", File(fh))
            errors_name = ""
            if checked.errors:
                errors_path = tmp / "errors.csv"
                batch_files.write_errors(checked.errors, fmt=fmt, path=errors_path)
                with errors_path.open("rb") as fh:
                    errors_name = default_storage.save(f"batch/{job_id}/errors.csv", File(fh))
    except DomainError as exc:  # the file's fault: a sentence naming what to fix
        services.batch_job_fail(job_id=job_id, error=exc.message)
        return "failed"
    except SandboxFailure as exc:
        logger.info("batch job %s failed in the sandbox: %r", job_id, exc)
        services.batch_job_fail(
            job_id=job_id, error=exc.message.replace("Validation stopped", "Scoring stopped")
        )
        return "failed"
    except DatabaseError:
        raise
    except Exception:
        reference = uuid.uuid4().hex[:10]
        logger.exception("batch job %s crashed (reference %s)", job_id, reference)
        services.batch_job_fail(
            job_id=job_id,
            error=f"Scoring stopped because of an internal error (reference {reference}). Give "
            "this reference to your ModelGate administrator.",
        )
        return "failed"
    services.batch_job_finish(
        job_id=job_id,
        result_name=name,
        rows=len(frame),
        rows_failed=len(checked.errors),
        errors_name=errors_name,
    )
    return "succeeded"


@shared_task(name="scoring.sweep_stuck_batch_jobs")
def sweep_stuck_batch_jobs() -> list[str]:
    """Run by Celery beat: queue again batch jobs whose message or worker was lost."""
    return services.batch_jobs_sweep_stuck(
        after_seconds=settings.MODELGATE_SWEEP_AFTER_SECONDS,
        max_resets=settings.MODELGATE_VALIDATION_MAX_RESETS,
    )


@shared_task(name="scoring.expire_batch_files")
def expire_batch_files() -> list[str]:
    """Run by Celery beat hourly: delete the files of batch jobs past their retention."""
    return services.batch_jobs_expire_files(retention_days=settings.MODELGATE_BATCH_RETENTION_DAYS)


def _progress(job_id: str, stage: str) -> None:
    done = rows_before(stage)
    if done is not None:
        services.batch_job_progress(job_id=job_id, rows_done=done)


@shared_task(name="scoring.monitor")
def monitor() -> dict[str, object]:
    """Run by Celery beat every minute (CELERY_BEAT_SCHEDULE): freeze references, aggregate the
    prediction log and labels into hourly tables, raise and resolve alerts. A run that waited
    past the next one is dropped (``expires``); the per-version cursor lock makes an overlap
    harmless."""
    run = services.monitor_run()
    return {
        "versions": run.versions, "rows": run.rows, "references": run.references,
        "resolved": run.resolved,
    }  # fmt: skip
