"""End to end: labels from app feedback become the corrected dataset, the corrected dataset
becomes the evaluation set, and a real Celery worker validates the next version on it."""

from __future__ import annotations

from typing import Any

import pytest

from releases.models import ModelVersion, Stage, VersionStatus
from scoring import services
from scoring.prediction_log import prediction_log
from tests.conftest import wait_for
from tests.releases import model_files as mf
from tests.scoring.serving import serve
from tests.scoring.test_predict import bodies, post

pytestmark = pytest.mark.worker

LABELED = 25


@pytest.fixture
def media_root(settings: Any) -> Any:
    """The worker is another process: keep the storage it reads (the default one)."""
    return settings.MEDIA_ROOT


def test_labels_become_the_evaluation_set_the_next_version_is_validated_on(
    transactional_db: Any, celery_worker_process: Any, api: Any, owner: Any, reviewer: Any,
    risk_model: Any,
) -> None:  # fmt: skip
    v1 = serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    _, key = services.app_token_create(actor=reviewer, registered_model=risk_model, name="crm")
    frame, truth = mf.tabular()
    answer = post(
        "/api/v1/models/credit-risk/predict/", bodies(frame.iloc[:40])["instances"], key
    ).json()
    prediction_log.flush()
    for pid, label in list(zip(answer["prediction_ids"], truth[:40], strict=True))[:LABELED]:
        response = post(f"/api/v1/predictions/{pid}/feedback/", {"label": str(label)}, key)
        assert response.status_code == 200, response.content

    adopted = api(reviewer).post("/api/v1/models/credit-risk/corrected-dataset/evaluation-set/")
    assert adopted.status_code == 201, adopted.json()
    assert adopted.json()["rows"] == LABELED

    uploaded = mf.upload(api(owner), mf.skops_pipeline_bytes())  # no CSV: the standing set
    assert uploaded.status_code == 201, uploaded.json()
    v2 = wait_for(
        lambda: ModelVersion.objects.filter(
            registered_model=risk_model, version=2,
            status__in=[VersionStatus.VALIDATED, VersionStatus.VALIDATION_FAILED],
        ).first(),
        timeout=120, what="v2 to finish validating",
    )  # fmt: skip

    assert v2.status == VersionStatus.VALIDATED, v2.validation_error
    risk_model.refresh_from_db()
    assert v2.evaluation_dataset_id == risk_model.evaluation_dataset_id
    evaluation = v2.validation_report["evaluation"]
    assert evaluation["rows"] == LABELED
    # The same rows the labels named: v1's own model scores them as the report says v2 does.
    expected = (mf.pipeline_model().predict(frame.iloc[:LABELED]) == truth[:LABELED]).mean()
    assert evaluation["metrics"]["accuracy"] == pytest.approx(expected)
    assert v1.pk != v2.pk
