"""Batch retention: MODELGATE_BATCH_RETENTION_DAYS after a job finishes, the beat task deletes its
input, result and errors files; the job stays, says "expired", and its downloads are a 410 saying
when. Queued and running jobs keep their files however old they are."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from releases.models import AuditEvent, Stage
from scoring import services
from scoring.models import BatchJob, BatchJobStatus
from scoring.tasks import batch_job_run, expire_batch_files
from tests.scoring.serving import forest_model, serve
from tests.scoring.test_batch import csv_bytes, get, key_for, rows, upload

DAYS = 30


def finished_job(key: str, *, days_ago: float, bad_row: bool = False) -> BatchJob:
    """A job scored by the task (succeeded, with an errors file when ``bad_row``), its finish
    moved ``days_ago`` back."""
    frame = rows(6).astype({"age": object})
    if bad_row:
        frame.loc[2, "age"] = "forty"
    job_id = upload(key, csv_bytes(frame)).json()["id"]
    assert batch_job_run.run(job_id=job_id) == "succeeded"
    return _finished_back(job_id, days_ago)


def failed_job(key: str, *, days_ago: float) -> BatchJob:
    job_id = upload(key, csv_bytes(rows(3))).json()["id"]
    services.batch_job_fail(job_id=job_id, error="The worker gave up.")
    return _finished_back(job_id, days_ago)


def _finished_back(job_id: str, days_ago: float) -> BatchJob:
    BatchJob.objects.filter(pk=job_id).update(finished_at=timezone.now() - timedelta(days=days_ago))
    return BatchJob.objects.get(pk=job_id)


def stored_paths(job: BatchJob) -> list[Path]:
    files = (job.input_file, job.result_file, job.errors_file)
    return [Path(default_storage.path(f.name)) for f in files if f]


@pytest.fixture
def key(risk_model: Any, owner: Any, settings: Any) -> str:
    settings.MODELGATE_BATCH_RETENTION_DAYS = DAYS
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    return key_for(owner)


@pytest.mark.django_db
def test_files_of_jobs_finished_before_the_retention_are_deleted_and_the_jobs_stay(
    key: str,
) -> None:
    old = finished_job(key, days_ago=DAYS + 1, bad_row=True)
    old_failed = failed_job(key, days_ago=DAYS + 5)
    recent = finished_job(key, days_ago=DAYS - 1)
    old_paths, failed_paths = stored_paths(old), stored_paths(old_failed)
    assert len(old_paths) == 3 and len(failed_paths) == 1
    assert all(p.exists() for p in old_paths + failed_paths)

    expired = expire_batch_files()

    assert sorted(expired) == sorted([str(old.pk), str(old_failed.pk)])
    assert not any(p.exists() for p in old_paths + failed_paths)
    assert not old_paths[0].parent.exists()  # the job's folder goes too
    assert all(p.exists() for p in stored_paths(recent))
    old.refresh_from_db()
    old_failed.refresh_from_db()
    recent.refresh_from_db()
    assert old.files_expired and old.status == BatchJobStatus.SUCCEEDED and old.rows_failed == 1
    assert old_failed.files_expired and old_failed.error == "The worker gave up."
    assert not recent.files_expired
    events = AuditEvent.objects.filter(action="batch.files_expired")
    assert sorted(e.payload["job"] for e in events) == sorted(expired)
    assert all(e.actor is None and e.payload["retention_days"] == DAYS for e in events)
    assert expire_batch_files() == []  # idempotent: nothing left to expire
    assert events.count() == 2


@pytest.mark.django_db
def test_queued_and_running_jobs_older_than_the_retention_keep_their_files(key: str) -> None:
    queued = upload(key, csv_bytes(rows(3))).json()["id"]
    running = upload(key, csv_bytes(rows(3))).json()["id"]
    services.batch_job_start(job_id=running, task_id="busy")
    long_ago = timezone.now() - timedelta(days=DAYS * 3)
    BatchJob.objects.update(queued_at=long_ago, started_at=long_ago, finished_at=long_ago)
    BatchJob.objects.filter(pk__in=[queued, running]).update(created_at=long_ago)

    assert expire_batch_files() == []

    for job in BatchJob.objects.all():
        assert not job.files_expired
        assert all(p.exists() for p in stored_paths(job))
    assert BatchJob.objects.get(pk=running).status == BatchJobStatus.RUNNING


@pytest.mark.django_db
def test_downloading_an_expired_result_is_a_410_saying_it_expired_and_when(
    key: str, outsider: Any
) -> None:
    job = finished_job(key, days_ago=DAYS + 1, bad_row=True)
    expire_batch_files()
    job.refresh_from_db()
    assert job.files_deleted_at is not None

    body = get(f"/api/v1/batch/{job.pk}/", key).json()
    result = get(body["result_url"], key)
    errors = get(body["errors_url"], key)

    assert body["status"] == "succeeded"
    assert body["files_expired_at"] == job.files_deleted_at.isoformat()
    assert body["files_expire_at"] is None
    assert result.status_code == 410 and errors.status_code == 410
    when = f"{job.files_deleted_at:%Y-%m-%d %H:%M} UTC"
    assert result.json() == {
        "error": "expired",
        "detail": f"The result file of batch job {job.pk} expired on {when}: files of finished "
        f"jobs are kept {DAYS} days (MODELGATE_BATCH_RETENTION_DAYS) and then deleted. Upload "
        "the input again to score it.",
        "files_expired_at": job.files_deleted_at.isoformat(),
    }
    assert errors.json()["detail"].startswith(f"The errors file of batch job {job.pk} expired")
    assert get(body["result_url"], key_for(outsider)).status_code == 404


@pytest.mark.django_db
def test_a_download_that_read_the_job_just_before_the_sweep_is_a_410_not_a_500(
    key: str, monkeypatch: Any
) -> None:
    job = finished_job(key, days_ago=DAYS + 1)
    stale = BatchJob.objects.select_related("registered_model", "model_version").get(pk=job.pk)
    expire_batch_files()
    monkeypatch.setattr("scoring.selectors.batch_job_get_for_caller", lambda **kw: stale)

    response = get(f"/api/v1/batch/{job.pk}/result/", key)

    assert response.status_code == 410
    assert response.json()["error"] == "expired"


@pytest.mark.django_db
def test_a_job_says_until_when_its_files_are_kept(key: str) -> None:
    job = finished_job(key, days_ago=1)

    body = get(f"/api/v1/batch/{job.pk}/", key).json()

    assert body["files_expire_at"] == (job.finished_at + timedelta(days=DAYS)).isoformat()
    assert body["files_expired_at"] is None


@pytest.mark.django_db
def test_the_model_page_panel_shows_expired_jobs_without_downloads(key: str, owner: Any) -> None:
    job = finished_job(key, days_ago=DAYS + 1)
    kept = finished_job(key, days_ago=1)
    expire_batch_files()
    client = Client()
    client.force_login(owner)

    panel = client.get("/models/credit-risk/batch/panel/").content.decode()

    row = panel.split(f'data-job="{job.pk}"')[1].split("</tr>")[0]
    assert '<span class="badge batch-expired">expired</span>' in row
    assert "files deleted" in row and "Download result" not in row
    kept_row = panel.split(f'data-job="{kept.pk}"')[1].split("</tr>")[0]
    assert "Download result" in kept_row and "kept until" in kept_row
    page = client.get("/models/credit-risk/").content.decode()
    assert f"Files are deleted {DAYS} days after the job finishes" in page


@pytest.mark.django_db
def test_a_retention_of_zero_keeps_files_forever(key: str, settings: Any) -> None:
    settings.MODELGATE_BATCH_RETENTION_DAYS = 0
    job = finished_job(key, days_ago=3650)

    assert expire_batch_files() == []

    assert all(p.exists() for p in stored_paths(job))
    assert get(f"/api/v1/batch/{job.pk}/", key).json()["files_expire_at"] is None


def test_beat_runs_the_retention_sweep_hourly() -> None:
    entries = [
        e
        for e in django_settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "scoring.expire_batch_files"
    ]
    assert len(entries) == 1 and entries[0]["schedule"] == 3600.0
    assert entries[0]["options"]["expires"] == 3600.0  # a late run is superseded by the next
    assert django_settings.MODELGATE_BATCH_RETENTION_DAYS == 30


def test_the_openapi_schema_documents_expiry() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path in ("/api/v1/batch/{job_id}/result/", "/api/v1/batch/{job_id}/errors/"):
        assert "410" in schema["paths"][path]["get"]["responses"]
    job = schema["paths"]["/api/v1/batch/{job_id}/"]["get"]["responses"]["200"]
    properties = job["content"]["application/json"]["schema"]["properties"]
    assert {"files_expire_at", "files_expired_at"} <= set(properties)
