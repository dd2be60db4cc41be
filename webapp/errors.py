"""Domain errors and the one place that maps them to HTTP responses.

Services raise these; the API exception handler and the HTML middleware turn them into a 4xx
whose message tells the caller what to fix. Anything else reaching the client as a 500 is a bug.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.response import Response
from rest_framework.views import exception_handler

from releases.errors import DomainError


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        # Django refuses a non-file body past DATA_UPLOAD_MAX_MEMORY_SIZE when it is read; left
        # alone that is an HTML 400, not the JSON 413 an API client can act on.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1024**2
        return Response(
            {
                "error": "too_large",
                "detail": f"The request body is larger than the {limit:.1f} MB limit for JSON "
                "and form fields; send model and CSV files as multipart file uploads.",
            },
            status=413,
        )
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return Response(
            {"error": "invalid_input", "detail": "The request has too many fields or files."},
            status=400,
        )
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        code = getattr(exc, "default_code", "error")
        response.data = {"error": code, "detail": str(response.data["detail"])}
    elif response is not None:
        # Serializer validation: field -> messages. "field" and "detail" name the first one, in
        # the same shape as a DomainError; "fields" has them all.
        fields = response.data
        response.data = {
            "error": "invalid_input",
            "detail": "Some fields are invalid; see 'fields'.",
            "fields": fields,
        }
        if isinstance(fields, dict) and fields:
            field = next(iter(fields))
            response.data["field"] = field
            message = _first_message(fields[field])
            if message:
                response.data["detail"] = message
    return response


def _first_message(errors: Any) -> str | None:
    """The first message in DRF's nested errors (a list, or a dict for list items)."""
    if isinstance(errors, str):
        return errors
    values = list(errors.values()) if isinstance(errors, dict) else errors
    if isinstance(values, list | tuple):
        for value in values:
            message = _first_message(value)
            if message:
                return message
    return None


class DomainErrorMiddleware:
    """Renders a DomainError escaping an HTML view as its 4xx page, with the message."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not isinstance(exc, DomainError):
            return None
        return render(
            request,
            "error.html",
            {"status": exc.status_code, "message": exc.message},
            status=exc.status_code,
        )
