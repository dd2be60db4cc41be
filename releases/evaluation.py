"""What a validation report says about a model's predictions: metrics, per-class figures,
confusion matrix, curves, slices, and the comparison with the production version.

Plain module (no Django, no model loading): it works on predictions computed once by the caller
and is tested directly against scikit-learn's own functions. Labels are encoded to integer codes
once, so every scikit-learn call below works on small integer arrays rather than on strings; the
values are the same because every metric here depends only on which rows share a label.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics
from sklearn.calibration import calibration_curve

from releases import metric_direction
from releases.csv_safety import neutralise_cell

logger = logging.getLogger(__name__)

MAX_CURVE_POINTS = 500
MAX_PLOT_ROWS = 2000
MAX_CURVE_CLASSES = 20
MAX_CONFUSION_LABELS = 50
CALIBRATION_BINS = 10

SLICE_TOP_VALUES = 20
SLICE_NUMERIC_FEATURES = 3
SLICE_QUANTILES = 4
SLICE_MIN_ROWS = 30
SLICE_MIN_SHARE = 0.02
# A slice is flagged when accuracy is this much lower than overall (absolute) ...
SLICE_ACCURACY_DROP = 0.05
# ... or when its mean absolute error is this much higher than overall (relative).
SLICE_ERROR_RISE = 0.10
# Importance is estimated on at most this many rows (|correlation| with the predictions).
IMPORTANCE_SAMPLE = 20_000

DISAGREEMENT_SAMPLE = 50
# Two regression predictions agree when they differ by at most this share of the target's
# standard deviation (exact equality would call every retrained model a total disagreement).
REGRESSION_AGREEMENT_TOLERANCE = 0.01

NOT_FINITE = "the value is not a finite number for this evaluation set"
CANNOT_COMPUTE = "it cannot be computed on this evaluation set"

MISSING = "(missing)"
SLICES_STAGE = "computing slices"

CLASSIFICATION_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "roc_auc",
    "log_loss",
    "brier",
)
REGRESSION_METRICS = ("r2", "mae", "rmse", "mape")
ALL_METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS


@dataclass
class Predictions:
    """One model's predictions on the evaluation rows, computed once and reused everywhere."""

    y_pred: np.ndarray
    proba: np.ndarray | None = None


@dataclass
class Encoded:
    """Classification labels as integer codes into ``labels`` (the model's classes first)."""

    labels: list[str]
    n_classes: int  # the model's own classes: proba columns, in this order
    y_true: np.ndarray
    y_pred: np.ndarray


def task_of(signature_task: str, classes: Sequence[Any] | None) -> str:
    if signature_task == "regression":
        return "regression"
    return "binary" if classes is not None and len(classes) == 2 else "multiclass"


def encode_labels(y_true: Any, y_pred: Any, classes: Sequence[Any] | None) -> Encoded:
    true_s = pd.Series(np.asarray(y_true)).astype(str)
    pred_s = pd.Series(np.asarray(y_pred)).astype(str)
    labels = [str(c) for c in (classes or [])]
    known = set(labels)
    extra = sorted(
        (set(true_s.unique()) | set(pred_s.unique())) - known
    )  # labels the model does not know
    if not labels:
        labels, extra = extra, []
    all_labels = labels + extra
    return Encoded(
        labels=all_labels,
        n_classes=len(labels),
        y_true=pd.Categorical(true_s, categories=all_labels).codes.astype(np.int64),
        y_pred=pd.Categorical(pred_s, categories=all_labels).codes.astype(np.int64),
    )


class _Recorder:
    """Metric values (None when undefined) and, for each undefined one, the reason."""

    def __init__(self) -> None:
        self.values: dict[str, float | None] = {}
        self.undefined: dict[str, str] = {}

    def record(self, name: str, compute: Callable[[], Any], reason: str | None = None) -> None:
        if reason is not None:
            self.values[name], self.undefined[name] = None, reason
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # UndefinedMetricWarning: reported below
                number = float(compute())
        except (ValueError, TypeError, ZeroDivisionError, FloatingPointError, IndexError):
            logger.info("metric %s is undefined", name, exc_info=True)
            self.values[name], self.undefined[name] = None, CANNOT_COMPUTE
            return
        if math.isfinite(number):
            self.values[name] = number
        else:
            self.values[name], self.undefined[name] = None, NOT_FINITE


