"""The audit trail as CSV, safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets (``=cmd|' /C calc'!A0`` runs a program through DDE), so
such cells get a leading apostrophe, as OWASP's "CSV Injection" page advises; every field is
quoted, and quotes inside are doubled by the csv module.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

HEADER = ["time", "actor", "action", "team", "model", "version", "comment", "payload"]


def neutralise(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    """A file-like object whose write returns the line, for streaming (Django's CSV how-to)."""

    def write(self, value: str) -> str:
        return value


def audit_csv_lines(events: Iterable[Any]) -> Iterator[str]:
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)
    yield writer.writerow(HEADER)
    for e in events:
        payload = e.payload if isinstance(e.payload, dict) else {}
        comment = payload.get("comment", "")
        row = [
            e.created_at.isoformat(),
            e.actor.get_username() if e.actor_id and e.actor else "",
            e.action,
            e.team.name if e.team_id and e.team else "",
            e.registered_model.name if e.registered_model_id and e.registered_model else "",
            e.model_version.version if e.model_version_id and e.model_version else "",
            comment if isinstance(comment, str) else json.dumps(comment),
            json.dumps(payload, sort_keys=True, default=str),
        ]
        yield writer.writerow([neutralise(cell) for cell in row])
