"""Uploading a version in a real Chromium: progress, landing on the version page, refusals."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import expect

from releases.models import VALIDATION_STAGES, ModelVersion
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.browser

PICKLE_REFUSAL = "This file is a Python pickle"


def write_skops_model(directory: Path) -> tuple[Path, Path]:
    """A tiny fitted pipeline saved with skops, and an evaluation CSV for it."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.normal(40, 10, 60), "income": rng.normal(50, 10, 60)})
    frame["churn"] = (frame["income"] > 50).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    model.fit(frame[["age", "income"]], frame["churn"])
    model_path = directory / "model.skops"
    sio.dump(model, model_path)
    csv_path = directory / "eval.csv"
    frame.to_csv(csv_path, index=False)
    return model_path, csv_path


def record_progress(page: Any) -> list[float]:
    """Every value the upload bar takes, reported even if the page navigates right after."""
    seen: list[float] = []
    page.expose_function("mgReportProgress", lambda value: seen.append(float(value)))
    page.evaluate(
        """() => {
          const bar = document.getElementById('progress');
          new MutationObserver(() => window.mgReportProgress(bar.value))
            .observe(bar, {attributes: true, childList: true, characterData: true, subtree: true});
        }"""
    )
    return seen


def test_owner_uploads_a_skops_model_and_lands_on_its_version_page(
    login, owner, password, page, risk_model, media_root, tmp_path
):
    model_path, csv_path = write_skops_model(tmp_path)
    login(owner, password)
    page.goto("/models/credit-risk/")
    page.get_by_role("link", name="Upload a new version").first.click()
    expect(page.get_by_role("heading", name="Upload a new version of credit-risk")).to_be_visible()

    page.get_by_label("Model file").set_input_files(model_path)
    expect(page.get_by_text("Chosen: model.skops")).to_be_visible()
    page.get_by_label("Evaluation CSV").set_input_files(csv_path)
    page.get_by_label("Target column").fill("churn")
    page.get_by_label("Notes").fill("First version, trained on synthetic data.")
    page.get_by_label("Tags").fill("candidate, baseline")
    page.screenshot(path=tmp_path / "upload.png", full_page=True)

    seen = record_progress(page)
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/models/credit-risk/versions/1/")

    assert seen and max(seen) == 100
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("credit-risk v1: pending")
    assert page.title() == "credit-risk v1: pending · ModelGate"
    expect(page.locator("#stage-line li")).to_have_count(len(VALIDATION_STAGES))
    expect(page.get_by_text("Queued: a worker will pick it up shortly.")).to_be_visible()
    page.screenshot(path=tmp_path / "version.png", full_page=True)

    version = ModelVersion.objects.get(registered_model=risk_model, version=1)
    assert version.sha256 == hashlib.sha256(model_path.read_bytes()).hexdigest()
    assert version.status == "pending"
    assert version.uploaded_by == owner
    assert version.evaluation_dataset.target == "churn"
    assert sorted(t.name for t in version.tags.all()) == ["baseline", "candidate"]
    expect(page.get_by_text(version.sha256)).to_be_visible()


