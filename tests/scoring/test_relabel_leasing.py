"""Working a queue: one labeler per item, expired leases come back, nobody labels twice, a bad
label names the classes, a taken or finished item is a 409, and only settled items become
ground truth."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from releases.errors import Conflict, Forbidden, InvalidInput
from releases.models import AuditEvent
from scoring.models import GroundTruth, RelabelItem, RelabelLabel
from scoring.services import (
    relabel_item_label,
    relabel_item_lease_next,
    relabel_item_settle,
    relabel_item_skip,
)
from tests.scoring.relabeling import labelers, queue, version_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(risk_model):
    return version_of(risk_model)


def lease(user, version):
    return relabel_item_lease_next(actor=user, registered_model=version.registered_model)


def test_two_labelers_get_different_items_and_an_empty_queue_gives_none(version):
    first, second = queue(version, 2)
    alice, bob, carol = labelers(3)
    assert lease(alice, version).pk == first.pk
    assert lease(bob, version).pk == second.pk
    assert lease(carol, version) is None


def test_asking_again_returns_the_item_already_held(version):
    first, _ = queue(version, 2)
    (alice,) = labelers(1)
    assert lease(alice, version).pk == first.pk
    assert lease(alice, version).pk == first.pk


def test_an_expired_lease_returns_the_item_to_the_queue(version):
    (item,) = queue(version, 1)
    alice, bob = labelers(2)
    assert lease(alice, version).pk == item.pk
    assert lease(bob, version) is None
    RelabelItem.objects.filter(pk=item.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert lease(bob, version).pk == item.pk
    # The first holder's late answer is refused: the item is somebody else's now.
    with pytest.raises(Conflict) as refused:
        relabel_item_label(actor=alice, item=item, label="stay")
    assert refused.value.code == "leased_to_someone_else"


def test_a_label_settles_the_item_into_ground_truth_once(version):
    (item,) = queue(version, 1, reason="sample")
    alice, bob = labelers(2)
    lease(alice, version)
    done = relabel_item_label(actor=alice, item=item, label="churn")
    assert done.status == "labeled" and done.lease_holder_id is None
    truth = GroundTruth.objects.get()
    assert (truth.label, truth.source, truth.sampled) == ("churn", "queue", True)
    assert truth.correct is False  # the model said "stay"
    # A retried request changes nothing; another answer, or another labeler, is a 409.
    relabel_item_label(actor=alice, item=item, label="churn")
    assert RelabelLabel.objects.count() == 1
    with pytest.raises(Conflict):
        relabel_item_label(actor=alice, item=item, label="stay")
    with pytest.raises(Conflict) as refused:
        relabel_item_label(actor=bob, item=item, label="stay")
    assert refused.value.code == "already_complete"
    assert AuditEvent.objects.filter(action="relabel.label").count() == 1
    assert lease(bob, version) is None


def test_a_label_outside_the_classes_is_refused_naming_them(version):
    (item,) = queue(version, 1)
    (alice,) = labelers(1)
    lease(alice, version)
    with pytest.raises(InvalidInput) as refused:
        relabel_item_label(actor=alice, item=item, label="maybe")
    assert "'churn', 'stay'" in refused.value.message and refused.value.field == "label"
    assert not RelabelLabel.objects.exists()


def test_a_skipped_item_goes_to_others_and_never_back_to_the_skipper(version):
    first, second = queue(version, 2)
    alice, bob = labelers(2)
    assert lease(alice, version).pk == first.pk
    relabel_item_skip(actor=alice, item=first)
    assert lease(alice, version).pk == second.pk
    relabel_item_skip(actor=alice, item=second, unsure=True)
    assert lease(alice, version) is None
    assert lease(bob, version).pk == first.pk
    kinds = sorted(RelabelLabel.objects.values_list("kind", flat=True))
    assert kinds == ["skip", "unsure"]
    assert not GroundTruth.objects.exists()


def test_two_labels_that_disagree_go_to_a_reviewer_who_settles_them(version, reviewer):
    (item,) = queue(version, 1, labels_needed=2)
    alice, bob = labelers(2)
    assert lease(alice, version).pk == item.pk
    assert relabel_item_label(actor=alice, item=item, label="churn").status == "open"
    assert lease(alice, version) is None  # one label per person
    assert lease(bob, version).pk == item.pk
    assert relabel_item_label(actor=bob, item=item, label="stay").status == "disputed"
    assert not GroundTruth.objects.exists()

    with pytest.raises(Forbidden):
        relabel_item_settle(actor=alice, item=item, label="stay")
    settled = relabel_item_settle(actor=reviewer, item=item, label="stay")
    assert settled.status == "settled"
    truth = GroundTruth.objects.get()
    assert (truth.label, truth.user_id, truth.sampled) == ("stay", reviewer.pk, False)
    event = AuditEvent.objects.get(action="relabel.settle")
    assert sorted(event.payload["labels"]) == [["labeler0", "churn"], ["labeler1", "stay"]]
    with pytest.raises(Conflict):
        relabel_item_settle(actor=reviewer, item=item, label="churn")


def test_two_labels_that_agree_settle_without_a_reviewer(version):
    (item,) = queue(version, 1, labels_needed=2)
    alice, bob = labelers(2)
    lease(alice, version)
    relabel_item_label(actor=alice, item=item, label="stay")
    lease(bob, version)
    assert relabel_item_label(actor=bob, item=item, label="stay").status == "labeled"
    assert GroundTruth.objects.get().label == "stay"


def test_only_undisputed_items_cannot_be_settled(version, reviewer):
    (item,) = queue(version, 1)
    with pytest.raises(Conflict) as refused:
        relabel_item_settle(actor=reviewer, item=item, label="stay")
    assert refused.value.code == "not_disputed"


def test_people_of_another_team_cannot_lease(version, outsider, owner):
    queue(version, 1)
    with pytest.raises(Forbidden):
        relabel_item_lease_next(actor=owner, registered_model=version.registered_model)
    with pytest.raises(Forbidden):
        relabel_item_lease_next(actor=outsider, registered_model=version.registered_model)
