"""Batch jobs' status moves: created (queued) by the API, run, finished or failed by the task."""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from releases.models import ModelVersion
from releases.services import audit_record
from scoring.models import BATCH_TERMINAL, BATCH_TRANSITIONS, BatchJob, BatchJobStatus

logger = logging.getLogger(__name__)


def _locked(job_id: Any) -> BatchJob | None:
    """The job, its row locked for this transaction, with its version for the audit row."""
    return (
        BatchJob.objects.select_for_update(of=("self",))
        .select_related("model_version__registered_model")
        .filter(pk=job_id)
        .first()
    )


def _move(job: BatchJob, to: str) -> None:
    if to not in BATCH_TRANSITIONS[job.status]:
        raise ValueError(f"Batch job {job.pk} is {job.status}; it cannot become {to}.")
    job.status = to


@transaction.atomic
def batch_job_create(
    *,
    actor: User | None,
    caller: str,
    app_token_id: int | None,
    model_version: ModelVersion,
    stage: str,
    upload: Any,
    input_format: str,
    rows_total: int | None,
) -> BatchJob:
    """Store the upload through the storage API, record the job (queued) and queue its task
    once this commits. ``actor`` is the person asking; None for an app token (``caller`` and
    ``app_token_id`` say which)."""
    job_id = uuid.uuid4()
    extension = "parquet" if input_format == "parquet" else "csv"
    upload.seek(0)
    name = default_storage.save(f"batch/{job_id}/input.{extension}", upload)
    job = BatchJob.objects.create(
        id=job_id,
        registered_model=model_version.registered_model,
        model_version=model_version,
        stage=stage,
        input_format=input_format,
        input_file=name,
        input_name=str(getattr(upload, "name", "") or "")[:255],
        input_bytes=int(getattr(upload, "size", 0) or 0),
        rows_total=rows_total,
        caller=caller,
        requested_by=actor,
        app_token_id=app_token_id,
    )
    audit_record(
        actor=actor,
        action="batch.create",
        model_version=model_version,
        payload={
            "job": str(job.pk),
            "caller": caller,
            "stage": stage,
            "format": input_format,
            "bytes": job.input_bytes,
        },
    )
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: uuid.UUID) -> None:
    from scoring.tasks import batch_job_run

    try:
        batch_job_run.delay(job_id=str(job_id))
    except Exception:  # broker unreachable: the job stays queued and says so on its page
        logger.exception("could not queue batch job %s", job_id)


@transaction.atomic
def batch_job_start(*, job_id: str, task_id: str = "") -> BatchJob | None:
    """queued → running. None when there is nothing to do (gone, finished, or running under
    another task). The same task delivered again (its worker died) starts over."""
    job = BatchJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None:
        return None
    if job.status == BatchJobStatus.RUNNING and task_id and job.task_id == task_id:
        _move(job, BatchJobStatus.QUEUED)
    if job.status != BatchJobStatus.QUEUED:
        return None
    _move(job, BatchJobStatus.RUNNING)
    job.task_id = task_id
    job.started_at = timezone.now()
    job.rows_done = 0
    job.save(update_fields=["status", "task_id", "started_at", "rows_done"])
    return job


def batch_job_progress(*, job_id: str, rows_done: int, rows_total: int | None = None) -> None:
    """Progress for the page and the API; a plain update, no status change."""
    fields: dict[str, Any] = {"rows_done": rows_done}
    if rows_total is not None:
        fields["rows_total"] = rows_total
    BatchJob.objects.filter(pk=job_id, status=BatchJobStatus.RUNNING).update(**fields)


@transaction.atomic
def batch_job_finish(
    *, job_id: str, result_name: str, rows: int, rows_failed: int = 0, errors_name: str = ""
) -> BatchJob | None:
    """running → succeeded with the stored result file (and the errors file listing the rows
    set aside, if any). ``rows`` counts every row of the file, scored or set aside."""
    job = _locked(job_id)
    if job is None or job.status != BatchJobStatus.RUNNING:
        return job
    _move(job, BatchJobStatus.SUCCEEDED)
    job.result_file.name = result_name
    job.errors_file.name = errors_name
    job.rows_total = rows
    job.rows_done = rows
    job.rows_failed = rows_failed
    job.finished_at = timezone.now()
    job.save(
        update_fields=[
            "status", "result_file", "errors_file", "rows_total", "rows_done", "rows_failed",
            "finished_at",
        ]
    )  # fmt: skip
    audit_record(
        actor=None,
        action="batch.succeeded",
        model_version=job.model_version,
        payload={
            "job": str(job.pk),
            "rows": rows,
            "rows_failed": rows_failed,
            "seconds": job.seconds,
        },
    )
    return job