def test_pickle_is_refused_beside_the_file_field_and_nothing_entered_is_lost(
    login, owner, password, page, risk_model, media_root, tmp_path
):
    _, csv_path = write_skops_model(tmp_path)
    login(owner, password)
    page.goto("/models/credit-risk/upload/")
    page.get_by_label("Model file").set_input_files(
        {
            "name": "model.pkl",
            "mimeType": "application/octet-stream",
            "buffer": pickle.dumps({"weights": [1, 2, 3]}),
        }
    )
    page.get_by_label("Evaluation CSV").set_input_files(csv_path)
    page.get_by_label("Target column").fill("churn")
    page.get_by_label("Notes").fill("Exported with joblib by mistake.")
    page.get_by_label("Tags").fill("candidate")
    page.get_by_role("button", name="Upload").click()

    artifact_row = page.locator(".form-row", has=page.locator("#id_artifact"))
    expect(artifact_row.get_by_role("alert")).to_contain_text(PICKLE_REFUSAL)
    expect(page.get_by_label("Model file")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Model file")).to_be_focused()
    page.screenshot(path=tmp_path / "upload-refused.png", full_page=True)

    assert page.url.endswith("/models/credit-risk/upload/")
    expect(page.get_by_label("Target column")).to_have_value("churn")
    expect(page.get_by_label("Notes")).to_have_value("Exported with joblib by mistake.")
    expect(page.get_by_label("Tags")).to_have_value("candidate")
    files = page.evaluate(
        "() => ['id_artifact', 'id_evaluation_data'].map("
        "id => Array.from(document.getElementById(id).files, f => f.name))"
    )
    assert files == [["model.pkl"], ["eval.csv"]]
    expect(page.get_by_role("button", name="Upload")).to_be_enabled()
    assert not ModelVersion.objects.filter(registered_model=risk_model).exists()


def test_version_page_follows_validation_without_a_reload_then_shows_the_result(
    login, owner, password, page, risk_model, tmp_path
):
    from tests.releases.test_pages import make_dataset

    dataset = make_dataset(risk_model)
    version = ModelVersionFactory(
        registered_model=risk_model, version=1, uploaded_by=owner, evaluation_dataset=dataset
    )
    login(owner, password)
    page.goto("/models/credit-risk/versions/1/")
    badge = page.locator("#status-badge .badge")
    expect(badge).to_have_text("pending")
    page.evaluate("() => { window.mgSamePage = true; }")

    # What the worker's services write, without a worker: the page polls its live part every 2 s.
    ModelVersion.objects.filter(pk=version.pk).update(
        status="validating", validation_report={"stage": "evaluating"}
    )
    expect(badge).to_have_text("validating", timeout=8_000)
    expect(page.locator("#stage-line li[data-stage='evaluating']")).to_have_class("stage-active")
    expect(page.locator("#stage-line li[data-stage='loading model']")).to_have_class("stage-done")
    expect(page.locator("#metrics-pending")).to_contain_text("Measuring v1 on the evaluation set")
    expect(page).to_have_title("credit-risk v1: validating · ModelGate")
    expect(page.locator("#live-announcer")).to_have_text(
        "Validating: evaluating… This page updates by itself."
    )

    # Validated: the metrics, signature and libraries appear in place, and polling stops.
    ModelVersion.objects.filter(pk=version.pk).update(
        status="validated",
        estimator_class="sklearn.pipeline.Pipeline",
        library_versions={"scikit-learn": "1.9.1"},
        validation_report={
            "stage": "done", "evaluation": {"rows": 120, "metrics": {"accuracy": 0.91}},
        },
    )  # fmt: skip
    expect(badge).to_have_text("validated", timeout=8_000)
    expect(page.locator("#metrics")).to_contain_text("accuracy")
    expect(page.locator("#metrics")).to_contain_text("0.9100")
    expect(page.locator("#metrics-pending")).to_have_count(0)
    expect(page.locator("#libraries")).to_contain_text("1.9.1")
    expect(page.locator("#version-live")).to_have_attribute("data-poll", "false")
    assert page.evaluate("() => window.mgSamePage") is True  # updated in place, never reloaded
    page.screenshot(path=tmp_path / "validated.png", full_page=True)


def test_failed_validation_appears_in_place_with_its_stage_and_next_step(
    login, owner, password, page, risk_model, tmp_path
):
    version = ModelVersionFactory(
        registered_model=risk_model, version=1, uploaded_by=owner, status="validating",
        validation_report={"stage": "reading signature"},
    )  # fmt: skip
    login(owner, password)
    page.goto("/models/credit-risk/versions/1/")
    page.evaluate("() => { window.mgSamePage = true; }")
    ModelVersion.objects.filter(pk=version.pk).update(
        status="validation_failed",
        validation_error="The model failed to predict on the evaluation data.",
        validation_report={
            "stage": "failed", "error_code": "unusable", "failed_stage": "reading signature",
        },
    )  # fmt: skip
    failure = page.locator("#failure")
    expect(failure.get_by_role("heading", name="Why validation failed while reading signature")
           ).to_be_visible(timeout=8_000)  # fmt: skip
    expect(failure).to_contain_text("The model failed to predict on the evaluation data.")
    expect(failure).to_contain_text("It passed: loading model.")
    expect(failure.get_by_role("link", name="Upload a fixed version")).to_be_visible()
    expect(page.locator("#stage-line li[data-stage='reading signature']")).to_have_class(
        "stage-failed"
    )
    expect(page.locator("#stage-line li[data-stage='evaluating']")).to_have_class("stage-skipped")
    expect(page).to_have_title("credit-risk v1: validation failed · ModelGate")
    assert page.evaluate("() => window.mgSamePage") is True
    page.screenshot(path=tmp_path / "failed.png", full_page=True)
