"""Upload size enforcement while the body streams in, before anything is stored."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import QueryDict
from django.template.defaultfilters import filesizeformat
from django.utils.datastructures import MultiValueDict

# Room for the evaluation CSV and form fields beside a maximal artifact.
REQUEST_OVERHEAD_FACTOR = 2


def upload_too_large(request: Any) -> str | None:
    """The message for the caller when the upload handler refused the body, else None."""
    django_request = getattr(request, "_request", request)
    return getattr(django_request, "_modelgate_upload_too_large", None)


class SizeLimitUploadHandler(FileUploadHandler):
    """Refuses a request whose declared length, or any one file, exceeds the upload limit.

    A declared length past the limit is refused before one byte of the body is read; a file
    that grows past it while streaming stops the upload. The view turns the flag into a 413.
    """

    def _refuse(self, message: str) -> None:
        self.request._modelgate_upload_too_large = message  # type: ignore[union-attr]

    def handle_raw_input(
        self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: Any = None
    ) -> tuple[QueryDict, MultiValueDict[str, Any]] | None:
        limit = settings.MODELGATE_MAX_UPLOAD_BYTES
        if content_length > limit * REQUEST_OVERHEAD_FACTOR:
            self._refuse(_message(limit, declared=content_length))
            return QueryDict(), MultiValueDict()
        return None

    def new_file(self, field_name: str, *args: Any, **kwargs: Any) -> None:
        self.received = 0
        super().new_file(field_name, *args, **kwargs)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.MODELGATE_MAX_UPLOAD_BYTES:
            self._refuse(_message(settings.MODELGATE_MAX_UPLOAD_BYTES, field=self.field_name))
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def format_size(n: float) -> str:
    """A byte count for people in plain text: "64.0 KB", "200.0 MB" (not "0 MB")."""
    return str(filesizeformat(n)).replace("\xa0", " ")


def _message(limit: int, field: str | None = None, declared: int | None = None) -> str:
    what = f"The file in '{field}'" if field else "This upload"
    if declared is not None:
        what += f" ({format_size(declared)})"
    return (
        f"{what} is larger than the {format_size(limit)} limit. Upload a smaller file "
        "(an evaluation sample, or a model saved without training data), or ask an admin to "
        "raise MODELGATE_MAX_UPLOAD_BYTES."
    )
