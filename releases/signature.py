"""A model's input/output signature: inferred, compared between versions, checked against data.

Plain module: no Django. A signature is a JSON-safe dict::

    {"task": "classification" | "regression",
     "classes": [...],                      # classification only
     "features": [{"name": str, "type": "numeric" | "categorical",
                   "categories": [...],     # categorical only, sorted, at most 200
                   "categories_truncated": True}],  # only when cut
     "target": str | None}
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier, is_regressor

from releases.artifact_safety import OnnxInfo

MAX_CATEGORIES = 200
_ENCODERS = ("OneHotEncoder", "OrdinalEncoder")
_ONNX_NUMERIC = frozenset(
    {"FLOAT", "DOUBLE", "FLOAT16", "BFLOAT16", "INT8", "INT16", "INT32", "INT64", "UINT8",
     "UINT16", "UINT32", "UINT64", "BOOL"}
)  # fmt: skip


class InvalidEvaluationData(ValueError):
    """The evaluation CSV cannot be used; the message says what to fix."""


def infer_signature(
    *, estimator: Any, evaluation: pd.DataFrame | None, target: str | None
) -> dict[str, Any]:
    """Signature of a fitted scikit-learn estimator, helped by evaluation data when given."""
    names = _feature_names(estimator, evaluation, target)
    encoder_categories = _encoder_categories(estimator)
    features = []
    for name in names:
        column = evaluation[name] if evaluation is not None and name in evaluation else None
        encoded = encoder_categories.get(name)
        if column is not None:
            categorical = not pd.api.types.is_numeric_dtype(column) or (
                encoded is not None and not pd.api.types.is_bool_dtype(column)
            )
        else:
            categorical = encoded is not None
        feature: dict[str, Any] = {
            "name": name,
            "type": "categorical" if categorical else "numeric",
        }
        if categorical:
            seen = list(encoded or [])
            if column is not None:
                seen += column.dropna().unique().tolist()
            feature.update(_categories(seen))
        features.append(feature)
    signature: dict[str, Any] = {"task": _task(estimator), "features": features, "target": target}
    if signature["task"] == "classification":
        signature["classes"] = [_json_scalar(c) for c in getattr(estimator, "classes_", [])]
    return signature


def infer_onnx_signature(*, info: OnnxInfo) -> dict[str, Any]:
    """Best effort: one feature per graph input, typed by its tensor element type.

    An input of shape (N, k) with k > 1 stands for k features of one type, named
    ``<input>_0..<input>_{k-1}``. The task is "classification" when the graph has a
    probabilities-like output (skl2onnx names them ``output_probability``), else "regression".
    """
    features: list[dict[str, Any]] = []
    for tensor in info.inputs:
        kind = "numeric" if tensor.type in _ONNX_NUMERIC else "categorical"
        width = tensor.shape[1] if tensor.shape and len(tensor.shape) == 2 else 1
        if isinstance(width, int) and width > 1:
            names = [f"{tensor.name}_{i}" for i in range(width)]
        else:
            names = [tensor.name]
        for name in names:
            feature: dict[str, Any] = {"name": name, "type": kind}
            if kind == "categorical":
                feature["categories"] = []
            features.append(feature)
    outputs = [name.lower() for name in info.output_names]
    classification = any("prob" in name for name in outputs)
    signature: dict[str, Any] = {
        "task": "classification" if classification else "regression",
        "features": features,
        "target": None,
    }
    if classification:
        signature["classes"] = []
    return signature


def diff_signatures(*, old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """What changed from ``old`` (the previous version; None for a first version) to ``new``."""
    new_features = {f["name"]: f for f in new.get("features", [])}
    if old is None:
        return {
            "added": list(new_features),
            "removed": [],
            "retyped": [],
            "reordered": False,
            "task_changed": False,
            "classes_added": [],
            "classes_removed": [],
            "changed": True,
        }
    old_features = {f["name"]: f for f in old.get("features", [])}
    added = [name for name in new_features if name not in old_features]
    removed = [name for name in old_features if name not in new_features]
    retyped = [
        {"name": name, "from": old_features[name]["type"], "to": feature["type"]}
        for name, feature in new_features.items()
        if name in old_features and old_features[name]["type"] != feature["type"]
    ]
    common_old = [name for name in old_features if name in new_features]
    common_new = [name for name in new_features if name in old_features]
    old_classes = old.get("classes") or []
    new_classes = new.get("classes") or []
    diff: dict[str, Any] = {
        "added": added,
        "removed": removed,
        "retyped": retyped,
        "reordered": common_old != common_new,
        "task_changed": old.get("task") != new.get("task"),
        "classes_added": [c for c in new_classes if c not in old_classes],
        "classes_removed": [c for c in old_classes if c not in new_classes],
    }
    diff["changed"] = any(bool(value) for value in diff.values())
    return diff


def read_evaluation_csv(
    *,
    path_or_file: str | Path | IO[bytes] | IO[str],
    target: str,
    max_rows: int = 100_000,
    max_columns: int = 2_000,
) -> pd.DataFrame:
    """Read an evaluation CSV, refusing with `InvalidEvaluationData` what cannot be used."""
    raw = _read_bytes(path_or_file)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidEvaluationData(
            "The evaluation file is not UTF-8 text. Save it as a UTF-8 CSV and upload it again."
        ) from exc
    if not text.strip():
        raise InvalidEvaluationData(
            "The evaluation file is empty. Upload a CSV with a header row and at least one row."
        )
    if "\x00" in text:
        raise InvalidEvaluationData(
            "The evaluation file is not a CSV (it contains binary data). Export the data as CSV "
            "and upload it again."
        )
    header = next(csv.reader(io.StringIO(text)), [])
    if len(header) > max_columns:
        raise InvalidEvaluationData(
            f"The evaluation CSV has {len(header)} columns; the limit is {max_columns}. Keep only "
            "the model's features and the target column."
        )
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise InvalidEvaluationData(
            "The evaluation CSV has duplicate column names: "
            + ", ".join(duplicates)
            + ". Give every column a unique name."
        )
    try:
        # From the bytes (already checked to be UTF-8): twice as fast as from the decoded text.
        frame = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", nrows=max_rows + 1)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        # The parser's own text names its internals; the line number is what the user needs.
        line = re.search(r"line (\d+)", str(exc))
        where = f" near line {line.group(1)}" if line else ""
        raise InvalidEvaluationData(
            f"The evaluation file could not be read as CSV{where} (a row with a different "
            "number of fields, or unbalanced quotes). Check the delimiter (a comma) and "
            "quoting, and upload it again."
        ) from exc
    if len(frame) > max_rows:
        raise InvalidEvaluationData(
            f"The evaluation CSV has more than {max_rows:,} rows. Upload a sample of at most "
            f"{max_rows:,} rows."
        )
    if frame.empty:
        raise InvalidEvaluationData(
            "The evaluation CSV has a header but no rows. Add at least one row of data."
        )
    if target not in frame.columns:
        found = ", ".join(str(c) for c in frame.columns[:50])
        raise InvalidEvaluationData(
            f"The evaluation CSV has no target column {target!r}. Columns found: {found}. "
            "Rename the target column or choose the right target name."
        )
    if frame[target].isna().all():
        raise InvalidEvaluationData(
            f"The target column {target!r} is empty in every row. Fill in the true values."
        )
    return frame


def check_evaluation_matches(*, signature: dict[str, Any], evaluation: pd.DataFrame) -> None:
    """Raise `InvalidEvaluationData` naming the model's features missing from the data."""
    missing = [f["name"] for f in signature.get("features", []) if f["name"] not in evaluation]
    if missing:
        shown = ", ".join(missing[:50]) + (
            f" and {len(missing) - 50} more" if len(missing) > 50 else ""
        )
        raise InvalidEvaluationData(
            f"The evaluation CSV is missing the model's features: {shown}. Add these columns "
            "(with the same names) and upload it again."
        )


