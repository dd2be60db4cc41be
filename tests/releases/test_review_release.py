"""Review and release through the API: four eyes, N approvals, artifact integrity, stages,
rollback, archive, who may do what, and one audit row per action."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from releases import selectors, services
from releases.models import (
    AuditEvent,
    ModelVersion,
    Role,
    StageAssignment,
    StageEvent,
    VersionStatus,
)
from tests.factories import MembershipFactory, TeamFactory
from tests.releases.releasing import *  # noqa: F403 -- fixtures
from tests.releases.releasing import approved, stored_version, tamper

pytestmark = pytest.mark.django_db

BASE = "/api/v1/models/credit-risk"


def review(api, user, number: int, decision: str = "approve", comment: str = "") -> Any:
    return api(user).post(
        f"{BASE}/versions/{number}/reviews/",
        {"decision": decision, "comment": comment},
        format="json",
    )


def promote(api, user, number: int, stage: str = "production", **extra: str) -> Any:
    return api(user).post(
        f"{BASE}/versions/{number}/promote/", {"stage": stage, **extra}, format="json"
    )


def rollback(api, user, stage: str = "production") -> Any:
    return api(user).post(f"{BASE}/rollback/", {"stage": stage, "comment": "bad"}, format="json")


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))


# --- Review ------------------------------------------------------------------------------------


def test_reviewer_approves_a_validated_version_bound_to_its_sha256(api, reviewer, candidate):
    response = review(api, reviewer, 1, comment="looks right")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "approved"
    assert body["approvals"]["required"] == 1
    assert body["approvals"]["received"] == 1
    [r] = body["approvals"]["reviews"]
    assert r["reviewer"] == "rui"
    assert r["decision"] == "approve"
    assert r["artifact_sha256"] == candidate.sha256
    assert body["stages"] == []


def test_uploader_cannot_approve_own_version_even_as_reviewer_and_admin(api, owner, candidate):
    MembershipFactory(user=owner, team=TeamFactory(name="risk"), role=Role.REVIEWER)
    MembershipFactory(user=owner, team=TeamFactory(name="platform"), role=Role.ADMIN)
    response = review(api, owner, 1)
    assert response.status_code == 403
    assert "another reviewer" in response.json()["detail"]
    candidate.refresh_from_db()
    assert candidate.status == VersionStatus.VALIDATED
    assert not candidate.reviews.exists()


@pytest.mark.parametrize(
    ("persona", "status"), [("labeler", 403), ("owner", 403), ("growth_reviewer", 404)]
)
def test_wrong_user_cannot_review(api, request, candidate, persona, status):
    response = review(api, request.getfixturevalue(persona), 1)
    assert response.status_code == status
    candidate.refresh_from_db()
    assert candidate.status == VersionStatus.VALIDATED


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "maybe"}, "decision"),
        ({}, "decision"),
        ({"decision": "reject"}, "comment"),
        ({"decision": "reject", "comment": "   "}, "comment"),
        ({"decision": "approve", "comment": 5}, "comment"),
        ({"decision": "approve", "comment": "x" * 5001}, "comment"),
    ],
)
def test_bad_review_input_is_a_400_naming_the_field(api, reviewer, candidate, body, field):
    response = api(reviewer).post(f"{BASE}/versions/1/reviews/", body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field


def test_reject_needs_a_comment_and_one_rejection_rejects(api, reviewer, reviewer2, media_root,
                                                          risk_model, owner):  # fmt: skip
    risk_model.required_approvals = 2
    risk_model.save()
    stored_version(risk_model, 1, uploaded_by=owner)
    assert review(api, reviewer, 1).json()["status"] == "validated"
    response = review(api, reviewer2, 1, "reject", "leaks the target")
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    again = review(api, reviewer2, 1, "approve")
    assert again.status_code == 409


def test_n_approvals_from_different_reviewers(api, reviewer, reviewer2, admin_user, media_root,
                                              risk_model, owner):  # fmt: skip
    risk_model.required_approvals = 2
    risk_model.save()
    stored_version(risk_model, 1, uploaded_by=owner)
    first = review(api, reviewer, 1)
    assert first.json()["status"] == "validated"
    assert first.json()["approvals"]["received"] == 1
    # The same reviewer again counts once: a repeat changes nothing and records nothing.
    before = AuditEvent.objects.count()
    assert review(api, reviewer, 1).json()["approvals"]["received"] == 1
    assert AuditEvent.objects.count() == before
    second = review(api, reviewer2, 1)
    assert second.json()["status"] == "approved"
    assert second.json()["approvals"]["received"] == 2
    # Once approved, a third reviewer's approval is refused, naming the state and next steps.
    third = review(api, admin_user, 1)
    assert third.status_code == 409
    assert "approved" in third.json()["detail"]
    assert "promote it to staging or production" in third.json()["allowed_next"]


def test_lowering_the_policy_lets_a_repeated_approval_complete(api, reviewer, media_root,
                                                               risk_model, owner):  # fmt: skip
    risk_model.required_approvals = 2
    risk_model.save()
    stored_version(risk_model, 1, uploaded_by=owner)
    review(api, reviewer, 1)
    response = api(reviewer).patch(BASE + "/", {"required_approvals": 1}, format="json")
    assert response.status_code == 200
    assert response.json()["required_approvals"] == 1
    assert review(api, reviewer, 1).json()["status"] == "approved"


def test_reviewer_who_approved_cannot_then_reject(api, reviewer, reviewer2, media_root,
                                                  risk_model, owner):  # fmt: skip
    risk_model.required_approvals = 2
    risk_model.save()
    stored_version(risk_model, 1, uploaded_by=owner)
    review(api, reviewer, 1)
    response = review(api, reviewer, 1, "reject", "changed my mind")
    assert response.status_code == 409
    assert response.json()["error"] == "already_reviewed"


def test_untrusted_types_block_approval_with_the_list(api, reviewer, media_root, risk_model, owner):
    stored_version(
        risk_model,
        1,
        uploaded_by=owner,
        untrusted_types=[
            "sklearn.neighbors._kd_tree.KDTree",
            "sklearn.neighbors._ball_tree.BallTree",
        ],
    )
    response = review(api, reviewer, 1)
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "untrusted_types"
    assert body["pending_trust"] == [
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.neighbors._kd_tree.KDTree",
    ]
    assert (
        "sklearn.neighbors._ball_tree.BallTree, sklearn.neighbors._kd_tree.KDTree" in body["detail"]
    )
    services.model_version_trust_types(
        actor=reviewer,
        model_version=ModelVersion.objects.get(),
        types=["sklearn.neighbors._ball_tree.BallTree", "sklearn.neighbors._kd_tree.KDTree"],
    )
    assert review(api, reviewer, 1).json()["status"] == "approved"


def test_tampered_artifact_cannot_be_approved_but_can_be_rejected(api, reviewer, candidate):
    tamper(candidate)
    response = review(api, reviewer, 1)
    assert response.status_code == 409
    assert response.json()["error"] == "artifact_changed"
    rejected = review(api, reviewer, 1, "reject", "the file changed under us")
    assert rejected.json()["status"] == "rejected"


@pytest.mark.parametrize("status", ["pending", "validating", "validation_failed", "archived"])
def test_reviewing_a_version_that_is_not_validated_is_a_409_naming_state_and_next_steps(
    api, reviewer, media_root, risk_model, owner, status
):
    stored_version(risk_model, 1, uploaded_by=owner, status=status)
    response = review(api, reviewer, 1)
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "invalid_transition"
    assert body["status"] == status
    assert "allowed next" in body["detail"]
    assert "approved" not in body["allowed_statuses"]


def test_required_approvals_are_set_by_reviewers_not_data_scientists(api, owner, reviewer,
                                                                     risk_model):  # fmt: skip
    refused = api(owner).patch(BASE + "/", {"required_approvals": 1}, format="json")
    assert refused.status_code == 403
    for bad in (0, 6, "two", None):
        response = api(reviewer).patch(BASE + "/", {"required_approvals": bad}, format="json")
        assert response.status_code == 400, bad
        assert response.json()["field"] == "required_approvals"
    assert (
        api(reviewer)
        .patch(BASE + "/", {"required_approvals": 3}, format="json")
        .json()["required_approvals"]
        == 3
    )
    # A reviewer still cannot edit the texts, which are the data scientists'.
    assert api(reviewer).patch(BASE + "/", {"description": "x"}, format="json").status_code == 403
    assert AuditEvent.objects.filter(action="model.update").count() == 1


# --- Promotion, rollback, archive --------------------------------------------------------------


@pytest.fixture
def two_approved(api, reviewer, media_root, risk_model, owner):
    v1 = approved(stored_version(risk_model, 1, uploaded_by=owner), reviewer)
    v2 = approved(stored_version(risk_model, 2, uploaded_by=owner), reviewer)
    return v1, v2


def test_promote_v1_promote_v2_rollback_restores_v1(api, reviewer, risk_model, two_approved):
    assert promote(api, reviewer, 1).json()["stages"] == ["production"]
    assert selectors.production_version(registered_model=risk_model).version == 1
    assert promote(api, reviewer, 2, comment="better recall").json()["stages"] == ["production"]
    assert selectors.production_version(registered_model=risk_model).version == 2

    response = rollback(api, reviewer)
    assert response.status_code == 200
    assert response.json()["version"] == 1
    assert response.json()["stages"] == ["production"]
    assert selectors.production_version(registered_model=risk_model).version == 1

    stages = api(reviewer).get(f"{BASE}/stages/").json()
    assert stages["current"] == {"staging": None, "production": 1}
    assert [(e["kind"], e["from_version"], e["to_version"]) for e in stages["history"]] == [
        ("rollback", 2, 1),
        ("promote", 1, 2),
        ("promote", None, 1),
    ]
    assert stages["history"][1]["comment"] == "better recall"
    # Nothing earlier than v1: a second rollback says so.
    again = rollback(api, reviewer)
    assert again.status_code == 409
    assert again.json()["error"] == "nothing_to_roll_back"


def test_repeated_rollbacks_walk_back_and_skip_archived_versions(api, reviewer, media_root,
                                                                 risk_model, owner):  # fmt: skip
    for n in (1, 2, 3, 4):
        approved(stored_version(risk_model, n, uploaded_by=owner), reviewer)
        promote(api, reviewer, n)
    api(reviewer).post(f"{BASE}/versions/2/archive/", {}, format="json")
    assert rollback(api, reviewer).json()["version"] == 3
    assert rollback(api, reviewer).json()["version"] == 1


def test_staging_and_production_are_held_independently(api, reviewer, risk_model, two_approved):
    promote(api, reviewer, 1, "production")
    promote(api, reviewer, 2, "staging")
    assert selectors.staging_version(registered_model=risk_model).version == 2
    assert selectors.production_version(registered_model=risk_model).version == 1


def test_promoting_twice_is_harmless(api, reviewer, two_approved):
    promote(api, reviewer, 1)
    before = (AuditEvent.objects.count(), StageEvent.objects.count())
    assert promote(api, reviewer, 1).status_code == 200
    assert (AuditEvent.objects.count(), StageEvent.objects.count()) == before


def test_tampered_artifact_blocks_promotion(api, reviewer, risk_model, two_approved):
    v1, _ = two_approved
    assert selectors.version_artifact_intact(v1)
    tamper(v1)
    assert not selectors.version_artifact_intact(v1)
    response = promote(api, reviewer, 1)
    assert response.status_code == 409
    assert response.json()["error"] == "artifact_changed"
    assert "cannot be promoted or served" in response.json()["detail"]
    assert selectors.production_version(registered_model=risk_model) is None


def test_a_missing_artifact_is_not_intact(two_approved):
    from django.core.files.storage import default_storage

    v1, _ = two_approved
    default_storage.delete(v1.artifact.name)
    assert not selectors.version_artifact_intact(v1)


def test_only_approved_versions_may_be_promoted(api, reviewer, candidate):
    response = promote(api, reviewer, 1)
    assert response.status_code == 409
    assert response.json()["status"] == "validated"
    assert "approve, reject or archive it" in response.json()["detail"]


FAILED_GATES = {
    "stage": "done",
    "gates": [{"name": "min accuracy", "kind": "min_metric", "metric": "accuracy",
               "threshold": 0.9, "measured": 0.8, "passed": False, "detail": ""}],
    "gates_passed": False,
}  # fmt: skip


def test_failing_gates_keep_production_but_allow_staging(api, reviewer, media_root, risk_model,
                                                         owner):  # fmt: skip
    v = stored_version(risk_model, 1, uploaded_by=owner, validation_report=FAILED_GATES)
    approved(v, reviewer)
    response = promote(api, reviewer, 1)
    assert response.status_code == 409
    assert response.json()["failed_gates"] == ["min accuracy"]
    assert promote(api, reviewer, 1, "staging").status_code == 200


def test_only_an_admin_overrides_failing_gates_and_the_reason_is_recorded(
    api, reviewer, admin_user, media_root, risk_model, owner
):
    v = stored_version(risk_model, 1, uploaded_by=owner, validation_report=FAILED_GATES)
    approved(v, reviewer)
    refused = promote(api, reviewer, 1, override_reason="trust me")
    assert refused.status_code == 403
    response = promote(api, admin_user, 1, override_reason="accuracy gate is wrong for Q4")
    assert response.status_code == 200
    event = StageEvent.objects.get()
    assert event.kind == "override"
    assert event.override_reason == "accuracy gate is wrong for Q4"
    audit = AuditEvent.objects.get(action="version.promote")
    assert audit.payload["override_reason"] == "accuracy gate is wrong for Q4"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"stage": "prod"}, "stage"),
        ({}, "stage"),
        ({"stage": "staging", "comment": ["x"]}, "comment"),
    ],
)
def test_bad_promote_input_is_a_400(api, reviewer, two_approved, body, field):
    response = api(reviewer).post(f"{BASE}/versions/1/promote/", body, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == field


@pytest.mark.parametrize(
    ("persona", "status"),
    [("labeler", 403), ("owner", 403), ("outsider", 404), ("growth_reviewer", 404)],
)
def test_wrong_user_cannot_promote_or_roll_back(api, request, reviewer, two_approved, persona,
                                                status):  # fmt: skip
    promote(api, reviewer, 1)
    promote(api, reviewer, 2)
    user = request.getfixturevalue(persona)
    assert promote(api, user, 1, "staging").status_code == status
    assert rollback(api, user).status_code == status
    assert StageAssignment.objects.get().model_version.version == 2


def test_bad_rollback_input_is_a_400(api, reviewer, risk_model):
    response = api(reviewer).post(f"{BASE}/rollback/", {"stage": "live"}, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "stage"


def test_archive_takes_a_version_out_of_every_stage(api, reviewer, risk_model, two_approved):
    promote(api, reviewer, 1, "production")
    promote(api, reviewer, 1, "staging")
    response = api(reviewer).post(f"{BASE}/versions/1/archive/", {"comment": "old"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "archived"
    assert response.json()["stages"] == []
    assert selectors.production_version(registered_model=risk_model) is None
    assert sorted(StageEvent.objects.filter(kind="archive").values_list("stage", flat=True)) == [
        "production",
        "staging",
    ]
    # Again: nothing changes.
    count = AuditEvent.objects.count()
    assert api(reviewer).post(f"{BASE}/versions/1/archive/", {}, format="json").status_code == 200
    assert AuditEvent.objects.count() == count
    # An archived version is never promoted again.
    assert promote(api, reviewer, 1).status_code == 409


def test_data_scientist_archives_own_unpromoted_version_only(api, owner, reviewer, media_root,
                                                             risk_model):  # fmt: skip
    other = MembershipFactory(team=TeamFactory(name="risk"), role=Role.DATA_SCIENTIST).user
    approved(stored_version(risk_model, 1, uploaded_by=owner), reviewer)
    stored_version(risk_model, 2, uploaded_by=other)
    stored_version(risk_model, 3, uploaded_by=owner, status="validation_failed")
    promote(api, reviewer, 1)
    held = api(owner).post(f"{BASE}/versions/1/archive/", {}, format="json")
    assert held.status_code == 403
    assert "holds production" in held.json()["detail"]
    assert api(owner).post(f"{BASE}/versions/2/archive/", {}, format="json").status_code == 403
    assert api(owner).post(f"{BASE}/versions/3/archive/", {}, format="json").status_code == 200


@pytest.mark.parametrize(("persona", "status"), [("labeler", 403), ("outsider", 404)])
def test_wrong_user_cannot_archive(api, request, candidate, persona, status):
    user = request.getfixturevalue(persona)
    assert api(user).post(f"{BASE}/versions/1/archive/", {}, format="json").status_code == status
    candidate.refresh_from_db()
    assert candidate.status == VersionStatus.VALIDATED


def test_bad_archive_input_is_a_400(api, reviewer, candidate):
    response = api(reviewer).post(f"{BASE}/versions/1/archive/", {"comment": 1}, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "comment"


def test_stages_are_hidden_from_another_team(api, outsider, growth_reviewer, risk_model):
    assert api(outsider).get(f"{BASE}/stages/").status_code == 404
    assert api(growth_reviewer).get(f"{BASE}/stages/").status_code == 404


def test_labeler_may_read_stages(api, labeler, risk_model):
    response = api(labeler).get(f"{BASE}/stages/")
    assert response.status_code == 200
    assert response.json() == {"current": {"staging": None, "production": None}, "history": []}


def test_the_database_allows_one_version_per_stage(two_approved, risk_model):
    v1, v2 = two_approved
    now = timezone.now()
    StageAssignment.objects.create(
        registered_model=risk_model, stage="production", model_version=v1, assigned_at=now
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        StageAssignment.objects.create(
            registered_model=risk_model, stage="production", model_version=v2, assigned_at=now
        )


def test_one_audit_record_per_action_with_actor_before_after_and_comment(
    api, reviewer, media_root, risk_model, owner
):
    stored_version(risk_model, 1, uploaded_by=owner)
    stored_version(risk_model, 2, uploaded_by=owner)
    stored_version(risk_model, 3, uploaded_by=owner)
    review(api, reviewer, 1, comment="ok 1")
    review(api, reviewer, 2, comment="ok 2")
    review(api, reviewer, 3, "reject", "no")
    promote(api, reviewer, 1, comment="first")
    promote(api, reviewer, 2, comment="second")
    rollback(api, reviewer)
    api(reviewer).post(f"{BASE}/versions/2/archive/", {"comment": "retired"}, format="json")
    assert actions() == [
        "version.approve", "version.approve", "version.reject", "version.promote",
        "version.promote", "model.rollback", "version.archive",
    ]  # fmt: skip
    events = list(AuditEvent.objects.order_by("pk"))
    assert all(e.actor == reviewer for e in events)
    assert events[0].payload["before"]["status"] == "validated"
    assert events[0].payload["after"]["status"] == "approved"
    assert events[0].payload["comment"] == "ok 1"
    assert events[4].payload["before"] == {"stage": "production", "version": 1}
    assert events[4].payload["after"] == {"stage": "production", "version": 2}
    assert events[5].payload["before"]["version"] == 2
    assert events[5].payload["after"]["version"] == 1
    assert events[6].payload == {
        "comment": "retired",
        "before": {"status": "approved", "stages": []},
        "after": {"status": "archived", "stages": []},
    }


def test_new_endpoints_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/").content.decode()
    for path in ("/reviews/", "/promote/", "/archive/", "/rollback/", "/stages/"):
        assert path in schema


def test_a_version_in_the_history_cannot_be_deleted_alone_but_its_model_can(
    api, reviewer, risk_model, two_approved
):
    from django.db.models import RestrictedError

    promote(api, reviewer, 1)
    promote(api, reviewer, 2)
    v1, _ = two_approved
    with pytest.raises(RestrictedError), transaction.atomic():
        ModelVersion.objects.filter(pk=v1.pk).delete()
    risk_model.delete()
    assert not StageEvent.objects.exists()
    assert not StageAssignment.objects.exists()