def classification_metrics(
    enc: Encoded, proba: np.ndarray | None
) -> tuple[dict[str, float | None], dict[str, str]]:
    r = _Recorder()
    t, p = enc.y_true, enc.y_pred
    r.record("accuracy", lambda: metrics.accuracy_score(t, p))
    r.record("balanced_accuracy", lambda: metrics.balanced_accuracy_score(t, p))
    for average in ("macro", "weighted"):
        prf = _safe(partial(metrics.precision_recall_fscore_support, t, p, average=average,
                            zero_division=0))  # fmt: skip
        for i, name in enumerate(("precision", "recall", "f1")):
            r.record(f"{name}_{average}", partial(_value, prf, i))
    no_proba = "the model gives no class probabilities"
    if proba is None or enc.n_classes < 2 or proba.shape[1] != enc.n_classes:
        for name in ("roc_auc", "log_loss", "brier"):
            r.record(name, lambda: 0, no_proba)
        return r.values, r.undefined
    single = "only one class in the evaluation target" if len(np.unique(t)) < 2 else None
    unknown = (
        "the evaluation target has labels the model does not know"
        if (t >= enc.n_classes).any()
        else None
    )
    codes = list(range(enc.n_classes))
    if enc.n_classes == 2:
        positive = t == 1
        r.record("roc_auc", lambda: metrics.roc_auc_score(positive, proba[:, 1]), single)
        r.record("brier", lambda: metrics.brier_score_loss(positive, proba[:, 1]), unknown)
    else:
        r.record(
            "roc_auc",
            lambda: metrics.roc_auc_score(t, proba, multi_class="ovr", labels=codes),
            single or unknown,
        )
        r.record("brier", lambda: 0, "the Brier score is reported for binary models only")
    r.record("log_loss", lambda: metrics.log_loss(t, proba, labels=codes), unknown)
    return r.values, r.undefined


def regression_metrics(
    y_true: np.ndarray, y_pred: np.ndarray
) -> tuple[dict[str, float | None], dict[str, str]]:
    r = _Recorder()
    if not np.isfinite(y_pred).all():
        reason = "the model's predictions include NaN or infinite values"
        for name in REGRESSION_METRICS:
            r.record(name, lambda: 0, reason)
        return r.values, r.undefined
    r.record(
        "r2",
        lambda: metrics.r2_score(y_true, y_pred),
        "it needs at least two evaluation rows" if len(y_true) < 2 else None,
    )
    r.record("mae", lambda: metrics.mean_absolute_error(y_true, y_pred))
    r.record("rmse", lambda: np.sqrt(metrics.mean_squared_error(y_true, y_pred)))
    r.record(
        "mape",
        lambda: metrics.mean_absolute_percentage_error(y_true, y_pred),
        "the target is zero in some rows, where a percentage error is undefined"
        if (y_true == 0).any()
        else None,
    )
    return r.values, r.undefined


def _safe(compute: Callable[[], Any]) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return compute()
    except (ValueError, TypeError):
        return None


def _value(prf: Any, i: int) -> float:
    if prf is None:
        raise ValueError("undefined")
    return float(prf[i])


def numeric_target(y: Any) -> np.ndarray:
    return np.asarray(pd.to_numeric(pd.Series(np.asarray(y)), errors="coerce"), dtype=float)


