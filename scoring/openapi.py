"""The predict and batch endpoints in the OpenAPI schema.

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


_JOB = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "model": {"type": "string"},
        "version": {"type": "integer"},
        "stage": {"type": "string", "nullable": True},
        "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed"]},
        "input_format": {"type": "string", "enum": ["csv", "parquet"]},
        "input_name": {"type": "string"},
        "rows_total": {"type": "integer", "nullable": True},
        "rows_done": {"type": "integer"},
        "rows_failed": {"type": "integer", "description": "Rows set aside for a bad value."},
        "progress": {"type": "number", "nullable": True},
        "error": {"type": "string", "nullable": True},
        "created_at": {"type": "string", "format": "date-time"},
        "started_at": {"type": "string", "format": "date-time", "nullable": True},
        "finished_at": {"type": "string", "format": "date-time", "nullable": True},
        "url": {"type": "string"},
        "result_url": {"type": "string", "nullable": True},
        "errors_url": {"type": "string", "nullable": True},
        "files_expire_at": {
            "type": "string",
            "format": "date-time",
            "nullable": True,
            "description": "When the retention sweep deletes the job's files "
            "(MODELGATE_BATCH_RETENTION_DAYS after it finished; null: kept).",
        },
        "files_expired_at": {
            "type": "string",
            "format": "date-time",
            "nullable": True,
            "description": "When the files were deleted; downloads then answer 410.",
        },
    },
}
_BATCH_SECURITY = [{"tokenAuth": []}, {"cookieAuth": []}]


def _batch_paths() -> dict[str, Any]:
    job_id = _path_param("job_id", "string")
    job_id["schema"]["format"] = "uuid"
    return {
        "/api/v1/models/{name}/batch/": {
            "post": {
                "operationId": "batch_create",
                "summary": "Score a CSV or Parquet file in the background (a batch job)",
                "description": "Multipart upload: `file` (CSV or Parquet whose columns are "
                "exactly the model's features), optional `stage` (production by default, or "
                "staging) or `version` (any approved version). The header is checked now; rows "
                "are checked and scored by a worker. A person's token or session (members of "
                "the model's team) or an app token naming the model. Batch predictions are not "
                "written to the prediction log: the result file is their record.",
                "tags": ["batch"],
                "parameters": [_path_param("name", "string")],
                "security": _BATCH_SECURITY,
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {
                                    "file": {"type": "string", "format": "binary"},
                                    "stage": {
                                        "type": "string",
                                        "enum": ["production", "staging"],
                                    },
                                    "version": {"type": "integer"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "202": {
                        "content": {"application/json": {"schema": _JOB}},
                        "description": "Queued; follow `url`.",
                    },
                    **{code: _ERROR for code in ("400", "401", "403", "404", "409", "413", "415")},
                },
            }
        },
        "/api/v1/batch/{job_id}/": {
            "get": {
                "operationId": "batch_retrieve",
                "summary": "A batch job: status, progress and the result's URL once done",
                "tags": ["batch"],
                "parameters": [job_id],
                "security": _BATCH_SECURITY,
                "responses": {
                    "200": {"content": {"application/json": {"schema": _JOB}}, "description": ""},
                    **{code: _ERROR for code in ("401", "404")},
                },
            }
        },
        "/api/v1/batch/{job_id}/result/": {
            "get": {
                "operationId": "batch_result",
                "summary": "Download a batch job's result file (CSV or Parquet, as uploaded)",
                "description": "The input columns, `prediction`, `probability_<class>` per class "
                "and `confidence` (classifiers).",
                "tags": ["batch"],
                "parameters": [job_id],
                "security": _BATCH_SECURITY,
                "responses": {
                    "200": {
                        "content": {
                            "text/csv": {"schema": {"type": "string", "format": "binary"}},
                            "application/vnd.apache.parquet": {
                                "schema": {"type": "string", "format": "binary"}
                            },
                        },
                        "description": "The result file.",
                    },
                    **{code: _ERROR for code in ("401", "404", "409", "410")},
                },
            }
        },
        "/api/v1/batch/{job_id}/errors/": {
            "get": {
                "operationId": "batch_errors",
                "summary": "Download the rows a batch job set aside (row, column, error)",
                "description": "A row with a value the model cannot take (the same checks and "
                "sentences as predict) is not scored; it is listed here. Past "
                "MODELGATE_BATCH_MAX_BAD_ROWS such rows the whole job fails instead.",
                "tags": ["batch"],
                "parameters": [job_id],
                "security": _BATCH_SECURITY,
                "responses": {
                    "200": {
                        "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
                        "description": "The errors file.",
                    },
                    **{code: _ERROR for code in ("401", "404", "409", "410")},
                },
            }
        },
    }


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
    paths.update(_batch_paths())
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
