"""Shadow mode in a real gunicorn (two workers, background shadow threads on): the staging
version's results arrive in the database on their own, off the request path, and /metrics
counts the comparisons of both workers."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
import requests

from releases.models import ApiToken, Stage
from scoring import services
from scoring.models import ShadowResult
from tests.conftest import wait_for
from tests.releases import model_files as mf
from tests.scoring.serving import forest_model, logistic_numeric, serve
from tests.scoring.test_gunicorn import Gunicorn, _warm
from tests.scoring.test_gunicorn import gunicorn as gunicorn
from tests.scoring.test_metrics_gunicorn import _totals
from tests.scoring.test_predict import bodies, sample

pytestmark = pytest.mark.usefixtures("transactional_db")


def test_workers_shadow_live_requests_in_the_background(
    gunicorn: Gunicorn, risk_model: Any, owner: Any, reviewer: Any
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    serve(risk_model, 2, model=forest_model(), uploaded_by=owner, stage=Stage.STAGING)
    services.shadow_mode_set(actor=reviewer, registered_model=risk_model, enabled=True)
    key = ApiToken.objects.create(user=owner)[1]
    url = f"{gunicorn.url}/api/v1/models/credit-risk/predict/"
    headers = {"Authorization": f"Token {key}", "Content-Type": "application/json"}
    _warm(gunicorn, url, orjson.dumps(bodies(sample(1))["instances"]), key)

    frame = sample(40)
    ids: list[str] = []
    for start in range(0, 40, 5):
        body = orjson.dumps(bodies(frame.iloc[start : start + 5])["instances"])
        answer = requests.post(url, data=body, headers=headers, timeout=30).json()
        assert answer["version"] == 1
        ids.extend(answer["prediction_ids"])

    wait_for(
        lambda: ShadowResult.objects.filter(prediction_id__in=ids).count() == 40,
        timeout=60,
        what="the shadow threads to write 40 results",
    )
    agree = mf.pipeline_model().predict(frame) == forest_model().predict(frame)
    stored = dict(
        ShadowResult.objects.filter(prediction_id__in=ids).values_list("prediction_id", "agree")
    )
    assert [stored[uuid.UUID(i)] for i in ids] == agree.tolist()

    totals = _totals(requests.get(f"{gunicorn.url}/metrics", timeout=10).text)
    assert totals["modelgate_shadow_comparisons_total"] == ShadowResult.objects.count()


def test_a_raising_shadow_model_leaves_every_live_answer_intact(
    gunicorn: Gunicorn, risk_model: Any, owner: Any, reviewer: Any
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    # Fitted on the numeric columns only: it raises on every production row it is given.
    serve(
        risk_model, 2, model=logistic_numeric(), uploaded_by=owner, stage=Stage.STAGING,
        numeric_only=True,
    )  # fmt: skip
    services.shadow_mode_set(actor=reviewer, registered_model=risk_model, enabled=True)
    key = ApiToken.objects.create(user=owner)[1]
    url = f"{gunicorn.url}/api/v1/models/credit-risk/predict/"
    headers = {"Authorization": f"Token {key}", "Content-Type": "application/json"}
    frame = sample(5)
    body = orjson.dumps(bodies(frame)["instances"])
    _warm(gunicorn, url, body, key)

    answers = [requests.post(url, data=body, headers=headers, timeout=30) for _ in range(20)]

    expected = mf.pipeline_model().predict(frame).tolist()
    assert all(a.status_code == 200 and a.json()["predictions"] == expected for a in answers)

    def dropped() -> float:
        text = requests.get(f"{gunicorn.url}/metrics", timeout=10).text
        return _totals(text).get("modelgate_shadow_dropped_rows_total", 0.0)

    wait_for(lambda: dropped() >= 5 * 20, timeout=60, what="the failed shadow rows to be counted")
    assert ShadowResult.objects.count() == 0
    assert "shadow: staging of credit-risk could not score" in gunicorn.log_text()
