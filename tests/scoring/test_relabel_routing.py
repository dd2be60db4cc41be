"""What enters a relabel queue: every prediction the model was unsure of, a reproducible random
sample of the confident ones, nothing on the request path; policy changes are audited."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from django.test import Client

from releases.models import ApiToken, AuditEvent, Stage
from scoring import uncertainty
from scoring.models import Prediction, RelabelItem, RelabelPolicy
from scoring.prediction_log import prediction_log
from scoring.services import relabel_policy_update
from tests.releases import model_files as mf
from tests.scoring.relabeling import random_rows
from tests.scoring.serving import serve

URL = "/api/v1/models/credit-risk/predict/"


def predict(user: Any, frame: Any) -> dict[str, Any]:
    key = ApiToken.objects.create(user=user)[1]
    response = Client().post(
        URL, orjson.dumps({"dataframe_records": frame.to_dict("records")}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Token {key}",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
def test_unsure_predictions_enter_the_queue_and_confident_ones_only_at_the_sample_rate(
    risk_model, owner
):
    version = serve(
        risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION
    )
    relabel_policy_update(actor=owner, registered_model=risk_model, changes={"sample_rate": 0.1})

    body = predict(owner, random_rows(2000))
    assert not RelabelItem.objects.exists()  # nothing happens on the request path
    prediction_log.flush()

    items = {str(i.prediction_id): i for i in RelabelItem.objects.all()}
    unsure = {
        pid for pid, c in zip(body["prediction_ids"], body["confidence"], strict=True) if c < 0.6
    }
    confident = set(body["prediction_ids"]) - unsure
    assert len(unsure) > 20 and len(confident) > 1000  # the data exercises both paths
    assert unsure <= set(items)
    assert all(items[pid].reason == "uncertain" for pid in unsure)
    assert all(items[pid].model_version_id == version.pk for pid in items)
    sampled = set(items) - unsure
    # The sample is a fixed function of each id...
    assert sampled == {pid for pid in confident if uncertainty.draw(uuid.UUID(pid)) < 0.1}
    assert all(items[pid].reason == "sample" for pid in sampled)
    # ...and uniform: Binomial(n, 0.1) lies within 6 standard deviations of its mean.
    n = len(confident)
    assert abs(len(sampled) - 0.1 * n) < 6 * (n * 0.1 * 0.9) ** 0.5


@pytest.mark.django_db
def test_routing_the_same_rows_twice_queues_each_prediction_once(risk_model, owner):
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    relabel_policy_update(actor=owner, registered_model=risk_model, changes={"threshold": 1.0})
    predict(owner, random_rows(30))
    prediction_log.flush()
    from scoring.relabel_routing import route

    route(list(Prediction.objects.all()))
    assert RelabelItem.objects.count() == 30


@pytest.mark.django_db
def test_a_disabled_policy_routes_nothing(risk_model, owner):
    serve(risk_model, 1, model=mf.pipeline_model(), uploaded_by=owner, stage=Stage.PRODUCTION)
    relabel_policy_update(
        actor=owner, registered_model=risk_model, changes={"enabled": False, "sample_rate": 1.0}
    )
    predict(owner, random_rows(50))
    prediction_log.flush()
    assert Prediction.objects.count() == 50 and not RelabelItem.objects.exists()


@pytest.mark.django_db
def test_policy_changes_are_audited_with_before_and_after(risk_model, owner, labeler):
    relabel_policy_update(
        actor=owner, registered_model=risk_model,
        changes={"strategy": "margin", "threshold": 0.2, "labels_per_item": 2},
    )  # fmt: skip
    event = AuditEvent.objects.get(action="relabel.policy_update")
    assert event.payload["before"]["strategy"] == "least_confidence"
    assert event.payload["after"]["labels_per_item"] == 2
    assert RelabelPolicy.objects.get().threshold == 0.2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, field",
    [
        ({"threshold": 1.5}, "threshold"),
        ({"strategy": "vibes"}, "strategy"),
        ({"labels_per_item": 0}, "labels_per_item"),
        ({"colour": "red"}, "colour"),
        ({"regression_rule": "outside_range"}, "regression_min"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_setting(risk_model, owner, changes, field):
    from releases.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        relabel_policy_update(actor=owner, registered_model=risk_model, changes=changes)
    assert refused.value.field == field


@pytest.mark.django_db
def test_a_labeler_may_not_change_the_policy(risk_model, labeler):
    from releases.errors import Forbidden

    with pytest.raises(Forbidden):
        relabel_policy_update(
            actor=labeler, registered_model=risk_model, changes={"threshold": 0.9}
        )


def test_strategies_read_as_certainty_between_zero_and_one():
    assert uncertainty.certainty([0.55, 0.45], "least_confidence") == pytest.approx(0.55)
    assert uncertainty.certainty([0.55, 0.45], "margin") == pytest.approx(0.10)
    assert uncertainty.certainty([0.5, 0.5], "entropy") == pytest.approx(0.0)
    assert uncertainty.certainty([1.0, 0.0, 0.0], "entropy") == pytest.approx(1.0)
    with pytest.raises(ValueError):
        uncertainty.certainty([0.5, 0.5], "vibes")


def test_regression_predictions_outside_the_range_are_routed():
    from scoring.relabel_routing import Rules, decide

    rules = Rules(
        enabled=True, strategy="least_confidence", threshold=0.6, sample_rate=0.0,
        regression_rule="outside_range", regression_min=0.0, regression_max=100.0,
        labels_per_item=1, lease_seconds=None,
    )  # fmt: skip
    row = Prediction(id=uuid.uuid4(), prediction=150.0, probabilities=None)
    assert decide(row, rules) == ("uncertain", None)
    row.prediction = 50.0
    assert decide(row, rules) is None
