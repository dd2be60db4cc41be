"""Two people acting at the same moment, on a real PostgreSQL: the row locks leave one
consistent state (threads, each with its own connection, released together by a barrier)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import close_old_connections, connection

from releases import selectors, services
from releases.errors import DomainError
from releases.models import AuditEvent, Review, StageAssignment, StageEvent, VersionStatus
from tests.releases.releasing import *  # noqa: F403 -- fixtures
from tests.releases.releasing import stored_version

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises whole-database writes; row locks need PostgreSQL")


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; each result is a value or the DomainError."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[i] = call()
        except DomainError as exc:
            results[i] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def decide(user: Any, version: Any, decision: str = "approve") -> Callable[[], Any]:
    return lambda: services.model_version_review(
        actor=user, model_version=version, decision=decision, comment="at once"
    )


@pytest.mark.parametrize("attempt", range(3))
def test_two_approvals_at_once_count_both_when_two_are_required(
    reviewer, reviewer2, media_root, risk_model, owner, attempt
):
    risk_model.required_approvals = 2
    risk_model.save()
    version = stored_version(risk_model, 1, uploaded_by=owner)
    results = at_once(decide(reviewer, version), decide(reviewer2, version))
    assert not [r for r in results if isinstance(r, Exception)]
    version.refresh_from_db()
    assert version.status == VersionStatus.APPROVED
    assert Review.objects.filter(model_version=version).count() == 2
    audit = list(AuditEvent.objects.filter(action="version.approve").order_by("pk"))
    assert [e.payload["after"]["approvals"] for e in audit] == [1, 2]
    assert [e.payload["after"]["status"] for e in audit] == ["validated", "approved"]


def test_two_approvals_at_once_when_one_is_required_let_exactly_one_through(
    reviewer, reviewer2, media_root, risk_model, owner
):
    version = stored_version(risk_model, 1, uploaded_by=owner)
    results = at_once(decide(reviewer, version), decide(reviewer2, version))
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 1 and refused[0].status_code == 409
    version.refresh_from_db()
    assert version.status == VersionStatus.APPROVED
    assert Review.objects.count() == 1
    assert AuditEvent.objects.filter(action="version.approve").count() == 1


def test_approve_and_reject_at_once_end_in_one_decision(
    reviewer, reviewer2, media_root, risk_model, owner
):
    version = stored_version(risk_model, 1, uploaded_by=owner)
    results = at_once(decide(reviewer, version), decide(reviewer2, version, "reject"))
    assert sum(isinstance(r, DomainError) for r in results) == 1
    version.refresh_from_db()
    decided = Review.objects.get()
    assert version.status == {"approve": "approved", "reject": "rejected"}[decided.decision]


@pytest.mark.parametrize("attempt", range(3))
def test_two_promotions_at_once_leave_one_production_version_and_a_chained_history(
    reviewer, reviewer2, media_root, risk_model, owner, attempt
):
    versions = []
    for n in (1, 2):
        v = stored_version(risk_model, n, uploaded_by=owner)
        versions.append(services.model_version_review(actor=reviewer, model_version=v,
                                                      decision="approve"))  # fmt: skip

    def promote(user: Any, v: Any) -> Callable[[], Any]:
        return lambda: services.model_version_promote(
            actor=user, model_version=v, stage="production"
        )

    results = at_once(promote(reviewer, versions[0]), promote(reviewer2, versions[1]))
    assert not [r for r in results if isinstance(r, Exception)]
    assert StageAssignment.objects.count() == 1
    first, second = StageEvent.objects.order_by("pk")
    assert first.from_version is None
    assert second.from_version == first.to_version
    holder = selectors.production_version(registered_model=risk_model)
    assert holder == second.to_version
    assert AuditEvent.objects.filter(action="version.promote").count() == 2
