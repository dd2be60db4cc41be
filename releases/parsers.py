"""Request body parsers for the API."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but a deeply nested body is a 400: Python's decoder recurses and
    raises RecursionError (not ValueError), which DRF would let escape as a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(
                "The JSON body is nested too deeply; send a flat object with the documented fields."
            ) from None
