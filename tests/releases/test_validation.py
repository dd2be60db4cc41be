"""The plain validation function: load under policy, signature, metrics (no Django, no broker)."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import sklearn
import skops
import skops.io as sio
from sklearn.datasets import load_diabetes, load_wine
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression

from releases.artifact_safety import UnsafeArtifact
from releases.models import VALIDATION_STAGES
from releases.validation import ValidationFailed, validate_artifact

LIMITS = {"max_uncompressed_bytes": 50 * 1024**2, "max_entries": 10_000}


def _dump(tmp_path, model, name="m.skops"):
    path = tmp_path / name
    sio.dump(model, path)
    return path


def test_regressor_is_measured_with_r2_mae_rmse(tmp_path):
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    path = _dump(tmp_path, RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y))
    stages: list[str] = []
    report = validate_artifact(
        path=path, artifact_format="skops", trusted=set(), evaluation=X.assign(y=y),
        target="y", on_stage=stages.append, **LIMITS,
    )  # fmt: skip
    assert report["signature"]["task"] == "regression"
    assert set(report["evaluation"]["metrics"]) == {"r2", "mae", "rmse", "mape"}
    assert report["evaluation"]["metrics"]["r2"] > 0.5
    assert stages == [
        "loading model", "reading signature", "evaluating", "computing slices",
        "measuring latency", "done",
    ]  # fmt: skip
    # What the version page draws: every stage reported is listed, in the same order.
    assert stages == [s for s in VALIDATION_STAGES if s in stages]


def test_multiclass_classifier_gets_accuracy_auc_and_log_loss(tmp_path):
    X, y = load_wine(return_X_y=True, as_frame=True)
    path = _dump(tmp_path, LogisticRegression(max_iter=5000).fit(X, y))
    report = validate_artifact(
        path=path, artifact_format="skops", trusted=set(), evaluation=X.assign(t=y), target="t",
        **LIMITS,
    )  # fmt: skip
    metrics = report["evaluation"]["metrics"]
    assert metrics["accuracy"] > 0.9
    assert {"f1_macro", "roc_auc", "log_loss"} <= set(metrics)
    assert report["signature"]["classes"] == [0, 1, 2]


def test_model_that_cannot_predict_on_the_data_fails_with_a_reason(tmp_path):
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, 1.0, 0.0, 1.0]})
    path = _dump(tmp_path, LogisticRegression().fit(X, [0, 1, 0, 1]))
    evaluation = pd.DataFrame({"a": ["x", "y"], "b": [1, 2], "t": [0, 1]})
    with pytest.raises(ValidationFailed, match="failed to predict on the evaluation data"):
        validate_artifact(
            path=path, artifact_format="skops", trusted=set(), evaluation=evaluation,
            target="t", **LIMITS,
        )  # fmt: skip


def test_untrusted_types_are_not_loaded_without_trust(tmp_path):
    from sklearn.neighbors import KNeighborsClassifier

    X = np.random.default_rng(0).normal(size=(20, 2))
    path = _dump(tmp_path, KNeighborsClassifier(algorithm="kd_tree").fit(X, X[:, 0] > 0))
    with pytest.raises(UnsafeArtifact) as info:
        validate_artifact(
            path=path, artifact_format="skops", trusted=set(), evaluation=None, target=None,
            **LIMITS,
        )  # fmt: skip
    assert info.value.code == "untrusted_type"
    trusted = {
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
    }
    report = validate_artifact(
        path=path, artifact_format="skops", trusted=trusted, evaluation=None, target=None, **LIMITS
    )
    assert report["evaluation"] is None


def test_onnx_model_is_loaded_and_evaluated(tmp_path):
    from skl2onnx import to_onnx

    X, y = load_wine(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(X.to_numpy(dtype=np.float32), y)
    onx = to_onnx(model, X.to_numpy(dtype=np.float32)[:1], options={"zipmap": False})
    path = tmp_path / "m.onnx"
    path.write_bytes(onx.SerializeToString())
    report = validate_artifact(
        path=path, artifact_format="onnx", trusted=set(), evaluation=X.assign(t=y), target="t",
        **LIMITS,
    )  # fmt: skip
    assert report["evaluation"]["metrics"]["accuracy"] > 0.9


# --- issue 8: errors the uploader can act on, strict JSON, flags ---------------------------


def _strict_json(report: dict) -> None:
    json.dumps(report, allow_nan=False)


def test_single_class_evaluation_target_stores_undefined_metrics_as_none_with_reasons(tmp_path):
    X, y = load_wine(return_X_y=True, as_frame=True)
    binary = (y == 0).astype(int)
    path = _dump(tmp_path, LogisticRegression(max_iter=5000).fit(X, binary))
    only_zeros = X[binary == 0].assign(t=0)
    report = validate_artifact(
        path=path, artifact_format="skops", trusted=set(), evaluation=only_zeros, target="t",
        **LIMITS,
    )  # fmt: skip
    _strict_json(report)
    evaluation = report["evaluation"]
    assert evaluation["metrics"]["roc_auc"] is None
    assert evaluation["undefined_metrics"]["roc_auc"] == "only one class in the evaluation target"
    assert evaluation["metrics"]["accuracy"] > 0.8


def test_one_row_regression_has_no_r2_and_the_report_is_strict_json(tmp_path):
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    path = _dump(tmp_path, RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y))
    report = validate_artifact(
        path=path, artifact_format="skops", trusted=set(), evaluation=X.head(1).assign(y=y[:1]),
        target="y", **LIMITS,
    )  # fmt: skip
    _strict_json(report)
    assert report["evaluation"]["metrics"]["r2"] is None
    assert "two evaluation rows" in report["evaluation"]["undefined_metrics"]["r2"]
    assert report["evaluation"]["metrics"]["mae"] >= 0


def test_library_versions_name_the_scikit_learn_the_model_was_saved_with(tmp_path):
    X, y = load_wine(return_X_y=True, as_frame=True)
    path = _dump(tmp_path, LogisticRegression(max_iter=5000).fit(X, y))
    report = validate_artifact(
        path=path, artifact_format="skops", trusted=set(), evaluation=None, target=None, **LIMITS
    )
    assert report["library_versions"]["scikit-learn"] == sklearn.__version__
    assert report["library_versions"]["skops"] == skops.__version__


def test_predict_failure_message_carries_no_exception_text(tmp_path):
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, 1.0, 0.0, 1.0]})
    path = _dump(tmp_path, LogisticRegression().fit(X, [0, 1, 0, 1]))
    evaluation = pd.DataFrame({"a": ["x", "y"], "b": [1, 2], "t": [0, 1]})
    with pytest.raises(ValidationFailed) as caught:
        validate_artifact(
            path=path, artifact_format="skops", trusted=set(), evaluation=evaluation,
            target="t", **LIMITS,
        )  # fmt: skip
    message = str(caught.value)
    assert "could not convert" not in message and "ValueError" not in message
    assert str(tmp_path) not in message


def test_a_file_holding_a_plain_list_is_refused_as_not_an_estimator(tmp_path):
    path = tmp_path / "list.skops"
    sio.dump([1, 2, 3], path)
    with pytest.raises(UnsafeArtifact) as caught:
        validate_artifact(
            path=path, artifact_format="skops", trusted=set(), evaluation=None, target=None,
            **LIMITS,
        )  # fmt: skip
    assert caught.value.code == "not_an_estimator"
    assert "not a model" in caught.value.message


def test_corrupt_skops_message_has_no_library_internals(tmp_path):
    X, y = load_wine(return_X_y=True, as_frame=True)
    path = _dump(tmp_path, LogisticRegression(max_iter=5000).fit(X, y))
    with zipfile.ZipFile(path) as archive:
        files = {i.filename: archive.read(i) for i in archive.infolist()}
    schema = json.loads(files["schema.json"])
    schema["content"]["content"]["coef_"]["type"] = "weird"
    files["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    with pytest.raises(UnsafeArtifact) as caught:
        validate_artifact(
            path=path, artifact_format="skops", trusted=set(), evaluation=None, target=None,
            **LIMITS,
        )  # fmt: skip
    assert caught.value.code == "corrupt"
    assert "weird" not in caught.value.message and "Error" not in caught.value.message


def test_vectorizer_file_read_is_refused_by_validation_with_policy_flags_on(tmp_path):
    from tests.releases import attack_files as af

    path = af.write(tmp_path, af.vectorizer_reading_files_bytes())
    secret = tmp_path / "secret.txt"
    secret.write_text("secret key")
    evaluation = pd.DataFrame({"text": [str(secret)], "t": [1]})
    with pytest.raises(UnsafeArtifact) as caught:
        validate_artifact(
            path=path, artifact_format="skops", trusted=set(), evaluation=evaluation,
            target="t", **LIMITS,
        )  # fmt: skip
    assert caught.value.code == "unsafe_parameter"


def _onnx_add_on_strings(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["X", "X"], ["Y"])],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.STRING, [None, 1])],
        [helper.make_tensor_value_info("Y", TensorProto.STRING, [None, 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def test_onnx_model_the_runtime_cannot_run_gets_a_sentence_not_the_runtime_error(tmp_path):
    with pytest.raises(UnsafeArtifact) as caught:
        validate_artifact(
            path=_onnx_add_on_strings(tmp_path), artifact_format="onnx", trusted=set(),
            evaluation=None, target=None, **LIMITS,
        )  # fmt: skip
    message = caught.value.message
    assert caught.value.code == "onnx_unsupported"
    assert "target opset" in message
    assert "Could not find an implementation" not in message and "[ONNXRuntimeError]" not in message
