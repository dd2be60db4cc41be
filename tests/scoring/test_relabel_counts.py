"""Queue counts cost one query, whatever the number of models and items (the home page, the
navigation and /queues/ show them on every visit)."""

from __future__ import annotations

import pytest

from scoring import selectors
from scoring.services import relabel_item_label, relabel_item_lease_next, relabel_item_skip
from tests.factories import RegisteredModelFactory, TeamFactory
from tests.scoring.relabeling import labelers, queue, version_of

pytestmark = pytest.mark.django_db


def test_the_queues_list_counts_every_status_group_in_one_query(
    risk_model, labeler, django_assert_num_queries
):
    version = version_of(risk_model)
    items = queue(version, 5)
    other = version_of(RegisteredModelFactory(name="fraud", team=TeamFactory(name="risk")))
    queue(other, 2)
    alice, bob = labelers(2)
    relabel_item_lease_next(actor=alice, registered_model=risk_model)
    relabel_item_label(actor=alice, item=items[0], label="stay")
    for person in (alice, bob, labeler):
        relabel_item_skip(actor=person, item=items[1])

    selectors.relabel_queues_for_user(user=labeler)  # roles cached on the user object
    with django_assert_num_queries(1):
        rows = {q.name: q for q in selectors.relabel_queues_for_user(user=labeler)}

    risk = rows["credit-risk"]
    assert (risk.open_count, risk.disputed_count, risk.unresolved_count, risk.done_count) == (
        3, 0, 1, 1,
    )  # fmt: skip
    assert (rows["fraud"].open_count, rows["fraud"].done_count) == (2, 0)
    assert list(rows) == ["credit-risk", "fraud"]  # the fullest queue first


def test_a_models_counts_are_one_query(risk_model, django_assert_num_queries):
    version = version_of(risk_model)
    queue(version, 4)
    (alice,) = labelers(1)
    relabel_item_lease_next(actor=alice, registered_model=risk_model)

    with django_assert_num_queries(1):
        counts = selectors.relabel_queue_counts(registered_model=risk_model)

    assert counts == {
        "open": 4, "labeled": 0, "disputed": 0, "settled": 0, "answered": 0, "unresolved": 0,
        "leased": 1,
    }  # fmt: skip
