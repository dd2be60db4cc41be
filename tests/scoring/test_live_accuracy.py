"""Live accuracy per served version: from the random sample and feedback (unbiased) apart from
every labeled row (biased), with scipy's intervals, beside the validation figure."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from scipy.stats import binomtest, t

from scoring import services
from scoring.models import GroundTruth
from scoring.prediction_log import prediction_log
from scoring.selectors import live_accuracy
from scoring.services import ground_truth_write
from tests.factories import ModelVersionFactory, PredictionFactory
from tests.scoring.test_predict import bodies, post, sample

pytestmark = pytest.mark.django_db

CLASSIFIER = {"task": "classification", "classes": [0, 1], "features": []}
REGRESSOR = {"task": "regression", "features": []}


def labeled(version: Any, *, predicted: Any, label: Any, sampled: bool, **extra: Any) -> Any:
    prediction = PredictionFactory(model_version=version, prediction=predicted, **extra)
    return ground_truth_write(
        prediction=prediction, signature=version.signature, label=label,
        source="queue", sampled=sampled, labeled_by="user:1",
    )  # fmt: skip


@pytest.fixture
def classifier() -> Any:
    return ModelVersionFactory(
        signature=CLASSIFIER,
        validation_report={"evaluation": {"metrics": {"accuracy": 0.9}}},
    )


def test_a_version_without_labels_has_no_estimate(classifier: Any) -> None:
    result = live_accuracy(model_version=classifier)
    assert result.unbiased is None and result.all_labels is None
    assert result.validation == 0.9 and result.delta is None


def test_unbiased_accuracy_uses_only_sampled_rows_with_scipys_wilson_interval(
    classifier: Any,
) -> None:
    for i in range(20):  # random sample: 17 of 20 right
        labeled(classifier, predicted=1, label=1 if i < 17 else 0, sampled=True)
    for i in range(10):  # low-confidence queue items: 3 of 10 right
        labeled(classifier, predicted=1, label=1 if i < 3 else 0, sampled=False)

    with CaptureQueriesContext(connection) as queries:
        result = live_accuracy(model_version=classifier)

    assert len(queries) == 1  # one aggregate, no loop over rows
    wilson = binomtest(17, 20).proportion_ci(method="wilson")
    assert result.unbiased is not None and result.all_labels is not None
    assert (result.unbiased.correct, result.unbiased.count) == (17, 20)
    assert result.unbiased.value == pytest.approx(0.85)
    assert (result.unbiased.low, result.unbiased.high) == pytest.approx((wilson.low, wilson.high))
    everything = binomtest(20, 30).proportion_ci(method="wilson")
    assert (result.all_labels.correct, result.all_labels.count) == (20, 30)
    assert (result.all_labels.low, result.all_labels.high) == pytest.approx(
        (everything.low, everything.high)
    )
    assert result.delta == pytest.approx(0.85 - 0.9)
    assert result.verdict == "worse"
    assert not result.beyond_chance  # 0.9 lies inside [0.64, 0.95]


def test_since_keeps_only_predictions_made_after_it(classifier: Any) -> None:
    old = timezone.now() - dt.timedelta(days=30)
    labeled(classifier, predicted=1, label=0, sampled=True, created_at=old)
    labeled(classifier, predicted=1, label=1, sampled=True)

    recent = live_accuracy(model_version=classifier, since=old + dt.timedelta(days=1))

    assert recent.unbiased is not None
    assert (recent.unbiased.correct, recent.unbiased.count) == (1, 1)


def test_regressors_get_a_mean_absolute_error_with_a_t_interval() -> None:
    version = ModelVersionFactory(
        signature=REGRESSOR, validation_report={"evaluation": {"metrics": {"mae": 1.0}}}
    )
    errors = [0.5, 1.5, 2.0, 3.0]
    for e in errors:
        labeled(version, predicted=10.0, label=10.0 + e, sampled=True, probabilities=None)
    labeled(version, predicted=10.0, label=30.0, sampled=False, probabilities=None)

    result = live_accuracy(model_version=version)

    assert result.metric == "mae" and result.unbiased is not None
    mean = sum(errors) / 4
    sd = (sum((e - mean) ** 2 for e in errors) / 3) ** 0.5
    half = t.ppf(0.975, 3) * sd / 2
    assert result.unbiased.value == pytest.approx(mean)
    assert result.unbiased.high == pytest.approx(mean + half)
    assert result.unbiased.low == pytest.approx(max(0.0, mean - half))
    assert result.all_labels is not None and result.all_labels.count == 5
    assert result.verdict == "worse"  # a larger error than validation's


def test_app_feedback_updates_live_accuracy(served: Any, reviewer: Any) -> None:
    _, key = services.app_token_create(
        actor=reviewer, registered_model=served.registered_model, name="checkout"
    )
    answer = post("/api/v1/models/credit-risk/predict/", bodies(sample(6))["instances"], key).json()
    prediction_log.flush()
    for i, (pid, predicted) in enumerate(
        zip(answer["prediction_ids"], answer["predictions"], strict=True)
    ):
        truth = predicted if i < 4 else ("stay" if predicted == "churn" else "churn")
        response = post(f"/api/v1/predictions/{pid}/feedback/", {"label": truth}, key)
        assert response.status_code == 200

    result = live_accuracy(model_version=served)

    assert result.unbiased is not None
    assert (result.unbiased.correct, result.unbiased.count) == (4, 6)
    assert GroundTruth.objects.filter(source="feedback", sampled=True).count() == 6


def test_the_api_reports_each_served_version_and_refuses_bad_input_and_other_teams(
    api: Any, owner: Any, outsider: Any, served: Any
) -> None:
    url = "/api/v1/models/credit-risk/live-accuracy/"
    for i in range(4):
        labeled(served, predicted="stay", label="stay" if i else "churn", sampled=True)

    body = api(owner).get(url).json()

    assert [(r["stage"], r["version"], r["metric"]) for r in body] == [
        ("production", 1, "accuracy")
    ]
    wilson = binomtest(3, 4).proportion_ci(method="wilson")
    assert body[0]["unbiased"]["value"] == 0.75
    assert body[0]["unbiased"]["low"] == pytest.approx(wilson.low)
    assert api(owner).get(url, {"version": 1}).json()[0]["unbiased"]["count"] == 4
    assert api(owner).get(url, {"since": "yesterday"}).status_code == 400
    assert api(owner).get(url, {"version": "one"}).status_code == 400
    assert api(owner).get(url, {"version": 9}).status_code == 404
    assert api(outsider).get(url).status_code == 404


def test_the_version_page_shows_its_live_accuracy_beside_validation(
    client: Any, owner: Any, served: Any
) -> None:
    served.validation_report = {"stage": "done", "evaluation": {"metrics": {"accuracy": 0.5}}}
    served.save()
    for i in range(4):
        labeled(served, predicted="stay", label="stay" if i else "churn", sampled=True)
    client.force_login(owner)

    page = client.get("/models/credit-risk/versions/1/").content.decode()

    assert 'id="version-live-accuracy"' in page
    assert '<strong class="num">0.75</strong>' in page and "from 4 labels" in page
    assert 'data-verdict="better"' in page
