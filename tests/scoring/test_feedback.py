"""Apps (and people) report the true outcome of predictions they made: it becomes ground truth
(source "feedback", an unbiased sample), only for the caller that made the prediction, checked
against the model's classes, idempotent, and never lost to the prediction log's delay."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from django.test import Client

from releases.models import ApiToken, AuditEvent
from scoring import services
from scoring.models import GroundTruth, Prediction
from scoring.prediction_log import prediction_log
from tests.factories import RegisteredModelFactory, TeamFactory
from tests.scoring.test_predict import bodies, post, sample

pytestmark = pytest.mark.django_db

PREDICT = "/api/v1/models/credit-risk/predict/"


def feedback_url(prediction_id: Any) -> str:
    return f"/api/v1/predictions/{prediction_id}/feedback/"


def feedback(prediction_id: Any, label: Any, key: str | None) -> Any:
    return post(feedback_url(prediction_id), {"label": label}, key)


def predict(key: str, n: int = 2) -> list[str]:
    response = post(PREDICT, bodies(sample(n))["instances"], key)
    assert response.status_code == 200, response.content
    return response.json()["prediction_ids"]


def test_an_app_reports_the_outcome_of_its_prediction_and_it_becomes_unbiased_ground_truth(
    app_key: str,
) -> None:
    pid = predict(app_key)[0]
    prediction_log.flush()
    predicted = Prediction.objects.get(pk=pid).prediction
    other = "stay" if predicted == "churn" else "churn"

    response = feedback(pid, other, app_key)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["label"], body["correct"], body["source"]) == (other, False, "feedback")
    truth = GroundTruth.objects.get()
    assert (str(truth.prediction_id), truth.label, truth.sampled, truth.correct) == (
        pid, other, True, False,
    )  # fmt: skip
    assert truth.labeled_by.startswith("app:") and truth.user is None


def test_repeated_feedback_keeps_one_row_and_the_last_label_wins_with_the_change_audited(
    app_key: str,
) -> None:
    pid = predict(app_key)[0]
    prediction_log.flush()

    assert feedback(pid, "churn", app_key).status_code == 200
    assert feedback(pid, "churn", app_key).status_code == 200  # a retry: nothing changes
    assert not AuditEvent.objects.filter(action="prediction.feedback_replace").exists()
    assert feedback(pid, "stay", app_key).status_code == 200

    assert GroundTruth.objects.count() == 1
    assert GroundTruth.objects.get().label == "stay"
    event = AuditEvent.objects.get(action="prediction.feedback_replace")
    assert (event.payload["previous_label"], event.payload["label"]) == ("churn", "stay")
    assert event.registered_model.name == "credit-risk"


def test_a_label_outside_the_classes_is_a_400_naming_them(app_key: str) -> None:
    pid = predict(app_key)[0]
    prediction_log.flush()

    response = feedback(pid, "maybe", app_key)

    assert response.status_code == 400
    assert response.json()["field"] == "label"
    assert "'churn', 'stay'" in response.json()["detail"]
    assert not GroundTruth.objects.exists()


@pytest.mark.parametrize(
    "body", [{}, {"labels": "churn"}, ["churn"]], ids=["empty", "misnamed", "list"]
)
def test_a_body_without_a_label_is_a_400(app_key: str, body: Any) -> None:
    pid = predict(app_key)[0]
    prediction_log.flush()

    response = post(feedback_url(pid), body, app_key)

    assert response.status_code == 400 and response.json()["field"] == "label"


def test_an_id_that_is_not_a_uuid_is_a_400(app_key: str) -> None:
    response = feedback("not-an-id", "churn", app_key)
    assert response.status_code == 400 and response.json()["field"] == "id"


def test_without_a_key_feedback_is_refused(app_key: str) -> None:
    pid = predict(app_key)[0]
    prediction_log.flush()
    assert feedback(pid, "churn", None).status_code == 401


def test_another_apps_prediction_and_an_unknown_id_are_the_same_404(
    app_key: str, reviewer: Any, served: Any
) -> None:
    pid = predict(app_key)[0]
    prediction_log.flush()
    _, other_key = services.app_token_create(
        actor=reviewer, registered_model=served.registered_model, name="billing"
    )

    stolen = feedback(pid, "churn", other_key)
    unknown = feedback(uuid.uuid4(), "churn", other_key)

    assert stolen.status_code == unknown.status_code == 404
    assert stolen.json()["error"] == unknown.json()["error"] == "prediction_not_found"
    assert not GroundTruth.objects.exists()


def test_a_person_of_another_team_gets_404_even_for_a_prediction_of_theirs_on_a_team_model(
    app_key: str, outsider: Any, owner: Any
) -> None:
    """The attack: an outsider forges nothing, but knows the id of a team prediction (logs,
    screenshots); the team member's own prediction is also off-limits to them."""
    owner_key = ApiToken.objects.create(user=owner)[1]
    outsider_key = ApiToken.objects.create(user=outsider)[1]
    app_pid = predict(app_key)[0]
    owner_pid = predict(owner_key)[0]
    prediction_log.flush()

    for pid in (app_pid, owner_pid):
        assert feedback(pid, "churn", outsider_key).status_code == 404
    # A team member may not report on the app's prediction either: only its maker may.
    assert feedback(app_pid, "churn", owner_key).status_code == 404
    assert not GroundTruth.objects.exists()


