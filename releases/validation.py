"""Validating a model version: load it under the safety policy, infer its signature, and measure
it on the evaluation set. Plain module: runs and is tested without Django or a broker."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics

from releases.artifact_safety import (
    check_onnx,
    describe_estimator,
    load_onnx,
    load_skops,
)
from releases.signature import (
    check_evaluation_matches,
    infer_onnx_signature,
    infer_signature,
)


class ValidationFailed(Exception):
    """The model loaded (or not) but cannot be used as uploaded; the message says what to fix."""


def validate_artifact(
    *,
    path: Path,
    artifact_format: str,
    trusted: Collection[str],
    evaluation: pd.DataFrame | None,
    target: str | None,
    max_uncompressed_bytes: int,
    max_entries: int,
    on_stage: Callable[[str], None] = lambda stage: None,
    parameter_policy: bool = True,
    structure_checks: bool = True,
) -> dict[str, Any]:
    """Return the version's description, signature and evaluation metrics.

    Raises `UnsafeArtifact` (refused by policy) or `ValidationFailed` (unusable as uploaded).
    """
    on_stage("loading model")
    started = time.perf_counter()
    if artifact_format == "skops":
        estimator = load_skops(
            path=path,
            trusted=trusted,
            max_uncompressed_bytes=max_uncompressed_bytes,
            max_entries=max_entries,
        )
        description = describe_estimator(estimator)
        library_versions = {"scikit-learn": getattr(estimator, "_sklearn_version", "unknown")}
        on_stage("reading signature")
        signature = infer_signature(estimator=estimator, evaluation=evaluation, target=target)
        predict = _sklearn_predictor(estimator)
    elif artifact_format == "onnx":
        info = check_onnx(path=path)
        session = load_onnx(path=path)
        description = {"class": "onnx.ModelProto", "params": {}, "producer": info.producer}
        library_versions = {"onnx-producer": info.producer, "opsets": info.opset}
        on_stage("reading signature")
        signature = infer_onnx_signature(info=info)
        signature["target"] = target
        if len(info.inputs) == 1 and evaluation is not None and target:
            # One tensor input has positional features: name them after the CSV's columns.
            columns = [str(c) for c in evaluation.columns if c != target]
            if len(columns) == len(signature["features"]):
                for feature, column in zip(signature["features"], columns, strict=True):
                    feature["name"] = column
        predict = _onnx_predictor(session, signature)
    else:
        raise ValidationFailed(f"Unknown artifact format {artifact_format!r}.")
    load_seconds = time.perf_counter() - started

    report: dict[str, Any] = {
        "estimator_class": description.get("class", ""),
        "parameters": description.get("params", {}),
        "steps": description.get("steps", []),
        "library_versions": library_versions,
        "signature": signature,
        "load_seconds": round(load_seconds, 4),
    }
    if evaluation is None or target is None:
        report["evaluation"] = None
        on_stage("done")
        return report

    on_stage("evaluating")
    check_evaluation_matches(signature=signature, evaluation=evaluation)
    names = [f["name"] for f in signature["features"]]
    frame = evaluation.dropna(subset=[target])
    X, y = frame[names], frame[target]
    try:
        started = time.perf_counter()
        y_pred, proba = predict(X)
        predict_seconds = time.perf_counter() - started
    except Exception as exc:  # any failure inside the model's own predict is the model's
        raise ValidationFailed(
            f"The model failed to predict on the evaluation data ({type(exc).__name__}: "
            f"{str(exc)[:300]}). Check that the CSV's columns have the types the model was "
            "trained on."
        ) from exc
    report["evaluation"] = {
        "rows": len(frame),
        "metrics": _metrics(signature["task"], y, y_pred, proba, signature.get("classes")),
        "predict_ms_per_row": round(1000 * predict_seconds / max(len(frame), 1), 4),
    }
    on_stage("done")
    return report


def _sklearn_predictor(estimator: Any) -> Callable[[pd.DataFrame], tuple[Any, Any]]:
    def predict(X: pd.DataFrame) -> tuple[Any, Any]:
        y_pred = estimator.predict(X)
        proba = estimator.predict_proba(X) if hasattr(estimator, "predict_proba") else None
        return y_pred, proba

    return predict


def _onnx_predictor(session: Any, signature: dict[str, Any]) -> Callable[..., tuple[Any, Any]]:
    inputs = session.get_inputs()

    def predict(X: pd.DataFrame) -> tuple[Any, Any]:
        if len(inputs) == 1:
            feed = {inputs[0].name: X.to_numpy(dtype=np.float32)}
        else:
            feed = {
                i.name: X[[i.name]].to_numpy(
                    dtype=np.float32 if "float" in i.type else np.int64 if "int" in i.type else str
                )
                for i in inputs
            }
        outputs = session.run(None, feed)
        proba = None
        if len(outputs) > 1 and isinstance(outputs[1], list):
            classes = signature.get("classes") or sorted(outputs[1][0])
            proba = np.array([[row.get(c, 0.0) for c in classes] for row in outputs[1]])
        elif len(outputs) > 1:
            proba = np.asarray(outputs[1])
        return np.asarray(outputs[0]).ravel(), proba

    return predict


def _metrics(
    task: str, y: pd.Series, y_pred: Any, proba: Any, classes: list[Any] | None
) -> dict[str, float]:
    if task == "regression":
        return {
            "r2": float(metrics.r2_score(y, y_pred)),
            "mae": float(metrics.mean_absolute_error(y, y_pred)),
            "rmse": float(np.sqrt(metrics.mean_squared_error(y, y_pred))),
        }
    y_true = y.astype(str).to_numpy()
    y_hat = np.asarray(y_pred).astype(str)
    out = {
        "accuracy": float(metrics.accuracy_score(y_true, y_hat)),
        "f1_macro": float(metrics.f1_score(y_true, y_hat, average="macro", zero_division=0)),
    }
    if proba is not None and classes:
        labels = [str(c) for c in classes]
        try:
            if len(labels) == 2:
                out["roc_auc"] = float(
                    metrics.roc_auc_score((y_true == labels[1]).astype(int), proba[:, 1])
                )
            else:
                out["roc_auc"] = float(
                    metrics.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels)
                )
            out["log_loss"] = float(metrics.log_loss(y_true, proba, labels=labels))
        except ValueError:
            pass  # a class missing from the evaluation sample: AUC is undefined, not an error
    return out
