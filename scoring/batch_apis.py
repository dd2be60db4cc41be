"""Batch scoring endpoints: upload a file, follow the job, download the result.

Plain Django views like predict (``scoring.apis``), with the same callers and the same rule: a
person's API token (or browser session) for members of the model's team, and app tokens for the
models they name; anything else is a 404. The upload's format, size and header are checked while
the caller waits; the rows are checked and scored by the worker (``scoring.tasks``).

Batch predictions are not written to the prediction log: the result file is their record (the
log samples live traffic for monitoring and relabeling, which a million-row file would swamp).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from releases.downloads import media_type_of
from releases.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
)
from releases.uploads import format_size, upload_too_large
from scoring import batch_files, selectors, services, serving
from scoring.apis import authenticate, json_response
from scoring.models import BatchJob, BatchJobStatus

_FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small fields beside the file


def _caller(request: HttpRequest, *, unsafe: bool) -> tuple[serving.Caller, Any]:
    """The caller (token header, else the browser session) and the person behind it, if any.
    A session must pass the CSRF check on a POST, as in DRF's session authentication."""
    if request.META.get("HTTP_AUTHORIZATION"):
        caller = authenticate(request)
        actor = None
        if caller.kind == "user":
            actor = get_user_model().objects.filter(pk=caller.id).first()
        return caller, actor
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return authenticate(request), None  # raises the 401 that says how to send a key
    if unsafe:
        from rest_framework.authentication import CSRFCheck

        check = CSRFCheck(lambda req: HttpResponse())
        check.process_request(request)
        if check.process_view(request, None, (), {}) is not None:
            raise Forbidden("CSRF check failed: send the form's CSRF token with the upload.")
    serving.refresh()
    return serving.caller_for_user(user), user


def job_payload(job: BatchJob) -> dict[str, Any]:
    finished = job.status == BatchJobStatus.SUCCEEDED
    return {
        "id": str(job.pk),
        "model": job.registered_model.name,
        "version": job.model_version.version,
        "stage": job.stage or None,
        "status": job.status,
        "input_format": job.input_format,
        "input_name": job.input_name,
        "rows_total": job.rows_total,
        "rows_done": job.rows_done,
        "rows_failed": job.rows_failed,
        "progress": job.progress,
        "error": job.error or None,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "files_expire_at": _iso(job.files_expire_at),
        "files_expired_at": _iso(job.files_deleted_at),
        "url": reverse("api-batch-detail", args=[job.pk]),
        "result_url": reverse("api-batch-result", args=[job.pk]) if finished else None,
        "errors_url": reverse("api-batch-errors", args=[job.pk]) if job.errors_file else None,
    }


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


def create_job(request: HttpRequest, *, name: str, caller: serving.Caller, actor: Any) -> BatchJob:
    """Authorize, check the upload (size, format, header against the signature) and queue the
    job. Shared by the API and the model page's form."""
    model = serving.served_model(name, caller)
    limit = settings.MODELGATE_BATCH_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise InvalidInput("Content-Length is not a number.", field="Content-Length") from None
    if declared > limit + _FORM_OVERHEAD:
        raise _too_large(limit, declared)
    upload = request.FILES.get("file")  # parses the body: the upload handler's verdict is next
    refused = upload_too_large(request)
    if refused:
        raise PayloadTooLarge(refused, field="file")
    if upload is None:
        raise InvalidInput(
            "Send the rows as a multipart upload in the field 'file' (a CSV or Parquet file).",
            field="file",
        )
    if upload.size is not None and upload.size > limit:
        raise _too_large(limit, upload.size)
    stage, version = _which(request)
    served = serving.servable_version(model, stage=stage, version=version)
    upload.seek(0)
    fmt = batch_files.sniff_format(upload.name or "", upload.read(4096))
    upload.seek(0)
    columns, rows = batch_files.read_header(upload, fmt)
    batch_files.check_columns(columns, signature=served.signature or {})
    if rows == 0:
        raise InvalidInput("The Parquet file has no rows to score.", field="file")
    return services.batch_job_create(
        actor=actor,
        caller=caller.label,
        app_token_id=caller.id if caller.kind == "app" else None,
        model_version=served,
        stage=stage or "",
        upload=upload,
        input_format=fmt,
        rows_total=rows,
    )


def _too_large(limit: int, size: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The file ({format_size(size)}) is larger than the {format_size(limit)} batch limit. "
        "Split it into smaller files, or ask an admin to raise MODELGATE_BATCH_MAX_BYTES.",
        field="file",
    )


