"""Compiled inference: converting a scikit-learn model to ONNX and proving the conversion
reproduces it on the whole evaluation set before anything serves it.

Plain module (no Django): runs in the validation sandbox's child. A conversion that does not
reproduce scikit-learn is never served: mixed-type pipelines often flip a few labels once
converted (scikit-learn's trees compare ``float32(x)`` with thresholds after float64
preprocessing, which no ONNX graph reproduces exactly), so the check is what decides.

Convention shared with the serving side: the graph has one input per signature feature, named
after it, shaped ``[None, 1]``: numeric features as float32 (or float64 when only that
reproduces), categorical strings as strings; outputs are skl2onnx's ``label`` and
``probabilities`` (zipmap off) for classifiers and ``variable`` for regressors. `onnx_feed`
builds that input from a DataFrame.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

ONNX = "onnx"
SKLEARN = "sklearn"
PROBA_TOLERANCE = 1e-5  # absolute, on probabilities
REGRESSION_RTOL = 1e-5  # relative, on regression values
_REGRESSION_ATOL = 1e-9  # so that 0.0 vs 1e-12 is not "infinitely" different
_SHOWN_ROWS = 10
# Pinned rather than skl2onnx's newest: its converters emit ai.onnx.ml nodes (tree ensembles)
# that only the older ML opsets define, and ONNX Runtime runs both.
_TARGET_OPSET = {"": 18, "ai.onnx.ml": 3}


@dataclass(frozen=True)
class Compiled:
    """The verdict: ``evidence`` goes into the validation report; ``onnx`` holds the model's
    bytes only when the runtime is "onnx"."""

    evidence: dict[str, Any]
    onnx: bytes | None


def compile_and_check(
    *,
    estimator: Any,
    signature: dict[str, Any],
    X: pd.DataFrame,
    work: Path,
    load_session: Callable[[Path], Any],
    expected: tuple[Any, Any] | None = None,
) -> Compiled:
    """Convert ``estimator`` with skl2onnx, run the conversion on every row of ``X`` and compare
    it with scikit-learn. Never raises for the model's sake: an unsupported estimator or a
    conversion that differs is runtime "sklearn" with the reason.

    ``load_session`` opens an ONNX file the way serving will (artifact_safety.load_onnx), so the
    session checked here is the session served. ``expected`` is scikit-learn's (labels,
    probabilities) on ``X`` when the caller already has them (validation just predicted).
    """
    started = time.perf_counter()
    evidence: dict[str, Any] = {
        "runtime": SKLEARN,
        "reason": "",
        "rows_checked": 0,
        "label_agreement": None,
        "max_proba_diff": None,
        "seconds": 0.0,
    }
    if X.empty:
        evidence["reason"] = "No evaluation rows to check a compiled form against."
        return _done(evidence, None, started)
    task = signature.get("task")
    try:
        if expected is not None:
            labels, proba = expected
        else:
            labels = estimator.predict(X)
            has_proba = task == "classification" and hasattr(estimator, "predict_proba")
            proba = estimator.predict_proba(X) if has_proba else None
        expected_labels = np.asarray(labels)
        expected_proba = (
            np.asarray(proba, dtype=np.float64)
            if task == "classification" and proba is not None
            else None
        )
    except Exception:  # the model's own predict failing here is reported, not raised
        logger.warning("scikit-learn predict failed while checking the ONNX form", exc_info=True)
        evidence["reason"] = "scikit-learn could not predict on the evaluation rows again."
        return _done(evidence, None, started)

    attempts: list[str] = []
    best: dict[str, Any] | None = None
    for dtype in ("float32", "float64"):
        try:
            data = _convert(estimator=estimator, signature=signature, X=X, numeric=dtype)
        except Exception as exc:  # skl2onnx raises many unrelated types for "unsupported"
            logger.info("skl2onnx could not convert %s: %r", type(estimator).__name__, exc)
            evidence["reason"] = (
                f"skl2onnx cannot convert this model ({type(estimator).__name__}): "
                f"{_short(exc)}. It is served with scikit-learn."
            )
            return _done(evidence, None, started)
        try:
            path = work / f"compiled-{dtype}.onnx"
            path.write_bytes(data)
            session = load_session(path)
            features = [str(f["name"]) for f in signature["features"]]
            outputs = session.run(None, onnx_feed(session, X, features))
        except Exception as exc:  # ORT refusing or failing on the converted graph
            logger.info("ONNX Runtime could not run the conversion: %r", exc)
            attempts.append(f"{dtype} inputs: ONNX Runtime could not run the conversion")
            continue
        verdict = _compare(
            task=task,
            expected_labels=expected_labels,
            expected_proba=expected_proba,
            outputs=outputs,
        )
        equivalent, difference = verdict.pop("equivalent"), verdict.pop("difference")
        verdict.update(rows_checked=len(X), input_dtype=dtype)
        if equivalent:
            evidence.update(
                verdict,
                runtime=ONNX,
                reason=f"The ONNX form reproduces scikit-learn on all {len(X)} evaluation rows "
                f"({dtype} inputs).",
            )
            return _done(evidence, data, started)
        attempts.append(f"{dtype} inputs: {difference}")
        if best is None or _closeness(verdict) > _closeness(best):
            best = verdict
    evidence.update(best or {})  # the evidence of the closest attempt
    evidence["reason"] = (
        "The ONNX form does not reproduce scikit-learn on the evaluation set, so scikit-learn "
        "serves it. " + "; ".join(attempts) + "."
    )
    return _done(evidence, None, started)


def _closeness(verdict: dict[str, Any]) -> tuple[float, float]:
    agreement = verdict.get("label_agreement")
    diff = verdict.get("max_proba_diff") or verdict.get("max_relative_diff") or 0.0
    return (1.0 if agreement is None else agreement, -diff)


def input_columns(input_names: Sequence[str], features: Sequence[str]) -> list[str]:
    """The feature that feeds each graph input, in the graph's input order.

    By name when every input is a feature. skl2onnx renames inputs that are not valid ONNX
    names (``mean radius`` becomes ``mean_radius``); our conversion declares one input per
    feature in signature order, so then the input at position i is feature i."""
    known = set(features)
    if all(name in known for name in input_names):
        return list(input_names)
    if len(input_names) == len(features):
        return list(features)
    raise ValueError(
        f"The compiled graph's inputs {list(input_names)} do not match the features "
        f"{list(features)}."
    )


def onnx_feed(
    session: Any, X: pd.DataFrame, features: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """The input of a compiled model for the rows of ``X``: one ``[n, 1]`` column per input,
    typed as the graph declares it. ``features``: the signature's feature order (default: X's
    columns), which matches renamed inputs by position."""
    feed: dict[str, np.ndarray] = {}
    specs = session.get_inputs()
    sources = input_columns(
        [spec.name for spec in specs], list(features) if features is not None else list(X.columns)
    )
    for spec, source in zip(specs, sources, strict=True):
        column = X[source]
        if spec.type == "tensor(string)":
            values = column.astype(object).where(column.notna(), "").astype(str)
            feed[spec.name] = values.to_numpy(dtype=object).reshape(-1, 1)
        elif spec.type == "tensor(double)":
            feed[spec.name] = column.to_numpy(dtype=np.float64).reshape(-1, 1)
        elif spec.type == "tensor(int64)":
            feed[spec.name] = column.to_numpy(dtype=np.int64).reshape(-1, 1)
        else:
            feed[spec.name] = column.to_numpy(dtype=np.float32).reshape(-1, 1)
    return feed


def _convert(*, estimator: Any, signature: dict[str, Any], X: pd.DataFrame, numeric: str) -> bytes:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    names = [f["name"] for f in signature["features"]]
    tensor = FloatTensorType if numeric == "float32" else DoubleTensorType
    initial_types = []
    for feature in signature["features"]:
        column = X[feature["name"]]
        string = not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
        initial_types.append(
            (feature["name"], StringTensorType([None, 1]) if string else tensor([None, 1]))
        )
    model = estimator
    selects_columns = isinstance(estimator, ColumnTransformer) or (
        isinstance(estimator, Pipeline) and isinstance(estimator.steps[0][1], ColumnTransformer)
    )
    if not selects_columns:
        # An estimator that does not pick its columns by name takes one matrix; a passthrough in
        # front gives the graph one input per feature like a column-selecting pipeline's, so the
        # serving side feeds every model the same way.
        front = ColumnTransformer([("features", "passthrough", names)]).fit(X[names])
        model = Pipeline([("features", front), ("model", estimator)])
    options = {"zipmap": False} if signature.get("task") == "classification" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            onx = to_onnx(
                model, initial_types=initial_types, options=options, target_opset=_TARGET_OPSET
            )
        except Exception as exc:
            # Classifiers without probabilities (LinearSVC) have no zipmap option to turn off.
            if "zipmap" not in str(exc):
                raise
            onx = to_onnx(model, initial_types=initial_types, target_opset=_TARGET_OPSET)
    return bytes(onx.SerializeToString())


def _compare(
    *,
    task: Any,
    expected_labels: np.ndarray,
    expected_proba: np.ndarray | None,
    outputs: list[Any],
) -> dict[str, Any]:
    n = len(expected_labels)
    if task != "classification":
        got = np.asarray(outputs[0], dtype=np.float64).reshape(n)
        want = expected_labels.astype(np.float64).reshape(n)
        scale = np.maximum(np.abs(want), _REGRESSION_ATOL)
        diff = _abs_diff(got, want)
        with np.errstate(invalid="ignore", over="ignore"):
            relative = np.where(diff == 0, 0.0, diff / scale)
        relative = np.where(np.isnan(relative), np.inf, relative)
        bad = np.flatnonzero(relative > REGRESSION_RTOL)
        worst = float(relative.max()) if n else 0.0
        return {
            "equivalent": bad.size == 0,
            "label_agreement": None,
            "max_proba_diff": None,
            "max_relative_diff": _finite_or_none(worst),
            "differing_rows": bad[:_SHOWN_ROWS].tolist(),
            "difference": f"{bad.size} of {n} values differ by more than {REGRESSION_RTOL:g} "
            f"relative (rows {_rows(bad)}; up to {worst:.3g})",
        }
    got_labels = np.asarray(outputs[0]).reshape(n)
    same = _labels_equal(expected_labels.reshape(n), got_labels)
    bad = np.flatnonzero(~same)
    max_diff: float | None = None
    proba_bad = np.array([], dtype=np.int64)
    if expected_proba is not None:
        if len(outputs) < 2:
            return {
                "equivalent": False,
                "label_agreement": float(same.mean()),
                "max_proba_diff": None,
                "differing_rows": bad[:_SHOWN_ROWS].tolist(),
                "difference": "the conversion has no probabilities output",
            }
        got_proba = np.asarray(outputs[1], dtype=np.float64)
        if got_proba.shape != expected_proba.shape:
            return {
                "equivalent": False,
                "label_agreement": float(same.mean()),
                "max_proba_diff": None,
                "differing_rows": bad[:_SHOWN_ROWS].tolist(),
                "difference": f"probabilities of shape {got_proba.shape} instead of "
                f"{expected_proba.shape}",
            }
        diff = _abs_diff(got_proba, expected_proba).max(axis=1)
        max_diff = float(diff.max())
        proba_bad = np.flatnonzero(diff > PROBA_TOLERANCE)
    parts = []
    if bad.size:
        flips = ", ".join(
            f"row {i}: {_scalar(expected_labels[i])!r} became {_scalar(got_labels[i])!r}"
            for i in bad[:_SHOWN_ROWS]
        )
        parts.append(f"{bad.size} of {n} labels differ ({flips})")
    if proba_bad.size:
        parts.append(
            f"probabilities differ by more than {PROBA_TOLERANCE:g} on {proba_bad.size} rows "
            f"(rows {_rows(proba_bad)}; up to {max_diff:.3g})"
        )
    return {
        "equivalent": not parts,
        "label_agreement": float(same.mean()),
        "max_proba_diff": _finite_or_none(max_diff),
        "differing_rows": np.union1d(bad, proba_bad)[:_SHOWN_ROWS].tolist(),
        "difference": "; ".join(parts),
    }


def _abs_diff(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got - want|, where a NaN on one side only is an infinite difference (never agreement)
    and NaN on both sides, or equal values (infinities included), is none."""
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(got - want)
    agree = (got == want) | (np.isnan(got) & np.isnan(want))
    diff = np.where(agree, 0.0, diff)
    return np.where(np.isnan(diff), np.inf, diff)


def _finite_or_none(value: float | None) -> float | None:
    # The report must be strict JSON: an infinite difference is recorded as None (the reason
    # says "inf").
    return value if value is None or np.isfinite(value) else None


def _labels_equal(want: np.ndarray, got: np.ndarray) -> np.ndarray:
    if want.dtype.kind in "iufb" and got.dtype.kind in "iufb":
        return np.asarray(want == got)
    return np.asarray(want.astype(str) == got.astype(str))


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _rows(indices: np.ndarray) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:_SHOWN_ROWS])
    return shown + (", ..." if indices.size > _SHOWN_ROWS else "")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _done(evidence: dict[str, Any], data: bytes | None, started: float) -> Compiled:
    evidence["seconds"] = round(time.perf_counter() - started, 3)
    return Compiled(evidence=evidence, onnx=data)
