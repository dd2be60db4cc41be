"""App feedback and relabel queues on one prediction: feedback wins. It answers the prediction's
open or disputed queue item, which leaves the queue; a queue label that still arrives keeps the
labeler's answer on record but never replaces the feedback's ground truth. Both writers take
the prediction's row lock, so on PostgreSQL they take turns."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from releases.errors import Conflict
from releases.models import AuditEvent
from scoring.models import GroundTruth, RelabelItem, RelabelLabel, RelabelStatus
from scoring.services import (
    ground_truth_write,
    prediction_feedback_record,
    relabel_item_label,
    relabel_item_lease_next,
    relabel_item_settle,
)
from tests.scoring.relabeling import labelers, queue, version_of

APP = "app:7"


@pytest.fixture
def version(risk_model):
    return version_of(risk_model)


def feedback(item, label):
    return prediction_feedback_record(
        actor=None, caller=APP, prediction=item.prediction, label=label
    )


@pytest.mark.django_db
def test_feedback_answers_the_open_item_and_labelers_are_not_offered_it(version):
    first, second = queue(version, 2)
    (alice,) = labelers(1)

    truth = feedback(first, "churn")

    first.refresh_from_db()
    assert first.status == RelabelStatus.ANSWERED and first.completed_at is not None
    assert (truth.source, truth.label, truth.sampled) == ("feedback", "churn", True)
    leased = relabel_item_lease_next(actor=alice, registered_model=version.registered_model)
    assert leased.pk == second.pk  # the answered item is skipped
    audit = AuditEvent.objects.get(action="relabel.answered_by_feedback")
    assert audit.payload == {"item": first.pk, "label": "churn", "caller": APP}


@pytest.mark.django_db
def test_feedback_answers_a_disputed_item_so_no_reviewer_settles_it(version, reviewer):
    (item,) = queue(version, 1, labels_needed=2)
    alice, bob = labelers(2)
    relabel_item_label(actor=alice, item=item, label="stay")
    relabel_item_label(actor=bob, item=item, label="churn")
    item.refresh_from_db()
    assert item.status == RelabelStatus.DISPUTED

    feedback(item, "stay")

    item.refresh_from_db()
    assert item.status == RelabelStatus.ANSWERED
    with pytest.raises(Conflict):
        relabel_item_settle(actor=reviewer, item=item, label="churn")
    assert GroundTruth.objects.get(prediction=item.prediction).source == "feedback"


@pytest.mark.django_db
def test_a_queue_label_never_replaces_feedback_and_the_audit_names_both(version):
    (item,) = queue(version, 1)
    (alice,) = labelers(1)
    # Feedback written before the item existed (the queue was filled from an older log).
    ground_truth_write(
        prediction=item.prediction, signature=version.signature, label="churn",
        source="feedback", sampled=True, labeled_by=APP,
    )  # fmt: skip

    result = relabel_item_label(actor=alice, item=item, label="stay")

    assert result.status == RelabelStatus.ANSWERED
    truth = GroundTruth.objects.get(prediction=item.prediction)
    assert (truth.label, truth.source, truth.labeled_by) == ("churn", "feedback", APP)
    assert RelabelLabel.objects.get(item=item).label == "stay"  # the labeler's work is kept
    audit = AuditEvent.objects.get(action="relabel.label")
    assert audit.payload["kept_feedback"] == {"label": "churn", "labeled_by": APP}
    assert audit.payload["status"] == "answered"


@pytest.mark.django_db
def test_feedback_after_a_queue_label_replaces_it_with_an_audit_row(version):
    (item,) = queue(version, 1)
    (alice,) = labelers(1)
    relabel_item_label(actor=alice, item=item, label="stay")

    feedback(item, "churn")

    item.refresh_from_db()
    assert item.status == RelabelStatus.LABELED  # done already: nothing to answer
    assert GroundTruth.objects.get(prediction=item.prediction).label == "churn"
    replaced = AuditEvent.objects.get(action="prediction.feedback_replace")
    assert (replaced.payload["previous_label"], replaced.payload["previous_source"]) == (
        "stay",
        "queue",
    )


@pytest.mark.django_db(transaction=True)
def test_feedback_and_a_queue_label_at_once_take_turns_and_feedback_wins(risk_model):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serialises every writer)")
    version = version_of(risk_model)
    items = queue(version, 12)
    (alice,) = labelers(1)
    errors: list[BaseException] = []

    for item in items:
        start = threading.Barrier(2)

        def run(write, item=item, start=start):
            try:
                start.wait()
                write(item)
            except Conflict:
                pass  # the label came second and the item was answered: a 409, as designed
            except BaseException as exc:
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [
            threading.Thread(target=run, args=(lambda i: feedback(i, "churn"),)),
            threading.Thread(
                target=run, args=(lambda i: relabel_item_label(actor=alice, item=i, label="stay"),)
            ),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert errors == []
    for item in items:
        item.refresh_from_db()
        truth = GroundTruth.objects.get(prediction=item.prediction)
        assert (truth.label, truth.source) == ("churn", "feedback")
        if (
            item.status == RelabelStatus.LABELED
        ):  # the label came first: its replacement is on record
            assert AuditEvent.objects.filter(
                action="prediction.feedback_replace", payload__prediction_id=str(item.prediction_id)
            ).exists()
        else:
            assert item.status == RelabelStatus.ANSWERED
    assert RelabelItem.objects.filter(status=RelabelStatus.OPEN).count() == 0
