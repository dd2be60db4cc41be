"""The audit trail as CSV, safe to open in a spreadsheet.

Every cell is text here, neutralised by releases.csv_safety (a leading apostrophe before what a
spreadsheet would run as a formula); every field is quoted, and quotes inside are doubled by
the csv module.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from releases.csv_safety import Echo, neutralise_cell

HEADER = ["time", "actor", "action", "team", "model", "version", "comment", "payload"]


def neutralise(value: Any) -> str:
    return str(neutralise_cell("" if value is None else str(value)))


def audit_csv_lines(events: Iterable[Any]) -> Iterator[str]:
    writer = csv.writer(Echo(), quoting=csv.QUOTE_ALL)
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
