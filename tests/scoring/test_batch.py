"""Batch scoring: a CSV or Parquet upload is checked against the signature while the caller
waits, scored by a worker in the sandbox, and its result equals the model's own predict and
predict_proba; only callers who may predict on the model see its jobs."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.test import Client

from releases.models import ApiToken, Stage
from scoring import services
from scoring.models import BatchJob, BatchJobStatus
from scoring.tasks import batch_job_run
from tests.conftest import wait_for
from tests.factories import RegisteredModelFactory, TeamFactory
from tests.releases import model_files as mf
from tests.scoring.serving import forest_model, logistic_numeric, serve

URL = "/api/v1/models/credit-risk/batch/"


def key_for(user: Any) -> str:
    return ApiToken.objects.create(user=user)[1]


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def upload(
    key: str | None, data: bytes, name: str = "rows.csv", url: str = URL, **fields: Any
) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"} if key else {}
    payload = {"file": _named(data, name), **fields}
    return Client().post(url, payload, **headers)


def _named(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def rows(n: int = 120) -> pd.DataFrame:
    frame, _ = mf.tabular()
    return frame.iloc[:n].reset_index(drop=True)


def get(url: str, key: str) -> Any:
    return Client().get(url, HTTP_AUTHORIZATION=f"Token {key}")


def read_result(content: bytes, fmt: str) -> pd.DataFrame:
    if fmt == "parquet":
        return pd.read_parquet(io.BytesIO(content))
    return pd.read_csv(io.BytesIO(content), dtype={"city": str, "plan": str})


def assert_result_is_the_models_own(result: pd.DataFrame, frame: pd.DataFrame, model: Any) -> None:
    assert list(result.columns[: frame.shape[1]]) == list(frame.columns)
    pd.testing.assert_frame_equal(result[list(frame.columns)], frame, check_dtype=False)
    assert result["prediction"].tolist() == model.predict(frame).tolist()
    proba = model.predict_proba(frame)
    for j, label in enumerate(model.classes_):
        np.testing.assert_allclose(result[f"probability_{label}"], proba[:, j], rtol=0, atol=1e-12)
    np.testing.assert_allclose(result["confidence"], proba.max(axis=1), rtol=0, atol=1e-12)


# --- Checked while the caller waits -------------------------------------------------------------


@pytest.mark.django_db
def test_a_header_with_missing_and_unknown_columns_is_a_400_naming_them(
    risk_model: Any, owner: Any
) -> None:
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    frame = rows(5).drop(columns=["plan"]).assign(customer_id=range(5))

    response = upload(key_for(owner), csv_bytes(frame))

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["field"] == "file"
    assert "missing 'plan'" in body["detail"] and "unknown 'customer_id'" in body["detail"]
    assert body["missing"] == ["plan"] and body["unknown"] == ["customer_id"]
    assert not BatchJob.objects.exists()


@pytest.mark.django_db
def test_a_parquet_header_is_checked_too(risk_model: Any, owner: Any) -> None:
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)

    response = upload(key_for(owner), parquet_bytes(rows(5).drop(columns=["age"])), "x.parquet")

    assert response.status_code == 400
    assert "missing 'age'" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("copies", [3, 600], ids=["file-size", "declared-length"])
def test_a_file_over_the_batch_limit_is_a_413(
    risk_model: Any, owner: Any, settings: Any, copies: int
) -> None:
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    settings.MODELGATE_BATCH_MAX_BYTES = 2048
    big = csv_bytes(pd.concat([rows()] * copies, ignore_index=True))
    assert len(big) > 2048

    response = upload(key_for(owner), big)

    assert response.status_code == 413, response.content
    assert "MODELGATE_BATCH_MAX_BYTES" in response.json()["detail"]
    assert not BatchJob.objects.exists()


@pytest.mark.django_db
def test_a_file_over_the_upload_limit_is_a_413_too(
    risk_model: Any, owner: Any, settings: Any
) -> None:
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    settings.MODELGATE_MAX_UPLOAD_BYTES = 4096  # below the batch limit: every upload obeys it

    response = upload(key_for(owner), csv_bytes(pd.concat([rows()] * 3, ignore_index=True)))

    assert response.status_code == 413, response.content
    assert "MODELGATE_MAX_UPLOAD_BYTES" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b'{"instances": []}', "rows.json"),
        (b"PK\x03\x04 a spreadsheet", "rows.xlsx"),
        (b"age,income\x00\x01", "rows.csv"),
        (b"age,income,city,plan\n1,2,paris,basic\n", "rows.parquet"),
    ],
)
def test_other_formats_are_a_415(risk_model: Any, owner: Any, data: bytes, name: str) -> None:
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)

    response = upload(key_for(owner), data, name)

    assert response.status_code == 415, response.content
    assert response.json()["field"] == "file"


@pytest.mark.django_db
def test_no_file_or_a_bad_version_is_a_400(risk_model: Any, owner: Any) -> None:
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    key = key_for(owner)

    no_file = Client().post(URL, {"stage": "production"}, HTTP_AUTHORIZATION=f"Token {key}")
    bad_version = upload(key, csv_bytes(rows(3)), version="latest")

    assert no_file.status_code == 400 and no_file.json()["field"] == "file"
    assert bad_version.status_code == 400 and bad_version.json()["field"] == "version"


@pytest.mark.django_db
def test_only_approved_versions_are_used(risk_model: Any, owner: Any) -> None:
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    serve(risk_model, 2, model=forest_model(), uploaded_by=owner, status="validated")
    key = key_for(owner)

    unapproved = upload(key, csv_bytes(rows(3)), version="2")
    no_staging = upload(key, csv_bytes(rows(3)), stage="staging")

    assert unapproved.status_code == 409 and "only approved" in unapproved.json()["detail"]
    assert no_staging.status_code == 404 and no_staging.json()["field"] == "stage"


# --- Who may ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_another_teams_member_gets_404_for_upload_status_and_result(
    risk_model: Any, owner: Any, outsider: Any
) -> None:
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    created = upload(key_for(owner), csv_bytes(rows(3)))
    assert created.status_code == 202, created.content
    job = created.json()
    key = key_for(outsider)

    assert upload(key, csv_bytes(rows(3))).status_code == 404
    assert get(job["url"], key).status_code == 404
    assert get(f"/api/v1/batch/{job['id']}/result/", key).status_code == 404
    assert get(job["url"], key_for(owner)).status_code == 200


@pytest.mark.django_db
def test_an_app_token_works_for_its_model_and_gets_404_for_another(
    risk_model: Any, owner: Any, reviewer: Any
) -> None:
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    other = RegisteredModelFactory(name="fraud", team=TeamFactory(name="risk"), created_by=owner)
    serve(other, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    from scoring.services import app_token_create

    _, fraud_key = app_token_create(actor=reviewer, registered_model=other, name="fraud-app")
    _, risk_key = app_token_create(actor=reviewer, registered_model=risk_model, name="risk-app")
    mine = upload(risk_key, csv_bytes(rows(3))).json()

    refused = upload(fraud_key, csv_bytes(rows(3)))

    assert refused.status_code == 404
    assert get(mine["url"], fraud_key).status_code == 404
    assert get(mine["url"], risk_key).json()["status"] == "queued"
    job = BatchJob.objects.get(pk=mine["id"])
    assert job.caller.startswith("app:") and job.requested_by is None


@pytest.mark.django_db
def test_a_browser_session_needs_the_csrf_token(risk_model: Any, owner: Any) -> None:
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    response = client.post(URL, {"file": _named(csv_bytes(rows(3)), "rows.csv")})

    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert not BatchJob.objects.exists()


# --- Scored by the task (here, in this process) -------------------------------------------------


@pytest.mark.django_db
def test_rows_with_bad_values_are_set_aside_in_an_errors_file_and_the_rest_is_scored(
    risk_model: Any, owner: Any, settings: Any
) -> None:
    settings.MODELGATE_BATCH_CHUNK_ROWS = 4  # the bad rows fall in different chunks
    model = forest_model()
    serve(risk_model, 1, model=model, uploaded_by=owner, stage=Stage.PRODUCTION)
    frame = rows(10).astype({"age": object})
    frame.loc[4, "age"] = "forty"
    frame.loc[5, "city"] = "atlantis"
    frame.loc[8, "income"] = np.nan  # an empty cell in the CSV
    key = key_for(owner)
    job_id = upload(key, csv_bytes(frame)).json()["id"]

    assert batch_job_run.run(job_id=job_id) == "succeeded"

    body = get(f"/api/v1/batch/{job_id}/", key).json()
    assert body["rows_total"] == 10 and body["rows_failed"] == 3
    errors = pd.read_csv(io.BytesIO(b"".join(get(body["errors_url"], key).streaming_content)))
    assert errors["row"].tolist() == [5, 6, 9] and errors["line"].tolist() == [6, 7, 10]
    assert errors["column"].tolist() == ["age", "city", "income"]
    assert (
        errors["error"][0]
        == "Row 5 (line 6), column 'age' must be a number, got a string ('forty')."
    )
    assert "'atlantis', a category the model never saw" in errors["error"][1]
    assert "Row 9 (line 10), column 'income' is NaN" in errors["error"][2]
    good = rows(10).drop(index=[4, 5, 8]).reset_index(drop=True)
    result = read_result(b"".join(get(body["result_url"], key).streaming_content), "csv")
    assert_result_is_the_models_own(result, good, model)


@pytest.mark.django_db
def test_with_no_bad_rows_allowed_a_bad_value_fails_the_job_naming_row_and_column(
    risk_model: Any, owner: Any, settings: Any
) -> None:
    settings.MODELGATE_BATCH_MAX_BAD_ROWS = 0
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    frame = rows(6).astype({"age": object})
    frame.loc[4, "age"] = "forty"
    job_id = upload(key_for(owner), csv_bytes(frame)).json()["id"]

    assert batch_job_run.run(job_id=job_id) == "failed"

    job = BatchJob.objects.get(pk=job_id)
    assert job.status == BatchJobStatus.FAILED
    assert job.error == "Row 5 (line 6), column 'age' must be a number, got a string ('forty')."
    assert not job.result_file and not job.errors_file


@pytest.mark.django_db
def test_too_many_bad_rows_fail_the_whole_file_with_the_first_one(
    risk_model: Any, owner: Any, settings: Any
) -> None:
    settings.MODELGATE_BATCH_MAX_BAD_ROWS = 2
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    frame = rows(6).assign(plan="gold")
    job_id = upload(key_for(owner), parquet_bytes(frame), "rows.parquet").json()["id"]

    assert batch_job_run.run(job_id=job_id) == "failed"

    error = BatchJob.objects.get(pk=job_id).error
    assert error.startswith("More than 2 rows have values the model cannot take")
    assert "The first: Row 1, column 'plan' is 'gold', a category the model never saw" in error


@pytest.mark.django_db
def test_the_task_scores_in_chunks_with_progress_and_is_harmless_when_redelivered(
    risk_model: Any, owner: Any, settings: Any
) -> None:
    settings.MODELGATE_BATCH_CHUNK_ROWS = 50
    model = forest_model()
    serve(risk_model, 1, model=model, uploaded_by=owner, stage=Stage.PRODUCTION)
    frame = rows(120)
    key = key_for(owner)
    job_id = upload(key, csv_bytes(frame)).json()["id"]
    seen: list[int] = []
    progress = services.batch_job_progress

    def spy(**kwargs: Any) -> None:
        seen.append(kwargs["rows_done"])
        progress(**kwargs)

    import scoring.tasks

    scoring.tasks.services.batch_job_progress = spy  # type: ignore[attr-defined]
    try:
        assert batch_job_run.run(job_id=job_id) == "succeeded"
    finally:
        scoring.tasks.services.batch_job_progress = progress  # type: ignore[attr-defined]

    assert seen == [0, 0, 50, 100]
    body = get(f"/api/v1/batch/{job_id}/", key).json()
    assert body["status"] == "succeeded" and body["rows_done"] == body["rows_total"] == 120
    assert body["progress"] == 1.0
    download = get(body["result_url"], key)
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    result = read_result(b"".join(download.streaming_content), "csv")
    assert_result_is_the_models_own(result, frame, model)
    assert batch_job_run.run(job_id=job_id) == "skipped"


@pytest.mark.django_db
def test_the_result_of_an_unfinished_job_is_a_409(risk_model: Any, owner: Any) -> None:
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    key = key_for(owner)
    job = upload(key, csv_bytes(rows(3))).json()

    response = get(f"/api/v1/batch/{job['id']}/result/", key)

    assert response.status_code == 409 and response.json()["status"] == "queued"


# --- End to end with a real worker --------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_real_worker_scores_the_file_and_the_result_is_the_models_own_answer(
    transactional_db: Any, celery_worker_process: Any, settings: Any, owner: Any, fmt: str
) -> None:
    from django.conf import settings as live

    # The worker is another process: files go where it looks, not to this test's media folder.
    import webapp.settings as configured

    settings.MEDIA_ROOT = configured.MEDIA_ROOT
    assert live.MEDIA_ROOT == configured.MEDIA_ROOT
    model = forest_model()
    registered = RegisteredModelFactory(name="credit-risk", team=TeamFactory(name="risk"))
    serve(registered, 1, model=model, uploaded_by=owner, stage=Stage.PRODUCTION)
    frame = rows(120)
    data = csv_bytes(frame) if fmt == "csv" else parquet_bytes(frame)
    key = key_for(owner)

    created = upload(key, data, f"rows.{fmt}")

    assert created.status_code == 202, created.content
    job = created.json()
    assert job["status"] == "queued" and job["input_format"] == fmt
    done = wait_for(
        lambda: (body := get(job["url"], key).json())["status"] in {"succeeded", "failed"} and body,
        timeout=120,
        what=f"batch job {job['id']} to finish",
    )
    assert done["status"] == "succeeded", done["error"]
    assert done["rows_done"] == 120
    download = get(done["result_url"], key)
    assert download.status_code == 200
    result = read_result(b"".join(download.streaming_content), fmt)
    assert_result_is_the_models_own(result, frame, model)


@pytest.mark.django_db
def test_the_sweeper_queues_lost_jobs_again_then_fails_them_with_the_reason(
    risk_model: Any, owner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    key = key_for(owner)
    queued = upload(key, csv_bytes(rows(3))).json()["id"]
    running = upload(key, csv_bytes(rows(3))).json()["id"]
    services.batch_job_start(job_id=running, task_id="lost")

    assert services.batch_jobs_sweep_stuck(after_seconds=3600, max_resets=2) == []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        swept = services.batch_jobs_sweep_stuck(after_seconds=0, max_resets=2)

    assert sorted(swept) == sorted([queued, running]) and len(callbacks) == 2
    assert BatchJob.objects.get(pk=running).status == BatchJobStatus.QUEUED
    services.batch_jobs_sweep_stuck(after_seconds=0, max_resets=2)
    services.batch_jobs_sweep_stuck(after_seconds=0, max_resets=2)
    job = BatchJob.objects.get(pk=queued)
    assert job.status == BatchJobStatus.FAILED and job.sweeps == 2
    assert "started 3 times and never finished" in job.error


@pytest.mark.django_db
def test_a_regressor_scores_a_parquet_file_with_predictions_only(
    risk_model: Any, owner: Any
) -> None:
    from sklearn.linear_model import Ridge

    frame = rows(40)[mf.NUMERIC]
    model = Ridge().fit(frame, frame["income"] * 3 + frame["age"])
    serve(risk_model, 1, model=model, uploaded_by=owner, stage=Stage.PRODUCTION, numeric_only=True)
    key = key_for(owner)
    job_id = upload(key, parquet_bytes(frame), "rows.parquet").json()["id"]

    assert batch_job_run.run(job_id=job_id) == "succeeded"

    body = get(f"/api/v1/batch/{job_id}/", key).json()
    result = read_result(b"".join(get(body["result_url"], key).streaming_content), "parquet")
    assert list(result.columns) == [*mf.NUMERIC, "prediction"]
    np.testing.assert_allclose(result["prediction"], model.predict(frame), rtol=0, atol=1e-12)


@pytest.mark.django_db
def test_a_model_uploaded_as_onnx_scores_a_file_like_its_session(
    risk_model: Any, owner: Any
) -> None:
    import hashlib

    import onnxruntime as ort
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone
    from skl2onnx import to_onnx

    from releases.models import ModelVersion, StageAssignment

    frame = rows(30)[mf.NUMERIC]
    sklearn_model = logistic_numeric()
    data = to_onnx(
        sklearn_model, frame.to_numpy(np.float32)[:1], options={"zipmap": False}
    ).SerializeToString()
    digest = hashlib.sha256(data).hexdigest()
    name = default_storage.save(f"artifacts/{digest[:2]}/{digest}.onnx", ContentFile(data))
    signature = {
        "task": "classification",
        "classes": sklearn_model.classes_.tolist(),
        "features": [{"name": n, "type": "numeric"} for n in mf.NUMERIC],
    }
    version = ModelVersion.objects.create(
        registered_model=risk_model, version=1, status="approved", artifact=name, sha256=digest,
        size=len(data), format="onnx", uploaded_by=owner, signature=signature,
    )  # fmt: skip
    StageAssignment.objects.create(
        registered_model=risk_model, stage=Stage.PRODUCTION, model_version=version,
        assigned_by=owner, assigned_at=timezone.now(),
    )  # fmt: skip
    key = key_for(owner)
    job_id = upload(key, csv_bytes(frame)).json()["id"]

    assert batch_job_run.run(job_id=job_id) == "succeeded", BatchJob.objects.get(pk=job_id).error

    body = get(f"/api/v1/batch/{job_id}/", key).json()
    result = read_result(b"".join(get(body["result_url"], key).streaming_content), "csv")
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    labels, proba = session.run(None, {session.get_inputs()[0].name: frame.to_numpy(np.float32)})
    assert result["prediction"].tolist() == labels.tolist()
    np.testing.assert_allclose(
        result[[f"probability_{c}" for c in sklearn_model.classes_]], proba, rtol=0, atol=1e-6
    )
