"""The validation report API: the whole report as JSON for a binary pipeline, a multiclass model
and a regressor; gates through PATCH and the edit page; re-running a validation."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
import skops.io as sio
from django.urls import reverse
from sklearn import metrics
from sklearn.datasets import load_diabetes, load_wine
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from releases import services
from releases.models import AuditEvent, ModelVersion, RegisteredModel, VersionStatus
from releases.validation import validate_artifact
from tests.factories import ModelVersionFactory
from tests.releases import model_files as mf

pytestmark = pytest.mark.django_db

LIMITS = {"max_uncompressed_bytes": 50 * 1024**2, "max_entries": 10_000}
MODEL_URL = "/api/v1/models/credit-risk/"
REPORT_URL = "/api/v1/models/credit-risk/versions/1/validation/"
RERUN_URL = REPORT_URL + "rerun/"

REPORT_KEYS = {
    "model", "version", "status", "stage", "validation_error", "steps", "load_seconds",
    "timings", "evaluation", "comparison", "cost", "gates", "gates_passed",
}  # fmt: skip
EVALUATION_KEYS = {
    "rows", "task", "metrics", "undefined_metrics", "slices", "predict_ms_per_row",
}  # fmt: skip


def _report(tmp_path, model, frame, target) -> dict[str, Any]:
    path = tmp_path / "m.skops"
    sio.dump(model, path)
    return validate_artifact(
        path=path, artifact_format="skops", trusted=set(), evaluation=frame, target=target,
        **LIMITS,
    )  # fmt: skip


def _stored(risk_model, report, **fields) -> ModelVersion:
    """A version the worker finished with this report, through the service it uses."""
    version = ModelVersionFactory(
        registered_model=risk_model, version=1, status=VersionStatus.VALIDATING, **fields
    )
    services.model_version_finish_validation(version_id=version.pk, report=report)
    version.refresh_from_db()
    return version


@cache
def _wine_model() -> tuple[Any, Any, Any]:
    X, y = load_wine(return_X_y=True, as_frame=True)
    return RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0).fit(X, y), X, y


def test_report_of_a_binary_pipeline(tmp_path, api, owner, risk_model):
    frame, y = mf.tabular()
    model = mf.pipeline_model()
    _stored(risk_model, _report(tmp_path, model, frame.assign(churn=y), "churn"))

    body = api(owner).get(REPORT_URL).json()

    assert set(body) >= REPORT_KEYS
    assert body["status"] == "validated" and body["stage"] == "done"
    assert body["gates"] == [] and body["gates_passed"] is True  # no gates configured
    assert body["comparison"] is None
    evaluation = body["evaluation"]
    assert set(evaluation) >= EVALUATION_KEYS | {"per_class", "confusion_matrix", "curves"}
    assert evaluation["task"] == "binary" and evaluation["rows"] == 120
    y_hat = model.predict(frame)
    assert evaluation["metrics"]["accuracy"] == pytest.approx(metrics.accuracy_score(y, y_hat))
    assert evaluation["metrics"]["brier"] == pytest.approx(
        metrics.brier_score_loss(y == model.classes_[1], model.predict_proba(frame)[:, 1])
    )
    assert evaluation["confusion_matrix"]["labels"] == ["churn", "stay"]
    assert [c["class"] for c in evaluation["curves"]["roc"]] == ["stay"]
    assert {s["feature"] for s in evaluation["slices"] if s["kind"] == "categorical"} == {
        "city", "plan",
    }  # fmt: skip
    city = [s for s in evaluation["slices"] if s["feature"] == "city"]
    assert sum(s["count"] for s in city) == 120
    for s in city:
        mask = (frame["city"] == s["slice"]).to_numpy()
        assert s["value"] == pytest.approx(metrics.accuracy_score(y[mask], y_hat[mask]))
    cost = body["cost"]
    assert cost["artifact_bytes"] > 0 and cost["latency_ms"]["single_row"]["p99"] > 0
    assert {"loading model", "evaluating", "measuring latency"} <= set(body["timings"])


def test_report_of_a_multiclass_model(tmp_path, api, reviewer, risk_model):
    model, X, y = _wine_model()
    _stored(risk_model, _report(tmp_path, model, X.assign(t=y), "t"))

    body = api(reviewer).get(REPORT_URL).json()

    evaluation = body["evaluation"]
    assert evaluation["task"] == "multiclass"
    assert [c["class"] for c in evaluation["per_class"]] == ["0", "1", "2"]
    assert sum(c["support"] for c in evaluation["per_class"]) == len(X)
    assert evaluation["confusion_matrix"]["matrix"] == (
        metrics.confusion_matrix(y, model.predict(X)).tolist()
    )
    assert [c["class"] for c in evaluation["curves"]["roc"]] == ["0", "1", "2"]
    assert all(len(c["fpr"]) <= 500 for c in evaluation["curves"]["roc"])
    assert evaluation["metrics"]["roc_auc"] == pytest.approx(
        metrics.roc_auc_score(y, model.predict_proba(X), multi_class="ovr")
    )
    numeric = [s for s in evaluation["slices"] if s["kind"] == "numeric"]
    assert 1 <= len({s["feature"] for s in numeric}) <= 3  # the most important numeric ones
    json.dumps(body, allow_nan=False)


def test_report_of_a_regressor(tmp_path, api, owner, risk_model):
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    _stored(risk_model, _report(tmp_path, model, X.assign(y=y), "y"))

    body = api(owner).get(REPORT_URL).json()

    evaluation = body["evaluation"]
    assert evaluation["task"] == "regression"
    assert set(evaluation["metrics"]) == {"r2", "mae", "rmse", "mape"}
    assert evaluation["metrics"]["rmse"] == pytest.approx(
        metrics.root_mean_squared_error(y, model.predict(X))
    )
    plots = evaluation["regression_plots"]
    assert len(plots["predicted"]) == len(plots["actual"]) == len(plots["residual"]) == len(X)
    assert "curves" not in evaluation and "confusion_matrix" not in evaluation
    assert all(s["metric"] == "mae" for s in evaluation["slices"])


def test_version_json_keeps_a_short_summary_and_links_the_report(tmp_path, api, owner, risk_model):
    model, X, y = _wine_model()
    _stored(risk_model, _report(tmp_path, model, X.assign(t=y), "t"))

    body = api(owner).get("/api/v1/models/credit-risk/versions/1/").json()

    assert body["validation_url"] == REPORT_URL
    summary = body["validation_report"]
    assert summary["stage"] == "done" and summary["gates_passed"] is True
    assert set(summary["evaluation"]) == {
        "rows", "task", "metrics", "undefined_metrics", "predict_ms_per_row",
    }  # fmt: skip
    assert "curves" not in json.dumps(summary)


def test_report_shows_the_live_stage_while_validating(api, owner, risk_model):
    ModelVersionFactory(registered_model=risk_model, version=1, status=VersionStatus.VALIDATING)
    ModelVersion.objects.update(validation_report={"stage": "computing slices"})
    body = api(owner).get(REPORT_URL).json()
    assert (body["status"], body["stage"]) == ("validating", "computing slices")


def test_report_is_hidden_from_other_teams(tmp_path, api, outsider, risk_model):
    ModelVersionFactory(registered_model=risk_model, version=1, status=VersionStatus.VALIDATED)
    response = api(outsider).get(REPORT_URL)
    assert response.status_code == 404
    assert api(None).get(REPORT_URL).status_code in {401, 403}


def test_gates_are_checked_when_the_worker_stores_the_report(tmp_path, api, owner, risk_model):
    risk_model.gates = {"min_metrics": {"accuracy": 0.99, "log_loss": 5.0}, "max_latency_ms": 1e6}
    risk_model.save()
    model, X, y = _wine_model()
    _stored(risk_model, _report(tmp_path, model, X.assign(t=y), "t"))

    body = api(owner).get(REPORT_URL).json()

    by_metric = {g["metric"]: g for g in body["gates"]}
    accuracy = metrics.accuracy_score(y, model.predict(X))
    assert by_metric["accuracy"]["passed"] is (accuracy >= 0.99)
    assert by_metric["accuracy"]["measured"] == pytest.approx(accuracy)
    assert by_metric["log_loss"]["passed"] is True
    assert by_metric["latency_ms"]["passed"] is True
    assert body["gates_passed"] is all(g["passed"] for g in body["gates"])
    assert body["status"] == "validated"


# --- Gates through the API and the edit page ---------------------------------------------------

GOOD_GATES = {
    "min_metrics": {"accuracy": 0.9},
    "max_regression": {"roc_auc": 0.01},
    "max_latency_ms": 50,
    "block_breaking_signature_change": True,
}


def test_data_scientist_sets_gates_and_the_change_is_audited(api, owner, risk_model):
    response = api(owner).patch(MODEL_URL, {"gates": GOOD_GATES}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["gates"] == {**GOOD_GATES, "max_latency_ms": 50.0}
    risk_model.refresh_from_db()
    assert risk_model.gates["min_metrics"] == {"accuracy": 0.9}
    event = AuditEvent.objects.get(action="model.update")
    assert event.payload["fields"] == ["gates"] and event.payload["gates"]["old"] == {}
    # {} removes them.
    assert api(owner).patch(MODEL_URL, {"gates": {}}, format="json").json()["gates"] == {}


@pytest.mark.parametrize(
    ("gates", "named"),
    [
        ({"min_metrics": {"acuracy": 0.9}}, "acuracy"),
        ({"max_latency": 50}, "max_latency"),
        ({"min_metrics": {"accuracy": "0.9"}}, "gates.min_metrics.accuracy"),
        ({"block_breaking_signature_change": 1}, "block_breaking_signature_change"),
        ("not an object", "gates"),
    ],
)
def test_bad_gates_are_a_400_naming_the_key(api, owner, risk_model, gates, named):
    response = api(owner).patch(MODEL_URL, {"gates": gates}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "gates" and named in body["detail"]
    risk_model.refresh_from_db()
    assert risk_model.gates == {}


def test_only_data_scientists_of_the_team_set_gates(api, reviewer, labeler, outsider, risk_model):
    assert api(reviewer).patch(MODEL_URL, {"gates": GOOD_GATES}, format="json").status_code == 403
    assert api(labeler).patch(MODEL_URL, {"gates": GOOD_GATES}, format="json").status_code == 403
    assert api(outsider).patch(MODEL_URL, {"gates": GOOD_GATES}, format="json").status_code == 404
    risk_model.refresh_from_db()
    assert risk_model.gates == {}


def test_edit_page_edits_gates_and_explains_a_bad_policy(client, owner, risk_model):
    client.force_login(owner)
    url = reverse("model-edit", args=[risk_model.name])
    fields = {"description": risk_model.description, "model_card": "", "target": ""}
    bad = client.post(url, {**fields, "gates": '{"min_metrics": {"acuracy": 0.9}}'})
    assert bad.status_code == 400
    assert "Unknown metric &#x27;acuracy&#x27;" in bad.content.decode()
    broken = client.post(url, {**fields, "gates": '{"min_metrics": '})
    assert broken.status_code == 400 and "not valid JSON" in broken.content.decode()
    assert RegisteredModel.objects.get(pk=risk_model.pk).gates == {}

    saved = client.post(url, {**fields, "gates": json.dumps(GOOD_GATES)})
    assert saved.status_code == 302
    assert RegisteredModel.objects.get(pk=risk_model.pk).gates["max_latency_ms"] == 50.0
    page = client.get(url).content.decode()
    assert "&quot;max_latency_ms&quot;: 50.0" in page


# --- Re-running a validation --------------------------------------------------------------------


def _finished(risk_model, owner, status=VersionStatus.VALIDATED) -> ModelVersion:
    return ModelVersionFactory(
        registered_model=risk_model, version=1, status=status, uploaded_by=owner,
        validation_report={"stage": "done", "evaluation": None},
    )  # fmt: skip


@pytest.mark.parametrize("who", ["owner", "reviewer", "admin_user"])
def test_uploader_reviewer_and_admin_rerun_a_validation(
    request, api, owner, risk_model, who, django_capture_on_commit_callbacks, monkeypatch
):
    from releases import tasks

    queued: list[int] = []
    monkeypatch.setattr(
        tasks.validate_model_version, "delay", lambda *, version_id: queued.append(version_id)
    )
    version = _finished(risk_model, owner, status=VersionStatus.VALIDATION_FAILED)
    actor = request.getfixturevalue(who)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(actor).post(RERUN_URL)
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "pending"
    version.refresh_from_db()
    assert version.status == VersionStatus.PENDING and version.validation_report == {}
    assert queued == [version.pk]  # enqueued once the transaction committed
    event = AuditEvent.objects.get(action="version.validation_rerun")
    assert event.actor == actor and event.payload == {"previous_status": "validation_failed"}


def test_labeler_may_not_rerun_and_outsider_sees_nothing(api, owner, labeler, outsider, risk_model):
    version = _finished(risk_model, owner)
    assert api(labeler).post(RERUN_URL).status_code == 403
    assert api(outsider).post(RERUN_URL).status_code == 404
    version.refresh_from_db()
    assert version.status == VersionStatus.VALIDATED
    assert not AuditEvent.objects.filter(action="version.validation_rerun").exists()


def test_another_data_scientist_who_did_not_upload_may_not_rerun(api, owner, risk_model):
    from tests.factories import member

    colleague = member("cara", "data_scientist", "risk")
    _finished(risk_model, owner)
    assert api(colleague).post(RERUN_URL).status_code == 403


def test_a_version_still_validating_cannot_be_rerun(api, owner, risk_model):
    ModelVersionFactory(
        registered_model=risk_model, version=1, status=VersionStatus.VALIDATING, uploaded_by=owner
    )
    response = api(owner).post(RERUN_URL)
    assert response.status_code == 409
    assert "only validated or failed versions" in response.json()["detail"]


def test_disagreement_csv_is_404_without_a_comparison(api, owner, risk_model):
    _finished(risk_model, owner)
    response = api(owner).get(REPORT_URL + "disagreements.csv")
    assert response.status_code == 404
