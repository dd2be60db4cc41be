"""Domain errors and the one place that maps them to HTTP responses.

Services raise these; the API exception handler and the HTML middleware turn them into a 4xx
whose message tells the caller what to fix. Anything else reaching the client as a 500 is a bug.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.response import Response
from rest_framework.views import exception_handler

from releases.errors import DomainError


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        code = getattr(exc, "default_code", "error")
        response.data = {"error": code, "detail": str(response.data["detail"])}
    elif response is not None:
        # Serializer validation: field -> messages.
        response.data = {
            "error": "invalid_input",
            "detail": "Some fields are invalid; see 'fields'.",
            "fields": response.data,
        }
    return response


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
