"""SHAP values of a fitted scikit-learn model, in terms of its original input features.

Plain module: no Django, no broker (the SHAP report job runs it in the sandbox, the explain
endpoint in the web process). ``shap`` is imported inside functions, so importing this module is
cheap.

The explainer is chosen by model: ``TreeExplainer`` (exact, path-dependent, no background) for
tree ensembles, ``LinearExplainer`` (exact, on the background's mean) for linear models, and a
bounded ``PermutationExplainer`` (a fixed number of model evaluations per row on a small
background) for everything else, or when the exact explainer refuses the model or would be too
slow. Pipelines are transformed by their preprocessing steps, the final estimator is explained,
and the contributions of the columns one input produced (one-hot) are summed back onto that input.
The model-agnostic explainer explains the whole model on the original inputs directly.

Every result carries an additivity check: base value + sum of SHAP values == the output that was
explained (probability, margin or prediction), within a stated tolerance.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

TREE_CLASSES = frozenset(
    {
        "DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier",
        "ExtraTreeRegressor", "RandomForestClassifier", "RandomForestRegressor",
        "ExtraTreesClassifier", "ExtraTreesRegressor", "GradientBoostingClassifier",
        "GradientBoostingRegressor", "HistGradientBoostingClassifier",
        "HistGradientBoostingRegressor",
    }
)  # fmt: skip
# Tree ensembles whose leaves hold class probabilities; gradient boosting explains the margin.
PROBABILITY_TREES = frozenset(
    {
        "DecisionTreeClassifier", "ExtraTreeClassifier", "RandomForestClassifier",
        "ExtraTreesClassifier",
    }
)  # fmt: skip
LINEAR_CLASSES = frozenset(
    {
        "LinearRegression", "Ridge", "RidgeCV", "Lasso", "LassoCV", "ElasticNet",
        "ElasticNetCV", "LogisticRegression", "LogisticRegressionCV", "SGDClassifier",
        "SGDRegressor", "LinearSVC", "LinearSVR", "HuberRegressor", "BayesianRidge",
        "RidgeClassifier",
    }
)  # fmt: skip

# Relative to the scale of the explained output (at least 1).
ADDITIVITY_TOLERANCE = 1e-6


class ExplainError(ValueError):
    """The model or data cannot be explained; the message says why, for the user."""


@dataclass(frozen=True)
class Bounds:
    """How much work an explanation may do."""

    # Estimated tree-explainer work (rows x sum over trees of leaves x depth^2) above which the
    # exact explainer is too slow and the bounded one is used instead.
    tree_budget: float = 5e10
    # The model-agnostic explainer: evaluations of the model per explained row (at least
    # 2 * features + 1), background rows, and explained rows.
    max_evals: int = 500
    agnostic_background: int = 50
    agnostic_rows: int = 200


@dataclass
class Explanation:
    """SHAP values keyed by original input feature.

    ``values`` is (rows, features, outputs); ``base_values`` and ``outputs_explained`` are
    (rows, outputs). ``output_names`` are the classes explained (or ``["prediction"]``).
    """

    features: list[str]
    output_names: list[str]
    output_kind: str  # probability | margin | prediction
    values: np.ndarray
    base_values: np.ndarray
    outputs_explained: np.ndarray
    explainer: str
    reason: str
    additivity: dict[str, Any]
    rows_explained: int
    seconds: float = 0.0


@dataclass
class Explainer:
    """A fitted explainer for one model, reusable across calls (the endpoint caches it)."""

    model: Any
    features: list[str]
    kind: str  # tree | linear | permutation
    reason: str
    output_kind: str
    output_names: list[str]
    bounds: Bounds
    preprocess: Any = None
    estimator: Any = None
    column_owner: np.ndarray | None = None  # transformed column -> input feature index
    shap_explainer: Any = None
    codebook: dict[str, list[Any]] = field(default_factory=dict)
    # The report checks additivity against the estimator's own output; a synchronous
    # explanation may take the tree output from shap's evaluation of the same trees instead.
    check_with_estimator: bool = True

    def explain(self, frame: pd.DataFrame) -> Explanation:
        started = time.perf_counter()
        frame = frame[self.features]
        if self.kind == "permutation":
            frame = frame.iloc[: self.bounds.agnostic_rows]
            values, base, outputs = self._permutation(frame)
        else:
            values, base, outputs = self._exact(frame)
        values, base = _as_3d(values, base, len(frame))
        return Explanation(
            features=self.features,
            output_names=self.output_names,
            output_kind=self.output_kind,
            values=values,
            base_values=base,
            outputs_explained=outputs.reshape(len(frame), -1),
            explainer=self.kind,
            reason=self.reason,
            additivity=additivity(values, base, outputs.reshape(len(frame), -1)),
            rows_explained=len(frame),
            seconds=time.perf_counter() - started,
        )

    def _exact(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Without preprocessing the estimator sees the frame itself (its fitted feature names).
        x: Any = (
            _dense(self.preprocess.transform(frame))
            if self.preprocess is not None
            else frame.astype(np.float64)
        )
        raw = np.asarray(self.shap_explainer.shap_values(x), dtype=np.float64)
        base = np.asarray(self.shap_explainer.expected_value, dtype=np.float64).reshape(-1)
        if self.kind == "tree" and not self.check_with_estimator:
            # shap's own C evaluation of the same trees: the estimator's output to ~1e-15 in
            # microseconds, where a forest's predict_proba costs milliseconds per call (joblib).
            outputs = np.asarray(self.shap_explainer.model.predict(x), dtype=np.float64)
            outputs = outputs.reshape(len(frame), -1)[:, -base.size :]
        else:
            outputs = _explained_output(self.estimator, x, self.output_kind, base.size)
        if self.column_owner is not None:
            raw = _group(raw, self.column_owner, len(self.features))
        return raw, np.broadcast_to(base, (len(frame), base.size)).copy(), outputs

    def _permutation(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        codes = _encode(frame, self.codebook)
        result = self.shap_explainer(codes, max_evals=self._max_evals(), silent=True)
        outputs = self._agnostic_output(codes)
        return np.asarray(result.values), np.asarray(result.base_values), outputs

    def _max_evals(self) -> int:
        return _max_evals(self.bounds, len(self.features))

    def _agnostic_output(self, codes: np.ndarray) -> np.ndarray:
        frame = _decode(codes, self.features, self.codebook)
        if self.output_kind == "probability":
            return np.asarray(self.model.predict_proba(frame), dtype=np.float64)
        if self.output_kind == "margin":
            margin = np.asarray(self.model.decision_function(frame), dtype=np.float64)
            return margin.reshape(len(frame), -1)
        return np.asarray(self.model.predict(frame), dtype=np.float64).reshape(len(frame), -1)


def build_explainer(
    *,
    model: Any,
    features: list[str],
    background: pd.DataFrame | Callable[[], pd.DataFrame],
    bounds: Bounds | None = None,
    rows_to_explain: int = 1,
) -> Explainer:
    """Choose and fit the explainer for ``model`` (an estimator or a Pipeline), saying why.
    ``background`` may be a callable: the tree explainer never needs it, so it is only read
    for the others."""
    bounds = bounds or Bounds()
    preprocess, estimator = _split(model)
    name = type(estimator).__name__
    classes = [str(_label(c)) for c in getattr(estimator, "classes_", [])]
    classifier = bool(classes)
    owner, why_not_mapped = _column_owners(preprocess, features)
    fallback = ""
    if why_not_mapped:
        fallback = why_not_mapped
    elif name in TREE_CLASSES:
        cost = rows_to_explain * _tree_cost(estimator)
        if cost > bounds.tree_budget:
            fallback = (
                f"{name} is a tree ensemble, but exact TreeExplainer would take about {cost:.1e} "
                f"steps for {rows_to_explain} rows (budget {bounds.tree_budget:.0e}): too slow, "
                "so the bounded model-agnostic explainer is used instead"
            )
        else:
            try:
                return _tree(model, estimator, preprocess, owner, features, classes, bounds)
            except Exception as exc:  # shap refuses some ensembles (multiclass boosting)
                fallback = (
                    f"TreeExplainer does not support this {name} ({_first_line(exc)}), so the "
                    "bounded model-agnostic explainer is used instead"
                )
    elif name in LINEAR_CLASSES and hasattr(estimator, "coef_"):
        import shap

        background = _frame_of(background, features)
        x_bg = _transform(preprocess, background)
        return Explainer(
            model=model,
            features=features,
            kind="linear",
            reason=f"{name} is linear: LinearExplainer gives exact values of its "
            + ("margin (decision function)" if classifier else "prediction")
            + f" relative to the mean of {len(background)} background rows",
            output_kind="margin" if classifier else "prediction",
            output_names=_margin_names(classes, np.asarray(estimator.coef_)),
            bounds=bounds,
            preprocess=preprocess,
            estimator=estimator,
            column_owner=owner,
            shap_explainer=shap.LinearExplainer(estimator, x_bg),
        )
    else:
        fallback = f"{name} has no exact explainer in SHAP"
    return _agnostic(model, features, _frame_of(background, features), classes, bounds, fallback)


def _frame_of(
    background: pd.DataFrame | Callable[[], pd.DataFrame], features: list[str]
) -> pd.DataFrame:
    frame = background() if callable(background) else background
    return frame[features]


def explain(
    *,
    model: Any,
    features: list[str],
    sample: pd.DataFrame,
    background: pd.DataFrame,
    bounds: Bounds | None = None,
) -> Explanation:
    """Explain every row of ``sample`` (the agnostic explainer stops at its row bound)."""
    started = time.perf_counter()
    explainer = build_explainer(
        model=model,
        features=features,
        background=background,
        bounds=bounds,
        rows_to_explain=len(sample),
    )
    result = explainer.explain(sample)
    result.seconds = time.perf_counter() - started
    return result


def importance(explanation: Explanation) -> dict[str, Any]:
    """Global importance: mean |SHAP| per feature, per output and combined (mean over outputs)."""
    mean_abs = np.abs(explanation.values).mean(axis=0)  # (features, outputs)
    per_output = {
        out: _by_feature(explanation.features, mean_abs[:, k])
        for k, out in enumerate(explanation.output_names)
    }
    return {
        "combined": _by_feature(explanation.features, mean_abs.mean(axis=1)),
        "per_output": per_output,
    }


def summary(explanation: Explanation) -> dict[str, Any]:
    """The JSON half of a report (the arrays go to an .npz beside it)."""
    return {
        "explainer": explanation.explainer,
        "reason": explanation.reason,
        "output_kind": explanation.output_kind,
        "outputs": explanation.output_names,
        "features": explanation.features,
        "rows_explained": explanation.rows_explained,
        "base_values": [float(v) for v in explanation.base_values.mean(axis=0)],
        "additivity": explanation.additivity,
        "importance": importance(explanation),
        "seconds": round(explanation.seconds, 4),
    }


def feature_matrix(frame: pd.DataFrame, features: list[str]) -> tuple[np.ndarray, dict[str, list]]:
    """Feature values as floats for colouring plots: categories become their index (listed)."""
    columns = []
    categories: dict[str, list[Any]] = {}
    for name in features:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            columns.append(pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64))
        else:
            cats = sorted({_label(v) for v in column.dropna()})
            categories[name] = cats
            index = {c: i for i, c in enumerate(cats)}
            columns.append(np.array([index.get(_label(v), np.nan) for v in column], dtype=float))
    return np.column_stack(columns) if columns else np.empty((len(frame), 0)), categories


def additivity(values: np.ndarray, base: np.ndarray, outputs: np.ndarray) -> dict[str, Any]:
    """base + sum(SHAP) against the explained output, per row and output."""
    reconstructed = base + values.sum(axis=1)
    error = float(np.max(np.abs(reconstructed - outputs))) if outputs.size else 0.0
    scale = max(1.0, float(np.max(np.abs(outputs))) if outputs.size else 1.0)
    tolerance = ADDITIVITY_TOLERANCE * scale
    return {"max_abs_error": error, "tolerance": tolerance, "ok": error <= tolerance}


# --- Choosing -----------------------------------------------------------------------------------


def _tree(
    model: Any,
    estimator: Any,
    preprocess: Any,
    owner: np.ndarray | None,
    features: list[str],
    classes: list[str],
    bounds: Bounds,
) -> Explainer:
    import shap

    name = type(estimator).__name__
    shap_explainer = shap.TreeExplainer(estimator)
    n_outputs = np.asarray(shap_explainer.expected_value).size
    if not classes:
        kind, names = "prediction", ["prediction"]
    elif name in PROBABILITY_TREES:
        kind, names = "probability", classes
    else:
        kind, names = "margin", classes if n_outputs == len(classes) else classes[-1:]
    return Explainer(
        model=model,
        features=features,
        kind="tree",
        reason=f"{name} is a tree ensemble: TreeExplainer gives exact values of its {kind} "
        "(path-dependent, no background needed)",
        output_kind=kind,
        output_names=names,
        bounds=bounds,
        preprocess=preprocess,
        estimator=estimator,
        column_owner=owner,
        shap_explainer=shap_explainer,
    )


def _agnostic(
    model: Any,
    features: list[str],
    background: pd.DataFrame,
    classes: list[str],
    bounds: Bounds,
    why: str,
) -> Explainer:
    import shap

    codebook = {
        name: sorted({_label(v) for v in background[name].dropna()}, key=str)
        for name in features
        if not pd.api.types.is_numeric_dtype(background[name])
    }
    small = background.sample(
        n=min(bounds.agnostic_background, len(background)), random_state=0
    ).reset_index(drop=True)
    # A classifier without probabilities (SVC) is explained through its decision function.
    if classes and hasattr(model, "predict_proba"):
        kind, names = "probability", classes
    elif classes and hasattr(model, "decision_function"):
        kind, names = "margin", classes if len(classes) > 2 else classes[-1:]
    else:
        kind, names = "prediction", ["prediction"]
    explainer = Explainer(
        model=model,
        features=features,
        kind="permutation",
        reason=(
            f"{why}: PermutationExplainer with at most "
            f"{_max_evals(bounds, len(features))} model evaluations per row, "
            f"{len(small)} background rows, at most {bounds.agnostic_rows} rows explained"
        ),
        output_kind=kind,
        output_names=names,
        bounds=bounds,
        codebook=codebook,
    )
    explainer.shap_explainer = shap.PermutationExplainer(
        explainer._agnostic_output,
        shap.maskers.Independent(_encode(small, codebook), max_samples=len(small)),
        seed=0,
    )
    return explainer


def _max_evals(bounds: Bounds, n_features: int) -> int:
    # One permutation costs 2 * features + 1 evaluations; ten are plenty for few features.
    one = 2 * n_features + 1
    return max(one, min(bounds.max_evals, 10 * one))


def _split(model: Any) -> tuple[Any, Any]:
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline) and len(model.steps) > 1:
        return model[:-1], model.steps[-1][1]
    if isinstance(model, Pipeline):
        return None, model.steps[-1][1]
    return None, model


def _tree_cost(estimator: Any) -> float:
    trees = getattr(estimator, "estimators_", None)
    if trees is None:
        trees = [estimator]
    total = 0.0
    for tree in np.ravel(np.asarray(trees, dtype=object)):
        inner = getattr(tree, "tree_", None)
        if inner is None:
            return 0.0  # HistGradientBoosting: no per-tree objects; cheap enough in practice
        total += inner.n_leaves * max(1, inner.max_depth) ** 2
    return total


# --- Mapping transformed columns back to input features ----------------------------------------


def _column_owners(preprocess: Any, features: list[str]) -> tuple[np.ndarray | None, str]:
    """For each column the preprocessing produces, the index of the input feature it came from;
    or None and why not (then the agnostic explainer explains the whole model)."""
    if preprocess is None:
        return None, ""
    try:
        owners = _owners(preprocess, [[i] for i in range(len(features))], features)
    except _Unmappable as exc:
        return None, f"the pipeline's {exc} cannot be traced back to input features"
    if any(len(o) != 1 for o in owners):
        return None, "a pipeline step combines several input features into one column"
    return np.array([o[0] for o in owners]), ""


class _Unmappable(Exception):
    pass


def _owners(step: Any, inputs: list[list[int]], names: list[str]) -> list[list[int]]:
    """``inputs[i]``: the original features behind the step's i-th input column."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    if isinstance(step, Pipeline):
        for _, sub in step.steps:
            if sub is None or sub == "passthrough":
                continue
            inputs = _owners(sub, inputs, names)
        return inputs
    if isinstance(step, ColumnTransformer):
        return _column_transformer_owners(step, inputs, names)
    if isinstance(step, OneHotEncoder):
        counts = _onehot_counts(step)
        return [inputs[i] for i, n in enumerate(counts) for _ in range(n)]
    n_out = _n_outputs(step, len(inputs))
    if n_out == len(inputs):
        return inputs  # one column in, one column out (scalers, imputers, ordinal encoders)
    raise _Unmappable(type(step).__name__)


