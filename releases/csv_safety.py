"""CSV that is safe to open in a spreadsheet, streamed line by line.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets (``=cmd|' /C calc'!A0`` runs a program through DDE), so
such text cells get a leading apostrophe, as OWASP's "CSV Injection" page advises. The audit
export, the disagreement CSV and the corrected dataset all write through this module.
"""

from __future__ import annotations

from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe; other values
    (numbers, None) are returned as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class Echo:
    """A file-like object whose write returns the line, so ``csv.writer(Echo()).writerow``
    yields lines for a streaming response (Django's CSV how-to)."""

    def write(self, value: str) -> str:
        return value
