"""Which way is better for each metric: shared by the version page and (later) release gates."""

from __future__ import annotations

import pytest

from releases.metric_direction import LOWER_IS_BETTER, compare, higher_is_better


@pytest.mark.parametrize("metric", ["accuracy", "f1_macro", "roc_auc", "r2"])
def test_scores_are_better_when_higher(metric):
    assert higher_is_better(metric)
    assert compare(metric, 0.91, 0.89) == "better"
    assert compare(metric, 0.85, 0.89) == "worse"


@pytest.mark.parametrize(
    "metric", ["mae", "rmse", "mape", "log_loss", "brier", "predict_ms_per_row"]
)
def test_errors_and_losses_are_better_when_lower(metric):
    assert metric in LOWER_IS_BETTER
    assert not higher_is_better(metric)
    assert compare(metric, 0.25, 0.30) == "better"
    assert compare(metric, 0.35, 0.30) == "worse"


def test_every_error_the_evaluator_reports_is_better_when_lower():
    from releases.evaluation import ALL_METRICS

    scores = {"accuracy", "balanced_accuracy", "roc_auc", "r2"}
    scores |= {m for m in ALL_METRICS if m.startswith(("precision", "recall", "f1"))}
    assert {m for m in ALL_METRICS if higher_is_better(m)} == scores


def test_rounding_noise_and_nan_are_the_same():
    assert compare("accuracy", 0.9 + 1e-15, 0.9) == "same"
    assert compare("log_loss", float("nan"), 0.3) == "same"


def test_the_module_is_plain_python():
    import subprocess
    import sys

    code = (
        "import sys, releases.metric_direction, releases.limits;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'celery'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
