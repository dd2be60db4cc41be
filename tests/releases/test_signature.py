"""Tests for releases.signature: inference, diffs and evaluation-CSV validation."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from releases.artifact_safety import OnnxInfo, OnnxTensorInfo
from releases.signature import (
    MAX_CATEGORIES,
    InvalidEvaluationData,
    check_evaluation_matches,
    diff_signatures,
    infer_onnx_signature,
    infer_signature,
    read_evaluation_csv,
)


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 90).astype(float),
            "city": rng.choice(["paris", "lyon", "nice"], 90),
            "plan": rng.choice(["basic", "pro"], 90),
            "income": rng.normal(50, 10, 90),
        }
    )
    frame["churn"] = np.where(frame["income"] > 50, "yes", "no")
    return frame


def _pipeline(frame: pd.DataFrame) -> Pipeline:
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income"]),
            ("city", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            (
                "plan",
                make_pipeline(SimpleImputer(strategy="most_frequent"), OrdinalEncoder()),
                ["plan"],
            ),
        ]
    )
    model = Pipeline([("pre", pre), ("model", LogisticRegression())])
    return model.fit(frame.drop(columns="churn"), frame["churn"])


def test_classifier_signature_has_feature_names_in_order_and_classes() -> None:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.iloc[:, [0, 1, 2, -1]]
    model = RandomForestClassifier(n_estimators=3, random_state=0)
    model.fit(frame.drop(columns="target"), frame["target"])

    signature = infer_signature(estimator=model, evaluation=frame, target="target")

    assert signature["task"] == "classification"
    assert signature["classes"] == [0, 1]
    assert all(isinstance(c, int) for c in signature["classes"])
    assert [f["name"] for f in signature["features"]] == list(frame.columns[:3])
    assert {f["type"] for f in signature["features"]} == {"numeric"}
    assert signature["target"] == "target"


def test_regressor_on_numpy_gets_positional_names_and_no_classes() -> None:
    x = np.random.default_rng(0).normal(size=(20, 3))
    model = LinearRegression().fit(x, x @ [1.0, 2.0, 3.0])

    signature = infer_signature(estimator=model, evaluation=None, target=None)

    assert signature == {
        "task": "regression",
        "features": [{"name": f"x{i}", "type": "numeric"} for i in range(3)],
        "target": None,
    }


def test_pipeline_without_evaluation_takes_categories_from_encoders(
    customers: pd.DataFrame,
) -> None:
    signature = infer_signature(estimator=_pipeline(customers), evaluation=None, target="churn")

    features = {f["name"]: f for f in signature["features"]}
    assert list(features) == ["age", "city", "plan", "income"]
    assert features["age"] == {"name": "age", "type": "numeric"}
    assert features["city"] == {
        "name": "city",
        "type": "categorical",
        "categories": ["lyon", "nice", "paris"],
    }
    assert features["plan"]["categories"] == ["basic", "pro"]
    assert signature["classes"] == ["no", "yes"]


def test_evaluation_values_are_merged_with_encoder_categories(customers: pd.DataFrame) -> None:
    evaluation = customers.copy()
    evaluation.loc[0, "city"] = "brest"
    evaluation.loc[1, "city"] = None

    signature = infer_signature(
        estimator=_pipeline(customers), evaluation=evaluation, target="churn"
    )

    city = next(f for f in signature["features"] if f["name"] == "city")
    assert city["categories"] == ["brest", "lyon", "nice", "paris"]


def test_string_columns_are_categorical_under_pandas_string_dtype() -> None:
    frame = pd.DataFrame({"colour": pd.array(["red", "blue", "red"], dtype="str"), "y": [1, 0, 1]})
    estimator = LogisticRegression()  # unfitted: falls back to the evaluation columns

    signature = infer_signature(estimator=estimator, evaluation=frame, target="y")

    assert signature["features"] == [
        {"name": "colour", "type": "categorical", "categories": ["blue", "red"]}
    ]


def test_categories_are_capped_and_marked_truncated() -> None:
    frame = pd.DataFrame({"id": [f"c{i:04d}" for i in range(300)], "y": [0, 1] * 150})

    signature = infer_signature(estimator=LogisticRegression(), evaluation=frame, target="y")

    feature = signature["features"][0]
    assert len(feature["categories"]) == MAX_CATEGORIES
    assert feature["categories_truncated"] is True
    assert feature["categories"] == sorted(feature["categories"])


def test_onnx_signature_expands_a_matrix_input() -> None:
    info = OnnxInfo(
        inputs=(OnnxTensorInfo(name="X", type="FLOAT", shape=(None, 3)),),
        outputs=(
            OnnxTensorInfo(name="label", type="INT64", shape=(None,)),
            OnnxTensorInfo(name="probabilities", type="FLOAT", shape=(None, 2)),
        ),
        opset={"ai.onnx": 17},
        ir_version=8,
        producer="skl2onnx",
    )

    signature = infer_onnx_signature(info=info)

    assert signature["task"] == "classification"
    assert [f["name"] for f in signature["features"]] == ["X_0", "X_1", "X_2"]
    assert {f["type"] for f in signature["features"]} == {"numeric"}


def _signature(
    *features: tuple[str, str], task: str = "classification", classes: list[str] | None = None
) -> dict:
    signature: dict = {
        "task": task,
        "features": [{"name": n, "type": t} for n, t in features],
        "target": "y",
    }
    if task == "classification":
        signature["classes"] = classes if classes is not None else ["no", "yes"]
    return signature


def test_diff_reports_added_removed_retyped_and_reordered_features() -> None:
    old = _signature(("a", "numeric"), ("b", "numeric"), ("c", "categorical"), ("d", "numeric"))
    new = _signature(("b", "numeric"), ("a", "numeric"), ("c", "numeric"), ("e", "numeric"))

    diff = diff_signatures(old=old, new=new)

    assert diff["added"] == ["e"]
    assert diff["removed"] == ["d"]
    assert diff["retyped"] == [{"name": "c", "from": "categorical", "to": "numeric"}]
    assert diff["reordered"] is True
    assert diff["task_changed"] is False
    assert diff["changed"] is True


def test_diff_reports_task_and_class_changes() -> None:
    old = _signature(("a", "numeric"), classes=["no", "yes"])
    new = _signature(("a", "numeric"), classes=["maybe", "yes"])
    regression = _signature(("a", "numeric"), task="regression")

    classes = diff_signatures(old=old, new=new)
    task = diff_signatures(old=old, new=regression)

    assert classes["classes_added"] == ["maybe"] and classes["classes_removed"] == ["no"]
    assert task["task_changed"] is True and task["classes_removed"] == ["no", "yes"]


def test_diff_of_identical_signatures_is_unchanged_and_first_version_is_all_added() -> None:
    signature = _signature(("a", "numeric"), ("b", "categorical"))

    same = diff_signatures(old=signature, new=signature)
    first = diff_signatures(old=None, new=signature)

    assert same["changed"] is False and not same["added"] and not same["reordered"]
    assert first["added"] == ["a", "b"] and first["changed"] is True


def _csv(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "eval.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_valid_csv_is_read_from_a_path_or_a_file(tmp_path: Path) -> None:
    text = "age,city,churn\n30,paris,yes\n41,lyon,no\n"

    from_path = read_evaluation_csv(path_or_file=_csv(tmp_path, text), target="churn")
    from_file = read_evaluation_csv(path_or_file=io.BytesIO(text.encode()), target="churn")

    pd.testing.assert_frame_equal(from_path, from_file)
    assert list(from_path.columns) == ["age", "city", "churn"] and len(from_path) == 2


@pytest.mark.parametrize(
    ("content", "kwargs", "expected"),
    [
        ("age,city\n30,paris\n", {}, r"no target column 'churn'.*Columns found: age, city"),
        ("", {}, "empty"),
        ("   \n", {}, "empty"),
        ("age,churn\n", {}, "no rows"),
        (b"\xff\xfe\x00\x01binary", {}, "UTF-8"),
        (b"PK\x03\x04\x00\x00", {}, "not a CSV"),
        ("a,b,churn\n" + "1,2,3\n" * 11, {"max_rows": 10}, "more than 10 rows"),
        (
            ",".join(f"c{i}" for i in range(6)) + ",churn\n" + "1," * 6 + "1\n",
            {"max_columns": 5},
            "7 columns",
        ),
        ("a,a,churn\n1,2,3\n", {}, "duplicate column names: a"),
        ("a,churn\n1,\n2,\n", {}, "empty in every row"),
        ('a,churn\n"1,2\n', {}, "could not be read as CSV"),
    ],
    ids=[
        "missing-target",
        "empty",
        "blank",
        "header-only",
        "undecodable",
        "binary",
        "too-many-rows",
        "too-many-columns",
        "duplicate-columns",
        "all-nan-target",
        "bad-quoting",
    ],
)
def test_unusable_csv_is_refused_with_what_to_fix(
    tmp_path: Path, content: str | bytes, kwargs: dict, expected: str
) -> None:
    with pytest.raises(InvalidEvaluationData, match=expected):
        read_evaluation_csv(path_or_file=_csv(tmp_path, content), target="churn", **kwargs)


def test_evaluation_missing_model_features_is_refused_naming_them(customers: pd.DataFrame) -> None:
    signature = infer_signature(estimator=_pipeline(customers), evaluation=None, target="churn")
    evaluation = customers.drop(columns=["city", "income"])

    with pytest.raises(InvalidEvaluationData, match="missing the model's features: city, income"):
        check_evaluation_matches(signature=signature, evaluation=evaluation)
    check_evaluation_matches(signature=signature, evaluation=customers)
