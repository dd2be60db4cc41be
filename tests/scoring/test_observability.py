"""Per model and version metrics on /metrics (Prometheus), who may scrape them, and access log
lines that carry neither keys nor payloads."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from releases.models import Stage
from tests.releases import model_files as mf
from tests.scoring.serving import serve
from tests.scoring.test_predict import URL, bodies, key_for, post, sample

pytestmark = pytest.mark.django_db


def scrape(**extra: Any) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """GET /metrics and parse it with prometheus-client's own parser: sample name → labels →
    value."""
    response = Client().get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for point in family.samples:
            samples.setdefault(point.name, {})[tuple(sorted(point.labels.items()))] = point.value
    return samples


def series(samples: Any, name: str, **labels: str) -> float:
    """The sum of ``name`` over the samples whose labels include ``labels``."""
    return sum(
        value for key, value in samples.get(name, {}).items() if set(labels.items()) <= set(key)
    )


def test_requests_errors_latency_and_rows_are_counted_per_model_and_version(
    risk_model: Any, owner: Any
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    key = key_for(owner)
    for _ in range(3):
        assert post(URL, bodies(sample(2))["instances"], key).status_code == 200
    assert post(URL, {"instances": [{"age": 1}]}, key).status_code == 400

    samples = scrape()
    mine = {"model": "credit-risk", "version": "1"}

    assert series(samples, "modelgate_requests_total", **mine) == 4
    assert series(samples, "modelgate_requests_total", status="200", **mine) == 3
    assert series(samples, "modelgate_requests_total", status="400", **mine) == 1
    assert series(samples, "modelgate_predictions_total", **mine) == 6
    assert series(samples, "modelgate_request_latency_seconds_count", **mine) == 4
    assert series(samples, "modelgate_request_latency_seconds_bucket", le="+Inf", **mine) == 4
    assert series(samples, "modelgate_request_latency_seconds_sum", **mine) > 0


def test_low_confidence_predictions_are_the_rows_below_the_threshold(
    risk_model: Any, owner: Any, settings: Any
) -> None:
    model = mf.pipeline_model()
    serve(risk_model, 1, model=model, uploaded_by=owner, stage=Stage.PRODUCTION)
    frame = sample(40)
    confidence = model.predict_proba(frame).max(axis=1)
    # A threshold inside the spread of this model's confidences, so some rows fall on each side.
    settings.MODELGATE_LOW_CONFIDENCE_THRESHOLD = float(np.median(confidence))
    expected = int((confidence < settings.MODELGATE_LOW_CONFIDENCE_THRESHOLD).sum())
    assert 0 < expected < len(frame)

    assert post(URL, bodies(frame)["instances"], key_for(owner)).status_code == 200

    samples = scrape()
    assert (
        series(samples, "modelgate_low_confidence_predictions_total", model="credit-risk")
        == expected
    )
    assert series(samples, "modelgate_predictions_total", model="credit-risk") == 40


def test_refused_requests_are_counted_without_minting_series_from_the_url(
    risk_model: Any, owner: Any
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    key = key_for(owner)
    for i in range(5):
        post(f"/api/v1/models/made-up-{i}/predict/", {"instances": []}, None)  # 401
        post(f"/api/v1/models/made-up-{i}/predict/", {"instances": []}, key)  # 404
        post(f"{URL}?stage=nope-{i}", {"instances": []}, key)  # 404
        post(f"/api/v1/models/credit-risk/versions/{900 + i}/predict/", {"x": 1}, key)  # 404

    samples = scrape()

    names = {dict(k)["model"] for k in samples["modelgate_requests_total"]}
    versions = {dict(k)["version"] for k in samples["modelgate_requests_total"]}
    assert names == {"-"} and versions == {"-"}
    assert series(samples, "modelgate_requests_total", status="401") == 5
    assert series(samples, "modelgate_requests_total", status="404") == 15


def test_metrics_are_refused_to_other_addresses(settings: Any) -> None:
    settings.MODELGATE_METRICS_ALLOW_IPS = ["127.0.0.1", "10.1.0.0/16"]

    assert Client().get("/metrics", REMOTE_ADDR="10.2.0.7").status_code == 403
    assert Client().get("/metrics", REMOTE_ADDR="::ffff:10.2.0.7").status_code == 403
    assert Client().get("/metrics", REMOTE_ADDR="10.1.4.4").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200


def test_with_a_token_set_even_an_allowed_address_must_send_it(settings: Any) -> None:
    settings.MODELGATE_METRICS_TOKEN = "scrape-secret"

    # Behind a proxy on the same host every request comes from 127.0.0.1: the token decides.
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secreT").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Token scrape-secret").status_code == 401
    assert scrape(HTTP_AUTHORIZATION="Bearer scrape-secret") is not None


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
