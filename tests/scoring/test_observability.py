"""Per model and version counters for the monitoring work, and access log lines that carry
neither keys nor payloads."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from releases.models import Stage
from scoring import metrics
from tests.releases import model_files as mf
from tests.scoring.serving import serve
from tests.scoring.test_predict import URL, bodies, key_for, post, sample

pytestmark = pytest.mark.django_db


def test_requests_errors_and_latency_are_counted_per_model_and_version(
    risk_model: Any, owner: Any
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    key = key_for(owner)
    for _ in range(3):
        assert post(URL, bodies(sample(2))["instances"], key).status_code == 200
    assert post(URL, {"instances": [{"age": 1}]}, key).status_code == 400

    series = {(s["model"], s["version"]): s for s in metrics.snapshot()}[("credit-risk", "1")]

    assert series["requests"] == 4 and series["rows"] == 6
    assert series["errors"] == {400: 1}
    assert series["latency_seconds_bucket"]["+Inf"] == 4
    assert series["latency_seconds_sum"] > 0


def test_access_log_lines_carry_no_key_and_no_payload(
    risk_model: Any, owner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    key = key_for(owner)
    row = {"age": 42.0, "income": 12345.678, "city": "nice", "plan": "pro"}

    with caplog.at_level(logging.INFO, logger="modelgate.access"):
        post(URL, {"instances": [row]}, key)

    lines = [r.getMessage() for r in caplog.records if r.name == "modelgate.access"]
    assert len(lines) == 1 and "status=200" in lines[0] and "model=credit-risk" in lines[0]
    assert key not in lines[0] and key[:15] not in lines[0]
    assert "12345.678" not in lines[0] and "nice" not in lines[0]


def test_an_app_token_may_call_v2_infer_on_its_model(
    api: Any, reviewer: Any, owner: Any, risk_model: Any
) -> None:
    from tests.scoring.test_v2 import infer, per_feature

    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    app_key = (
        api(reviewer)
        .post("/api/v1/models/credit-risk/app-tokens/", {"name": "svc"}, format="json")
        .json()["key"]
    )

    response = infer({"inputs": per_feature(sample(2))}, app_key)

    assert response.status_code == 200
    assert (
        api(None).get("/v2/models/credit-risk", HTTP_AUTHORIZATION=f"Token {app_key}").status_code
        == 200
    )
