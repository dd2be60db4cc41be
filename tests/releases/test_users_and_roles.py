from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.test import APIClient

from releases.models import AuditEvent, Membership, Role
from tests.factories import RegisteredModelFactory, TeamFactory


def run_adduser(*args: str) -> list[str]:
    from io import StringIO

    out = StringIO()
    call_command("adduser", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def whoami(key: str) -> int | str:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/v1/me/")
    return response.json()["username"] if response.status_code == 200 else response.status_code


@pytest.mark.django_db
def test_adduser_creates_user_team_and_role_and_prints_token_last():
    lines = run_adduser("maya", "--role", "reviewer", "--team", "fraud", "--password", "pw-12345-x")
    assert lines[-1].startswith("mg_")
    assert whoami(lines[-1]) == "maya"
    assert Membership.objects.filter(user__username="maya", team__name="fraud", role="reviewer")
    assert AuditEvent.objects.filter(action="membership.add", payload__username="maya").exists()


@pytest.mark.django_db
def test_adduser_twice_adds_a_role_in_another_team_and_rotates_the_token():
    first = run_adduser("maya", "--role", "reviewer", "--team", "fraud")[-1]
    second = run_adduser("maya", "--role", "data_scientist", "--team", "risk")[-1]
    assert first != second
    assert whoami(first) == 401  # a stored key cannot be printed again, so a rerun rotates it
    assert whoami(second) == "maya"
    roles = set(Membership.objects.filter(user__username="maya").values_list("team__name", "role"))
    assert roles == {("fraud", "reviewer"), ("risk", "data_scientist")}


@pytest.mark.django_db
def test_adduser_refuses_an_unknown_role():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="invalid choice"):
        run_adduser("maya", "--role", "overlord", "--team", "fraud")


@pytest.mark.django_db
def test_token_authenticates_api_calls_and_reports_roles_per_team(api, owner):
    response = api(owner).get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json() == {
        "username": "dana",
        "roles": {"risk": ["data_scientist"]},
        "is_admin": False,
    }


@pytest.mark.django_db
def test_api_without_token_is_401_and_with_a_wrong_token_is_401(api, client):
    assert api(None).get("/api/v1/me/").status_code == 401
    c = api(None)
    c.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = c.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


@pytest.mark.django_db
def test_rotating_the_token_revokes_the_old_one(client, owner):
    old = run_adduser("dana", "--role", "data_scientist", "--team", "risk")[-1]
    client.force_login(owner)
    response = client.post("/me/token/", {"action": "rotate"})
    assert response.status_code == 200
    new = response.context["new_key"]
    assert new.startswith("mg_") and new != old
    assert whoami(old) == 401
    assert whoami(new) == "dana"
    assert AuditEvent.objects.filter(actor=owner, action="token.rotate").exists()


@pytest.mark.django_db
def test_users_see_only_their_teams_models_and_admins_see_all(client, owner, outsider, admin_user):
    RegisteredModelFactory(name="credit-risk", team=TeamFactory(name="risk"))
    RegisteredModelFactory(name="churn", team=TeamFactory(name="growth"))

    client.force_login(owner)
    page = client.get("/models/").content.decode()
    assert "credit-risk" in page and "churn" not in page

    client.force_login(outsider)
    page = client.get("/models/").content.decode()
    assert "churn" in page and "credit-risk" not in page
    assert client.get("/models/credit-risk/").status_code == 404

    client.force_login(admin_user)
    page = client.get("/models/").content.decode()
    assert "churn" in page and "credit-risk" in page


@pytest.mark.django_db
def test_navigation_shows_what_the_role_can_do(client, owner, reviewer, labeler):
    queues = '<a href="/queues/">Queues</a>'
    client.force_login(owner)
    page = client.get("/").content.decode()
    assert "Register a model" in page and queues not in page
    client.force_login(labeler)
    page = client.get("/").content.decode()
    assert "Register a model" not in page and queues in page
    client.force_login(reviewer)
    page = client.get("/").content.decode()
    assert "Versions awaiting your review" in page and "Register a model" not in page
    assert queues in page  # reviewers settle the queues' disputes


@pytest.mark.django_db
def test_pages_need_a_login(client):
    response = client.get("/models/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_demo_loads_one_user_per_role_and_is_idempotent():
    from io import StringIO

    from django.contrib.auth import authenticate

    out = StringIO()
    call_command("demo", stdout=out)
    call_command("demo", stdout=StringIO())
    roles = set(Membership.objects.values_list("role", flat=True))
    assert roles == set(Role.values)
    assert Membership.objects.count() == 5
    assert "dana-demo-pass" in out.getvalue()
    assert authenticate(username="dana", password="dana-demo-pass") is not None


@pytest.mark.django_db
def test_admin_role_opens_the_admin_site_without_superuser_powers(client, owner):
    run_adduser("ada", "--role", "admin", "--team", "platform", "--password", "pw-12345-x")
    ada = User.objects.get(username="ada")
    assert ada.is_staff and not ada.is_superuser
    client.login(username="ada", password="pw-12345-x")
    page = client.get("/admin/releases/auditevent/")
    assert page.status_code == 200
    assert "Add audit event" not in page.content.decode()  # the audit log is read-only
    client.force_login(owner)
    assert client.get("/admin/").status_code == 302  # to the admin login
