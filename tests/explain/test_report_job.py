"""The SHAP report job: computed in the sandbox, stored as data, failures said in a sentence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.storage import default_storage

from explain.models import ShapReport, ShapReportStatus
from explain.tasks import shap_report_run
from releases.models import AuditEvent, ModelVersion, VersionStatus
from tests.explain.builders import credit_frame, forest_pipeline, stored_version

pytestmark = pytest.mark.django_db


def test_report_job_stores_summary_and_arrays_keyed_by_input_feature(
    media_root: Path, risk_model: Any, settings: Any
) -> None:
    settings.MODELGATE_SHAP_SAMPLE_ROWS = 120
    settings.MODELGATE_SHAP_BACKGROUND_ROWS = 50
    frame, target = credit_frame()
    version = stored_version(risk_model, 1, forest_pipeline(frame, target), frame, target)

    assert shap_report_run(version_id=version.pk) == "done"

    report = ShapReport.objects.get(model_version=version)
    assert report.status == ShapReportStatus.DONE, report.error
    assert report.explainer == "tree"
    assert "TreeExplainer" in report.reason
    summary = report.summary
    assert summary["features"] == ["income", "age", "region"]
    assert summary["additivity"]["ok"] is True
    assert summary["additivity"]["tolerance"] > 0
    assert summary["sample_rows"] == 120 and summary["background_rows"] == 50
    assert set(report.importance) == {"income", "age", "region"}
    assert summary["timings"]["job_seconds"] > 0
    with default_storage.open(report.arrays.name, "rb") as fh:
        arrays = np.load(fh, allow_pickle=False)
        assert arrays["values"].shape == (120, 3, 2)
        assert arrays["feature_values"].shape == (120, 3)
        assert np.allclose(
            arrays["base_values"] + arrays["values"].sum(axis=1), arrays["outputs"], atol=1e-9
        )
    assert AuditEvent.objects.filter(action="shap_report.done", model_version=version).exists()
    # Redelivered: nothing to do.
    assert shap_report_run(version_id=version.pk) == "skipped"


def test_a_report_is_computed_in_a_512_mb_sandbox(
    media_root: Path, risk_model: Any, settings: Any
) -> None:
    """The child holds about 330 MB; under a limit on address space it failed here, loading
    llvmlite (160 MB of code) for shap's numba."""
    settings.MODELGATE_SANDBOX_MEMORY_MB = 512
    frame, target = credit_frame()
    version = stored_version(risk_model, 1, forest_pipeline(frame, target), frame, target)

    assert shap_report_run(version_id=version.pk) == "done"

    report = ShapReport.objects.get(model_version=version)
    assert report.status == ShapReportStatus.DONE, report.error
    assert report.summary["additivity"]["ok"] is True


def test_a_version_without_evaluation_data_gets_a_failed_report_and_stays_validated(
    media_root: Path, risk_model: Any
) -> None:
    frame, target = credit_frame()
    version = stored_version(
        risk_model, 1, forest_pipeline(frame, target), frame, target, with_dataset=False
    )

    assert shap_report_run(version_id=version.pk) == "failed"

    report = ShapReport.objects.get(model_version=version)
    assert report.status == ShapReportStatus.FAILED
    assert "no evaluation data" in report.error
    version.refresh_from_db()
    assert version.status == VersionStatus.VALIDATED


def test_a_report_over_the_sandbox_time_limit_fails_with_a_sentence(
    media_root: Path, risk_model: Any, settings: Any
) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.svm import SVC

    settings.MODELGATE_SANDBOX_WALL_SECONDS = 1
    frame, target = credit_frame(600)
    # No fast explainer: the bounded one still needs far more than a second for 200 rows.
    slow = make_pipeline(OneHotEncoder(handle_unknown="ignore", sparse_output=False), SVC()).fit(
        frame, target
    )
    version = stored_version(risk_model, 1, slow, frame, target)

    assert shap_report_run(version_id=version.pk) == "failed"

    report = ShapReport.objects.get(model_version=version)
    assert report.status == ShapReportStatus.FAILED
    assert "did not finish within 1 s" in report.error
    assert ModelVersion.objects.get(pk=version.pk).status == VersionStatus.VALIDATED
