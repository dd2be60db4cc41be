"""Ground truth: what a logged prediction should have been.

The contract between relabeling (which settles labels from queues) and monitoring (which turns
them into live accuracy): one row per prediction, written only by the scoring services.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from releases.models import ModelVersion, RegisteredModel
from scoring.models.serving import Prediction


class GroundTruth(models.Model):
    """The true label of one logged prediction.

    It comes from a relabel queue (the settled label of an item) or from an app reporting the
    outcome later (feedback); the newest source wins and ``source`` says which. ``sampled`` marks
    rows whose prediction was chosen at random (the queue's unbiased sample, or feedback), the
    only ones an unbiased live-accuracy estimate may use: low-confidence items are labeled far
    more often and would drag the estimate down. ``correct`` (classifiers) and ``abs_error``
    (regressors) are computed once, when the label is written, so accuracy is an aggregate.
    """

    class Source(models.TextChoices):
        QUEUE = "queue", "relabel queue"
        FEEDBACK = "feedback", "app feedback"

    prediction = models.OneToOneField(
        Prediction, on_delete=models.CASCADE, primary_key=True, related_name="ground_truth"
    )
    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="ground_truths"
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="ground_truths"
    )
    label = models.JSONField()
    source = models.CharField(max_length=10, choices=Source.choices)
    sampled = models.BooleanField(default=False)
    correct = models.BooleanField(null=True, blank=True)
    abs_error = models.FloatField(null=True, blank=True)
    # Copied from the prediction so windows by prediction time need no join.
    predicted_at = models.DateTimeField()
    labeled_at = models.DateTimeField()
    # "user:<id>" or "app:<id>", as on Prediction.caller.
    labeled_by = models.CharField(max_length=40)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", db_constraint=False,
    )  # fmt: skip

    class Meta:
        indexes = [
            models.Index(fields=["model_version", "predicted_at"], name="truth_version_time"),
            models.Index(fields=["registered_model", "labeled_at"], name="truth_model_time"),
        ]

    def __str__(self) -> str:
        return f"ground truth {self.label!r} for prediction {self.prediction_id}"
