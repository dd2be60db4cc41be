"""Validation reports written by hand in the shape the worker stores (briefs: wave 2, "The
validation report"), for the report page's tests. A feature and a class are named like a script
tag: the page must show them as text."""

from __future__ import annotations

import copy
from typing import Any

SCRIPT = "<script>alert(1)</script>"


def _curve(n: int, shape: float) -> list[float]:
    return [round((i / (n - 1)) ** shape, 4) for i in range(n)]


BINARY: dict[str, Any] = {
    "stage": "done",
    "steps": [{"name": "prep", "class": "sklearn.compose.ColumnTransformer"}],
    "load_seconds": 0.12,
    "timings": {"loading model": 0.12, "reading signature": 0.01, "evaluating": 0.4, "slices": 0.1},
    "evaluation": {
        "rows": 300,
        "task": "binary",
        "metrics": {
            "accuracy": 0.91,
            "balanced_accuracy": 0.9,
            "f1_macro": 0.9,
            "roc_auc": 0.97,
            "log_loss": 0.31,
            "brier": None,
        },
        "undefined_metrics": {"brier": "needs probabilities for exactly two classes"},
        "per_class": [
            {"class": "bad", "precision": 0.9, "recall": 0.88, "f1": 0.89, "support": 140},
            {"class": SCRIPT, "precision": 0.92, "recall": 0.93, "f1": 0.925, "support": 160},
        ],
        "confusion_matrix": {"labels": ["bad", SCRIPT], "matrix": [[123, 17], [10, 150]]},
        "curves": {
            "roc": [{"class": SCRIPT, "fpr": _curve(20, 1), "tpr": _curve(20, 0.3), "auc": 0.97}],
            "pr": [
                {
                    "class": SCRIPT,
                    "precision": [1 - x * 0.2 for x in _curve(20, 1)],
                    "recall": _curve(20, 1),
                    "average_precision": 0.95,
                }
            ],
            "calibration": [
                {
                    "class": SCRIPT,
                    "mean_predicted": [0.1, 0.3, 0.5, 0.7, 0.9],
                    "fraction_positive": [0.12, 0.28, 0.5, 0.55, 0.93],
                }
            ],
        },
        "slices": [
            {
                "feature": "region",
                "kind": "categorical",
                "slice": "north",
                "count": 100,
                "metric": "accuracy",
                "value": 0.95,
                "overall": 0.91,
                "flagged": False,
            },
            {
                "feature": SCRIPT,
                "kind": "categorical",
                "slice": "south",
                "count": 90,
                "metric": "accuracy",
                "value": 0.71,
                "overall": 0.91,
                "flagged": True,
            },
            {
                "feature": "income",
                "kind": "numeric",
                "slice": "[10, 40)",
                "count": 80,
                "metric": "accuracy",
                "value": 0.88,
                "overall": 0.91,
                "flagged": False,
            },
        ],
        "predict_ms_per_row": 0.02,
    },
    "comparison": {
        "against_version": 1,
        "rows": 300,
        "metrics": {
            "accuracy": {"candidate": 0.91, "production": 0.89, "delta": 0.02, "verdict": "better"},
            "roc_auc": {"candidate": 0.97, "production": 0.98, "delta": -0.01, "verdict": "worse"},
            "log_loss": {
                "candidate": 0.31,
                "production": 0.35,
                "delta": -0.04,
                "verdict": "better",
            },
        },
        "agreement_rate": 0.943,
        "disagreements": 17,
        "disagreement_sample": [
            {
                "income": 41.5,
                SCRIPT: "x",
                "candidate": "bad",
                "production": "good",
                "actual": "bad",
            },
            {
                "income": 55.0,
                SCRIPT: "y",
                "candidate": "good",
                "production": "bad",
                "actual": "bad",
            },
        ],
        "signature_diff": {"changed": False},
        "latency_delta_ms": 0.4,
    },
    "cost": {
        "artifact_bytes": 123456,
        "load_seconds": 0.12,
        "peak_memory_mb": 88.5,
        "latency_ms": {"single_row": {"p50": 1.1, "p99": 2.5}, "batch_100": {"p50": 3.2, "p99": 6}},
    },
    "gates": [
        {
            "name": "accuracy at least 0.9",
            "kind": "min_metric",
            "metric": "accuracy",
            "threshold": 0.9,
            "measured": 0.91,
            "passed": True,
            "detail": "0.91 ≥ 0.9",
        },
        {
            "name": "roc_auc no worse than production by 0.005",
            "kind": "max_regression",
            "metric": "roc_auc",
            "threshold": 0.005,
            "measured": 0.01,
            "passed": False,
            "detail": "fell 0.01 against production v1",
        },
    ],
    "gates_passed": False,
}

MULTICLASS: dict[str, Any] = {
    "stage": "done",
    "evaluation": {
        "rows": 150,
        "task": "multiclass",
        "metrics": {"accuracy": 0.8, "f1_macro": 0.78, "roc_auc": 0.9},
        "per_class": [
            {"class": c, "precision": 0.8, "recall": 0.8, "f1": 0.8, "support": 50}
            for c in ("setosa", "versicolor", "virginica")
        ],
        "confusion_matrix": {
            "labels": ["setosa", "versicolor", "virginica"],
            "matrix": [[50, 0, 0], [0, 38, 12], [0, 18, 32]],
        },
        "curves": {
            "roc": [
                {"class": c, "fpr": _curve(10, 1), "tpr": _curve(10, s), "auc": a}
                for c, s, a in (
                    ("setosa", 0.1, 1.0),
                    ("versicolor", 0.5, 0.82),
                    ("virginica", 0.4, 0.88),
                )
            ],
        },
    },
}

REGRESSION: dict[str, Any] = {
    "stage": "done",
    "evaluation": {
        "rows": 50,
        "task": "regression",
        "metrics": {"r2": 0.87, "mae": 1.2, "rmse": 1.6, "mape": None},
        "undefined_metrics": {"mape": "the target contains zeros"},
        "regression_plots": {
            "predicted": [float(i) + (0.5 if i % 2 else -0.5) for i in range(50)],
            "actual": [float(i) for i in range(50)],
            "residual": [(-0.5 if i % 2 else 0.5) for i in range(50)],
        },
    },
}

# What an old version (before issue 9) stored: four numbers and nothing else.
OLD: dict[str, Any] = {
    "stage": "done",
    "steps": [],
    "evaluation": {"rows": 10, "metrics": {"accuracy": 0.9, "f1_macro": 0.88}},
    "load_seconds": 0.1,
}

FAILED_LOADING: dict[str, Any] = {
    "stage": "failed",
    "error_code": "crashed",
    "failed_stage": "loading model",
}

FAILED_DATA: dict[str, Any] = {
    "stage": "failed",
    "error_code": "unusable",
    "failed_stage": "evaluating",
}


def report(name: str) -> dict[str, Any]:
    return copy.deepcopy(globals()[name])
