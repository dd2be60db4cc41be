"""The plain compute module: explainer choice, pipelines keyed by input feature, additivity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC

from explain import shap_report as sr

FEATURES = ["income", "age", "region"]
SMALL = sr.Bounds(max_evals=40, agnostic_background=20, agnostic_rows=30)


def _frame(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "income": rng.normal(50, 10, n),
            "age": rng.integers(18, 80, n).astype(float),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )


def _pipeline(estimator, y):
    frame = _frame()
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["income", "age"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
        ]
    )
    return Pipeline([("prep", prep), ("clf", estimator)]).fit(frame, y), frame


def _binary_target(frame: pd.DataFrame) -> np.ndarray:
    return np.where(frame["income"] + (frame["region"] == "south") * 8 > 53, "bad", "good")


def test_forest_pipeline_with_one_hot_is_additive_and_keyed_by_input_feature():
    frame = _frame()
    model, _ = _pipeline(RandomForestClassifier(30, random_state=0), _binary_target(frame))
    result = sr.explain(
        model=model, features=FEATURES, sample=frame.iloc[:100], background=frame.iloc[100:]
    )
    assert result.explainer == "tree"
    assert "TreeExplainer" in result.reason
    assert result.features == FEATURES  # three input features, not five encoded columns
    assert result.values.shape == (100, 3, 2)
    assert result.output_kind == "probability"
    assert result.additivity["ok"], result.additivity
    proba = model.predict_proba(frame.iloc[:100])
    assert np.allclose(result.base_values + result.values.sum(axis=1), proba, atol=1e-9)
    # region's contribution is the sum of its three one-hot columns' contributions.
    xt = model[:-1].transform(frame.iloc[:100])
    raw = shap.TreeExplainer(model[-1]).shap_values(xt)
    assert np.allclose(result.values[:, 2, :], raw[:, 2:5, :].sum(axis=1))
    importance = sr.importance(result)["combined"]
    assert set(importance) == set(FEATURES)
    assert importance["income"] > importance["age"]


def test_linear_pipeline_explains_the_margin_exactly():
    frame = _frame()
    model, _ = _pipeline(LogisticRegression(), _binary_target(frame))
    result = sr.explain(
        model=model, features=FEATURES, sample=frame.iloc[:50], background=frame.iloc[100:]
    )
    assert result.explainer == "linear"
    assert result.output_kind == "margin"
    assert result.output_names == ["good"]
    margin = model.decision_function(frame.iloc[:50])
    assert np.allclose(result.base_values[:, 0] + result.values[:, :, 0].sum(axis=1), margin)
    assert result.additivity["ok"]


def test_multiclass_gives_values_per_class_and_a_combined_importance():
    frame = _frame()
    y = np.digitize(frame["income"], [45, 55]).astype(str)
    model, _ = _pipeline(RandomForestClassifier(20, random_state=0), y)
    result = sr.explain(
        model=model, features=FEATURES, sample=frame.iloc[:40], background=frame.iloc[100:]
    )
    assert result.values.shape == (40, 3, 3)
    assert result.output_names == ["0", "1", "2"]
    summary = sr.summary(result)
    assert set(summary["importance"]["per_output"]) == {"0", "1", "2"}
    combined = summary["importance"]["combined"]
    per_class = [summary["importance"]["per_output"][c]["income"] for c in ("0", "1", "2")]
    assert combined["income"] == pytest.approx(np.mean(per_class))
    assert summary["additivity"]["ok"]


@pytest.mark.parametrize("estimator", [SVC(), KNeighborsClassifier()], ids=["svc", "knn"])
def test_model_without_fast_explainer_uses_the_bounded_permutation_explainer(estimator):
    frame = _frame()
    model, _ = _pipeline(estimator, _binary_target(frame))
    result = sr.explain(
        model=model,
        features=FEATURES,
        sample=frame.iloc[:100],
        background=frame.iloc[100:],
        bounds=SMALL,
    )
    assert result.explainer == "permutation"
    assert "no exact explainer" in result.reason
    assert "at most 40 model evaluations per row" in result.reason
    assert result.rows_explained == 30  # bounded rows
    assert result.values.shape[:2] == (30, 3)
    # SVC has no probabilities: its decision function is what is explained.
    assert result.output_kind == ("margin" if isinstance(estimator, SVC) else "probability")
    assert result.additivity["ok"], result.additivity


def test_multiclass_boosting_falls_back_and_says_tree_explainer_refused_it():
    frame = _frame()
    y = np.digitize(frame["income"], [45, 55])
    model, _ = _pipeline(GradientBoostingClassifier(n_estimators=5, random_state=0), y)
    result = sr.explain(
        model=model, features=FEATURES, sample=frame.iloc[:10], background=frame, bounds=SMALL
    )
    assert result.explainer == "permutation"
    assert "TreeExplainer does not support" in result.reason
    assert result.values.shape == (10, 3, 3)
    assert result.additivity["ok"]


def test_tree_too_slow_for_the_exact_explainer_falls_back_to_the_bounded_one():
    frame = _frame()
    model, _ = _pipeline(RandomForestClassifier(10, random_state=0), _binary_target(frame))
    result = sr.explain(
        model=model,
        features=FEATURES,
        sample=frame.iloc[:20],
        background=frame,
        bounds=sr.Bounds(tree_budget=10, max_evals=20, agnostic_background=10),
    )
    assert result.explainer == "permutation"
    assert "too slow" in result.reason
    assert result.additivity["ok"]


def test_regressor_on_a_plain_frame_matches_tree_explainer():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a", "b", "c", "d"])
    from sklearn.ensemble import RandomForestRegressor

    model = RandomForestRegressor(15, random_state=0).fit(X, X["a"] * 3 + X["b"])
    result = sr.explain(model=model, features=list(X.columns), sample=X, background=X)
    direct = shap.TreeExplainer(model).shap_values(X)
    assert np.allclose(result.values[:, :, 0], direct, atol=1e-12)
    assert result.output_names == ["prediction"]
    assert result.additivity["ok"]


def test_ridge_is_explained_by_the_linear_explainer():
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["x", "y", "z"])
    model = Ridge().fit(X, X["x"] - X["z"])
    result = sr.explain(model=model, features=["x", "y", "z"], sample=X, background=X)
    assert result.explainer == "linear"
    assert result.additivity["ok"]


def test_feature_matrix_codes_categories_for_colouring():
    frame = _frame(5)
    matrix, categories = sr.feature_matrix(frame, FEATURES)
    assert matrix.shape == (5, 3)
    assert categories["region"] == sorted(set(frame["region"]))
    assert matrix[0, 2] == categories["region"].index(frame["region"].iloc[0])
