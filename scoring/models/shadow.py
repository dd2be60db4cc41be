"""Shadow mode: the staging version scores the same live requests as production, off the
request path, and each logged prediction gets the staging version's answer beside it."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from releases.models import ModelVersion, RegisteredModel
from scoring.models.serving import Prediction


class ShadowMode(models.Model):
    """Whether a model's staging version shadows its production traffic (one row per model).

    Turned on and off by reviewers and admins (``scoring.services.shadow_mode_set``, audited).
    It names no version: while on, whichever approved version holds staging when a request is
    shadowed scores it, and each result records which one did.
    """

    registered_model = models.OneToOneField(
        RegisteredModel, on_delete=models.CASCADE, related_name="shadow_mode"
    )
    enabled = models.BooleanField(default=False)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"shadow mode of model {self.registered_model_id}: {'on' if self.enabled else 'off'}"


class ShadowResult(models.Model):
    """What the shadowing (staging) version answered for one logged production prediction.

    Written in bulk by the shadow worker of the serving process (``scoring.shadow``), possibly
    before the prediction row itself is flushed: hence no database constraint on
    ``prediction`` (the ORM still cascades). ``agree``: same label (classifiers), or within
    ``MODELGATE_SHADOW_REGRESSION_RTOL`` of production's value (regressors).
    """

    prediction = models.ForeignKey(
        Prediction, on_delete=models.CASCADE, related_name="shadow_results", db_constraint=False
    )
    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="shadow_results"
    )
    production_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    shadow_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="shadow_results"
    )
    shadow_prediction = models.JSONField()
    probabilities = models.JSONField(null=True, blank=True)
    agree = models.BooleanField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["registered_model", "shadow_version", "agree"], name="shadow_agreement"
            ),
            models.Index(fields=["registered_model", "created_at"], name="shadow_model_time"),
        ]

    def __str__(self) -> str:
        return f"shadow v{self.shadow_version_id} on prediction {self.prediction_id}"