def _column_transformer_owners(
    ct: Any, inputs: list[list[int]], names: list[str]
) -> list[list[int]]:
    seen_in = list(getattr(ct, "feature_names_in_", []))
    out: list[list[int]] = []
    for _name, transformer, columns in ct.transformers_:
        if transformer == "drop":
            continue
        idx = _column_indices(columns, seen_in, len(inputs))
        if not idx:
            continue
        sub_inputs = [inputs[i] for i in idx]
        if transformer == "passthrough":
            out += sub_inputs
        else:
            out += _owners(transformer, sub_inputs, names)
    return out


def _column_indices(columns: Any, seen_in: list[str], n: int) -> list[int]:
    if isinstance(columns, slice):
        return list(range(n))[columns]
    cols = list(np.atleast_1d(columns)) if not isinstance(columns, str) else [columns]
    if not cols:
        return []
    if isinstance(cols[0], bool | np.bool_):
        return [i for i, keep in enumerate(cols) if keep]
    if isinstance(cols[0], str):
        return [seen_in.index(c) for c in cols]
    return [int(c) for c in cols]


def _onehot_counts(encoder: Any) -> list[int]:
    # Columns per input feature after dropped and infrequent categories: scikit-learn keeps the
    # count (private but stable since 1.1); without it, the categories give it when nothing is
    # dropped or grouped.
    counts = getattr(encoder, "_n_features_outs", None)
    if counts is not None:
        return [int(n) for n in counts]
    if encoder.drop is None and not getattr(encoder, "infrequent_categories_", None):
        return [len(c) for c in encoder.categories_]
    raise _Unmappable("OneHotEncoder")


