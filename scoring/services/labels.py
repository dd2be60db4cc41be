"""Ground truth writes: the one place a label becomes the truth about a logged prediction.

Relabel queues (a settled item) and app feedback both end here, inside their own service's
transaction and audit record; this module checks the label against the version's signature
and derives ``correct`` / ``abs_error`` once, so accuracy is an aggregate over the table.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from releases.errors import InvalidInput
from scoring.models import GroundTruth, Prediction


def prediction_lock(*, prediction_id: Any) -> None:
    """Lock the prediction's row until the caller's transaction ends. Every writer of its
    ground truth (app feedback, a relabel item's label, skip or settlement) takes this lock
    first, so they take turns and each sees what the one before it wrote."""
    Prediction.objects.select_for_update().filter(pk=prediction_id).values_list("pk").first()


def label_check(*, signature: dict[str, Any], label: Any) -> Any:
    """The label as the model's own value: one of its classes (``"1"`` matches the class ``1``),
    or a finite number for a regressor. A 400 that names the allowed labels otherwise."""
    if signature.get("task") == "classification":
        classes = list(signature.get("classes") or [])
        if label in classes and not isinstance(label, bool):
            return label
        by_text = [c for c in classes if str(c) == str(label)]
        if len(by_text) == 1 and isinstance(label, str | int | float):
            return by_text[0]
        allowed = ", ".join(repr(c) for c in classes[:50])
        raise InvalidInput(
            f"{label!r} is not one of the model's classes: {allowed}.", field="label"
        )
    if isinstance(label, bool) or not isinstance(label, int | float | str):
        raise InvalidInput("The label of a regression model is a number.", field="label")
    try:
        value = float(label)
    except ValueError:
        raise InvalidInput(
            f"The label of a regression model is a number, not {label!r}.", field="label"
        ) from None
    if not math.isfinite(value):
        raise InvalidInput("The label must be a finite number.", field="label")
    return value


def ground_truth_write(
    *,
    prediction: Prediction,
    signature: dict[str, Any],
    label: Any,
    source: str,
    sampled: bool,
    labeled_by: str,
    user: User | None = None,
) -> GroundTruth:
    """Record (or replace) the true label of ``prediction``. Call inside the caller's
    transaction; the caller writes the audit record for the action that produced the label."""
    value = label_check(signature=signature, label=label)
    predicted = prediction.prediction
    correct: bool | None = None
    abs_error: float | None = None
    if signature.get("task") == "classification":
        correct = str(predicted) == str(value)
    elif isinstance(predicted, int | float):
        abs_error = abs(float(predicted) - float(value))
    truth = GroundTruth(
        prediction=prediction,
        registered_model_id=prediction.registered_model_id,
        model_version_id=prediction.model_version_id,
        label=value,
        source=source,
        sampled=sampled,
        correct=correct,
        abs_error=abs_error,
        predicted_at=prediction.created_at,
        labeled_at=timezone.now(),
        labeled_by=labeled_by,
        user=user,
    )
    # One INSERT ... ON CONFLICT DO UPDATE: update_or_create costs two savepoints, a locking
    # SELECT and the INSERT, round trips a busy relabel queue pays on every settled item.
    GroundTruth.objects.bulk_create(
        [truth],
        update_conflicts=True,
        unique_fields=["prediction"],
        update_fields=[
            "registered_model", "model_version", "label", "source", "sampled", "correct",
            "abs_error", "predicted_at", "labeled_at", "labeled_by", "user",
        ],
    )  # fmt: skip
    return truth
