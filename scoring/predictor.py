"""Calling a loaded model on checked rows: a scikit-learn estimator or an ONNX Runtime session.

Plain module (no Django). The answer is what the model itself says: labels from ``predict``
and probabilities from ``predict_proba``. For estimators whose ``predict`` is by definition the
argmax of ``predict_proba`` (trees, forests, boosting, logistic regression) the labels are taken
from the probabilities, which halves the cost of a forest; any other estimator is asked both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sklearn

from releases.compiled import input_columns
from releases.request_rows import Rows, feature_names

# predict() is classes_[argmax(predict_proba())] for these, ties included (first maximum).
_ARGMAX_PREDICT = frozenset(
    {
        "RandomForestClassifier",
        "ExtraTreesClassifier",
        "DecisionTreeClassifier",
        "ExtraTreeClassifier",
        "GradientBoostingClassifier",
        "HistGradientBoostingClassifier",
        "LogisticRegression",
    }
)
_ONNX_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
}


@dataclass(frozen=True)
class Scored:
    predictions: list[Any]
    probabilities: np.ndarray | None  # rows x classes, classifiers only
    classes: list[Any] | None
    confidence: np.ndarray | None  # the winning class's probability, classifiers only


def score(model: Any, rows: Rows | pd.DataFrame, *, signature: dict[str, Any]) -> Scored:
    """``rows``: checked rows (``releases.request_rows.Rows``, the hot path) or a DataFrame."""
    if _is_onnx(model):
        return _score_onnx(model, rows, signature=signature)
    frame = rows.frame() if isinstance(rows, Rows) else rows
    # The rows were checked against the signature (finite unless missing values are allowed),
    # so scikit-learn's own finiteness scan is repeated work; its config is per thread.
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        return _score_sklearn(model, frame, signature=signature)


def _score_sklearn(model: Any, frame: pd.DataFrame, *, signature: dict[str, Any]) -> Scored:
    classifier = signature.get("task") != "regression" and hasattr(model, "predict_proba")
    if not classifier:
        return Scored(_plain(model.predict(frame)), None, None, None)
    proba = np.asarray(model.predict_proba(frame), dtype=np.float64)
    classes = np.asarray(model.classes_)
    if _final_step_name(model) in _ARGMAX_PREDICT:
        labels = classes.take(np.argmax(proba, axis=1))
    else:
        labels = np.asarray(model.predict(frame))
    return Scored(_plain(labels), proba, _plain(classes), proba.max(axis=1))


def _final_step_name(model: Any) -> str:
    steps = getattr(model, "steps", None)
    if steps:
        return _final_step_name(steps[-1][1])
    return type(model).__name__


def _is_onnx(model: Any) -> bool:
    return type(model).__name__ == "InferenceSession"


# Per session: its inputs as (name, ONNX type), read once. session.get_inputs() builds new
# Python objects on every call. Keyed by id() with the session held, so the id stays its own.
_onnx_inputs: dict[int, tuple[Any, list[tuple[str, str]]]] = {}


def _inputs_of(session: Any) -> list[tuple[str, str]]:
    cached = _onnx_inputs.get(id(session))
    if cached is None or cached[0] is not session:
        if len(_onnx_inputs) > 256:
            _onnx_inputs.clear()
        cached = (session, [(i.name, i.type) for i in session.get_inputs()])
        _onnx_inputs[id(session)] = cached
    return cached[1]


def _score_onnx(session: Any, rows: Rows | pd.DataFrame, *, signature: dict[str, Any]) -> Scored:
    """skl2onnx conventions: output 0 is the label, output 1 the probabilities (zipmap off)."""
    inputs = _inputs_of(session)
    if isinstance(rows, Rows):
        feeds = _feeds_from_rows(inputs, rows)
    else:
        feeds = _feeds_from_frame(inputs, rows, feature_names(signature))
    outputs = session.run(None, feeds)
    labels = np.asarray(outputs[0]).ravel()
    if len(outputs) < 2 or signature.get("task") == "regression":
        return Scored(_plain(labels), None, None, None)
    proba = outputs[1]
    classes = list(signature.get("classes") or [])
    if isinstance(proba, list):  # zipmap left on: a dict per row
        classes = classes or sorted(proba[0])
        proba = np.array([[row[c] for c in classes] for row in proba])
    proba = np.asarray(proba, dtype=np.float64)
    return Scored(_plain(labels), proba, classes or None, proba.max(axis=1))


def _feeds_from_rows(inputs: list[tuple[str, str]], rows: Rows) -> dict[str, np.ndarray]:
    """The same tensors as ``releases.compiled.onnx_feed`` (what the equivalence check fed),
    sliced from the checked columns instead of a DataFrame."""
    if len(inputs) == 1 and len(rows.names) > 1:
        # One 2-D tensor for an all-numeric model.
        name, kind = inputs[0]
        matrix = rows.block.T if rows.block is not None else rows.frame().to_numpy()
        return {name: np.ascontiguousarray(matrix, dtype=_ONNX_DTYPES.get(kind, np.float32))}
    sources = input_columns([name for name, _ in inputs], rows.names)
    block = rows.block
    if block is not None and all(kind == "tensor(float)" for _, kind in inputs):
        # One cast for all columns; each row of the cast block is one [n, 1] input.
        cast = block.astype(np.float32)
        index = {name: i for i, name in enumerate(rows.names)}
        return {
            name: cast[index[source]].reshape(-1, 1)
            for (name, _), source in zip(inputs, sources, strict=True)
        }
    feeds: dict[str, np.ndarray] = {}
    for (name, kind), source in zip(inputs, sources, strict=True):
        column = rows.columns[source]
        if kind == "tensor(string)":
            values = np.array(["" if v is None or v != v else str(v) for v in column], dtype=object)
        else:
            values = column.astype(_ONNX_DTYPES.get(kind, np.float32))
        feeds[name] = values.reshape(-1, 1)
    return feeds


def _feeds_from_frame(
    inputs: list[tuple[str, str]], frame: pd.DataFrame, features: list[str]
) -> dict[str, np.ndarray]:
    feeds: dict[str, np.ndarray] = {}
    if len(inputs) == 1 and frame.shape[1] > 1:
        # One 2-D tensor for an all-numeric model.
        name, kind = inputs[0]
        feeds[name] = frame.to_numpy(dtype=_ONNX_DTYPES.get(kind, np.float32))
        return feeds
    sources = input_columns(
        [name for name, _ in inputs], features or [str(c) for c in frame.columns]
    )
    for (name, kind), source in zip(inputs, sources, strict=True):
        column = frame[source]
        if kind == "tensor(string)":
            values = column.astype(str).to_numpy(dtype=object)
        else:
            values = column.to_numpy(dtype=_ONNX_DTYPES.get(kind, np.float32))
        feeds[name] = values.reshape(-1, 1)
    return feeds


def _plain(values: Any) -> list[Any]:
    """numpy values as JSON-ready Python scalars."""
    return np.asarray(values).tolist()
