"""The background writer: rows reach the table without anyone flushing by hand."""

from __future__ import annotations

from typing import Any

import pytest

from releases.models import Stage
from scoring.models import Prediction
from scoring.prediction_log import prediction_log
from tests.conftest import wait_for
from tests.releases import model_files as mf
from tests.scoring.serving import serve
from tests.scoring.test_predict import URL, bodies, key_for, post, sample

pytestmark = pytest.mark.usefixtures("transactional_db")


def test_the_background_thread_writes_the_log_in_bulk(
    risk_model: Any, owner: Any, settings: Any
) -> None:
    settings.MODELGATE_PREDICTION_LOG_THREAD = True
    settings.MODELGATE_PREDICTION_LOG_FLUSH_MS = 50
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    key = key_for(owner)

    ids = set()
    for _ in range(5):
        ids |= set(post(URL, bodies(sample(4))["instances"], key).json()["prediction_ids"])

    wait_for(lambda: Prediction.objects.count() == 20, timeout=30, what="the log to be written")
    assert {str(i) for i in Prediction.objects.values_list("id", flat=True)} == ids
    assert prediction_log.stats()["buffered"] == 0
    prediction_log.shutdown()
