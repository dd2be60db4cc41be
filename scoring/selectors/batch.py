"""Reads of batch jobs, cut to what the caller may see."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from releases.errors import NotFound
from releases.models import RegisteredModel
from scoring.models import BatchJob


def batch_jobs_for_model(*, registered_model: RegisteredModel) -> QuerySet[BatchJob]:
    """The model's batch jobs, newest first (the caller already may see the model)."""
    return (
        BatchJob.objects.filter(registered_model=registered_model)
        .select_related("model_version", "registered_model", "requested_by", "app_token")
        .order_by("-created_at")
    )


def batch_job_get_for_caller(*, caller: Any, job_id: Any) -> BatchJob:
    """A job on a model the caller may predict on (``scoring.serving.Caller``: a person of the
    model's team, an admin, or an app token naming the model); 404 otherwise, like predict."""
    from scoring.serving import ServedModel

    job = (
        BatchJob.objects.select_related("registered_model", "model_version")
        .filter(pk=job_id)
        .first()
    )
    if job is None or not caller.may_predict(
        ServedModel(
            id=job.registered_model_id,
            name=job.registered_model.name,
            team_id=job.registered_model.team_id,
        )
    ):
        raise NotFound(f"No batch job {job_id} that this token may see.", field="id")
    return job


def batch_job_files_deleted_at(*, job_id: Any) -> Any:
    """When the job's files were deleted, read after any retention sweep holding the row has
    committed (its lock is waited for)."""
    with transaction.atomic():
        return (
            BatchJob.objects.select_for_update()
            .filter(pk=job_id)
            .values_list("files_deleted_at", flat=True)
            .first()
        )
