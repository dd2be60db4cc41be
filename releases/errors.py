"""Domain errors: what services raise when a request cannot be done as asked.

A module that loads nothing else (no Django, no Celery), so every app and plain module can import
it cheaply. ``webapp.errors`` maps them to HTTP responses in one place.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field
        self.detail = detail or {}

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "detail": self.message}
        if self.field:
            body["field"] = self.field
        body.update(self.detail)
        return body


class InvalidInput(DomainError):
    status_code = 400
    code = "invalid_input"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Gone(DomainError):
    """It existed, and was deleted on purpose (retention): asking again will not bring it back."""

    status_code = 410
    code = "gone"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "too_large"


class UnsupportedFormat(DomainError):
    status_code = 415
    code = "unsupported_format"


class UnsafeArtifactRefused(DomainError):
    status_code = 422
    code = "unsafe_artifact"