def _read_bytes(path_or_file: str | Path | IO[bytes] | IO[str]) -> bytes:
    if isinstance(path_or_file, str | Path):
        return Path(path_or_file).read_bytes()
    content = path_or_file.read()
    return content.encode("utf-8") if isinstance(content, str) else bytes(content)


def _feature_names(
    estimator: Any, evaluation: pd.DataFrame | None, target: str | None
) -> list[str]:
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [str(name) for name in names]
    count = getattr(estimator, "n_features_in_", None)
    if isinstance(count, int | np.integer):
        return [f"x{i}" for i in range(int(count))]
    if evaluation is not None:
        return [str(c) for c in evaluation.columns if c != target]
    return []


def _task(estimator: Any) -> str:
    if is_classifier(estimator) or (hasattr(estimator, "classes_") and not is_regressor(estimator)):
        return "classification"
    return "regression"


def _encoder_categories(estimator: Any) -> dict[str, list[Any]]:
    """Input columns routed straight to a OneHot/Ordinal encoder, with its fitted categories."""
    found: dict[str, list[Any]] = {}
    for transformer in _column_transformers(estimator):
        for _name, step, columns in getattr(transformer, "transformers_", []):
            encoder = _first_encoder(step)
            if encoder is None or not hasattr(encoder, "categories_"):
                continue
            names = _column_names(transformer, columns)
            for name, categories in zip(names, encoder.categories_, strict=False):
                found.setdefault(name, []).extend(categories.tolist())
    return found


def _column_transformers(estimator: Any) -> Iterable[Any]:
    if type(estimator).__name__ == "ColumnTransformer":
        yield estimator
    for _name, step in getattr(estimator, "steps", []) or []:
        yield from _column_transformers(step)


def _first_encoder(step: Any) -> Any:
    if type(step).__name__ in _ENCODERS:
        return step
    for _name, inner in getattr(step, "steps", []) or []:
        if type(inner).__name__ in _ENCODERS:
            return inner
        if type(inner).__name__ not in ("SimpleImputer",):
            return None  # a transform before the encoder changes what the categories mean
    return None


def _column_names(transformer: Any, columns: Any) -> list[str]:
    names_in = getattr(transformer, "feature_names_in_", None)
    if isinstance(columns, str):
        return [columns]
    values = list(np.asarray(columns).ravel()) if not callable(columns) else []
    if values and all(isinstance(v, bool | np.bool_) for v in values) and names_in is not None:
        return [str(n) for n, keep in zip(names_in, values, strict=False) if keep]
    if values and all(isinstance(v, int | np.integer) for v in values):
        if names_in is not None:
            return [str(names_in[int(v)]) for v in values]
        return [f"x{int(v)}" for v in values]
    return [str(v) for v in values]


def _categories(values: list[Any]) -> dict[str, Any]:
    cleaned = {_json_scalar(v) for v in values if not _is_missing(v)}
    ordered = sorted(cleaned, key=_category_key)
    result: dict[str, Any] = {"categories": ordered[:MAX_CATEGORIES]}
    if len(ordered) > MAX_CATEGORIES:
        result["categories_truncated"] = True
    return result


def _category_key(value: Any) -> tuple[int, float, str]:
    # Numbers before strings, each in natural order; mixed columns must still sort.
    if isinstance(value, int | float):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def _json_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)
