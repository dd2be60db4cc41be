"""Items labelers pass on do not sit in the queue forever: after the policy's ``skips_to_close``
passes (skip or unsure), or once every labeler and reviewer of the team has answered without
the labels the item needs, it leaves the open queue as unresolved and a reviewer settles it."""

from __future__ import annotations

import importlib
import threading

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client

from releases.errors import Conflict, InvalidInput
from releases.models import AuditEvent
from scoring import selectors
from scoring.models import GroundTruth, RelabelItem, RelabelLabel, RelabelStatus
from scoring.services import (
    relabel_item_label,
    relabel_item_lease_next,
    relabel_item_settle,
    relabel_item_skip,
    relabel_policy_update,
)
from scoring.services.labels import prediction_lock
from scoring.services.relabel import relabel_items_answer
from tests.factories import PASSWORD
from tests.scoring.relabeling import labelers, queue, version_of


@pytest.fixture
def version(risk_model):
    return version_of(risk_model)


def lease(user, version):
    return relabel_item_lease_next(actor=user, registered_model=version.registered_model)


@pytest.mark.django_db
def test_an_item_three_labelers_passed_on_leaves_the_queue_for_a_reviewer(version):
    (item,) = queue(version, 1)
    alice, bob, carol, dave = labelers(4)
    for person, unsure in ((alice, False), (bob, True)):
        assert lease(person, version).pk == item.pk
        assert relabel_item_skip(actor=person, item=item, unsure=unsure).status == "open"

    lease(carol, version)
    closed = relabel_item_skip(actor=carol, item=item)

    assert closed.status == RelabelStatus.UNRESOLVED and closed.lease_holder_id is None
    assert closed.completed_at is None  # not done: a reviewer still owes it a label
    assert lease(dave, version) is None
    counts = selectors.relabel_queue_counts(registered_model=version.registered_model)
    assert counts["open"] == 0 and counts["unresolved"] == 1
    last = AuditEvent.objects.filter(action="relabel.skip").order_by("-id").first()
    assert last.payload == {"item": item.pk, "status": "unresolved", "passes": 3}
    with pytest.raises(Conflict) as refused:
        relabel_item_skip(actor=dave, item=item)
    assert refused.value.code == "already_complete"


@pytest.mark.django_db
def test_when_every_labeler_of_the_team_passed_it_leaves_sooner(version, admin_user):
    (item,) = queue(version, 1)
    alice, bob = labelers(2)  # and an admin of another team, who is not counted

    assert relabel_item_skip(actor=alice, item=item).status == "open"
    assert relabel_item_skip(actor=bob, item=item, unsure=True).status == "unresolved"


@pytest.mark.django_db
def test_an_item_short_of_labels_with_nobody_left_to_ask_goes_to_a_reviewer(version):
    skipped, short = queue(version, 2, labels_needed=2)
    alice, bob = labelers(2)

    relabel_item_label(actor=alice, item=skipped, label="churn")
    assert relabel_item_skip(actor=bob, item=skipped).status == "unresolved"
    RelabelItem.objects.filter(pk=short.pk).update(labels_needed=3)
    relabel_item_label(actor=alice, item=short, label="stay")
    assert relabel_item_label(actor=bob, item=short, label="stay").status == "unresolved"
    assert not GroundTruth.objects.exists()


@pytest.mark.django_db
def test_the_policy_says_how_many_skips_close_an_item(version, owner):
    first, second = queue(version, 2)
    alice, bob, _carol = labelers(3)  # a third, so two skips do not answer for the team
    with pytest.raises(InvalidInput) as refused:
        relabel_policy_update(
            actor=owner, registered_model=version.registered_model, changes={"skips_to_close": 0}
        )
    assert refused.value.field == "skips_to_close"

    relabel_policy_update(
        actor=owner, registered_model=version.registered_model, changes={"skips_to_close": 1}
    )

    assert relabel_item_skip(actor=alice, item=first).status == "unresolved"
    assert relabel_item_skip(actor=bob, item=second, unsure=True).status == "unresolved"
    event = AuditEvent.objects.get(action="relabel.policy_update")
    assert event.payload["before"]["skips_to_close"] == 3
    assert event.payload["after"]["skips_to_close"] == 1