def _n_outputs(step: Any, n_in: int) -> int:
    try:
        return len(step.get_feature_names_out())
    except Exception:
        raise _Unmappable(type(step).__name__) from None


def _group(raw: np.ndarray, owner: np.ndarray, n_features: int) -> np.ndarray:
    """Sum transformed columns' SHAP values onto the input feature that produced them."""
    shape = (raw.shape[0], n_features, *raw.shape[2:])
    grouped = np.zeros(shape, dtype=np.float64)
    # Each transformed column adds onto its owner; several columns may share one owner.
    for column, feature in enumerate(owner):
        grouped[:, int(feature)] += raw[:, column]
    return grouped


# --- Small helpers ------------------------------------------------------------------------------


def _transform(preprocess: Any, frame: pd.DataFrame) -> Any:
    if preprocess is None:
        return frame.astype(np.float64)
    return _dense(preprocess.transform(frame))


def _dense(x: Any) -> np.ndarray:
    if hasattr(x, "toarray"):
        x = x.toarray()
    return np.asarray(x, dtype=np.float64)


def _explained_output(estimator: Any, x: Any, kind: str, n_outputs: int) -> np.ndarray:
    if kind == "probability":
        out = estimator.predict_proba(x)
    elif kind == "margin":
        out = estimator.decision_function(x)
    else:
        out = estimator.predict(x)
    return np.asarray(out, dtype=np.float64).reshape(len(x), -1)[:, -n_outputs:]


