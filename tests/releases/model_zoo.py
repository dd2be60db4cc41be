"""The models `DEFAULT_TRUSTED_TYPES` was derived from, fitted on tiny synthetic data.

Used to check that ModelGate's own schema scan agrees with ``skops.io.get_untrusted_types`` and
that the parameter and structure policies accept every ordinary model.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pandas as pd


def _data() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 4)), columns=["a", "b", "c", "d"])
    binary = (X["a"] + X["b"] > 0).astype(int).to_numpy()
    multi = np.digitize(X["a"], [-0.5, 0.5])
    y_reg = X["a"] * 2 + X["c"] + rng.normal(scale=0.1, size=80)
    return X, binary, multi, np.asarray(y_reg)


def _mixed() -> tuple[pd.DataFrame, np.ndarray]:
    X, binary, _, _ = _data()
    frame = X.copy()
    frame["city"] = np.where(X["d"] > 0, "paris", "lyon")
    frame.loc[::7, "a"] = np.nan
    labels = np.where(binary == 1, "yes", "no")
    return frame, labels


def _zoo() -> dict[str, Callable[[], Any]]:
    from sklearn import (
        calibration,
        compose,
        decomposition,
        ensemble,
        feature_selection,
        impute,
        linear_model,
        naive_bayes,
        neighbors,
        neural_network,
        pipeline,
        preprocessing,
        svm,
        tree,
    )  # fmt: skip

    X, binary, multi, y_reg = _data()
    frame, labels = _mixed()

    def fit(model: Any, target: Any = None, data: Any = None) -> Any:
        return model.fit(X if data is None else data, binary if target is None else target)

    def mixed_pipeline(model: Any) -> Any:
        pre = compose.ColumnTransformer(
            [
                ("cat", preprocessing.OneHotEncoder(handle_unknown="ignore"), ["city"]),
                ("ord", preprocessing.OrdinalEncoder(), ["city"]),
                (
                    "num",
                    pipeline.Pipeline(
                        [
                            ("impute", impute.SimpleImputer()),
                            ("scale", preprocessing.StandardScaler()),
                            ("minmax", preprocessing.MinMaxScaler()),
                            ("robust", preprocessing.RobustScaler()),
                            ("maxabs", preprocessing.MaxAbsScaler()),
                        ]
                    ),
                    ["a", "b", "c", "d"],
                ),
            ]
        )
        return pipeline.Pipeline([("pre", pre), ("model", model)]).fit(frame, labels)

    return {
        "logistic": lambda: fit(linear_model.LogisticRegression()),
        "logistic_multi": lambda: fit(linear_model.LogisticRegression(), multi),
        "ridge": lambda: fit(linear_model.Ridge(), y_reg),
        "sgd": lambda: fit(linear_model.SGDClassifier(loss="log_loss")),
        "perceptron": lambda: fit(linear_model.Perceptron()),
        "lasso": lambda: fit(linear_model.Lasso(), y_reg),
        "elastic_net": lambda: fit(linear_model.ElasticNet(), y_reg),
        "huber": lambda: fit(linear_model.HuberRegressor(), y_reg),
        "poisson": lambda: fit(linear_model.PoissonRegressor(), np.abs(y_reg)),
        "quantile": lambda: fit(linear_model.QuantileRegressor(alpha=0.0), y_reg),
        "decision_tree": lambda: fit(tree.DecisionTreeClassifier(max_depth=3)),
        "extra_tree": lambda: fit(tree.ExtraTreeRegressor(max_depth=3), y_reg),
        "random_forest": lambda: fit(ensemble.RandomForestClassifier(n_estimators=3)),
        "extra_trees": lambda: fit(ensemble.ExtraTreesRegressor(n_estimators=3), y_reg),
        "gradient_boosting": lambda: fit(ensemble.GradientBoostingClassifier(n_estimators=3)),
        "gradient_boosting_multi": lambda: fit(
            ensemble.GradientBoostingClassifier(n_estimators=3), multi
        ),
        "gradient_boosting_huber": lambda: fit(
            ensemble.GradientBoostingRegressor(n_estimators=3, loss="huber"), y_reg
        ),
        "hist_gradient_boosting": lambda: fit(ensemble.HistGradientBoostingClassifier(max_iter=3)),
        "hist_gradient_boosting_early": lambda: fit(
            ensemble.HistGradientBoostingRegressor(
                max_iter=5, early_stopping=True, validation_fraction=0.2, n_iter_no_change=1
            ),
            y_reg,
        ),
        "hist_gradient_boosting_categorical": lambda: ensemble.HistGradientBoostingClassifier(
            max_iter=3, categorical_features=[0]
        ).fit(np.c_[np.digitize(X["a"], [0.0]), X[["b"]]], binary),
        "ada_boost": lambda: fit(ensemble.AdaBoostClassifier(n_estimators=3)),
        "bagging": lambda: fit(
            ensemble.BaggingClassifier(
                tree.DecisionTreeClassifier(), n_estimators=3, max_features=0.5
            )
        ),
        "isolation_forest": lambda: fit(ensemble.IsolationForest(n_estimators=3)),
        "svc": lambda: fit(svm.SVC()),
        "svc_probability": lambda: fit(svm.SVC(probability=True)),
        "svr": lambda: fit(svm.SVR(), y_reg),
        "linear_svc": lambda: fit(svm.LinearSVC()),
        "knn_kd_tree": lambda: fit(neighbors.KNeighborsClassifier(algorithm="kd_tree")),
        "knn_ball_tree": lambda: fit(neighbors.KNeighborsRegressor(algorithm="ball_tree"), y_reg),
        "knn_brute": lambda: fit(neighbors.KNeighborsClassifier(algorithm="brute")),
        "gaussian_nb": lambda: fit(naive_bayes.GaussianNB()),
        "bernoulli_nb": lambda: fit(naive_bayes.BernoulliNB()),
        "mlp_adam": lambda: fit(neural_network.MLPClassifier(max_iter=20)),
        "mlp_sgd": lambda: fit(neural_network.MLPRegressor(solver="sgd", max_iter=20), y_reg),
        "calibrated_sigmoid": lambda: fit(
            calibration.CalibratedClassifierCV(linear_model.LogisticRegression(), cv=2)
        ),
        "calibrated_isotonic": lambda: fit(
            calibration.CalibratedClassifierCV(
                ensemble.RandomForestClassifier(n_estimators=3), cv=2, method="isotonic"
            )
        ),
        "stacking": lambda: fit(
            ensemble.StackingClassifier(
                [
                    ("lr", linear_model.LogisticRegression()),
                    ("tree", tree.DecisionTreeClassifier(max_depth=2)),
                ]
            )
        ),
        "voting": lambda: fit(
            ensemble.VotingRegressor(
                [("ridge", linear_model.Ridge()), ("tree", tree.DecisionTreeRegressor())]
            ),
            y_reg,
        ),
        "pipeline_logistic": lambda: mixed_pipeline(linear_model.LogisticRegression()),
        "pipeline_forest": lambda: mixed_pipeline(ensemble.RandomForestClassifier(n_estimators=3)),
        "pipeline_features": lambda: fit(
            pipeline.Pipeline(
                [
                    ("poly", preprocessing.PolynomialFeatures()),
                    (
                        "bins",
                        preprocessing.KBinsDiscretizer(
                            n_bins=3, quantile_method="averaged_inverted_cdf"
                        ),
                    ),
                    ("var", feature_selection.VarianceThreshold()),
                    ("kbest", feature_selection.SelectKBest(k=3)),
                    ("pca", decomposition.PCA(n_components=2)),
                    ("model", linear_model.LogisticRegression()),
                ]
            )
        ),
        "select_k_best_regression": lambda: fit(
            feature_selection.SelectKBest(feature_selection.f_regression, k=2), y_reg
        ),
        "select_k_best_chi2": lambda: fit(
            feature_selection.SelectKBest(feature_selection.chi2, k=2), binary, X.abs()
        ),
        "function_transformer_log1p": lambda: fit(
            pipeline.make_pipeline(
                preprocessing.FunctionTransformer(np.log1p), linear_model.LogisticRegression()
            ),
            binary,
            X.abs(),
        ),
        "feature_union": lambda: fit(
            pipeline.Pipeline(
                [
                    (
                        "union",
                        pipeline.FeatureUnion(
                            [
                                ("pca", decomposition.PCA(1)),
                                ("scale", preprocessing.StandardScaler()),
                            ]
                        ),
                    ),
                    ("model", linear_model.LogisticRegression()),
                ]
            )
        ),
        "string_target_forest": lambda: ensemble.RandomForestClassifier(n_estimators=2).fit(
            X, labels
        ),
    }


MODEL_NAMES = sorted(_zoo())
# Zoo models the policy refuses on purpose: HistGradientBoosting with native categorical
# features keeps a functools.partial(check_array, ...), and functools.partial is never loaded.
REFUSED_BY_POLICY = {"hist_gradient_boosting_categorical": "forbidden_type"}


@cache
def zoo_model(name: str) -> Any:
    return _zoo()[name]()


@cache
def zoo_skops_bytes(name: str) -> bytes:
    import skops.io as sio

    return sio.dumps(zoo_model(name))
