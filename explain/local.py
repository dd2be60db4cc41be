"""Local explanations in this process: one fitted explainer per model (by sha256), reused.

Imports ``shap`` (through `explain.shap_report`) only when the first explanation is asked for,
so the web process does not pay for it at start-up.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.files.storage import default_storage

from releases.errors import Conflict
from releases.loading import load_version_model
from releases.models import ModelVersion

_MAX_EXPLAINERS = 8
_cache: OrderedDict[str, Any] = OrderedDict()
_lock = threading.Lock()


class NotExplainable(Conflict):
    code = "not_explainable"


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def explain_rows(*, model_version: ModelVersion, frame: pd.DataFrame) -> dict[str, Any]:
    """Per row: the SHAP value of each input feature, the base value and the prediction."""
    from explain import shap_report

    explainer = _explainer_for(model_version)
    try:
        result = explainer.explain(frame)
    except (ValueError, TypeError) as exc:
        raise NotExplainable(
            f"Version {model_version.version} could not explain these rows: "
            + str(exc).splitlines()[0][:300]
        ) from None
    single = len(result.output_names) == 1
    predictions = _predictions(explainer, result)
    rows = []
    for i in range(result.rows_explained):
        if single:
            values: Any = _named(result.features, result.values[i, :, 0])
            base: Any = float(result.base_values[i, 0])
        else:
            values = {
                out: _named(result.features, result.values[i, :, k])
                for k, out in enumerate(result.output_names)
            }
            base = {
                out: float(result.base_values[i, k]) for k, out in enumerate(result.output_names)
            }
        rows.append({"prediction": predictions[i], "base_value": base, "shap_values": values})
    return {
        "explainer": result.explainer,
        "reason": result.reason,
        "output": result.output_kind,
        "outputs": result.output_names,
        "additivity": shap_report.additivity(
            result.values, result.base_values, result.outputs_explained
        ),
        "explanations": rows,
    }


def _explainer_for(model_version: ModelVersion) -> Any:
    from explain import shap_report

    if model_version.format != "skops":
        raise NotExplainable(
            f"Version {model_version.version} is an {model_version.format} model; explanations "
            "cover scikit-learn models uploaded as .skops files."
        )
    loaded = load_version_model(model_version)  # verifies the bytes every call (cached load)
    with _lock:
        hit = _cache.get(loaded.sha256)
        if hit is not None:
            _cache.move_to_end(loaded.sha256)
            return hit
    features = [f["name"] for f in (model_version.signature or {}).get("features", [])]
    explainer = shap_report.build_explainer(
        model=loaded.model,
        features=features,
        background=lambda: _background(model_version, features),
        bounds=shap_report.Bounds(agnostic_rows=settings.MODELGATE_EXPLAIN_MAX_ROWS),
    )
    explainer.check_with_estimator = False  # per-request cost: see Explainer
    with _lock:
        _cache[loaded.sha256] = explainer
        while len(_cache) > _MAX_EXPLAINERS:
            _cache.popitem(last=False)
    return explainer


def _background(model_version: ModelVersion, features: list[str]) -> pd.DataFrame:
    from releases.signature import InvalidEvaluationData, read_evaluation_csv

    dataset = model_version.evaluation_dataset or model_version.registered_model.evaluation_dataset
    if dataset is None:
        raise NotExplainable(
            f"Version {model_version.version} has no evaluation data to use as the explainer's "
            "background. Upload a version with an evaluation CSV."
        )
    try:
        with default_storage.open(str(dataset.file.name), "rb") as fh:
            frame = read_evaluation_csv(
                path_or_file=fh,
                target=dataset.target,
                max_rows=settings.MODELGATE_MAX_EVALUATION_ROWS,
            )
    except (OSError, InvalidEvaluationData):
        raise NotExplainable(
            f"The evaluation data of version {model_version.version} cannot be read, so there "
            "is no background to explain against."
        ) from None
    rows = min(settings.MODELGATE_SHAP_BACKGROUND_ROWS, len(frame))
    return frame.sample(n=rows, random_state=1)[features]


def _predictions(explainer: Any, result: Any) -> list[Any]:
    """The model's prediction for each row, from the output just explained (one model pass)."""
    outputs = result.outputs_explained
    classes = [_json(c) for c in getattr(explainer.estimator or explainer.model, "classes_", [])]
    if not classes:
        return [float(v) for v in outputs[:, 0]]
    if outputs.shape[1] == 1:  # binary margin: the positive class when above zero
        return [classes[int(v > 0)] for v in outputs[:, 0]]
    return [classes[int(k)] for k in np.argmax(outputs, axis=1)]


def _named(features: list[str], values: np.ndarray) -> dict[str, float]:
    return {name: float(v) for name, v in zip(features, values, strict=True)}


def _json(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