def _as_3d(values: np.ndarray, base: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    if values.ndim == 2:
        values = values[:, :, None]
    return values, np.asarray(base, dtype=np.float64).reshape(rows, -1)


def _margin_names(classes: list[str], coef: np.ndarray) -> list[str]:
    if not classes:
        return ["prediction"]
    return classes if coef.ndim == 2 and coef.shape[0] == len(classes) else classes[-1:]


def _encode(frame: pd.DataFrame, codebook: dict[str, list[Any]]) -> np.ndarray:
    """Categorical columns as category indices, so shap's maskers can work on a float matrix."""
    out = np.empty((len(frame), frame.shape[1]), dtype=np.float64)
    for j, name in enumerate(frame.columns):
        if name in codebook:
            index = {c: i for i, c in enumerate(codebook[name])}
            out[:, j] = [
                index.get(_label(v), -1) if not _missing(v) else np.nan for v in frame[name]
            ]
            unseen = out[:, j] == -1
            if unseen.any():  # a category the background never had: extend the book
                for i in np.flatnonzero(unseen):
                    codebook[name].append(_label(frame[name].iloc[i]))
                    out[i, j] = len(codebook[name]) - 1
        else:
            out[:, j] = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
    return out


def _decode(codes: np.ndarray, features: list[str], codebook: dict[str, list[Any]]) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for j, name in enumerate(features):
        if name in codebook:
            book = codebook[name]
            data[name] = pd.array(
                [book[int(c)] if not np.isnan(c) else None for c in codes[:, j]], dtype=object
            )
        else:
            data[name] = codes[:, j]
    return pd.DataFrame(data, columns=features)


def _by_feature(features: list[str], values: np.ndarray) -> dict[str, float]:
    return {name: float(v) for name, v in zip(features, values, strict=True)}


def _label(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    return value if isinstance(value, str | int | float | bool) else str(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
