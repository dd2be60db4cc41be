"""A label becomes ground truth only when it fits the version's signature."""

from __future__ import annotations

import pytest

from releases.errors import InvalidInput
from scoring.models import GroundTruth
from scoring.services import ground_truth_write, label_check
from tests.factories import PredictionFactory

CLASSIFIER = {"task": "classification", "classes": [0, 1], "features": []}
REGRESSOR = {"task": "regression", "features": []}


def test_label_outside_the_classes_is_refused_naming_the_allowed_ones():
    with pytest.raises(InvalidInput) as refused:
        label_check(signature=CLASSIFIER, label="spam")
    assert "0, 1" in str(refused.value)
    assert refused.value.field == "label"


def test_label_given_as_text_becomes_the_models_own_class_value():
    assert label_check(signature=CLASSIFIER, label="1") == 1
    assert label_check(signature={**CLASSIFIER, "classes": ["no", "yes"]}, label="yes") == "yes"


@pytest.mark.parametrize("label", [True, None, [1], "abc", float("nan"), float("inf")])
def test_regression_label_must_be_a_finite_number(label):
    with pytest.raises(InvalidInput):
        label_check(signature=REGRESSOR, label=label)


@pytest.mark.django_db
def test_ground_truth_records_whether_the_prediction_was_right_and_replaces_older_labels():
    prediction = PredictionFactory(prediction=0)
    truth = ground_truth_write(
        prediction=prediction, signature=CLASSIFIER, label="1", source="queue", sampled=True,
        labeled_by="user:1",
    )  # fmt: skip
    assert (truth.label, truth.correct, truth.model_version_id) == (
        1,
        False,
        prediction.model_version_id,
    )
    ground_truth_write(
        prediction=prediction, signature=CLASSIFIER, label=0, source="feedback", sampled=True,
        labeled_by="app:1",
    )  # fmt: skip
    stored = GroundTruth.objects.get()
    assert (stored.label, stored.correct, stored.source) == (0, True, "feedback")


@pytest.mark.django_db
def test_regression_ground_truth_keeps_the_absolute_error():
    prediction = PredictionFactory(prediction=2.5, probabilities=None, confidence=None)
    truth = ground_truth_write(
        prediction=prediction, signature=REGRESSOR, label=4, source="feedback", sampled=True,
        labeled_by="app:1",
    )  # fmt: skip
    assert truth.correct is None and truth.abs_error == pytest.approx(1.5)
