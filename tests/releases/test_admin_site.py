"""The admin site for ModelGate admins: access by role (not superuser), every change through the
services with an audit row, no API key ever visible, revocation possible."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from releases.models import ApiToken, AuditEvent, Membership, ModelVersion, Role, Team
from releases.services import api_token_rotate, user_upsert
from tests.factories import TeamFactory, UserFactory
from tests.releases import model_files as mf

MIGRATIONS = Path(__file__).resolve().parents[2] / "releases" / "migrations"


@pytest.fixture
def ada(db: Any) -> User:
    """A ModelGate admin made the way `adduser --role admin` makes one."""
    return user_upsert(actor=None, username="ada", role=Role.ADMIN, team_name="platform")


@pytest.fixture
def admin_client(client: Any, ada: User) -> Any:
    client.force_login(ada)
    return client


def test_a_modelgate_admin_is_staff_but_not_a_superuser(admin_client: Any, ada: User) -> None:
    assert ada.is_staff and not ada.is_superuser
    index = admin_client.get("/admin/")
    assert index.status_code == 200
    page = index.content.decode()
    for section in ("Teams", "Memberships", "Registered models", "Audit events", "Users"):
        assert section in page, section
    assert "Groups" not in page and "Auth tokens" not in page and "API tokens" not in page


def test_adding_a_membership_in_the_admin_is_audited_and_the_role_works_in_the_api(
    admin_client: Any, ada: User, api: Any, outsider: User, risk_model: Any
) -> None:
    assert api(outsider).get("/api/v1/models/credit-risk/").status_code == 404
    risk = Team.objects.get(name="risk")

    response = admin_client.post(
        "/admin/releases/membership/add/",
        {"user": outsider.pk, "team": risk.pk, "role": Role.REVIEWER},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="membership.add", payload__username="gus", team=risk)
    assert event.actor == ada and event.payload["role"] == Role.REVIEWER
    assert api(outsider).get("/api/v1/models/credit-risk/").status_code == 200


def test_changing_and_removing_a_role_in_the_admin_goes_through_the_services(
    admin_client: Any, ada: User, owner: User
) -> None:
    membership = Membership.objects.get(user=owner)

    changed = admin_client.post(
        f"/admin/releases/membership/{membership.pk}/change/", {"role": Role.REVIEWER}
    )
    assert changed.status_code == 302
    event = AuditEvent.objects.get(action="membership.change_role")
    assert (event.actor, event.payload["old_role"], event.payload["role"]) == (
        ada,
        Role.DATA_SCIENTIST,
        Role.REVIEWER,
    )

    removed = admin_client.post(
        f"/admin/releases/membership/{membership.pk}/delete/", {"post": "yes"}
    )
    assert removed.status_code == 302
    assert not Membership.objects.filter(user=owner).exists()
    assert AuditEvent.objects.filter(action="membership.remove", actor=ada).exists()


def test_granting_admin_in_the_admin_site_makes_staff_and_removing_it_takes_staff_away(
    admin_client: Any, owner: User
) -> None:
    platform = Team.objects.get(name="platform")
    admin_client.post(
        "/admin/releases/membership/add/",
        {"user": owner.pk, "team": platform.pk, "role": Role.ADMIN},
    )
    owner.refresh_from_db()
    assert owner.is_staff and not owner.is_superuser

    membership = Membership.objects.get(user=owner, role=Role.ADMIN)
    admin_client.post(f"/admin/releases/membership/{membership.pk}/delete/", {"post": "yes"})
    owner.refresh_from_db()
    assert not owner.is_staff


def test_the_team_page_adds_and_removes_roles_and_renames_through_the_services(
    admin_client: Any, ada: User, owner: User, outsider: User
) -> None:
    team = Team.objects.get(name="risk")
    existing = Membership.objects.get(user=owner, team=team)

    response = admin_client.post(
        f"/admin/releases/team/{team.pk}/change/",
        {
            "name": "credit",
            "display_name": "Credit risk",
            "memberships-TOTAL_FORMS": "2",
            "memberships-INITIAL_FORMS": "1",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-id": existing.pk,
            "memberships-0-team": team.pk,
            "memberships-0-DELETE": "on",
            "memberships-1-team": team.pk,
            "memberships-1-user": outsider.pk,
            "memberships-1-role": Role.LABELER,
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    team.refresh_from_db()
    assert (team.name, team.display_name) == ("credit", "Credit risk")
    assert list(team.memberships.values_list("user__username", "role")) == [("gus", "labeler")]
    actions = set(AuditEvent.objects.filter(actor=ada).values_list("action", flat=True))
    assert {"team.update", "membership.add", "membership.remove"} <= actions


def test_creating_a_team_in_the_admin_is_audited(admin_client: Any, ada: User) -> None:
    response = admin_client.post(
        "/admin/releases/team/add/",
        {
            "name": "fraud",
            "display_name": "",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="team.create", actor=ada, team__name="fraud").exists()


def test_editing_a_model_description_in_the_admin_is_audited(
    admin_client: Any, ada: User, risk_model: Any
) -> None:
    response = admin_client.post(
        f"/admin/releases/registeredmodel/{risk_model.pk}/change/",
        {"description": "Scores loan defaults", "model_card": "## Use\nTriage."},
    )

    assert response.status_code == 302
    risk_model.refresh_from_db()
    assert risk_model.description == "Scores loan defaults"
    event = AuditEvent.objects.get(action="model.update")
    assert event.actor == ada and event.registered_model_id == risk_model.pk
    assert event.payload["description"] == {"old": "A test model", "new": "Scores loan defaults"}


def test_the_admin_site_never_shows_an_api_key(admin_client: Any, owner: User) -> None:
    token, key = api_token_rotate(actor=None, user=owner)
    secret_part = key[len(token.token_key) :]
    rotation = AuditEvent.objects.get(action="token.rotate")
    urls = [
        "/admin/",
        "/admin/auth/user/",
        f"/admin/auth/user/{owner.pk}/change/",
        "/admin/releases/auditevent/",
        f"/admin/releases/auditevent/{rotation.pk}/change/",
    ]
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert key not in page and secret_part not in page, url
    person = admin_client.get(f"/admin/auth/user/{owner.pk}/change/").content.decode()
    assert f"{token.token_key}…" in person  # recognisable, revocable, not usable
    for url in ("/admin/releases/apitoken/", "/admin/knox/authtoken/", "/admin/authtoken/"):
        assert admin_client.get(url).status_code == 404, url


def test_an_admin_revokes_a_persons_tokens_with_an_action(
    admin_client: Any, ada: User, api: Any, owner: User
) -> None:
    client = api(owner)
    assert client.get("/api/v1/me/").status_code == 200

    response = admin_client.post(
        "/admin/auth/user/", {"action": "revoke_api_tokens", "_selected_action": [owner.pk]}
    )

    assert response.status_code == 302
    assert client.get("/api/v1/me/").status_code == 401
    assert not ApiToken.objects.filter(user=owner).exists()
    assert AuditEvent.objects.get(action="token.revoke").actor == ada


def test_an_admin_cannot_edit_people_or_make_anyone_a_superuser(
    admin_client: Any, ada: User, owner: User
) -> None:
    response = admin_client.post(
        f"/admin/auth/user/{ada.pk}/change/",
        {"username": "ada", "is_superuser": "on", "is_staff": "on", "is_active": "on"},
    )
    assert response.status_code == 403
    ada.refresh_from_db()
    assert not ada.is_superuser
    assert admin_client.get("/admin/auth/user/add/").status_code == 403
    assert (
        admin_client.post(f"/admin/auth/user/{owner.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )


@pytest.mark.django_db
def test_staff_without_the_admin_role_sees_nothing_in_the_admin(client: Any) -> None:
    staff = UserFactory(username="stan", is_staff=True)
    client.force_login(staff)
    assert "Memberships" not in client.get("/admin/").content.decode()
    assert client.get("/admin/releases/membership/").status_code == 403
    assert client.get("/admin/releases/auditevent/").status_code == 403


def test_the_artifact_link_is_the_authorized_download(
    admin_client: Any, api: Any, owner: User, risk_model: Any, media_root: Path
) -> None:
    content = mf.skops_knn_bytes()
    uploaded = api(owner).post(
        "/api/v1/models/credit-risk/versions/",
        {"artifact": SimpleUploadedFile("knn.skops", content)},
        format="multipart",
    )
    assert uploaded.status_code == 201
    version = ModelVersion.objects.get()

    page = admin_client.get(f"/admin/releases/modelversion/{version.pk}/change/").content.decode()

    link = "/api/v1/models/credit-risk/versions/1/artifact"
    assert f'href="{link}"' in page and "/media-not-served/" not in page
    download = admin_client.get(link)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == content


@pytest.mark.django_db
def test_the_migration_drops_superuser_only_from_role_admins() -> None:
    (path,) = MIGRATIONS.glob("*_admins_not_superusers_b.py")
    migration = importlib.import_module(f"releases.migrations.{path.stem}")
    old_admin = UserFactory(username="old-admin", is_staff=True, is_superuser=True)
    Membership.objects.create(user=old_admin, team=TeamFactory(name="platform"), role=Role.ADMIN)
    root = UserFactory(username="root", is_staff=True, is_superuser=True)

    migration.drop_superuser_from_role_admins(apps, None)  # it needs no schema editor

    old_admin.refresh_from_db()
    root.refresh_from_db()
    assert old_admin.is_staff and not old_admin.is_superuser
    assert root.is_superuser


def test_every_admin_page_a_modelgate_admin_uses_opens(
    admin_client: Any, owner: User, risk_model: Any
) -> None:
    team = Team.objects.get(name="risk")
    membership = Membership.objects.get(user=owner)
    urls = [
        "/admin/releases/team/",
        "/admin/releases/team/add/",
        f"/admin/releases/team/{team.pk}/change/",
        "/admin/releases/membership/",
        "/admin/releases/membership/add/",
        f"/admin/releases/membership/{membership.pk}/change/",
        "/admin/releases/registeredmodel/",
        f"/admin/releases/registeredmodel/{risk_model.pk}/change/",
        "/admin/releases/modelversion/",
        "/admin/releases/evaluationdataset/",
        "/admin/releases/stageevent/",
        "/admin/auth/user/",
        "/admin/autocomplete/?app_label=releases&model_name=membership&field_name=user&term=da",
    ]
    for url in urls:
        assert admin_client.get(url).status_code == 200, url
