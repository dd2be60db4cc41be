"""Labelers working one queue at the same moment, on a real PostgreSQL (and on the embedded
SQLite): no item is leased to two of them, no label is lost or stored twice (threads, each with
its own connection)."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection

from scoring.models import GroundTruth, RelabelItem, RelabelLabel
from scoring.services import relabel_item_label, relabel_item_lease_next
from tests.scoring.relabeling import labelers, queue, version_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises whole-database writes; SKIP LOCKED needs PostgreSQL")


def work_together(people, model) -> list[list[int]]:
    """Each person leases and labels until the queue has nothing left for them; returns the
    ids each one leased, in order."""
    barrier = threading.Barrier(len(people))
    leased: list[list[int]] = [[] for _ in people]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                item = relabel_item_lease_next(actor=people[i], registered_model=model)
                if item is None:
                    # Items others hold may come back needing another label: wait for them.
                    if not RelabelItem.objects.filter(
                        status="open", lease_holder__isnull=False
                    ).exists():
                        return
                    time.sleep(0.005)
                    continue
                leased[i].append(item.pk)
                relabel_item_label(actor=people[i], item=item, label=["churn", "stay"][i % 2])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(people))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return leased


@pytest.mark.usefixtures("_postgres_only")
def test_eight_labelers_at_once_never_share_an_item_and_store_each_label_once(risk_model):
    version = version_of(risk_model)
    items = queue(version, 240)
    leased = work_together(labelers(8), risk_model)

    every = [pk for mine in leased for pk in mine]
    assert sorted(every) == sorted(i.pk for i in items)  # each item leased exactly once
    assert sum(1 for mine in leased if mine) > 1  # they really did work side by side
    assert RelabelLabel.objects.count() == 240
    assert GroundTruth.objects.count() == 240
    assert set(RelabelItem.objects.values_list("status", flat=True)) == {"labeled"}


@pytest.mark.usefixtures("_postgres_only")
def test_with_two_labels_per_item_each_item_gets_two_different_labelers(risk_model):
    version = version_of(risk_model)
    queue(version, 60, labels_needed=2)
    work_together(labelers(4), risk_model)

    per_item = Counter(RelabelLabel.objects.values_list("item_id", flat=True))
    assert len(per_item) == 60 and set(per_item.values()) == {2}
    pairs = RelabelLabel.objects.values_list("item_id", "labeler_id")
    assert len(set(pairs)) == 120
    statuses = Counter(RelabelItem.objects.values_list("status", flat=True))
    assert sum(statuses.values()) == 60 and set(statuses) <= {"labeled", "disputed"}
    assert GroundTruth.objects.count() == statuses["labeled"]


def test_on_sqlite_too_four_labelers_at_once_never_share_an_item(transactional_db, risk_model):
    """The same guarantee from the embedded default: there the lease statement is serialised
    with every other write rather than row-locked."""
    version = version_of(risk_model)
    items = queue(version, 40)
    leased = work_together(labelers(4), risk_model)
    every = [pk for mine in leased for pk in mine]
    assert sorted(every) == sorted(i.pk for i in items)
    assert RelabelLabel.objects.count() == 40