@pytest.mark.django_db
def test_a_reviewer_sees_an_unresolved_item_beside_the_disputes_and_settles_it(
    version, reviewer, labeler
):
    (item,) = queue(version, 1)
    alice, bob = labelers(2)
    relabel_item_skip(actor=alice, item=item)
    relabel_item_skip(actor=bob, item=item, unsure=True)
    relabel_item_skip(actor=labeler, item=item)
    client = Client()
    client.login(username=reviewer.username, password=PASSWORD)

    queues = client.get("/queues/").content.decode()
    page = client.get("/queues/credit-risk/disputes/").content.decode()

    assert '<span class="badge relabel-unresolved">1 passed on</span>' in queues
    assert "Settle 1 for credit-risk" in queues
    assert "labels to settle (1)" in page and '<span class="badge relabel-unresolved">' in page
    assert 'labeler0: <span class="muted">skipped</span>' in page
    assert 'labeler1: <span class="muted">unsure</span>' in page
    response = client.post("/queues/credit-risk/disputes/", {"item": item.pk, "label": "stay"})
    assert response.status_code == 302
    assert RelabelItem.objects.get().status == RelabelStatus.SETTLED
    truth = GroundTruth.objects.get()
    assert (truth.label, truth.user_id) == ("stay", reviewer.pk)


@pytest.mark.django_db
def test_a_labeler_cannot_settle_an_unresolved_item(version, labeler):
    from releases.errors import Forbidden

    (item,) = queue(version, 1)
    for person in labelers(3):
        relabel_item_skip(actor=person, item=item)
    with pytest.raises(Forbidden):
        relabel_item_settle(actor=labeler, item=item, label="stay")


@pytest.mark.django_db
def test_app_feedback_answers_an_unresolved_item(version):
    (item,) = queue(version, 1)
    for person in labelers(3):
        relabel_item_skip(actor=person, item=item)

    prediction_lock(prediction_id=item.prediction_id)
    answered = relabel_items_answer(
        actor=None, prediction=item.prediction, caller="app:1", label="churn"
    )

    assert answered == 1 and RelabelItem.objects.get().status == RelabelStatus.ANSWERED


@pytest.mark.django_db
def test_the_migration_closes_items_already_passed_on(version):
    stuck, everyone, waiting = queue(version, 3)
    alice, bob, carol = labelers(3)
    for person in (alice, bob, carol):
        RelabelLabel.objects.create(item=stuck, labeler=person, kind="skip")
    for person, kind in ((alice, "skip"), (bob, "unsure"), (carol, "label")):
        RelabelLabel.objects.create(item=everyone, labeler=person, kind=kind, label=None)
    RelabelLabel.objects.create(item=waiting, labeler=alice, kind="unsure")
    migration = importlib.import_module("scoring.migrations.0010_relabel_unresolved")

    migration.close_items_everyone_passed(apps, None)

    status = dict(RelabelItem.objects.values_list("pk", "status"))
    assert status == {stuck.pk: "unresolved", everyone.pk: "unresolved", waiting.pk: "open"}


@pytest.mark.django_db(transaction=True)
def test_labelers_passing_at_the_same_moment_close_the_item_once(risk_model):
    """Four labelers skip one item at once with three skips to close: the row lock orders them,
    three skips are kept, the item closes once, and the fourth is told it is taken."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises whole-database writes; row locks need PostgreSQL")
    version = version_of(risk_model)
    (item,) = queue(version, 1)
    people = labelers(6)[:4]
    barrier = threading.Barrier(len(people))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def skip(person) -> None:
        try:
            barrier.wait()
            relabel_item_skip(actor=person, item=item)
            outcomes.append("skipped")
        except Conflict as exc:
            outcomes.append(exc.code)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=skip, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert not errors, errors
    assert sorted(outcomes) == ["already_complete", "skipped", "skipped", "skipped"]
    assert RelabelItem.objects.get().status == RelabelStatus.UNRESOLVED
    assert RelabelLabel.objects.count() == 3
    closing = AuditEvent.objects.filter(action="relabel.skip", payload__status="unresolved")
    assert closing.count() == 1