@transaction.atomic
def batch_job_fail(*, job_id: str, error: str) -> BatchJob | None:
    """queued or running → failed, with a sentence saying why and what to fix."""
    job = _locked(job_id)
    if job is None or job.status not in {BatchJobStatus.QUEUED, BatchJobStatus.RUNNING}:
        return job
    _move(job, BatchJobStatus.FAILED)
    job.error = error
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    audit_record(
        actor=None,
        action="batch.failed",
        model_version=job.model_version,
        payload={"job": str(job.pk), "error": error[:500]},
    )
    return job


SWEPT_ACTION = "batch.swept"


def batch_jobs_sweep_stuck(*, after_seconds: int, max_resets: int) -> list[str]:
    """Queue again every job queued, or running, for longer than ``after_seconds`` (which the
    settings keep above the task time limit, so a running job that old lost its worker); past
    ``max_resets`` sweeps it fails with the reason. Returns the jobs swept."""
    cutoff = timezone.now() - timedelta(seconds=after_seconds)
    stuck = BatchJob.objects.filter(
        Q(status=BatchJobStatus.QUEUED, queued_at__lt=cutoff)
        | Q(status=BatchJobStatus.RUNNING, started_at__lt=cutoff)
    )
    swept = []
    for job_id in list(stuck.values_list("pk", flat=True)):
        if _sweep_one(job_id=job_id, stuck=stuck, max_resets=max_resets):
            swept.append(str(job_id))
    return swept


@transaction.atomic
def _sweep_one(*, job_id: uuid.UUID, stuck: Any, max_resets: int) -> bool:
    job = _locked(job_id)
    if job is None or not stuck.filter(pk=job_id).exists():  # finished since the scan
        return False
    payload = {"job": str(job.pk)}
    attempts = job.sweeps + 1
    if attempts > max_resets:
        _move(job, BatchJobStatus.FAILED)
        job.error = (
            f"The job was started {attempts} times and never finished: each time the worker "
            "running it died or lost it. Try a smaller file; if it keeps happening, ask your "
            "ModelGate administrator to check the workers."
        )
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        audit_record(
            actor=None,
            action="batch.failed",
            model_version=job.model_version,
            payload={**payload, "error": "never finished", "attempts": attempts},
        )
        return True
    if job.status == BatchJobStatus.RUNNING:
        _move(job, BatchJobStatus.QUEUED)
    job.sweeps = attempts
    job.queued_at = timezone.now()  # the next sweep waits a whole interval again
    job.save(update_fields=["status", "sweeps", "queued_at"])
    audit_record(
        actor=None,
        action=SWEPT_ACTION,
        model_version=job.model_version,
        payload={**payload, "attempt": attempts},
    )
    transaction.on_commit(lambda: _enqueue(job.pk))
    return True


EXPIRED_ACTION = "batch.files_expired"


def batch_jobs_expire_files(*, retention_days: int, limit: int = 500) -> list[str]:
    """Delete the input, result and errors files of jobs finished more than ``retention_days``
    ago and mark them expired (one audit row each, like the stuck-job sweep). Queued and
    running jobs are never touched. At most ``limit`` jobs per run, oldest first, so the first
    run after a long gap stays short; beat's next run takes the rest. Returns the jobs expired."""
    if retention_days <= 0:
        return []
    cutoff = timezone.now() - timedelta(days=retention_days)
    due = BatchJob.objects.filter(
        status__in=BATCH_TERMINAL, files_deleted_at__isnull=True, finished_at__lt=cutoff
    )
    expired = []
    for job_id in list(due.order_by("finished_at").values_list("pk", flat=True)[:limit]):
        if _expire_one(job_id=job_id, due=due, retention_days=retention_days):
            expired.append(str(job_id))
    return expired


@transaction.atomic
def _expire_one(*, job_id: uuid.UUID, due: Any, retention_days: int) -> bool:
    job = _locked(job_id)
    if job is None or not due.filter(pk=job_id).exists():  # expired by an overlapping run
        return False
    names = [str(f.name) for f in (job.input_file, job.result_file, job.errors_file) if f]
    # Deleted under the row lock, before the row says so: if the storage refuses, the
    # transaction rolls back and the next run tries again (deleting a missing file is a no-op).
    for name in names:
        default_storage.delete(name)
    _remove_empty_directory(f"batch/{job.pk}")
    job.files_deleted_at = timezone.now()
    job.save(update_fields=["files_deleted_at"])
    audit_record(
        actor=None,
        action=EXPIRED_ACTION,
        model_version=job.model_version,
        payload={
            "job": str(job.pk),
            "status": job.status,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "retention_days": retention_days,
            "files": names,
        },
    )
    return True


def _remove_empty_directory(name: str) -> None:
    """The job's folder on local storage (object stores have no folders to leave behind)."""
    try:
        path = default_storage.path(name)
    except NotImplementedError:
        return
    with contextlib.suppress(OSError):  # already gone, or holds something we did not write
        os.rmdir(path)
