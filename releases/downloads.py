"""Responses that download a file: one way to name the attachment and its media type, whether
the body is streamed from a generator or is text already in memory."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"


def media_type_of(fmt: str) -> str:
    """The media type of a table file by its format, "csv" or "parquet"."""
    return CSV_MEDIA_TYPE if fmt == "csv" else PARQUET_MEDIA_TYPE


def attachment(
    content: str | bytes | Iterable[str | bytes], *, filename: str, content_type: str
) -> HttpResponse | StreamingHttpResponse:
    """Text or bytes in memory as a plain response, anything else streamed chunk by chunk; a
    download named ``filename`` either way (Django quotes or encodes the name as needed)."""
    response: HttpResponse | StreamingHttpResponse
    if isinstance(content, str | bytes):
        response = HttpResponse(content, content_type=content_type)
    else:
        response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