def evaluate(
    *,
    task: str,
    features: pd.DataFrame,
    y: Any,
    predictions: Predictions,
    classes: Sequence[Any] | None,
    seed: int = 0,
    on_stage: Callable[[str], None] = lambda stage: None,
) -> dict[str, Any]:
    """The report's "evaluation" section (without timing figures) for one set of predictions.
    ``on_stage`` hears "computing slices" when the slices start."""
    rows = len(features)
    out: dict[str, Any] = {"rows": rows, "task": task}
    if task == "regression":
        y_true = numeric_target(y)
        y_hat = np.asarray(predictions.y_pred, dtype=float).ravel()
        if np.isnan(y_true).any():
            values = dict.fromkeys(REGRESSION_METRICS)
            undefined = dict.fromkeys(REGRESSION_METRICS, "the target column is not numeric")
            out.update(metrics=values, undefined_metrics=undefined, slices=[])
            return out
        values, undefined = regression_metrics(y_true, y_hat)
        out.update(metrics=values, undefined_metrics=undefined)
        out["regression_plots"] = regression_plots(y_true, y_hat, seed=seed)
        errors = np.abs(y_true - y_hat) if np.isfinite(y_hat).all() else None
        score = y_hat[:, None] if np.isfinite(y_hat).all() else None
        on_stage(SLICES_STAGE)
        out["slices"] = slices(
            features=features, per_row=errors, metric="mae", overall=values.get("mae"),
            score=score, higher_is_better=False,
        )  # fmt: skip
        return out
    enc = encode_labels(y, predictions.y_pred, classes)
    proba = predictions.proba
    values, undefined = classification_metrics(enc, proba)
    out.update(metrics=values, undefined_metrics=undefined)
    out["per_class"] = per_class(enc)
    out["confusion_matrix"] = confusion(enc)
    out["curves"] = curves(enc, proba)
    correct = (enc.y_true == enc.y_pred).astype(float)
    if proba is not None and proba.shape[1] == enc.n_classes:
        score = proba[:, 1:] if enc.n_classes == 2 else proba[:, :MAX_CURVE_CLASSES]
    else:
        score = _one_hot(enc.y_pred, min(len(enc.labels), MAX_CURVE_CLASSES))
    on_stage(SLICES_STAGE)
    out["slices"] = slices(
        features=features, per_row=correct, metric="accuracy", overall=values.get("accuracy"),
        score=score, higher_is_better=True,
    )  # fmt: skip
    return out


def confusion(enc: Encoded) -> dict[str, Any]:
    """The confusion matrix; with many classes, only the MAX_CONFUSION_LABELS most frequent
    true classes (rows and columns), so the report stays small."""
    codes = list(range(len(enc.labels)))
    section: dict[str, Any] = {}
    if len(codes) > MAX_CONFUSION_LABELS:
        support = np.bincount(enc.y_true, minlength=len(codes))
        codes = sorted(np.argsort(-support, kind="stable")[:MAX_CONFUSION_LABELS].tolist())
        section["truncated_from"] = len(enc.labels)
    matrix = metrics.confusion_matrix(enc.y_true, enc.y_pred, labels=codes)
    return {"labels": [enc.labels[c] for c in codes], "matrix": matrix.tolist(), **section}


def per_class(enc: Encoded) -> list[dict[str, Any]]:
    codes = list(range(len(enc.labels)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, r, f, s = metrics.precision_recall_fscore_support(
            enc.y_true, enc.y_pred, labels=codes, average=None, zero_division=0
        )
    return [
        {
            "class": label,
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(s[i]),
        }
        for i, label in enumerate(enc.labels)
    ]


def _downsample(*arrays: np.ndarray, limit: int = MAX_CURVE_POINTS) -> list[list[float]]:
    n = len(arrays[0])
    if n > limit:
        keep = np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))
        arrays = tuple(a[keep] for a in arrays)
    return [[float(v) for v in a] for a in arrays]


def curves(enc: Encoded, proba: np.ndarray | None) -> dict[str, list[dict[str, Any]]]:
    """ROC, precision-recall and calibration curves, one-vs-rest per class (the positive class
    only for a binary model), each at most MAX_CURVE_POINTS points."""
    out: dict[str, list[dict[str, Any]]] = {"roc": [], "pr": [], "calibration": []}
    if proba is None or enc.n_classes < 2 or proba.shape[1] != enc.n_classes:
        return out
    classes = [1] if enc.n_classes == 2 else list(range(min(enc.n_classes, MAX_CURVE_CLASSES)))
    for k in classes:
        positive = enc.y_true == k
        if positive.all() or not positive.any():
            continue  # a curve needs both outcomes
        score = proba[:, k]
        label = enc.labels[k]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fpr, tpr, _ = metrics.roc_curve(positive, score)
            precision, recall, _ = metrics.precision_recall_curve(positive, score)
            fraction, mean_predicted = calibration_curve(
                positive, np.clip(score, 0.0, 1.0), n_bins=CALIBRATION_BINS
            )
            fpr_s, tpr_s = _downsample(fpr, tpr)
            out["roc"].append(
                {"class": label, "fpr": fpr_s, "tpr": tpr_s,
                 # roc_auc_score's own computation, from the full curve already at hand.
                 "auc": float(metrics.auc(fpr, tpr))}
            )  # fmt: skip
            precision_s, recall_s = _downsample(precision, recall)
            out["pr"].append(
                {"class": label, "precision": precision_s, "recall": recall_s,
                 # average_precision_score's own step-wise sum, on the full curve.
                 "average_precision": max(0.0, float(-np.sum(np.diff(recall) * precision[:-1])))}
            )  # fmt: skip
            mean_s, fraction_s = _downsample(mean_predicted, fraction)
            out["calibration"].append(
                {"class": label, "mean_predicted": mean_s, "fraction_positive": fraction_s}
            )
    return out


