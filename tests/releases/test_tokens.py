"""API keys are stored only as digests: shown once, revocable, optionally expiring, with a
recorded last use; keys issued by earlier versions keep working after the migration."""

from __future__ import annotations

import hashlib
import importlib
import logging
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from releases.errors import Forbidden
from releases.models import ApiToken, AuditEvent
from releases.services import api_token_rotate, api_tokens_revoke

MIGRATIONS = Path(__file__).resolve().parents[2] / "releases" / "migrations"


def call_me(key: str) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/me/")


@pytest.mark.django_db
def test_the_database_holds_no_usable_key_after_creating_and_using_one(owner, caplog):
    caplog.set_level(logging.DEBUG)
    token, key = api_token_rotate(actor=None, user=owner)
    assert call_me(key).status_code == 200
    secret_part = key[len(token.token_key) :]

    for row in ApiToken.objects.values():
        stored = " ".join(str(value) for value in row.values())
        assert key not in stored and secret_part not in stored
    assert ApiToken.objects.get().digest == hashlib.sha512(key.encode()).hexdigest()
    dump = StringIO()
    call_command("dumpdata", stdout=dump)  # every table Django knows, audit trail included
    assert key not in dump.getvalue() and secret_part not in dump.getvalue()
    assert token.token_key in dump.getvalue()  # the recognisable prefix is kept, by design
    assert key not in caplog.text


@pytest.mark.django_db
def test_keys_have_a_recognisable_prefix_and_high_entropy(owner):
    _, key = api_token_rotate(actor=None, user=owner)
    assert key.startswith("mg_")
    assert len(key) == 3 + 64  # 32 random bytes, hex


@pytest.mark.django_db
def test_the_token_page_shows_a_new_key_once_and_never_again(client, owner):
    client.force_login(owner)
    assert "You have no API token" in client.get("/me/token/").content.decode()

    created = client.post("/me/token/", {"action": "create"})
    key = created.context["new_key"]
    assert key in created.content.decode()
    assert "no-store" in created["Cache-Control"]
    assert call_me(key).status_code == 200

    later = client.get("/me/token/").content.decode()
    token = ApiToken.objects.get(user=owner)
    assert key not in later and key[len(token.token_key) :] not in later
    assert f"{token.token_key}…" in later


@pytest.mark.django_db
def test_a_revoked_key_stops_working(client, owner):
    _, key = api_token_rotate(actor=None, user=owner)
    client.force_login(owner)

    response = client.post("/me/token/", {"action": "revoke"})

    assert response.status_code == 302
    refused = call_me(key)
    assert refused.status_code == 401
    assert "/me/token/" in refused.json()["detail"]
    assert not ApiToken.objects.filter(user=owner).exists()
    assert AuditEvent.objects.filter(actor=owner, action="token.revoke").exists()


@pytest.mark.django_db
def test_a_rotated_key_stops_working_and_the_new_one_works(owner):
    _, old = api_token_rotate(actor=None, user=owner)
    _, new = api_token_rotate(actor=owner, user=owner)
    assert call_me(old).status_code == 401
    assert call_me(new).json()["username"] == "dana"


@pytest.mark.django_db
def test_an_expired_key_is_refused(owner):
    token, key = api_token_rotate(actor=None, user=owner)
    assert call_me(key).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expiry=timezone.now() - timedelta(seconds=1))

    response = call_me(key)

    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


@pytest.mark.django_db
def test_keys_do_not_expire_by_default_and_expire_when_a_lifetime_is_set(settings, owner):
    token, _ = api_token_rotate(actor=None, user=owner)
    assert token.expiry is None
    with override_settings(REST_KNOX={**settings.REST_KNOX, "TOKEN_TTL": timedelta(days=30)}):
        token, _ = api_token_rotate(actor=None, user=owner)
    assert token.expiry is not None
    assert abs(token.expiry - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)


@pytest.mark.django_db
def test_last_use_is_recorded_at_most_once_a_minute(owner):
    token, key = api_token_rotate(actor=None, user=owner)
    assert token.last_used_at is None

    call_me(key)
    first = ApiToken.objects.get().last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=10)
    with CaptureQueriesContext(connection) as queries:
        call_me(key)
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert ApiToken.objects.get().last_used_at == first

    ApiToken.objects.update(last_used_at=first - timedelta(minutes=2))
    call_me(key)
    assert ApiToken.objects.get().last_used_at > first


@pytest.mark.django_db
def test_an_admin_can_revoke_a_persons_keys_but_not_mint_one_for_them(admin_user, owner):
    _, key = api_token_rotate(actor=None, user=owner)
    with pytest.raises(Forbidden):
        api_token_rotate(actor=admin_user, user=owner)
    with pytest.raises(Forbidden):
        api_tokens_revoke(actor=owner, user=admin_user)

    assert api_tokens_revoke(actor=admin_user, user=owner) == 1
    assert call_me(key).status_code == 401


@pytest.mark.django_db
def test_a_key_that_is_not_utf8_is_a_401_not_a_500():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token mg_\xe9\xff")
    assert client.get("/api/v1/me/").status_code == 401


def _legacy_migration() -> Any:
    (path,) = MIGRATIONS.glob("*_hashed_api_tokens.py")
    return importlib.import_module(f"releases.migrations.{path.stem}")


@pytest.mark.django_db(transaction=True)
def test_a_key_issued_by_drf_authtoken_keeps_working_after_the_migration(owner):
    legacy_key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"  # DRF's 40 hex characters
    created_type = "datetime" if connection.vendor == "sqlite" else "timestamp with time zone"
    with connection.cursor() as cursor:
        cursor.execute(
            f'CREATE TABLE authtoken_token ("key" varchar(40) PRIMARY KEY, '
            f"created {created_type} NOT NULL, user_id integer NOT NULL)"
        )
        cursor.execute(
            'INSERT INTO authtoken_token ("key", created, user_id) VALUES (%s, %s, %s)',
            [legacy_key, "2024-05-06 07:08:09", owner.pk],
        )

    with connection.schema_editor() as schema_editor:
        _legacy_migration().import_legacy_tokens(apps, schema_editor)

    assert "authtoken_token" not in connection.introspection.table_names()
    token = ApiToken.objects.get(user=owner)
    assert token.created.year == 2024 and token.expiry is None
    assert legacy_key not in " ".join(str(v) for v in ApiToken.objects.values().get().values())
    assert call_me(legacy_key).json()["username"] == "dana"
