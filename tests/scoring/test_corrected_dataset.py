"""The corrected dataset of a model: labeled predictions with the inputs the model saw, as CSV
(safe in a spreadsheet) and Parquet for the team, and as the model's evaluation set."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from releases.models import AuditEvent, Stage
from scoring.services import ground_truth_write
from tests.factories import PredictionFactory
from tests.scoring.serving import logistic_numeric, serve

pytestmark = pytest.mark.django_db

URL = "/api/v1/models/credit-risk/corrected-dataset/"
USE = "/api/v1/models/credit-risk/corrected-dataset/evaluation-set/"


@pytest.fixture
def served(risk_model: Any, owner: Any) -> Any:
    return serve(risk_model, 1, model=logistic_numeric(), uploaded_by=owner,
                 stage=Stage.PRODUCTION, numeric_only=True)  # fmt: skip


def label(version: Any, inputs: dict[str, Any], truth: Any, predicted: Any = "stay") -> Any:
    prediction = PredictionFactory(model_version=version, inputs=inputs, prediction=predicted)
    return ground_truth_write(
        prediction=prediction, signature=version.signature, label=truth, source="queue",
        sampled=False, labeled_by="user:1",
    )  # fmt: skip


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_the_csv_has_the_signatures_features_in_order_and_the_label_last(
    api: Any, owner: Any, served: Any
) -> None:
    features = [f["name"] for f in served.signature["features"]]
    label(served, {"income": 51.5, "age": 30.0}, "churn")
    label(served, {"age": 44.0, "income": -3.25}, "stay")

    response = api(owner).get(URL, {"format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "credit-risk-corrected.csv" in response["Content-Disposition"]
    frame = pd.read_csv(io.BytesIO(body(response)))
    assert list(frame.columns) == [*features, "label"]
    assert sorted(frame.to_dict("records"), key=lambda r: r["age"]) == [
        {"age": 30.0, "income": 51.5, "label": "churn"},
        {"age": 44.0, "income": -3.25, "label": "stay"},  # negative numbers stay numbers
    ]


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    api: Any, owner: Any, risk_model: Any
) -> None:
    version = serve(risk_model, 1, model=logistic_numeric(), uploaded_by=owner,
                    stage=Stage.PRODUCTION)  # fmt: skip
    version.signature = {
        "task": "classification", "classes": ["=1+1", "ok"], "target": "outcome",
        "features": [{"name": "note", "type": "categorical"}, {"name": "x", "type": "numeric"}],
    }  # fmt: skip
    version.save()
    label(version, {"note": "=cmd|' /C calc'!A0", "x": -1.0}, "=1+1")
    label(version, {"note": "@SUM(A1:A2)", "x": 2.0}, "ok")

    text = body(api(owner).get(URL, {"format": "csv"})).decode()

    lines = text.splitlines()
    assert lines[0] == "note,x,outcome"
    assert "'=cmd|' /C calc'!A0" in text and "'@SUM(A1:A2)" in text
    assert ",'=1+1" in text
    assert not any(cell.startswith(("=", "@")) for line in lines for cell in line.split(","))
    assert ",-1.0," in text  # a negative number is not a formula


def test_parquet_download_has_typed_columns(api: Any, owner: Any, served: Any) -> None:
    label(served, {"income": 51.5, "age": 30.0}, "churn")
    label(served, {"income": 40.0, "age": None}, "stay")

    response = api(owner).get(URL, {"format": "parquet"})

    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(body(response)))
    assert table.schema.field("age").type == "double"
    assert table.schema.field("label").type == "string"
    rows = sorted(table.to_pylist(), key=lambda r: r["income"])
    assert rows == [
        {"age": None, "income": 40.0, "label": "stay"},
        {"age": 30.0, "income": 51.5, "label": "churn"},
    ]


def test_a_large_dataset_streams_in_row_groups(api: Any, owner: Any, served: Any) -> None:
    from scoring import corrected_dataset

    rows = (({"age": float(i), "income": 1.0}, "stay") for i in range(12_000))
    chunks = list(
        corrected_dataset.parquet_chunks(
            rows, signature=served.signature, features=["age", "income"], target="label"
        )
    )
    assert len(chunks) >= 3  # one piece per row group, then the footer
    table = pq.read_table(io.BytesIO(b"".join(chunks)))
    assert table.num_rows == 12_000


def test_an_unknown_format_is_a_400(api: Any, owner: Any, served: Any) -> None:
    response = api(owner).get(URL, {"format": "xlsx"})
    assert response.status_code == 400 and response.json()["field"] == "format"


def test_a_team_member_of_any_role_downloads_but_another_team_gets_404(
    api: Any, labeler: Any, outsider: Any, served: Any
) -> None:
    label(served, {"income": 51.5, "age": 30.0}, "churn")
    assert api(labeler).get(URL).status_code == 200
    assert api(outsider).get(URL).status_code == 404
    assert api(outsider).post(USE).status_code == 404
    assert api(None).get(URL).status_code == 401


def test_use_as_evaluation_set_makes_it_the_standing_set_and_is_audited(
    api: Any, reviewer: Any, served: Any, risk_model: Any
) -> None:
    for i in range(5):
        label(served, {"income": 40.0 + i * 5, "age": 30.0 + i}, "churn" if i % 2 else "stay")

    response = api(reviewer).post(USE)

    assert response.status_code == 201, response.json()
    assert response.json()["rows"] == 5 and response.json()["target"] == "label"
    risk_model.refresh_from_db()
    dataset = risk_model.evaluation_dataset
    assert dataset is not None and dataset.n_rows == 5
    assert dataset.columns == ["age", "income", "label"]
    event = AuditEvent.objects.get(action="model.evaluation_set")
    assert event.actor == reviewer and event.payload["source"] == "corrected_dataset"
    # No new label since: the same set, no second audit row.
    assert api(reviewer).post(USE).status_code == 201
    assert AuditEvent.objects.filter(action="model.evaluation_set").count() == 1


def test_a_labeler_may_download_but_not_change_the_evaluation_set(
    api: Any, labeler: Any, served: Any
) -> None:
    for i in range(3):
        label(served, {"income": 40.0 + i, "age": 30.0}, "stay")
    response = api(labeler).post(USE)
    assert response.status_code == 403


def test_too_few_labels_for_an_evaluation_set_is_a_409_saying_what_to_do(
    api: Any, owner: Any, served: Any
) -> None:
    label(served, {"income": 40.0, "age": 30.0}, "stay")
    response = api(owner).post(USE)
    assert response.status_code == 409 and "at least two" in response.json()["detail"]


def test_the_model_page_shows_live_accuracy_against_validation_and_the_dataset_links(
    client: Any, owner: Any, served: Any
) -> None:
    served.validation_report = {"evaluation": {"metrics": {"accuracy": 0.95}}}
    served.save()
    for i in range(10):
        prediction = PredictionFactory(model_version=served, inputs={"age": 1.0, "income": 2.0},
                                       prediction="stay")  # fmt: skip
        ground_truth_write(
            prediction=prediction, signature=served.signature,
            label="stay" if i < 7 else "churn", source="feedback", sampled=True,
            labeled_by="app:1",
        )  # fmt: skip
    client.force_login(owner)

    page = client.get("/models/credit-risk/").content.decode()

    assert "live accuracy <strong" in page
    assert "0.70</strong>" in page and "[0.40, 0.89]" in page and "from 10 labels" in page
    assert 'data-verdict="worse"' in page and "▼ worse" in page
    assert "?format=csv" in page and "?format=parquet" in page
    assert "Use as the evaluation set" in page
    download = client.get(f"{URL}?format=csv")  # the page's link, with the browser session
    assert download.status_code == 200 and body(download).count(b"\n") == 11


def test_the_page_button_replaces_the_evaluation_set(client: Any, owner: Any, served: Any) -> None:
    for i in range(3):
        label(served, {"income": 40.0 + i, "age": 30.0}, "stay" if i else "churn")
    client.force_login(owner)

    response = client.post("/models/credit-risk/corrected-dataset/use/", follow=True)

    assert response.status_code == 200
    assert "is now the evaluation set" in response.content.decode()
    served.registered_model.refresh_from_db()
    assert served.registered_model.evaluation_dataset.n_rows == 3
