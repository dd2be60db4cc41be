"""App feedback: the caller that made a prediction reports what it should have been.

Why the audit trail gets a row only when feedback *replaces* a label: apps report outcomes at
the rate they predict (thousands an hour), and one audit row each would bury the human actions
the trail is read for (promotions, reviews, token changes) and grow the append-only table
without bound. The first label is recorded completely by its ``GroundTruth`` row itself (who:
``labeled_by`` "app:<id>"/"user:<id>", when: ``labeled_at``, what: ``label``, how:
``source="feedback"``); an audit row is written when feedback overwrites a different label
(from a labeler's queue or an earlier report), because only then would something be lost.
Repeating the same label changes nothing and writes nothing.

Feedback wins over relabel queues: the app observed the outcome, a labeler infers it. A
prediction's open or disputed queue item is therefore answered by the feedback (status
``answered``, one audit row, since it changes what labelers are offered) and leaves the queue;
a queue label that arrives after feedback is kept as the labeler's answer but never replaces
the feedback's ground truth (scoring.services.relabel). Both take the prediction's row lock.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from releases.services.audit import audit_record
from scoring.models import GroundTruth, Prediction
from scoring.services.labels import ground_truth_write, label_check, prediction_lock
from scoring.services.relabel import relabel_items_answer


@transaction.atomic
def prediction_feedback_record(
    *, actor: User | None, caller: str, prediction: Prediction, label: Any
) -> GroundTruth:
    """Record ``label`` as the truth of ``prediction``, reported by ``caller`` (the app or
    person that made it; ``actor`` is that person, None for an app). Feedback is an unbiased
    sample (``sampled=True``): the caller reports outcomes whatever the model's confidence.
    Idempotent: the last label wins and the prediction keeps one row."""
    signature = prediction.model_version.signature or {}
    value = label_check(signature=signature, label=label)
    # The prediction row's lock puts concurrent reports on one prediction in turn, so each
    # audit row names the label it really replaced (without it two first reports both see no
    # row and the second overwrite goes unrecorded).
    prediction_lock(prediction_id=prediction.pk)
    existing = GroundTruth.objects.filter(prediction=prediction).first()
    if (
        existing is not None
        and existing.source == GroundTruth.Source.FEEDBACK
        and existing.labeled_by == caller
        and existing.label == value
    ):
        return existing
    truth = ground_truth_write(
        prediction=prediction, signature=signature, label=value, source=GroundTruth.Source.FEEDBACK,
        sampled=True, labeled_by=caller, user=actor,
    )  # fmt: skip
    relabel_items_answer(actor=actor, prediction=prediction, caller=caller, label=value)
    if existing is not None and existing.label != value:
        audit_record(
            actor=actor,
            action="prediction.feedback_replace",
            model_version=prediction.model_version,
            payload={
                "prediction_id": str(prediction.pk),
                "caller": caller,
                "label": value,
                "previous_label": existing.label,
                "previous_source": existing.source,
                "previous_labeled_by": existing.labeled_by,
            },
        )
    return truth
