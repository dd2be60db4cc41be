"""The predict endpoints answer what the model itself says, for the version the stage holds,
only for approved intact versions, only to callers who may, and log every prediction."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import orjson
import pytest
from django.test import Client

from releases import services
from releases.models import ApiToken, Stage
from scoring.models import Prediction
from scoring.prediction_log import prediction_log
from tests.releases import model_files as mf
from tests.releases.releasing import tamper
from tests.scoring.serving import forest_model, logistic_numeric, serve

pytestmark = pytest.mark.django_db

URL = "/api/v1/models/credit-risk/predict/"


def key_for(user: Any) -> str:
    return ApiToken.objects.create(user=user)[1]


def post(url: str, body: Any, key: str | None, **extra: Any) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"} if key else {}
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return Client().post(url, raw, content_type="application/json", **headers, **extra)


def sample(n: int = 5) -> Any:
    frame, _ = mf.tabular()
    return frame.iloc[:n].reset_index(drop=True)


def bodies(frame: Any) -> dict[str, Any]:
    records = frame.to_dict("records")
    return {
        "instances": {"instances": records},
        "dataframe_records": {"dataframe_records": records},
        "dataframe_split": {
            "dataframe_split": {"columns": list(frame.columns), "data": frame.values.tolist()}
        },
    }


@pytest.mark.parametrize("fmt", ["instances", "dataframe_records", "dataframe_split"])
@pytest.mark.parametrize("which", ["pipeline", "forest"])
def test_every_body_format_answers_the_models_own_predict_and_predict_proba(
    risk_model: Any, owner: Any, fmt: str, which: str
) -> None:
    model = mf.pipeline_model() if which == "pipeline" else forest_model()
    serve(risk_model, 1, model=model, uploaded_by=owner, stage=Stage.PRODUCTION)
    frame = sample(8)

    response = post(URL, bodies(frame)[fmt], key_for(owner))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model"] == "credit-risk" and body["version"] == 1
    assert body["predictions"] == model.predict(frame).tolist()
    np.testing.assert_array_equal(np.array(body["probabilities"]), model.predict_proba(frame))
    assert body["classes"] == model.classes_.tolist()
    assert body["confidence"] == model.predict_proba(frame).max(axis=1).tolist()
    assert len(set(body["prediction_ids"])) == 8


def test_mlflow_clients_content_type_parameters_are_accepted(risk_model: Any, owner: Any) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    response = Client().post(
        URL, orjson.dumps(bodies(sample(2))["dataframe_split"]),
        content_type="application/json; format=pandas-split",
        HTTP_AUTHORIZATION=f"Token {key_for(owner)}",
    )  # fmt: skip
    assert response.status_code == 200, response.content


def test_a_numeric_model_and_a_version_url_answer_like_the_model(
    risk_model: Any, owner: Any
) -> None:
    model = logistic_numeric()
    serve(risk_model, 3, model=model, uploaded_by=owner, numeric_only=True)
    frame = sample(4)[mf.NUMERIC]

    response = post(
        "/api/v1/models/credit-risk/versions/3/predict/",
        {"instances": frame.to_dict("records")},
        key_for(owner),
    )

    assert response.status_code == 200, response.content
    assert response.json()["predictions"] == model.predict(frame).tolist()
    np.testing.assert_array_equal(response.json()["probabilities"], model.predict_proba(frame))


def test_staging_is_served_when_asked_and_production_by_default(
    risk_model: Any, owner: Any
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    serve(risk_model, 2, model=forest_model(), uploaded_by=owner, stage=Stage.STAGING)
    key, body = key_for(owner), bodies(sample(2))["instances"]

    assert post(URL, body, key).json()["version"] == 1
    assert post(URL + "?stage=staging", body, key).json()["version"] == 2
    assert post(URL + "?stage=canary", body, key).status_code == 404


def test_a_promotion_changes_what_is_served_without_a_restart(
    risk_model: Any, owner: Any, reviewer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    v2 = serve(risk_model, 2, model=forest_model(), uploaded_by=owner)
    key, body = key_for(owner), bodies(sample(2))["instances"]
    assert post(URL, body, key).json()["version"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        services.model_version_promote(actor=reviewer, model_version=v2, stage="production")

    assert post(URL, body, key).json()["version"] == 2


@pytest.mark.parametrize("status", ["validated", "rejected", "archived", "pending"])
def test_versions_that_are_not_approved_are_not_served(
    risk_model: Any, owner: Any, status: str
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, status=status)

    response = post(
        "/api/v1/models/credit-risk/versions/1/predict/", bodies(sample(1))["instances"],
        key_for(owner),
    )  # fmt: skip

    assert response.status_code == 409
    assert response.json()["error"] == "not_servable"
    assert status in response.json()["detail"]


def test_a_tampered_artifact_is_not_served(risk_model: Any, owner: Any) -> None:
    version = serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage="production")
    tamper(version)

    response = post(URL, bodies(sample(1))["instances"], key_for(owner))

    assert response.status_code == 409
    assert response.json()["error"] == "artifact_changed"


def test_a_version_approved_for_other_bytes_is_not_served(
    risk_model: Any, owner: Any, reviewer: Any
) -> None:
    from releases.models import Review

    version = serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage="production")
    Review.objects.create(
        model_version=version, reviewer=reviewer, decision="approve", artifact_sha256="0" * 64
    )

    response = post(URL, bodies(sample(1))["instances"], key_for(owner))

    assert response.status_code == 409


def test_missing_stage_unknown_version_and_unknown_model_are_404(
    risk_model: Any, owner: Any
) -> None:
    key, body = key_for(owner), bodies(sample(1))["instances"]
    assert post(URL, body, key).json()["error"] == "no_version_in_stage"
    assert post("/api/v1/models/credit-risk/versions/9/predict/", body, key).status_code == 404
    assert post("/api/v1/models/nope/predict/", body, key).status_code == 404


def test_people_outside_the_team_and_anonymous_callers_are_refused(
    risk_model: Any, owner: Any, outsider: Any
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage="production")
    body = bodies(sample(1))["instances"]

    assert post(URL, body, key_for(outsider)).status_code == 404
    assert post(URL, body, None).status_code == 401
    assert post(URL, body, "mg_not-a-real-key").status_code == 401


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"age": 30, "income": 1.0, "city": "nice"}, "instances[0].plan"),
        ({"age": "30", "income": 1.0, "city": "nice", "plan": "pro"}, "instances[0].age"),
        ({"age": 30, "income": 1.0, "city": "berlin", "plan": "pro"}, "instances[0].city"),
        ({"age": 30, "income": 1.0, "city": "nice", "plan": "pro", "x": 1}, "instances[0].x"),
    ],
)
def test_bad_rows_are_a_400_naming_the_field(
    risk_model: Any, owner: Any, row: dict[str, Any], field: str
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage="production")

    response = post(URL, {"instances": [row]}, key_for(owner))

    assert response.status_code == 400
    assert response.json()["field"] == field


def test_bad_bodies_are_4xx_and_never_500(risk_model: Any, owner: Any, settings: Any) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage="production")
    key = key_for(owner)
    row = b'{"age": 1, "income": NaN, "city": "nice", "plan": "pro"}'

    assert post(URL, b'{"instances": [' + row + b"]}", key).json()["field"] == "instances[0].income"
    assert post(URL, b'{"instances": [{"city": "\xff"}]}', key).status_code == 415
    assert post(URL, b"[" * 3000 + b"]" * 3000, key).status_code == 400
    assert post(URL, {"instances": []}, key).status_code == 400
    settings.MODELGATE_PREDICT_MAX_ROWS = 3
    assert post(URL, bodies(sample(4))["instances"], key).status_code == 413
    settings.MODELGATE_PREDICT_MAX_BODY_BYTES = 1024
    assert post(URL, {"instances": [{"age": "x" * 2000}]}, key).status_code == 413
    response = Client().post(
        URL, "age=1", content_type="text/csv", HTTP_AUTHORIZATION=f"Token {key}"
    )
    assert response.status_code == 415
    assert Client().get(URL, HTTP_AUTHORIZATION=f"Token {key}").status_code == 405
    latin = "application/json; charset=latin-1"
    assert post(URL, b"{}", key, CONTENT_TYPE=latin).status_code == 415


def test_prediction_ids_are_time_ordered_uuid7s_so_the_log_grows_at_its_end(
    risk_model: Any, owner: Any
) -> None:
    import time
    import uuid

    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage="production")
    key = key_for(owner)
    before_ms = time.time_ns() // 1_000_000
    first = [uuid.UUID(i) for i in post(URL, bodies(sample(5))["instances"], key).json()[
        "prediction_ids"
    ]]  # fmt: skip
    time.sleep(0.002)
    second = [uuid.UUID(i) for i in post(URL, bodies(sample(5))["instances"], key).json()[
        "prediction_ids"
    ]]  # fmt: skip
    after_ms = time.time_ns() // 1_000_000

    assert {i.version for i in first + second} == {7}
    assert {i.variant for i in first + second} == {uuid.RFC_4122}
    assert len(set(first + second)) == 10
    assert max(first) < min(second)  # a later request's rows sort after an earlier one's
    assert all(before_ms <= i.int >> 80 <= after_ms for i in first + second)
    prediction_log.flush()
    assert {p.request_id.version for p in Prediction.objects.all()} == {7}


def test_each_prediction_is_logged_with_its_id_inputs_and_outputs(
    risk_model: Any, owner: Any
) -> None:
    version = serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage="production")
    frame = sample(3)

    body = post(URL, bodies(frame)["dataframe_split"], key_for(owner)).json()
    assert Prediction.objects.count() == 0  # written off the request path
    prediction_log.flush()

    rows = {str(p.id): p for p in Prediction.objects.all()}
    assert list(rows) and set(rows) == set(body["prediction_ids"])
    first = rows[body["prediction_ids"][0]]
    assert first.model_version_id == version.pk and first.stage == "production"
    assert first.inputs == frame.iloc[0].to_dict()
    assert first.prediction == body["predictions"][0]
    assert first.probabilities == body["probabilities"][0]
    assert first.confidence == body["confidence"][0]
    assert first.caller == f"user:{owner.pk}" and first.user_id == owner.pk
    assert first.latency_ms > 0


def test_sampling_logs_only_a_share_of_requests(risk_model: Any, owner: Any, settings: Any) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage="production")
    settings.MODELGATE_PREDICTION_LOG_SAMPLE = 0.0

    body = post(URL, bodies(sample(2))["instances"], key_for(owner)).json()
    prediction_log.flush()

    assert body["logged"] is False and len(body["prediction_ids"]) == 2
    assert Prediction.objects.count() == 0


def test_a_full_buffer_drops_and_counts_instead_of_growing(
    risk_model: Any, owner: Any, settings: Any
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage="production")
    settings.MODELGATE_PREDICTION_LOG_MAX_ROWS = 4
    key = key_for(owner)

    assert "logged" not in post(URL, bodies(sample(3))["instances"], key).json()
    assert post(URL, bodies(sample(3))["instances"], key).json()["logged"] is False

    assert prediction_log.stats()["dropped"] == 3
    assert prediction_log.flush() == 3


def test_a_numeric_models_predictions_are_logged_with_their_inputs(
    risk_model: Any, owner: Any
) -> None:
    model = logistic_numeric()
    version = serve(risk_model, 1, model=model, uploaded_by=owner, numeric_only=True)
    frame = sample(3)[mf.NUMERIC]

    body = post(
        "/api/v1/models/credit-risk/versions/1/predict/",
        {"instances": frame.to_dict("records")},
        key_for(owner),
    ).json()
    assert prediction_log.flush() == 3

    logged = Prediction.objects.in_bulk(body["prediction_ids"])
    first = logged[uuid.UUID(body["prediction_ids"][0])]
    for i, prediction_id in enumerate(body["prediction_ids"]):
        row = logged[uuid.UUID(prediction_id)]
        assert row.model_version_id == version.pk and row.stage == ""
        assert row.inputs == frame.iloc[i].to_dict()
        assert row.prediction == body["predictions"][i]
        assert row.probabilities == body["probabilities"][i]
        assert row.confidence == body["confidence"][i]
        assert row.request_id == first.request_id
