"""The plain validation function: load under policy, signature, metrics (no Django, no broker)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
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
    assert set(report["evaluation"]["metrics"]) == {"r2", "mae", "rmse"}
    assert report["evaluation"]["metrics"]["r2"] > 0.5
    assert stages == ["loading model", "reading signature", "evaluating", "done"]
    assert tuple(stages) == VALIDATION_STAGES  # what the version page draws


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
