"""The model page's batch panel: upload form, the model's jobs with live progress, downloads;
only for people who may see the model."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from playwright.sync_api import expect

from releases.models import Stage
from scoring import services
from scoring.models import BatchJob, BatchJobStatus
from tests.scoring.serving import forest_model, serve
from tests.scoring.test_batch import csv_bytes, rows


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_model_page_teaches_batch_scoring_before_the_first_job(
    risk_model: Any, owner: Any
) -> None:
    html = signed_in(owner).get("/models/credit-risk/").content.decode()

    assert "Batch scoring: score a whole file" in html
    assert 'action="/models/credit-risk/batch/"' in html
    assert "No batch jobs yet." in html
    assert "-F file=@rows.csv" in html and "/api/v1/models/credit-risk/batch/" in html


@pytest.mark.django_db
def test_the_form_queues_a_job_and_the_panel_shows_its_progress(
    risk_model: Any, owner: Any
) -> None:
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    client = signed_in(owner)
    upload = ContentFile(csv_bytes(rows(10)), name="march.csv")

    response = client.post("/models/credit-risk/batch/", {"file": upload, "stage": "production"})

    assert response.status_code == 302 and response["Location"].endswith(
        "/models/credit-risk/#batch"
    )
    job = BatchJob.objects.get()
    assert job.requested_by == owner and job.input_name == "march.csv" and job.stage == "production"
    services.batch_job_start(job_id=str(job.pk))
    services.batch_job_progress(job_id=str(job.pk), rows_done=4, rows_total=10)
    panel = client.get("/models/credit-risk/batch/panel/").content.decode()
    assert 'data-poll="true"' in panel
    assert '<progress max="10" value="4"' in panel and "4 of 10 rows" in panel


@pytest.mark.django_db
def test_a_refused_file_says_why_on_the_model_page(risk_model: Any, owner: Any) -> None:
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    client = signed_in(owner)
    upload = ContentFile(csv_bytes(rows(3).drop(columns=["city"])), name="march.csv")

    page = client.post("/models/credit-risk/batch/", {"file": upload}, follow=True)

    assert "Batch file refused: The file&#x27;s columns do not match" in page.content.decode()
    assert not BatchJob.objects.exists()


@pytest.mark.django_db
def test_the_panel_and_the_form_are_404_for_another_team(
    risk_model: Any, owner: Any, outsider: Any
) -> None:
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    client = signed_in(outsider)
    upload = ContentFile(csv_bytes(rows(3)), name="x.csv")

    assert client.get("/models/credit-risk/batch/panel/").status_code == 404
    assert client.post("/models/credit-risk/batch/", {"file": upload}).status_code == 404
    assert not BatchJob.objects.exists()


@pytest.mark.browser
def test_a_job_progress_bar_moves_and_the_download_appears_without_a_reload(
    login: Any,
    page: Any,
    owner: Any,
    password: Any,
    risk_model: Any,
    tmp_path: Any,
    monkeypatch: Any,
) -> None:
    # This test plays the worker: a session's real worker must not take the job.
    monkeypatch.setattr("scoring.services.batch._enqueue", lambda job_id: None)
    serve(risk_model, 1, model=forest_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    path = tmp_path / "april.csv"
    path.write_bytes(csv_bytes(rows(120)))
    login(owner, password)
    page.goto("/models/credit-risk/")

    page.get_by_label("File to score").set_input_files(path)
    page.get_by_role("button", name="Score file").click()

    expect(page.get_by_text("Batch job queued")).to_be_visible()
    row = page.locator("#batch-jobs tbody tr").first
    expect(row).to_contain_text("april.csv")
    expect(row.locator(".badge.batch-queued")).to_have_text("queued")
    page.evaluate("() => { window.notReloaded = true; }")
    job = BatchJob.objects.get()
    services.batch_job_start(job_id=str(job.pk))
    services.batch_job_progress(job_id=str(job.pk), rows_done=60, rows_total=120)
    expect(row.locator("progress")).to_have_attribute("value", "60", timeout=10_000)
    expect(row).to_contain_text("60 of 120 rows")
    name = default_storage.save(f"batch/{job.pk}/result.csv", ContentFile(b"age\n1\n"))
    services.batch_job_finish(job_id=str(job.pk), result_name=name, rows=120)
    download = page.get_by_role("link", name="Download result")
    expect(download).to_be_visible(timeout=10_000)
    assert page.evaluate("() => window.notReloaded") is True
    assert BatchJob.objects.get().status == BatchJobStatus.SUCCEEDED
    with page.expect_download() as info:
        download.click()
    assert re.match(r"credit-risk-v1-batch-.*\.csv", info.value.suggested_filename)
