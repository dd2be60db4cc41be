"""Which way is better for each metric: the version page colours deltas with it, and release
gates will compare candidates with it. Plain module: no Django.
"""

from __future__ import annotations

import math
from typing import Literal

Verdict = Literal["better", "worse", "same"]

# Errors, losses and costs: a smaller number is better. Every other metric the validator reports
# (accuracy, f1_macro, roc_auc, r2, ...) is a score, better when larger.
LOWER_IS_BETTER: frozenset[str] = frozenset(
    {
        "mae",
        "mse",
        "rmse",
        "mape",
        "log_loss",
        "brier",  # what releases/evaluation.py reports
        "brier_score",
        "predict_ms_per_row",
        "load_seconds",
    }
)

# Below this a difference is rounding noise, not a change anyone should act on.
SAME_TOLERANCE = 1e-12


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def compare(metric: str, candidate: float, baseline: float) -> Verdict:
    """Is ``candidate`` better, worse or the same as ``baseline`` for this metric?"""
    delta = candidate - baseline
    if math.isnan(delta) or abs(delta) < SAME_TOLERANCE:
        return "same"
    improved = delta > 0 if higher_is_better(metric) else delta < 0
    return "better" if improved else "worse"