def regression_plots(y_true: np.ndarray, y_pred: np.ndarray, *, seed: int = 0) -> dict[str, Any]:
    n = len(y_true)
    index = np.arange(n)
    if n > MAX_PLOT_ROWS:
        index = np.sort(np.random.default_rng(seed).choice(n, MAX_PLOT_ROWS, replace=False))
    actual, predicted = y_true[index], y_pred[index]
    return {
        "predicted": predicted.tolist(),
        "actual": actual.tolist(),
        "residual": (actual - predicted).tolist(),
    }


def _one_hot(codes: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((len(codes), max(width, 1)))
    inside = codes < width
    out[np.flatnonzero(inside), codes[inside]] = 1.0
    return out


def numeric_importance(
    features: pd.DataFrame, score: np.ndarray | None, *, seed: int = 0
) -> list[tuple[str, float]]:
    """Numeric features by |Pearson correlation| with the model's output (the largest over the
    output's columns), on a sample: a cheap proxy for importance that needs no extra prediction.
    """
    numeric = [
        c
        for c in features.columns
        if pd.api.types.is_numeric_dtype(features[c])
        and not pd.api.types.is_bool_dtype(features[c])
    ]
    if not numeric or score is None or len(features) < 3:
        return []
    n = len(features)
    index = np.arange(n)
    if n > IMPORTANCE_SAMPLE:
        index = np.sort(np.random.default_rng(seed).choice(n, IMPORTANCE_SAMPLE, replace=False))
    X = features[numeric].to_numpy(dtype=float)[index]
    S = np.asarray(score, dtype=float)[index]
    X = np.where(np.isnan(X), np.nanmean(X, axis=0, keepdims=True), X)
    with np.errstate(invalid="ignore", divide="ignore"):
        Zx = (X - X.mean(axis=0)) / X.std(axis=0)
        Zs = (S - S.mean(axis=0)) / S.std(axis=0)
        corr = np.abs(np.nan_to_num(Zx).T @ np.nan_to_num(Zs)) / len(index)
    importance = corr.max(axis=1) if corr.size else np.zeros(len(numeric))
    ranked = sorted(zip(numeric, importance.tolist(), strict=True), key=lambda t: -t[1])
    return [(name, value) for name, value in ranked if value > 0]


def slices(
    *,
    features: pd.DataFrame,
    per_row: np.ndarray | None,
    metric: str,
    overall: float | None,
    score: np.ndarray | None,
    higher_is_better: bool,
) -> list[dict[str, Any]]:
    """The headline metric per value of each categorical feature (top values by count) and per
    quartile of the most important numeric features; a slice is flagged when it is big enough
    and much worse than the whole."""
    if per_row is None or overall is None or len(features) == 0:
        return []
    rows = len(features)
    out: list[dict[str, Any]] = []
    per_row = np.asarray(per_row, dtype=float)

    def add(feature: str, kind: str, codes: np.ndarray, names: Sequence[str]) -> None:
        # Group by integer codes (-1 = missing); labels are made only for the groups shown.
        shifted = codes.astype(np.int64) + 1
        counts = np.bincount(shifted, minlength=len(names) + 1)
        sums = np.bincount(shifted, weights=per_row, minlength=len(names) + 1)
        present = np.flatnonzero(counts)
        if kind == "categorical":
            present = present[np.argsort(-counts[present], kind="stable")][:SLICE_TOP_VALUES]
        for group in present:
            count, mean = int(counts[group]), float(sums[group] / counts[group])
            big = count >= SLICE_MIN_ROWS and count >= SLICE_MIN_SHARE * rows
            if higher_is_better:
                worse = mean <= overall - SLICE_ACCURACY_DROP
            else:
                worse = mean >= overall * (1 + SLICE_ERROR_RISE) and mean > overall
            out.append(
                {"feature": feature, "kind": kind,
                 "slice": MISSING if group == 0 else str(names[int(group) - 1]), "count": count,
                 "metric": metric, "value": mean, "overall": overall,
                 "flagged": bool(big and worse)}
            )  # fmt: skip

    for column in features.columns:
        series = features[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            continue
        categories = pd.Categorical(series.astype(str).where(series.notna(), None))
        add(str(column), "categorical", categories.codes, list(categories.categories))
    for column, _ in numeric_importance(features, score)[:SLICE_NUMERIC_FEATURES]:
        try:
            bins = pd.qcut(features[column], SLICE_QUANTILES, duplicates="drop")
        except (ValueError, TypeError):
            continue
        # Quartiles come out in order; missing values last.
        names = [str(interval) for interval in bins.cat.categories]
        codes = np.asarray(bins.cat.codes)
        add(str(column), "numeric", codes, names)
    return out


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (numpy scalars and NaN become plain values and null)."""
    return json.loads(frame.to_json(orient="records", date_format="iso"))  # type: ignore[no-any-return]


def compare(
    *,
    task: str,
    features: pd.DataFrame,
    y: Any,
    candidate: Predictions,
    production: Predictions,
    candidate_metrics: dict[str, float | None],
    production_metrics: dict[str, float | None],
) -> tuple[dict[str, Any], np.ndarray]:
    """Champion vs challenger on the same rows: metric deltas with verdicts, agreement, a sample
    of the rows where they disagree. Returns the section and the disagreeing row positions."""
    deltas: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys([*candidate_metrics, *production_metrics]):
        c, p = candidate_metrics.get(name), production_metrics.get(name)
        if c is None or p is None:
            deltas[name] = {"candidate": c, "production": p, "delta": None, "verdict": "undefined"}
        else:
            deltas[name] = {
                "candidate": c,
                "production": p,
                "delta": c - p,
                "verdict": metric_direction.compare(name, c, p),
            }
    rows = len(features)
    section: dict[str, Any] = {"rows": rows, "metrics": deltas}
    if task == "regression":
        cand = np.asarray(candidate.y_pred, dtype=float).ravel()
        prod = np.asarray(production.y_pred, dtype=float).ravel()
        spread = float(np.nanstd(numeric_target(y))) if rows else 0.0
        tolerance = REGRESSION_AGREEMENT_TOLERANCE * spread
        with np.errstate(invalid="ignore"):
            agree = np.abs(cand - prod) <= tolerance
        section["agreement_tolerance"] = tolerance
        cand_out, prod_out, actual = cand, prod, numeric_target(y)
    else:
        cand_s = pd.Series(np.asarray(candidate.y_pred)).astype(str).to_numpy()
        prod_s = pd.Series(np.asarray(production.y_pred)).astype(str).to_numpy()
        agree = cand_s == prod_s
        cand_out, prod_out = cand_s, prod_s
        actual = pd.Series(np.asarray(y)).astype(str).to_numpy()
    disagree = np.flatnonzero(~agree)
    section["agreement_rate"] = float(agree.mean()) if rows else None
    section["disagreements"] = len(disagree)
    shown = disagree[:DISAGREEMENT_SAMPLE]
    sample = features.iloc[shown].reset_index(drop=True).copy()
    sample["candidate"] = cand_out[shown]
    sample["production"] = prod_out[shown]
    sample["actual"] = actual[shown]
    section["disagreement_sample"] = json_records(sample)
    return section, disagree


def disagreement_csv(
    *,
    features: pd.DataFrame,
    positions: np.ndarray,
    candidate: np.ndarray,
    production: np.ndarray,
    actual: np.ndarray,
) -> str:
    """The full list of disagreeing rows as CSV text, safe to open in a spreadsheet."""
    frame = features.iloc[positions].reset_index(drop=True).copy()
    frame["candidate"] = candidate
    frame["production"] = production
    frame["actual"] = actual
    frame.columns = [neutralise_cell(str(c)) for c in frame.columns]
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].map(neutralise_cell)
    return frame.to_csv(index=False)  # type: ignore[no-any-return]
