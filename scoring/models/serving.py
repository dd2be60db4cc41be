"""Serving tables: app tokens that may call predict, and the prediction log."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from releases.models import ModelVersion, RegisteredModel, Team


class AppToken(models.Model):
    """A key an application uses to call predict on the models it names, and nothing else.

    Separate from people's API keys (``releases.ApiToken``): it acts for no person, so it can
    never read, upload, review or promote. The key (``mga_`` + 43 random characters) is shown
    once; the table keeps its SHA-256 digest (a random 256-bit key needs no slow hash) and its
    first characters, to recognise it in lists and logs.
    """

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="app_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    registered_models = models.ManyToManyField(RegisteredModel, related_name="app_tokens")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )  # fmt: skip

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"app token {self.name!r} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class Prediction(models.Model):
    """One scored row: what came in, what the model said, which version said it, for whom.

    Written in bulk off the request path (``scoring.prediction_log``); the id is made by the
    serving process, so the response can carry it before the row exists, and is time-ordered
    (UUID version 7, ``scoring.apis.prediction_ids``) so the table grows at the end of its key.
    The relabeling and monitoring work reads this table by model version and time.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request_id = models.UUIDField()
    # No index of their own on these two and on created_at: the (version, time) and (model,
    # time) indexes below serve every query and cascade by their prefix, and each index more
    # is paid on every logged row (bench/serving_profile.py).
    registered_model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="predictions", db_index=False
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="predictions", db_index=False
    )
    stage = models.CharField(max_length=20, blank=True)
    inputs = models.JSONField()
    prediction = models.JSONField()
    probabilities = models.JSONField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    latency_ms = models.FloatField()
    # "user:<id>" or "app:<id>"; the FKs below keep the row when a caller is removed.
    caller = models.CharField(max_length=40)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", db_constraint=False,
    )  # fmt: skip
    app_token = models.ForeignKey(
        AppToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_constraint=False,
    )  # fmt: skip
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["model_version", "created_at"], name="prediction_version_time"),
            models.Index(fields=["registered_model", "created_at"], name="prediction_model_time"),
            models.Index(fields=["request_id"], name="prediction_request"),
        ]

    def __str__(self) -> str:
        return f"prediction {self.id} by v{self.model_version_id}"
