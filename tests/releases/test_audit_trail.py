from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction

from releases.models import AuditEvent
from releases.services import audit_record

DB_REFUSALS = DatabaseError  # SQLite and PostgreSQL raise different subclasses


@pytest.mark.django_db
def test_audit_events_cannot_be_updated_in_the_database(owner):
    event = audit_record(actor=owner, action="model.register", payload={"name": "x"})
    with pytest.raises(DB_REFUSALS, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="nothing.happened")
    event.refresh_from_db()
    assert event.action == "model.register"


@pytest.mark.django_db
def test_audit_events_cannot_be_deleted_in_the_database(owner):
    event = audit_record(actor=owner, action="model.register")
    with pytest.raises(DB_REFUSALS, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


# --- One record per action ---------------------------------------------------------------------


def _new_events(since_pk: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(pk__gt=since_pk).order_by("pk"))


def _last_pk() -> int:
    last = AuditEvent.objects.order_by("-pk").first()
    return last.pk if last else 0


@pytest.mark.django_db
def test_each_token_and_role_change_writes_exactly_one_record(owner, admin_user, outsider):
    from releases import services
    from releases.models import Membership, Role, Team

    steps = [
        ("token.rotate", lambda: services.api_token_rotate(actor=owner, user=owner)),
        ("token.revoke", lambda: services.api_tokens_revoke(actor=admin_user, user=owner)),
        (
            "membership.add",
            lambda: services.membership_add(
                actor=admin_user, user=outsider, team=Team.objects.get(name="risk"), role="labeler"
            ),
        ),
        (
            "membership.change_role",
            lambda: services.membership_change_role(
                actor=admin_user,
                membership=Membership.objects.get(user=outsider, team__name="risk"),
                role=Role.REVIEWER,
            ),
        ),
        (
            "membership.remove",
            lambda: services.membership_remove(
                actor=admin_user,
                membership=Membership.objects.get(user=outsider, team__name="risk"),
            ),
        ),
    ]
    for action, step in steps:
        before = _last_pk()
        step()
        events = _new_events(before)
        assert [e.action for e in events] == [action]
    change = AuditEvent.objects.get(action="membership.change_role")
    assert change.payload["before"] == {"role": "labeler"}
    assert change.payload["after"] == {"role": "reviewer"}
    assert change.actor == admin_user and change.team.name == "risk"


@pytest.mark.django_db
def test_upload_trust_and_validation_outcome_each_write_one_record(
    owner, reviewer, risk_model, media_root, monkeypatch
):
    from django.core.files.base import ContentFile

    from releases import services
    from releases.models import ModelVersion
    from tests.releases import model_files as mf

    before = _last_pk()
    version = services.model_version_upload(
        actor=owner,
        registered_model=risk_model,
        artifact=ContentFile(mf.skops_logistic_bytes(), name="m.skops"),
    )
    assert [e.action for e in _new_events(before)] == ["version.upload"]

    ModelVersion.objects.filter(pk=version.pk).update(
        untrusted_types=["sklearn.neighbors._kd_tree.KDTree"]
    )
    version.refresh_from_db()
    before = _last_pk()
    services.model_version_trust_types(
        actor=reviewer, model_version=version, types=["sklearn.neighbors._kd_tree.KDTree"]
    )
    assert [e.action for e in _new_events(before)] == ["version.trust_types"]

    services.model_version_start_validation(version_id=version.pk)
    before = _last_pk()
    services.model_version_finish_validation(
        version_id=version.pk, report=None, error="unusable", error_code="unusable"
    )
    [failed] = _new_events(before)
    assert failed.action == "version.validation_failed" and failed.model_version_id == version.pk
    # A retried task finishing again records nothing more.
    services.model_version_finish_validation(version_id=version.pk, report=None, error="again")
    assert _new_events(failed.pk) == []


@pytest.mark.django_db
def test_audit_events_cannot_be_edited_through_the_admin_site(client, admin_user):
    event = audit_record(actor=admin_user, action="model.register", payload={"name": "x"})
    admin_user.is_staff = True  # what membership_add gives a ModelGate admin
    admin_user.save(update_fields=["is_staff"])
    client.force_login(admin_user)
    page = client.get(f"/admin/releases/auditevent/{event.pk}/change/")
    assert page.status_code == 200
    assert 'name="action"' not in page.content.decode()
    client.post(f"/admin/releases/auditevent/{event.pk}/change/", {"action": "nothing.happened"})
    assert (
        client.post(f"/admin/releases/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    event.refresh_from_db()
    assert event.action == "model.register"
