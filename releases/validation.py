"""Validating a model version: load it under the safety policy, infer its signature, and measure
it on the evaluation set. Plain module: runs and is tested without Django or a broker."""

from __future__ import annotations

import json
import logging
import math
import resource
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from releases import evaluation as evaluation_module
from releases.artifact_safety import (
    DEFAULT_MAX_SCHEMA_BYTES,
    UnsafeArtifact,
    check_onnx,
    describe_estimator,
    load_skops_with_scan,
)
from releases.sandbox.child_inputs import load_onnx_in_child
from releases.signature import (
    InvalidEvaluationData,
    check_evaluation_matches,
    infer_onnx_signature,
    infer_signature,
)

logger = logging.getLogger(__name__)


class ValidationFailed(Exception):
    """The model loaded (or not) but cannot be used as uploaded; the message says what to fix."""


@dataclass
class ProductionArtifact:
    """The version in production, loaded in the same child under the same policies (with its own
    trusted types) so champion and challenger predict on the same rows."""

    path: Path
    artifact_format: str
    trusted: Collection[str]
    version: int


@dataclass
class _Loaded:
    description: dict[str, Any]
    library_versions: dict[str, Any]
    signature: dict[str, Any]
    predict: Callable[[pd.DataFrame], tuple[Any, Any]]
    serve: Callable[[pd.DataFrame], Any]
    serve_method: str
    model: Any = None  # the scikit-learn estimator (None for ONNX uploads)


# Latency: repetitions per batch size, and the most time the whole measurement may take.
LATENCY_SINGLE_REPEATS = 50
LATENCY_BATCH_REPEATS = 20
LATENCY_BATCH_ROWS = 100
LATENCY_BUDGET_SECONDS = 10.0
PRODUCTION_LATENCY_REPEATS = 20


