"""The predict endpoints in the OpenAPI schema.

They are plain Django views (see scoring/apis.py), which drf-spectacular does not see; this
postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) describes them by hand so the
API docs list every /api/v1 path.
"""

from __future__ import annotations

from typing import Any

_ROWS = {
    "oneOf": [
        {
            "type": "object",
            "required": ["instances"],
            "properties": {"instances": {"type": "array", "items": {"type": "object"}}},
        },
        {
            "type": "object",
            "required": ["dataframe_split"],
            "properties": {
                "dataframe_split": {
                    "type": "object",
                    "properties": {
                        "columns": {"type": "array", "items": {"type": "string"}},
                        "data": {"type": "array", "items": {"type": "array", "items": {}}},
                    },
                }
            },
        },
        {
            "type": "object",
            "required": ["dataframe_records"],
            "properties": {"dataframe_records": {"type": "array", "items": {"type": "object"}}},
        },
    ]
}
_ANSWER = {
    "type": "object",
    "properties": {
        "model": {"type": "string"},
        "version": {"type": "integer"},
        "predictions": {"type": "array", "items": {}},
        "probabilities": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
        "classes": {"type": "array", "items": {}},
        "confidence": {"type": "array", "items": {"type": "number", "nullable": True}},
        "prediction_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
    },
}
_ERROR = {"description": "What went wrong and what to fix: {error, detail, field}."}


def _operation(summary: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "post": {
            "operationId": summary.lower().replace(" ", "_").replace(",", ""),
            "summary": summary,
            "description": "Rows are checked against the version's signature; every refusal "
            "names the row and feature. A person's API token or an app token naming the model.",
            "tags": ["predict"],
            "parameters": parameters,
            "security": [{"tokenAuth": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ROWS}},
            },
            "responses": {
                "200": {"content": {"application/json": {"schema": _ANSWER}}, "description": ""},
                **{code: _ERROR for code in ("400", "401", "404", "409", "413", "415")},
            },
        }
    }


def _path_param(name: str, kind: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def add_serving_paths(result: dict[str, Any], generator: Any, request: Any, public: Any) -> Any:
    paths = result.setdefault("paths", {})
    paths["/api/v1/models/{name}/predict/"] = _operation(
        "Predict with the production (or ?stage=staging) version",
        [
            _path_param("name", "string"),
            {
                "name": "stage",
                "in": "query",
                "schema": {"type": "string", "enum": ["production", "staging"]},
            },
        ],
    )
    paths["/api/v1/models/{name}/versions/{version}/predict/"] = _operation(
        "Predict with an approved version",
        [_path_param("name", "string"), _path_param("version", "integer")],
    )
    paths["/api/v1/predictions/{prediction_id}/feedback/"] = _feedback_operation()
    return result


def _feedback_operation() -> dict[str, Any]:
    truth = {
        "type": "object",
        "properties": {
            "prediction_id": {"type": "string", "format": "uuid"},
            "model": {"type": "string"},
            "version": {"type": "integer"},
            "prediction": {},
            "label": {},
            "correct": {"type": "boolean", "nullable": True},
            "abs_error": {"type": "number", "nullable": True},
            "source": {"type": "string", "enum": ["feedback"]},
            "labeled_at": {"type": "string", "format": "date-time"},
        },
    }
    return {
        "post": {
            "operationId": "prediction_feedback",
            "summary": "Report the true outcome of a prediction you made",
            "description": "The app (or person) that made the prediction reports what it should "
            "have been; it becomes the prediction's ground truth (an unbiased sample for live "
            "accuracy). Repeating it is harmless: the last label wins. A label outside the "
            "model's classes is a 400 naming them. Another caller's prediction, another team's "
            "and an id not logged yet are the same 404, with `Retry-After: 1`: predictions are "
            "logged within about a second of the answer; a prediction the log sampled out "
            '(`"logged": false` in the predict answer) never takes feedback.',
            "tags": ["predict"],
            "parameters": [_path_param("prediction_id", "string")],
            "security": [{"tokenAuth": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["label"],
                            "properties": {"label": {"description": "A class, or a number."}},
                        }
                    }
                },
            },
            "responses": {
                "200": {"content": {"application/json": {"schema": truth}}, "description": ""},
                **{code: _ERROR for code in ("400", "401", "404", "415")},
            },
        }
    }
