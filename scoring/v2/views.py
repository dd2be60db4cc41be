"""The v2 routes: health, metadata, readiness and infer, over the same serving core as
``/api/v1`` (see scoring.v2).
"""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from releases.errors import DomainError, InvalidInput
from releases.request_rows import rows_from_columns
from scoring import serving
from scoring.apis import (
    access_log,
    authenticate,
    json_response,
    log_predictions,
    observe,
    prediction_ids,
    score,
)
from scoring.shadow import shadow
from scoring.v2.tensors import (
    _columns,
    _kind,
    _label_type,
    _read,
    _requested_outputs,
    _tensor,
)


def _error(exc: DomainError) -> HttpResponse:
    body: dict[str, Any] = {"error": exc.message, "code": exc.code}
    if exc.field:
        body["field"] = exc.field
    return json_response(body, exc.status_code)


def live(request: HttpRequest) -> HttpResponse:
    return json_response({"live": True})


def ready(request: HttpRequest) -> HttpResponse:
    return json_response({"ready": True})


def server_metadata(request: HttpRequest) -> HttpResponse:
    return json_response(
        {"name": "modelgate", "version": "1", "extensions": ["binary_tensor_data"]}
    )


def _resolve(
    request: HttpRequest, name: str, version: int | None
) -> tuple[serving.Caller, serving.ServedVersion]:
    caller = authenticate(request)
    model = serving.served_model(name, caller)
    stage = None if version is not None else "production"
    return caller, serving.served_version(model, stage=stage, version=version)


def model_metadata(request: HttpRequest, name: str, version: int | None = None) -> HttpResponse:
    try:
        _, served = _resolve(request, name, version)
    except DomainError as exc:
        return _error(exc)
    signature = served.signature
    inputs = [
        {
            "name": f["name"],
            "datatype": "BYTES" if _kind(f) == "categorical" else "FP64",
            "shape": [-1, 1],
        }
        for f in signature.get("features") or []
    ]
    outputs = [{"name": "predict", "datatype": _label_type(signature), "shape": [-1]}]
    classes = signature.get("classes") or []
    if signature.get("task") != "regression":
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(classes)]})
    return json_response(
        {
            "name": served.model_name,
            "versions": [str(served.number)],
            "platform": served.runtime,
            "inputs": inputs,
            "outputs": outputs,
            "parameters": {"classes": classes} if classes else {},
        }
    )


def model_ready(request: HttpRequest, name: str, version: int | None = None) -> HttpResponse:
    try:
        _, served = _resolve(request, name, version)
    except DomainError as exc:
        return _error(exc)
    return json_response({"name": served.model_name, "version": str(served.number), "ready": True})


@csrf_exempt
def infer(request: HttpRequest, name: str, version: int | None = None) -> HttpResponse:
    started = time.perf_counter()
    version_label = str(version) if version is not None else "production"
    status, rows, caller_label = 200, 0, "-"
    served: serving.ServedVersion | None = None
    scored = None
    try:
        if request.method != "POST":
            status = 405
            return json_response({"error": "POST an inference request."}, 405)
        caller, served = _resolve(request, name, version)
        caller_label, version_label = caller.label, str(served.number)
        body, binary = _read(request)
        columns, where = _columns(body, binary, signature=served.signature)
        frame = rows_from_columns(columns, signature=served.signature, where=where)
        rows = len(frame)
        scored = score(served, frame)
        ids = prediction_ids(rows)
        stage = None if version is not None else "production"
        logged = log_predictions(
            served=served, stage=stage or "", frame=frame, scored=scored, ids=ids,
            caller=caller, latency_ms=(time.perf_counter() - started) * 1000,
        )  # fmt: skip
        shadow.offer(
            served=served, stage=stage, logged=logged, frame=frame,
            predictions=scored.predictions, ids=ids,
        )  # fmt: skip
        outputs = [_tensor("predict", scored.predictions, _label_type(served.signature), [rows])]
        if scored.probabilities is not None:
            shape = list(scored.probabilities.shape)
            outputs.append(_tensor("predict_proba", scored.probabilities.ravel(), "FP64", shape))
        wanted = _requested_outputs(body)
        if wanted is not None:
            unknown = wanted - {o["name"] for o in outputs}
            if unknown:
                raise InvalidInput(
                    f"Unknown output {sorted(unknown)[0]!r}; this model has "
                    + ", ".join(o["name"] for o in outputs)
                    + ".",
                    field="outputs",
                )
            outputs = [o for o in outputs if o["name"] in wanted]
        response: dict[str, Any] = {
            "model_name": served.model_name,
            "model_version": str(served.number),
            "outputs": outputs,
            "parameters": {"prediction_ids": ",".join(str(i) for i in ids)},
        }
        if isinstance(body.get("id"), str):
            response["id"] = body["id"]
        return json_response(response)
    except DomainError as exc:
        status = exc.status_code
        return _error(exc)
    except BaseException:
        status = 500  # a bug: counted as the 500 the caller gets, then raised
        raise
    finally:
        seconds = time.perf_counter() - started
        observe(served, scored, status=status, seconds=seconds, rows=rows)
        access_log.info(
            "infer model=%s version=%s status=%d rows=%d ms=%.2f caller=%s",
            name, version_label, status, rows, seconds * 1000, caller_label,
        )  # fmt: skip
