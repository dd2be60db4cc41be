"""The report's numbers equal scikit-learn's own functions on the same data (plain modules)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn import metrics
from sklearn.calibration import calibration_curve
from sklearn.datasets import load_diabetes, load_wine, make_classification
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier

from releases import evaluation
from releases.validation import validate_artifact
from tests.releases import model_files as mf

LIMITS = {"max_uncompressed_bytes": 50 * 1024**2, "max_entries": 10_000}


def _validate(tmp_path, model, frame, target, **kwargs):
    path = tmp_path / "m.skops"
    sio.dump(model, path)
    return validate_artifact(
        path=path, artifact_format="skops", trusted=set(), evaluation=frame, target=target,
        **LIMITS, **kwargs,
    )  # fmt: skip


def _close(value, expected):
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_binary_pipeline_metrics_equal_sklearns(tmp_path):
    frame, y = mf.tabular()
    model = mf.pipeline_model()
    report = _validate(tmp_path, model, frame.assign(churn=y), "churn")
    ev = report["evaluation"]
    assert ev["task"] == "binary" and ev["rows"] == len(frame)
    y_hat = model.predict(frame)
    proba = model.predict_proba(frame)
    positive = model.classes_[1]
    m = ev["metrics"]
    _close(m["accuracy"], metrics.accuracy_score(y, y_hat))
    _close(m["balanced_accuracy"], metrics.balanced_accuracy_score(y, y_hat))
    for avg in ("macro", "weighted"):
        _close(m[f"precision_{avg}"], metrics.precision_score(y, y_hat, average=avg))
        _close(m[f"recall_{avg}"], metrics.recall_score(y, y_hat, average=avg))
        _close(m[f"f1_{avg}"], metrics.f1_score(y, y_hat, average=avg))
    _close(m["roc_auc"], metrics.roc_auc_score(y == positive, proba[:, 1]))
    _close(m["log_loss"], metrics.log_loss(y, proba, labels=model.classes_))
    _close(m["brier"], metrics.brier_score_loss(y == positive, proba[:, 1]))

    labels = [str(c) for c in model.classes_]
    assert ev["confusion_matrix"] == {
        "labels": labels,
        "matrix": metrics.confusion_matrix(y, y_hat, labels=model.classes_).tolist(),
    }
    p, r, f, s = metrics.precision_recall_fscore_support(y, y_hat, labels=model.classes_)
    for i, row in enumerate(ev["per_class"]):
        assert row["class"] == labels[i] and row["support"] == s[i]
        _close(row["precision"], p[i]), _close(row["recall"], r[i]), _close(row["f1"], f[i])

    (roc,) = ev["curves"]["roc"]
    fpr, tpr, _ = metrics.roc_curve(y == positive, proba[:, 1])
    assert roc["class"] == str(positive) and roc["fpr"] == fpr.tolist()
    assert roc["tpr"] == tpr.tolist()
    (pr,) = ev["curves"]["pr"]
    _close(pr["average_precision"], metrics.average_precision_score(y == positive, proba[:, 1]))
    (cal,) = ev["curves"]["calibration"]
    fraction, mean = calibration_curve(y == positive, proba[:, 1], n_bins=10)
    assert cal["fraction_positive"] == fraction.tolist() and cal["mean_predicted"] == mean.tolist()


def test_multiclass_metrics_per_class_curves_equal_sklearns(tmp_path):
    X, y = load_wine(return_X_y=True, as_frame=True)
    model = RandomForestClassifier(n_estimators=15, random_state=0, max_depth=3).fit(X, y)
    report = _validate(tmp_path, model, X.assign(t=y), "t")
    ev = report["evaluation"]
    assert ev["task"] == "multiclass"
    y_hat, proba = model.predict(X), model.predict_proba(X)
    m = ev["metrics"]
    _close(m["accuracy"], metrics.accuracy_score(y, y_hat))
    _close(m["f1_macro"], metrics.f1_score(y, y_hat, average="macro"))
    _close(m["precision_weighted"], metrics.precision_score(y, y_hat, average="weighted"))
    _close(m["roc_auc"], metrics.roc_auc_score(y, proba, multi_class="ovr"))
    _close(m["log_loss"], metrics.log_loss(y, proba))
    assert m["brier"] is None and "binary" in ev["undefined_metrics"]["brier"]
    assert [c["class"] for c in ev["curves"]["roc"]] == ["0", "1", "2"]
    for k, curve in enumerate(ev["curves"]["roc"]):
        _close(curve["auc"], metrics.roc_auc_score(y == k, proba[:, k]))
    assert ev["confusion_matrix"]["matrix"] == metrics.confusion_matrix(y, y_hat).tolist()


def test_regressor_metrics_equal_sklearns_and_plots_are_sampled(tmp_path):
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    report = _validate(tmp_path, model, X.assign(y=y), "y")
    ev = report["evaluation"]
    y_hat = model.predict(X)
    m = ev["metrics"]
    _close(m["r2"], metrics.r2_score(y, y_hat))
    _close(m["mae"], metrics.mean_absolute_error(y, y_hat))
    _close(m["rmse"], metrics.root_mean_squared_error(y, y_hat))
    _close(m["mape"], metrics.mean_absolute_percentage_error(y, y_hat))
    plots = ev["regression_plots"]
    assert len(plots["predicted"]) == len(X)  # under the 2,000-row cap: every row
    np.testing.assert_allclose(plots["residual"], np.asarray(plots["actual"]) - plots["predicted"])

    big = np.linspace(1, 5, 5000)
    sampled = evaluation.regression_plots(big, big + 1)
    assert len(sampled["actual"]) == evaluation.MAX_PLOT_ROWS


def test_mape_is_undefined_with_a_reason_when_a_target_is_zero():
    values, undefined = evaluation.regression_metrics(np.array([0.0, 1.0, 2.0]), np.ones(3))
    assert values["mape"] is None and "zero" in undefined["mape"]
    _close(values["mae"], metrics.mean_absolute_error([0, 1, 2], np.ones(3)))


def test_curves_on_a_large_set_are_downsampled_to_500_points():
    X, y = make_classification(n_samples=20_000, n_features=5, random_state=0)
    proba = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y).predict_proba(X)
    noisy = np.clip(proba + np.random.default_rng(0).normal(0, 0.05, proba.shape), 0, 1)
    enc = evaluation.encode_labels(y, noisy.argmax(axis=1), [0, 1])
    curves = evaluation.curves(enc, noisy)
    fpr, _, _ = metrics.roc_curve(y == 1, noisy[:, 1])
    assert len(fpr) > 500  # the full curve is longer than what the report keeps
    for kind, key in (("roc", "fpr"), ("pr", "precision")):
        (curve,) = curves[kind]
        assert 2 <= len(curve[key]) <= evaluation.MAX_CURVE_POINTS
    assert curves["roc"][0]["fpr"][0] == 0.0 and curves["roc"][0]["fpr"][-1] == 1.0


def test_predictions_are_the_models_own_when_predict_is_not_the_argmax(tmp_path):
    # A classifier with a decision threshold predicts differently from its probabilities'
    # argmax: the report must use predict(), not the argmax shortcut taken for forests.
    X, y = make_classification(n_samples=300, n_features=4, random_state=3)
    frame = pd.DataFrame(X, columns=list("abcd"))
    model = FixedThresholdClassifier(LogisticRegression(), threshold=0.8).fit(frame, y)
    assert (model.predict(frame) != model.predict_proba(frame).argmax(axis=1)).any()
    path = tmp_path / "m.skops"
    sio.dump(model, path)
    report = validate_artifact(
        path=path, artifact_format="skops", trusted=set(sio.get_untrusted_types(file=path)),
        evaluation=frame.assign(t=y), target="t", measure_latency=False, **LIMITS,
    )  # fmt: skip
    accuracy = report["evaluation"]["metrics"]["accuracy"]
    _close(accuracy, metrics.accuracy_score(y, model.predict(frame)))
    assert accuracy != metrics.accuracy_score(y, model.predict_proba(frame).argmax(axis=1))


def test_slices_flag_a_large_much_worse_category_and_not_a_small_one():
    rng = np.random.default_rng(0)
    n = 2000
    i = np.arange(n)
    region = np.where(i < 400, "south", np.where(i < 420, "tiny", "north"))
    features = pd.DataFrame({"region": region, "income": rng.normal(size=n)})
    correct = np.ones(n)
    correct[:400:2] = 0.0  # south: accuracy 0.5
    correct[400:420:2] = 0.0  # tiny: accuracy 0.5, but only 20 rows
    overall = correct.mean()
    rows = evaluation.slices(
        features=features, per_row=correct, metric="accuracy", overall=overall,
        score=features[["income"]].to_numpy() + rng.normal(size=(n, 1)), higher_is_better=True,
    )  # fmt: skip
    by_slice = {(r["feature"], r["slice"]): r for r in rows}
    south = by_slice[("region", "south")]
    assert south["count"] == 400 and south["value"] == 0.5 and south["flagged"]
    assert not by_slice[("region", "tiny")]["flagged"]  # fewer than 30 rows
    assert not by_slice[("region", "north")]["flagged"]
    quartiles = [r for r in rows if r["feature"] == "income"]
    assert len(quartiles) == 4 and sum(r["count"] for r in quartiles) == n
    assert all(r["kind"] == "numeric" and r["overall"] == overall for r in quartiles)


def test_slices_flag_regression_slices_with_ten_percent_more_error():
    features = pd.DataFrame({"kind": ["a"] * 100 + ["b"] * 100})
    errors = np.r_[np.full(100, 1.0), np.full(100, 1.5)]
    rows = evaluation.slices(
        features=features, per_row=errors, metric="mae", overall=errors.mean(), score=None,
        higher_is_better=False,
    )  # fmt: skip
    assert {r["slice"]: r["flagged"] for r in rows} == {"a": False, "b": True}


def test_categorical_slices_keep_the_top_20_values_by_count():
    values = [f"v{i}" for i in range(30) for _ in range(i + 1)]
    features = pd.DataFrame({"code": values})
    rows = evaluation.slices(
        features=features, per_row=np.ones(len(values)), metric="accuracy", overall=1.0,
        score=None, higher_is_better=True,
    )  # fmt: skip
    assert [r["slice"] for r in rows] == [f"v{i}" for i in range(29, 9, -1)]


def test_disagreement_csv_neutralises_spreadsheet_formulas():
    features = pd.DataFrame({"note": ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "ok"],
                             "n": [-1.0, 2.0, 3.0, 4.0, 5.0]})  # fmt: skip
    text = evaluation.disagreement_csv(
        features=features, positions=np.arange(5), candidate=np.array(["a"] * 5),
        production=np.array(["=cmd|' /C calc'!A0"] * 5), actual=np.array(["a"] * 5),
    )  # fmt: skip
    parsed = pd.read_csv(io.StringIO(text), dtype=str)
    assert parsed["note"].tolist() == ['\'=HYPERLINK("http://x")', "'+1", "'-2", "'@SUM(A1)", "ok"]
    assert parsed["production"].str.startswith("'=").all()
    assert parsed["n"].tolist()[0] == "-1.0"  # numbers are numbers, not formulas


def test_report_has_cost_timings_and_is_strict_json(tmp_path):
    import json

    frame, y = mf.tabular()
    report = _validate(tmp_path, mf.pipeline_model(), frame.assign(churn=y), "churn")
    cost = report["cost"]
    assert cost["artifact_bytes"] == (tmp_path / "m.skops").stat().st_size
    assert cost["load_seconds"] > 0 and cost["peak_memory_mb"] > 10
    for key in ("single_row", "batch_100"):
        assert 0 < cost["latency_ms"][key]["p50"] <= cost["latency_ms"][key]["p99"]
    assert cost["latency_ms"]["single_row"]["n"] == 50
    assert set(report["timings"]) >= {"loading model", "evaluating", "measuring latency"}
    json.dumps(report, allow_nan=False)


def test_a_multi_output_regressor_fails_with_a_reason_not_a_crash(tmp_path):
    from releases.validation import ValidationFailed

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = RandomForestRegressor(n_estimators=3, random_state=0).fit(X, np.c_[y, y])
    with pytest.raises(ValidationFailed, match="one value per row"):
        _validate(tmp_path, model, X.assign(y=y), "y", measure_latency=False)


def test_confusion_matrix_of_many_classes_keeps_the_most_frequent_ones():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(60), np.arange(1, 61))  # class k has k+1 rows
    y_hat = np.where(rng.random(len(y)) < 0.8, y, 0)
    enc = evaluation.encode_labels(y, y_hat, list(range(60)))
    section = evaluation.confusion(enc)
    shown = list(range(10, 60))  # the 50 most frequent true classes
    assert section["labels"] == [str(c) for c in shown] and section["truncated_from"] == 60
    assert section["matrix"] == metrics.confusion_matrix(y, y_hat, labels=shown).tolist()