def _which(request: HttpRequest) -> tuple[str | None, int | None]:
    """stage=staging or version=N (form field or query); production by default."""
    raw_version = request.POST.get("version") or request.GET.get("version")
    stage = request.POST.get("stage") or request.GET.get("stage")
    if raw_version:
        if stage:
            raise InvalidInput("Send either 'stage' or 'version', not both.", field="version")
        try:
            number = int(raw_version)
        except ValueError:
            raise InvalidInput(
                f"'version' must be a version number, got {raw_version[:20]!r}.", field="version"
            ) from None
        return None, number
    return stage or "production", None


@csrf_exempt
def batch_create(request: HttpRequest, name: str) -> HttpResponse:
    """POST /api/v1/models/{name}/batch/: queue a batch job (202 with the job)."""
    try:
        if request.method != "POST":
            response = json_response(
                {"error": "method_not_allowed", "detail": "POST a CSV or Parquet file."}, 405
            )
            response["Allow"] = "POST"
            return response
        caller, actor = _caller(request, unsafe=True)
        job = create_job(request, name=name, caller=caller, actor=actor)
        job = BatchJob.objects.select_related("registered_model", "model_version").get(pk=job.pk)
        response = json_response(job_payload(job), 202)
        response["Location"] = reverse("api-batch-detail", args=[job.pk])
        return response
    except DomainError as exc:
        return json_response(exc.as_dict(), exc.status_code)


def batch_detail(request: HttpRequest, job_id: Any) -> HttpResponse:
    """GET /api/v1/batch/{id}/: status, progress and the result's URL once done."""
    try:
        caller, _ = _caller(request, unsafe=False)
        job = selectors.batch_job_get_for_caller(caller=caller, job_id=job_id)
        response = json_response(job_payload(job))
        response["Cache-Control"] = "no-store"
        return response
    except DomainError as exc:
        return json_response(exc.as_dict(), exc.status_code)


def batch_result(request: HttpRequest, job_id: Any) -> HttpResponse:
    """GET /api/v1/batch/{id}/result/: the result file, streamed from storage."""
    return _download(request, job_id, which="result")


def batch_errors(request: HttpRequest, job_id: Any) -> HttpResponse:
    """GET /api/v1/batch/{id}/errors/: the rows set aside (CSV: row, column, error)."""
    return _download(request, job_id, which="errors")


def _download(request: HttpRequest, job_id: Any, *, which: str) -> HttpResponse:
    try:
        caller, _ = _caller(request, unsafe=False)
        job = selectors.batch_job_get_for_caller(caller=caller, job_id=job_id)
        if job.status != BatchJobStatus.SUCCEEDED:
            raise Conflict(
                f"Batch job {job.pk} is {job.status}; its files exist once it succeeded.",
                code="not_finished",
                detail={"status": job.status},
            )
        if job.files_deleted_at is not None:
            raise _expired(job, which)
        stored = job.result_file if which == "result" else job.errors_file
        if not stored:
            raise NotFound(f"Batch job {job.pk} set no row aside: it has no errors file.")
        try:
            fh = default_storage.open(stored.name, "rb")
        except FileNotFoundError:
            # The retention sweep deletes the files before it commits the row saying so: wait
            # for its row lock, and a missing file it deleted is a 410 like any expired one.
            job.files_deleted_at = selectors.batch_job_files_deleted_at(job_id=job.pk)
            if job.files_deleted_at is None:
                raise
            raise _expired(job, which) from None
    except DomainError as exc:
        return json_response(exc.as_dict(), exc.status_code)
    fmt = job.input_format if which == "result" else "csv"
    filename = (
        f"{job.registered_model.name}-v{job.model_version.version}-batch-{str(job.pk)[:8]}"
        f"{'' if which == 'result' else '-errors'}.{fmt}"
    )
    response = FileResponse(fh, as_attachment=True, filename=filename)
    response["Content-Type"] = media_type_of(fmt)
    response["Cache-Control"] = "no-store"
    return response


def _expired(job: BatchJob, which: str) -> Gone:
    days = settings.MODELGATE_BATCH_RETENTION_DAYS
    when = job.files_deleted_at
    return Gone(
        f"The {'result' if which == 'result' else 'errors'} file of batch job {job.pk} expired"
        + (f" on {when:%Y-%m-%d %H:%M} UTC" if when else "")
        + f": files of finished jobs are kept {days} day{'s' if days != 1 else ''} "
        "(MODELGATE_BATCH_RETENTION_DAYS) and then deleted. Upload the input again to score it.",
        code="expired",
        detail={"files_expired_at": _iso(when)},
    )
