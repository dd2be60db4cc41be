"""Validating a model version: load it under the safety policy, infer its signature, and measure
it on the evaluation set. Plain module: runs and is tested without Django or a broker."""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics

from releases.artifact_safety import (
    DEFAULT_MAX_SCHEMA_BYTES,
    check_onnx,
    describe_estimator,
    load_onnx,
    load_skops_with_scan,
)
from releases.signature import (
    check_evaluation_matches,
    infer_onnx_signature,
    infer_signature,
)

logger = logging.getLogger(__name__)


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
    max_schema_bytes: int = DEFAULT_MAX_SCHEMA_BYTES,
) -> dict[str, Any]:
    """Return the version's description, signature and evaluation metrics.

    The result always passes ``json.dumps(..., allow_nan=False)``: a metric that comes out NaN
    or infinite is None, with the reason under ``report["evaluation"]["undefined_metrics"]``.
    ``parameter_policy`` and ``structure_checks`` are True in production (only tests turn them
    off, to show the sandbox alone contains an attack); never derive them from user input.

    Raises `UnsafeArtifact` (refused by policy) or `ValidationFailed` (unusable as uploaded);
    both carry sentences for the uploader, never exception text or paths (details are logged).
    """
    on_stage("loading model")
    started = time.perf_counter()
    if artifact_format == "skops":
        loaded = load_skops_with_scan(
            path=path,
            trusted=trusted,
            max_uncompressed_bytes=max_uncompressed_bytes,
            max_entries=max_entries,
            max_schema_bytes=max_schema_bytes,
            parameter_policy=parameter_policy,
            structure_checks=structure_checks,
        )
        estimator = loaded.model
        description = describe_estimator(estimator)
        # sklearn's __setstate__ drops _sklearn_version from the loaded object: the schema has it.
        library_versions: dict[str, Any] = {
            "scikit-learn": loaded.scan.sklearn_version or "unknown",
            "skops": loaded.scan.skops_version or "unknown",
        }
        on_stage("reading signature")
        try:
            signature = infer_signature(estimator=estimator, evaluation=evaluation, target=target)
        except Exception as exc:  # the model's own attributes are the model's problem
            logger.warning("inferring the signature failed", exc_info=True)
            raise ValidationFailed(
                "ModelGate could not work out this model's inputs and outputs from its fitted "
                "attributes. Check that it is a fitted scikit-learn estimator or pipeline, "
                "save it again with `skops.io.dump` and upload it."
            ) from exc
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
        raise ValidationFailed("ModelGate does not know this model format.")
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
        return _json_ready(report)

    on_stage("evaluating")
    check_evaluation_matches(signature=signature, evaluation=evaluation)
    names = [f["name"] for f in signature["features"]]
    frame = evaluation.dropna(subset=[target])
    if frame.empty:
        raise ValidationFailed(
            f"No row of the evaluation CSV has a value in the target column {target!r}. Fill "
            "in the true values and upload it again."
        )
    X, y = frame[names], frame[target]
    try:
        started = time.perf_counter()
        y_pred, proba = predict(X)
        predict_seconds = time.perf_counter() - started
    except Exception as exc:  # any failure inside the model's own predict is the model's
        logger.warning("the model failed to predict on the evaluation data", exc_info=True)
        raise ValidationFailed(
            "The model failed to predict on the evaluation data. Check that the CSV's columns "
            "have the names and types the model was trained on (numbers where it expects "
            "numbers), and that the model predicts on a sample of that data on your machine."
        ) from exc
    values, undefined = _metrics(signature["task"], y, y_pred, proba, signature.get("classes"))
    report["evaluation"] = {
        "rows": len(frame),
        "metrics": values,
        "undefined_metrics": undefined,
        "predict_ms_per_row": round(1000 * predict_seconds / max(len(frame), 1), 4),
    }
    on_stage("done")
    return _json_ready(report)


def _json_ready(report: dict[str, Any]) -> dict[str, Any]:
    """Guarantee the report is strict JSON: a non-finite number anywhere becomes None."""
    try:
        json.dumps(report, allow_nan=False)
    except ValueError:
        report = _finite(report)
        json.dumps(report, allow_nan=False)
    return report


def _finite(value: Any) -> Any:
    # Bounded depth: the report's nesting is fixed and describe_estimator caps its own.
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


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


_NOT_FINITE = "the value is not a finite number for this evaluation set"


def _metrics(
    task: str, y: pd.Series, y_pred: Any, proba: Any, classes: list[Any] | None
) -> tuple[dict[str, float | None], dict[str, str]]:
    """Metric values (None when undefined) and, for each undefined one, the reason."""
    values: dict[str, float | None] = {}
    undefined: dict[str, str] = {}

    def record(name: str, compute: Callable[[], Any], reason: str | None = None) -> None:
        if reason is not None:
            values[name], undefined[name] = None, reason
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # UndefinedMetricWarning: we report it below
                number = float(compute())
        except (ValueError, TypeError, ZeroDivisionError, FloatingPointError):
            logger.info("metric %s is undefined", name, exc_info=True)
            values[name], undefined[name] = None, "it cannot be computed on this evaluation set"
            return
        if math.isfinite(number):
            values[name] = number
        else:
            values[name], undefined[name] = None, _NOT_FINITE

    if task == "regression":
        predictions = np.asarray(y_pred, dtype=float)
        if not np.isfinite(predictions).all():
            reason = "the model's predictions include NaN or infinite values"
            for name in ("r2", "mae", "rmse"):
                record(name, lambda: 0, reason)
            return values, undefined
        record(
            "r2",
            lambda: metrics.r2_score(y, predictions),
            "it needs at least two evaluation rows" if len(y) < 2 else None,
        )
        record("mae", lambda: metrics.mean_absolute_error(y, predictions))
        record("rmse", lambda: np.sqrt(metrics.mean_squared_error(y, predictions)))
        return values, undefined
    y_true = y.astype(str).to_numpy()
    y_hat = np.asarray(y_pred).astype(str)
    record("accuracy", lambda: metrics.accuracy_score(y_true, y_hat))
    record("f1_macro", lambda: metrics.f1_score(y_true, y_hat, average="macro", zero_division=0))
    if proba is not None and classes:
        labels = [str(c) for c in classes]
        single = "only one class in the evaluation target" if len(set(y_true)) < 2 else None
        if len(labels) == 2:
            record(
                "roc_auc",
                lambda: metrics.roc_auc_score((y_true == labels[1]).astype(int), proba[:, 1]),
                single,
            )
        else:
            record(
                "roc_auc",
                lambda: metrics.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels),
                single,
            )
        record("log_loss", lambda: metrics.log_loss(y_true, proba, labels=labels))
    return values, undefined
