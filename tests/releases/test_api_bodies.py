"""Malformed API bodies are clear JSON 4xx answers, never a 500 or an HTML page: deep nesting,
oversize JSON, and JSON values of the wrong type."""

from __future__ import annotations

import json
from typing import Any

import pytest

from releases.models import AuditEvent, RegisteredModel

MODELS = "/api/v1/models/"
MODEL = "/api/v1/models/credit-risk/"


def test_a_100000_level_nested_json_body_is_a_json_400(api: Any, owner: Any) -> None:
    body = "[" * 100_000 + "]" * 100_000

    response = api(owner).generic("POST", MODELS, body, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "parse_error"
    assert "nested too deeply" in response.json()["detail"]


def test_a_deeply_nested_patch_body_is_a_json_400(api: Any, owner: Any, risk_model: Any) -> None:
    body = '{"description": "a", "x": ' + "[" * 50_000 + "]" * 50_000 + "}"

    response = api(owner).generic("PATCH", MODEL, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"] == "parse_error"


@pytest.mark.parametrize(("method", "url"), [("POST", MODELS), ("PATCH", MODEL)])
def test_a_30_mb_json_body_is_a_json_413(
    api: Any, owner: Any, risk_model: Any, method: str, url: str
) -> None:
    body = json.dumps({"name": "big", "team": "risk", "description": "a" * (30 * 1024**2)})

    response = api(owner).generic(method, url, body, content_type="application/json")

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "too_large"
    assert "MB limit" in response.json()["detail"]
    assert RegisteredModel.objects.get().description == "A test model"


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("name", 12345, "a number"),
        ("team", 7, "a number"),
        ("description", 3.5, "a number"),
        ("description", True, "a boolean"),
        ("model_card", ["# Card"], "a list"),
        ("description", {"text": "x"}, "an object"),
    ],
)
def test_wrong_json_types_on_register_are_a_400_naming_the_field(
    api: Any, owner: Any, field: str, value: Any, kind: str
) -> None:
    body = {"name": "churn", "team": "risk", field: value}

    response = api(owner).post(MODELS, body, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field
    message = f"Send text (a JSON string), not {kind}."
    assert response.json()["fields"][field] == [message]
    assert response.json()["detail"] == message
    assert not RegisteredModel.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("description", 42), ("model_card", False)])
def test_wrong_json_types_on_edit_are_a_400_and_change_nothing(
    api: Any, owner: Any, risk_model: Any, field: str, value: Any
) -> None:
    response = api(owner).patch(MODEL, {field: value}, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == field
    risk_model.refresh_from_db()
    assert risk_model.description == "A test model" and risk_model.model_card == ""
    assert not AuditEvent.objects.exists()


def test_trusting_types_given_as_numbers_is_a_400(api: Any, reviewer: Any, risk_model: Any) -> None:
    response = api(reviewer).post(
        "/api/v1/models/credit-risk/versions/1/trust", {"types": [1, 2]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "types"


def test_a_form_body_with_too_many_fields_is_a_json_400(api: Any, owner: Any) -> None:
    body = "&".join(f"f{i}=x" for i in range(2_000))  # Django's limit is 1,000

    response = api(owner).generic(
        "POST", MODELS, body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"] == "The request has too many fields or files."
