"""Open Inference Protocol v2: raw JSON as the spec writes it, and Triton's own HTTP client."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from django.test import Client

from releases.models import ApiToken, Stage
from tests.releases import model_files as mf
from tests.scoring.serving import logistic_numeric, serve
from tests.scoring.test_predict import sample

INFER = "/v2/models/credit-risk/infer"


def per_feature(frame: Any) -> list[dict[str, Any]]:
    tensors = []
    for name in frame.columns:
        numeric = name in mf.NUMERIC
        tensors.append(
            {
                "name": name,
                "shape": [len(frame), 1],
                "datatype": "FP64" if numeric else "BYTES",
                "data": frame[name].tolist(),
            }
        )
    return tensors


def infer(body: Any, key: str, url: str = INFER) -> Any:
    return Client().post(
        url, orjson.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Token {key}"
    )


@pytest.fixture
def key(owner: Any) -> str:
    return ApiToken.objects.create(user=owner)[1]


@pytest.mark.django_db
def test_health_answers_without_a_token() -> None:
    assert Client().get("/v2/health/live").json() == {"live": True}
    assert Client().get("/v2/health/ready").status_code == 200


@pytest.mark.django_db
def test_infer_with_one_input_per_feature_answers_like_the_model(
    risk_model: Any, owner: Any, key: str
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    frame = sample(6)

    response = infer({"id": "req-7", "inputs": per_feature(frame)}, key)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == "req-7" and body["model_name"] == "credit-risk"
    assert body["model_version"] == "1"
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["predict"]["data"] == mf.pipeline_model().predict(frame).tolist()
    assert outputs["predict_proba"]["shape"] == [6, 2]
    np.testing.assert_array_equal(
        np.array(outputs["predict_proba"]["data"]).reshape(6, 2),
        mf.pipeline_model().predict_proba(frame),
    )


@pytest.mark.django_db
def test_an_all_numeric_model_takes_one_2d_input_and_outputs_can_be_chosen(
    risk_model: Any, owner: Any, key: str
) -> None:
    serve(risk_model, 2, model=logistic_numeric(), uploaded_by=owner, numeric_only=True)
    frame = sample(4)[mf.NUMERIC]
    body = {
        "inputs": [
            {"name": "input-0", "shape": [4, 2], "datatype": "FP32", "data": frame.values.tolist()}
        ],
        "outputs": [{"name": "predict"}],
    }

    response = infer(body, key, "/v2/models/credit-risk/versions/2/infer")

    assert response.status_code == 200, response.content
    assert [o["name"] for o in response.json()["outputs"]] == ["predict"]
    assert response.json()["outputs"][0]["data"] == logistic_numeric().predict(frame).tolist()


@pytest.mark.django_db
def test_metadata_lists_inputs_with_datatypes_and_shapes(
    risk_model: Any, owner: Any, key: str
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")

    meta = client.get("/v2/models/credit-risk").json()

    assert meta["name"] == "credit-risk" and meta["versions"] == ["1"]
    assert meta["inputs"] == [
        {"name": "age", "datatype": "FP64", "shape": [-1, 1]},
        {"name": "income", "datatype": "FP64", "shape": [-1, 1]},
        {"name": "city", "datatype": "BYTES", "shape": [-1, 1]},
        {"name": "plan", "datatype": "BYTES", "shape": [-1, 1]},
    ]
    assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
    assert client.get("/v2/models/credit-risk/ready").json()["ready"] is True
    assert client.get("/v2/models/credit-risk/versions/9/ready").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda t: t[0].update(datatype="BYTES"), "inputs[0].datatype"),
        (lambda t: t[2].update(datatype="FP32"), "inputs[2].datatype"),
        (lambda t: t[0].update(data=["x", 1, 2]), "inputs[0].data[0] (age)"),
        (lambda t: t[0].update(name="zip"), "inputs[0].name"),
        (lambda t: t.pop(), "inputs.plan"),
        (lambda t: t[0].update(shape=[2, 1]), "inputs[0].data"),
        (lambda t: t[2].update(data=["berlin", "nice", "lyon"]), "inputs[2].data[0] (city)"),
    ],
)
def test_bad_inputs_are_a_400_with_an_error_naming_the_field(
    risk_model: Any, owner: Any, key: str, change: Any, field: str
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    tensors = per_feature(sample(3))
    change(tensors)

    response = infer({"inputs": tensors}, key)

    assert response.status_code == 400, response.content
    assert isinstance(response.json()["error"], str) and response.json()["field"] == field


@pytest.mark.django_db
def test_unservable_and_unauthorised_requests_are_errors_in_the_protocols_shape(
    risk_model: Any, owner: Any, outsider: Any, key: str
) -> None:
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, status="rejected")
    tensors = per_feature(sample(1))

    rejected = infer({"inputs": tensors}, key, "/v2/models/credit-risk/versions/1/infer")
    assert rejected.status_code == 409 and "rejected" in rejected.json()["error"]
    other = ApiToken.objects.create(user=outsider)[1]
    assert infer({"inputs": tensors}, other).status_code == 404
    assert Client().post(INFER, b"{}", content_type="application/json").status_code == 401


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_reads_metadata_and_infers(
    live_server: Any, risk_model: Any, owner: Any, binary: bool
) -> None:
    import tritonclient.http as httpclient

    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    key = ApiToken.objects.create(user=owner)[1]
    headers = {"Authorization": f"Token {key}"}
    client = httpclient.InferenceServerClient(url=live_server.url.removeprefix("http://"))
    frame = sample(5)

    assert client.is_server_live()
    assert client.is_model_ready("credit-risk", headers=headers)
    meta = client.get_model_metadata("credit-risk", headers=headers)
    assert [i["name"] for i in meta["inputs"]] == ["age", "income", "city", "plan"]

    inputs = []
    for spec in meta["inputs"]:
        column = frame[spec["name"]].to_numpy()
        array = (
            column.astype(np.float64) if spec["datatype"] == "FP64" else column.astype(object)
        ).reshape(-1, 1)
        tensor = httpclient.InferInput(spec["name"], list(array.shape), spec["datatype"])
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    result = client.infer("credit-risk", inputs, headers=headers, request_id="abc")

    labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("predict")]
    assert labels == mf.pipeline_model().predict(frame).tolist()
    np.testing.assert_array_equal(
        result.as_numpy("predict_proba"), mf.pipeline_model().predict_proba(frame)
    )
    assert result.get_response()["id"] == "abc"