def test_a_person_who_may_predict_reports_on_their_own_prediction(owner: Any, served: Any) -> None:
    key = ApiToken.objects.create(user=owner)[1]
    pid = predict(key)[0]
    prediction_log.flush()

    response = feedback(pid, "stay", key)

    assert response.status_code == 200, response.content
    truth = GroundTruth.objects.get()
    assert truth.user == owner and truth.labeled_by == f"user:{owner.pk}"


def test_an_app_token_that_no_longer_names_the_model_cannot_report(
    app_key: str, served: Any
) -> None:
    pid = predict(app_key)[0]
    prediction_log.flush()
    from scoring.models import AppToken

    AppToken.objects.get().registered_models.set(
        [RegisteredModelFactory(name="other", team=TeamFactory(name="risk"))]
    )
    from scoring import serving

    serving.forget_everything()

    assert feedback(pid, "churn", app_key).status_code == 404


def test_feedback_right_after_predict_is_written_from_this_processs_buffer(app_key: str) -> None:
    """The log writes in the background: feedback can arrive before the row exists."""
    pid = predict(app_key)[0]
    assert not Prediction.objects.filter(pk=pid).exists()  # still buffered

    response = feedback(pid, "churn", app_key)

    assert response.status_code == 200, response.content
    assert GroundTruth.objects.filter(prediction_id=pid).exists()


def test_feedback_before_another_process_logged_the_prediction_says_retry_in_a_second(
    app_key: str,
) -> None:
    pid = predict(app_key)[0]
    prediction_log.discard()  # as if another worker held it, unflushed

    response = feedback(pid, "churn", app_key)

    assert response.status_code == 404
    assert response["Retry-After"] == "1"
    assert "retry in a second" in response.json()["detail"]


def test_feedback_is_in_the_openapi_schema() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/predictions/{prediction_id}/feedback/"]["post"]
    assert {"200", "400", "401", "404"} <= set(operation["responses"])


def test_get_is_not_allowed(app_key: str) -> None:
    response = Client().get(feedback_url(uuid.uuid4()), HTTP_AUTHORIZATION=f"Token {app_key}")
    assert response.status_code == 405
    assert orjson.loads(response.content)["error"] == "method_not_allowed"


def test_feedback_costs_a_handful_of_queries_on_a_warm_process(app_key: str) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    pids = predict(app_key, n=2)
    prediction_log.flush()
    feedback(pids[0], "churn", app_key)  # warms the caller cache

    with CaptureQueriesContext(connection) as queries:
        assert feedback(pids[1], "churn", app_key).status_code == 200

    statements = [
        q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    # serving generation (once a second in production), prediction, lock, current truth,
    # upsert (select, insert); no audit row for a first label
    assert len(statements) <= 6, "\n".join(s[:120] for s in statements)
    assert not any("releases_auditevent" in s and "INSERT" in s for s in statements)


def test_a_failing_early_flush_is_a_retry_later_not_a_500(
    transactional_db: Any, app_key: str, monkeypatch: Any
) -> None:
    """(Transactional: the flusher's failure path closes the connection, which inside a test's
    transaction would end the test's database.)"""
    pid = predict(app_key)[0]
    import scoring.prediction_log as log_module

    def database_down(entries: Any) -> int:
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(log_module, "_write", database_down)

    response = feedback(pid, "churn", app_key)

    assert response.status_code == 404 and response["Retry-After"] == "1"
    assert prediction_log.holds(uuid.UUID(pid))  # kept for the next flush