class _Stages:
    """Reports each stage through ``on_stage`` and records how long each one took."""

    def __init__(self, on_stage: Callable[[str], None]) -> None:
        self.on_stage = on_stage
        self.timings: dict[str, float] = {}
        self._current: str | None = None
        self._started = time.perf_counter()

    def enter(self, stage: str) -> None:
        now = time.perf_counter()
        if self._current is not None:
            self.timings[self._current] = round(
                self.timings.get(self._current, 0.0) + now - self._started, 4
            )
        self._current, self._started = stage, now
        self.on_stage(stage)


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
    production: ProductionArtifact | None = None,
    measure_latency: bool = True,
    disagreements: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the version's description, signature, evaluation, comparison and serving cost.

    The model predicts on the evaluation rows once; metrics, curves, slices and the comparison
    all reuse those predictions. With ``production``, the production artifact is loaded under
    the same policies and predicts on the same rows; when they disagree and ``disagreements`` is
    given, it receives the disagreeing row positions and both predictions (numpy arrays).

    The result always passes ``json.dumps(..., allow_nan=False)``: a metric that comes out NaN
    or infinite is None, with the reason under ``report["evaluation"]["undefined_metrics"]``.
    ``parameter_policy`` and ``structure_checks`` are True in production (only tests turn them
    off, to show the sandbox alone contains an attack); never derive them from user input.

    Raises `UnsafeArtifact` (refused by policy) or `ValidationFailed` (unusable as uploaded);
    both carry sentences for the uploader, never exception text or paths (details are logged).
    """
    stages = _Stages(on_stage)
    stages.enter("loading model")
    policy: dict[str, Any] = {
        "max_uncompressed_bytes": max_uncompressed_bytes,
        "max_entries": max_entries,
        "max_schema_bytes": max_schema_bytes,
        "parameter_policy": parameter_policy,
        "structure_checks": structure_checks,
    }
    started = time.perf_counter()
    loaded = _load(
        path=path, artifact_format=artifact_format, trusted=trusted, evaluation=evaluation,
        target=target, stages=stages, **policy,
    )  # fmt: skip
    signature = loaded.signature
    load_seconds = time.perf_counter() - started

    report: dict[str, Any] = {
        "estimator_class": loaded.description.get("class", ""),
        "parameters": loaded.description.get("params", {}),
        "steps": loaded.description.get("steps", []),
        "library_versions": loaded.library_versions,
        "signature": signature,
        "load_seconds": round(load_seconds, 4),
        "cost": {
            "artifact_bytes": path.stat().st_size,
            "load_seconds": round(load_seconds, 4),
            "peak_memory_mb": _max_rss_mb(),
            "memory_method": _MEMORY_METHOD,
            # Filled in by the latency stage; stays unmeasured without evaluation rows.
            "latency_ms": {
                "single_row": {"p50": None, "p99": None, "n": 0},
                "batch_100": {"p50": None, "p99": None, "n": 0},
            },
        },
        "comparison": None,
    }
    if evaluation is None or target is None:
        report["evaluation"] = None
        stages.enter("done")
        report["timings"] = stages.timings
        return _json_ready(report)

    stages.enter("evaluating")
    check_evaluation_matches(signature=signature, evaluation=evaluation)
    names = [f["name"] for f in signature["features"]]
    frame = evaluation.dropna(subset=[target])
    if frame.empty:
        raise ValidationFailed(
            f"No row of the evaluation CSV has a value in the target column {target!r}. Fill "
            "in the true values and upload it again."
        )
    X, y = frame[names], frame[target]
    rss_before = _max_rss_mb()
    try:
        started = time.perf_counter()
        y_pred, proba = loaded.predict(X)
        predict_seconds = time.perf_counter() - started
    except Exception as exc:  # any failure inside the model's own predict is the model's
        logger.warning("the model failed to predict on the evaluation data", exc_info=True)
        raise ValidationFailed(
            "The model failed to predict on the evaluation data. Check that the CSV's columns "
            "have the names and types the model was trained on (numbers where it expects "
            "numbers), and that the model predicts on a sample of that data on your machine."
        ) from exc
    predicted = np.asarray(y_pred)
    if predicted.shape[:1] != (len(frame),) or (predicted.ndim > 1 and predicted.shape[1] > 1):
        raise ValidationFailed(
            f"The model returned predictions of shape {predicted.shape} for {len(frame)} rows; "
            "ModelGate measures models that predict one value per row."
        )
    peak = _max_rss_mb()
    report["cost"]["peak_memory_mb"] = peak
    report["cost"]["predict_memory_delta_mb"] = round(max(peak - rss_before, 0.0), 2)
    classes = signature.get("classes")
    task = evaluation_module.task_of(signature["task"], classes)
    candidate = evaluation_module.Predictions(y_pred=predicted.ravel(), proba=_proba(proba))
    result = evaluation_module.evaluate(
        task=task, features=X, y=y, predictions=candidate, classes=classes, on_stage=stages.enter
    )
    result["predict_ms_per_row"] = round(1000 * predict_seconds / max(len(frame), 1), 4)
    report["evaluation"] = result

    production_serve = None
    if production is not None:
        stages.enter("comparing with production")
        comparison, comparison_error, production_serve = _compare_with_production(
            production=production, evaluation=evaluation, frame=frame, target=target,
            X=X, y=y, task=task, candidate=candidate, candidate_metrics=result["metrics"],
            policy=policy, disagreements=disagreements,
        )  # fmt: skip
        report["comparison"] = comparison
        if comparison_error:
            report["comparison_error"] = comparison_error

    if measure_latency:
        stages.enter("measuring latency")
        report["cost"]["latency_ms"] = _latency(loaded.serve, X)
        report["cost"]["latency_method"] = loaded.serve_method
        if report["comparison"] is not None and production_serve is not None:
            prod_latency = _latency(production_serve, X, single=PRODUCTION_LATENCY_REPEATS, batch=0)
            cand_p50 = report["cost"]["latency_ms"]["single_row"]["p50"]
            prod_p50 = prod_latency["single_row"]["p50"]
            report["comparison"]["latency_delta_ms"] = (
                round(cand_p50 - prod_p50, 4) if cand_p50 is not None and prod_p50 is not None
                else None
            )  # fmt: skip
            report["comparison"]["production_latency_ms"] = prod_latency["single_row"]
    stages.enter("done")
    report["timings"] = stages.timings
    return _json_ready(report)


_MEMORY_METHOD = (
    "resource.getrusage(RUSAGE_SELF).ru_maxrss: the validation process's peak resident memory, "
    "including the loaded model"
)


def _max_rss_mb() -> float:
    # Linux reports ru_maxrss in kilobytes.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 2)


def _proba(proba: Any) -> np.ndarray | None:
    if proba is None:
        return None
    array = np.asarray(proba, dtype=float)
    return array if array.ndim == 2 else None


def _load(
    *,
    path: Path,
    artifact_format: str,
    trusted: Collection[str],
    evaluation: pd.DataFrame | None,
    target: str | None,
    stages: _Stages | None,
    max_uncompressed_bytes: int,
    max_entries: int,
    max_schema_bytes: int,
    parameter_policy: bool,
    structure_checks: bool,
) -> _Loaded:
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
        if stages is not None:
            stages.enter("reading signature")
        try:
            signature = infer_signature(estimator=estimator, evaluation=evaluation, target=target)
        except Exception as exc:  # the model's own attributes are the model's problem
            logger.warning("inferring the signature failed", exc_info=True)
            raise ValidationFailed(
                "ModelGate could not work out this model's inputs and outputs from its fitted "
                "attributes. Check that it is a fitted scikit-learn estimator or pipeline, "
                "save it again with `skops.io.dump` and upload it."
            ) from exc
        has_proba = hasattr(estimator, "predict_proba") and signature["task"] == "classification"
        return _Loaded(
            description=description,
            library_versions=library_versions,
            signature=signature,
            predict=_sklearn_predictor(estimator),
            serve=estimator.predict_proba if has_proba else estimator.predict,
            serve_method="predict_proba" if has_proba else "predict",
            model=estimator,
        )
    if artifact_format == "onnx":
        info = check_onnx(path=path)
        session = load_onnx_in_child(path=path)
        if stages is not None:
            stages.enter("reading signature")
        signature = infer_onnx_signature(info=info)
        signature["target"] = target
        if len(info.inputs) == 1 and evaluation is not None and target:
            # One tensor input has positional features: name them after the CSV's columns.
            columns = [str(c) for c in evaluation.columns if c != target]
            if len(columns) == len(signature["features"]):
                for feature, column in zip(signature["features"], columns, strict=True):
                    feature["name"] = column
        predict = _onnx_predictor(session, signature)
        return _Loaded(
            description={"class": "onnx.ModelProto", "params": {}, "producer": info.producer},
            library_versions={"onnx-producer": info.producer, "opsets": info.opset},
            signature=signature,
            predict=predict,
            serve=predict,
            serve_method="onnxruntime session.run",
        )
    raise ValidationFailed("ModelGate does not know this model format.")


def _compare_with_production(
    *,
    production: ProductionArtifact,
    evaluation: pd.DataFrame,
    frame: pd.DataFrame,
    target: str,
    X: pd.DataFrame,
    y: pd.Series,
    task: str,
    candidate: evaluation_module.Predictions,
    candidate_metrics: dict[str, float | None],
    policy: dict[str, Any],
    disagreements: dict[str, Any] | None,
) -> tuple[dict[str, Any] | None, str | None, Callable[[pd.DataFrame], Any] | None]:
    """The comparison section (or None and the reason it could not be made) and the production
    model's predict function for the latency stage. The candidate's report never fails because
    of the production version."""
    try:
        champion = _load(
            path=production.path, artifact_format=production.artifact_format,
            trusted=production.trusted, evaluation=evaluation, target=target, stages=None,
            **policy,
        )  # fmt: skip
    except (UnsafeArtifact, ValidationFailed, InvalidEvaluationData) as exc:
        logger.warning("the production version could not be loaded: %s", exc)
        return (
            None,
            (
                f"The production version (v{production.version}) could not be loaded under the "
                "current policies, so there is no comparison."
            ),
            None,
        )
    names = [f["name"] for f in champion.signature["features"]]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        return (
            None,
            (
                f"The production version (v{production.version}) needs columns the evaluation set "
                f"lacks ({', '.join(missing[:10])}), so there is no comparison."
            ),
            None,
        )
    prod_task = evaluation_module.task_of(
        champion.signature["task"], champion.signature.get("classes")
    )
    if (prod_task == "regression") != (task == "regression"):
        return (
            None,
            (
                f"The production version (v{production.version}) solves a different task "
                f"({champion.signature['task']}), so there is no comparison."
            ),
            None,
        )
    try:
        y_pred, proba = champion.predict(frame[names])
    except Exception:  # the production model's own failure
        logger.warning("the production version failed to predict", exc_info=True)
        return (
            None,
            (
                f"The production version (v{production.version}) failed to predict on this "
                "evaluation set, so there is no comparison."
            ),
            None,
        )
    prod = evaluation_module.Predictions(y_pred=np.asarray(y_pred), proba=_proba(proba))
    if task == "regression":
        prod_metrics, _ = evaluation_module.regression_metrics(
            evaluation_module.numeric_target(y), np.asarray(prod.y_pred, dtype=float).ravel()
        )
    else:
        enc = evaluation_module.encode_labels(y, prod.y_pred, champion.signature.get("classes"))
        prod_metrics, _ = evaluation_module.classification_metrics(enc, prod.proba)
    section, positions = evaluation_module.compare(
        task=task, features=X, y=y, candidate=candidate, production=prod,
        candidate_metrics=candidate_metrics, production_metrics=prod_metrics,
    )  # fmt: skip
    section = {"against_version": production.version, **section, "latency_delta_ms": None}
    if disagreements is not None and len(positions):
        disagreements["positions"] = positions.astype(np.int64)
        disagreements["candidate"] = _plain(candidate.y_pred[positions])
        disagreements["production"] = _plain(prod.y_pred[positions])
    return section, None, champion.serve


def _plain(values: Any) -> np.ndarray:
    """Predictions as an array numpy saves without pickle (numbers or fixed-width text)."""
    array = np.asarray(values).ravel()
    if array.dtype.kind in "biuf":
        return array
    return np.asarray([str(v) for v in array], dtype=str)


def _percentiles(samples: list[float]) -> dict[str, float | None]:
    if not samples:
        return {"p50": None, "p99": None, "n": 0}
    array = np.asarray(samples) * 1000
    return {
        "p50": round(float(np.percentile(array, 50)), 4),
        "p99": round(float(np.percentile(array, 99)), 4),
        "n": len(samples),
    }


def _latency(
    serve: Callable[[pd.DataFrame], Any],
    X: pd.DataFrame,
    *,
    single: int = LATENCY_SINGLE_REPEATS,
    batch: int = LATENCY_BATCH_REPEATS,
) -> dict[str, Any]:
    """Predict latency on one row and on LATENCY_BATCH_ROWS rows (p50 and p99 in ms), the way a
    server would call the model: rows drawn from the evaluation set, each call timed alone.
    Stops early when the budget runs out (at least a few calls each)."""
    deadline = time.perf_counter() + LATENCY_BUDGET_SECONDS
    rng = np.random.default_rng(0)
    rows = len(X)
    results: dict[str, Any] = {}
    for key, repeats, size in (("single_row", single, 1), ("batch_100", batch, LATENCY_BATCH_ROWS)):
        samples: list[float] = []
        for i in range(repeats):
            if i >= 3 and time.perf_counter() > deadline:
                break
            start = int(rng.integers(0, max(rows - size, 0) + 1))
            chunk = X.iloc[start : start + size]
            began = time.perf_counter()
            try:
                serve(chunk)
            except Exception:
                logger.info("latency measurement: the model failed to predict", exc_info=True)
                samples = []
                break
            samples.append(time.perf_counter() - began)
        results[key] = _percentiles(samples)
    return results


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


# Rows on which predict() is checked against the argmax of predict_proba before trusting it.
_ARGMAX_CHECK_ROWS = 512


def _sklearn_predictor(estimator: Any) -> Callable[[pd.DataFrame], tuple[Any, Any]]:
    """Predict once: for a classifier whose predict() is the argmax of predict_proba (forests,
    trees, logistic regression, k-NN, boosting; checked on a sample first), labels come from the
    probabilities instead of a second pass over the data."""

    def predict(X: pd.DataFrame) -> tuple[Any, Any]:
        if not hasattr(estimator, "predict_proba") or not hasattr(estimator, "classes_"):
            return estimator.predict(X), None
        proba = estimator.predict_proba(X)
        classes = np.asarray(estimator.classes_)
        proba_array = np.asarray(proba)
        if proba_array.ndim != 2 or proba_array.shape[1] != len(classes):
            return estimator.predict(X), proba
        head = X.iloc[:_ARGMAX_CHECK_ROWS]
        from_proba = classes[np.argmax(proba_array, axis=1)]
        if np.array_equal(np.asarray(estimator.predict(head)), from_proba[: len(head)]):
            return from_proba, proba
        return estimator.predict(X), proba

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
