"""API authentication: ``Authorization: Token <key>`` against hashed keys (django-rest-knox)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from rest_framework import exceptions

from releases.models import ApiToken

INVALID = "Invalid, revoked or expired API token; get a new one on your token page (/me/token/)."
APP_KEY_REFUSED = (
    "This is an app token: it may only call the predict and inference endpoints of the models "
    "it names. Use a person's API token for anything else."
)


class ApiTokenAuthentication(TokenAuthentication):
    """knox's token check, plus a cheap record of last use and a message that says what to do."""

    def authenticate_credentials(self, token: bytes) -> tuple[Any, ApiToken]:
        if token.startswith(b"mga_"):
            raise exceptions.AuthenticationFailed(APP_KEY_REFUSED)
        try:
            token.decode("utf-8")
        except UnicodeDecodeError:
            # knox would let this escape as a 500.
            raise exceptions.AuthenticationFailed(INVALID) from None
        try:
            user, auth_token = super().authenticate_credentials(token)
        except exceptions.AuthenticationFailed as exc:
            if exc.detail == "Invalid token.":
                raise exceptions.AuthenticationFailed(INVALID) from None
            raise
        now = timezone.now()
        last = auth_token.last_used_at
        # Write at most once per resolution, not on every request.
        if last is None or now - last >= settings.MODELGATE_TOKEN_LAST_USE_RESOLUTION:
            ApiToken.objects.filter(pk=auth_token.pk).update(last_used_at=now)
            auth_token.last_used_at = now
        return user, auth_token


class ApiTokenScheme(KnoxTokenScheme):
    """Describes the scheme in the OpenAPI schema (``Authorization: Token <key>``)."""

    target_class = "releases.authentication.ApiTokenAuthentication"
    name = "tokenAuth"
