"""What the labels feed, over the API: app feedback on a prediction, live accuracy per served
version, the corrected dataset of a model and turning it into the model's evaluation set.

Feedback is a plain Django view like predict (scoring/apis.py): apps call it with their app
token at the rate they predict, and DRF's authentication refuses app tokens on purpose (they
may call nothing else). It is described in the schema by ``scoring.openapi``. The rest are DRF
views for people.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from releases.errors import DomainError, InvalidInput
from scoring import selectors, services
from scoring.apis import authenticate, json_response, read_json
from scoring.prediction_log import prediction_log

RETRY_AFTER_SECONDS = 1


@csrf_exempt
def prediction_feedback(request: HttpRequest, prediction_id: str) -> HttpResponse:
    """POST /api/v1/predictions/{id}/feedback/ {"label": ...}: the outcome of a prediction the
    caller made. 404 (with Retry-After) until the prediction is logged."""
    if request.method != "POST":
        response = json_response(
            {"error": "method_not_allowed", "detail": 'POST {"label": ...}.'}, 405
        )
        response["Allow"] = "POST"
        return response
    try:
        caller = authenticate(request)
        try:
            pid = uuid.UUID(prediction_id)
        except ValueError:
            raise InvalidInput(
                f"{prediction_id!r} is not a prediction id: use one of the 'prediction_ids' "
                "the predict answer returned.",
                field="id",
            ) from None
        body = read_json(request)
        if not isinstance(body, dict) or "label" not in body:
            raise InvalidInput('Send the true outcome as {"label": ...}.', field="label")
        if prediction_log.holds(pid):
            # Made by this process moments ago and still buffered: write it now rather than
            # make the caller retry. (Another process's buffer is flushed within
            # MODELGATE_PREDICTION_LOG_FLUSH_MS; the 404 below says to retry.)
            prediction_log.flush()
        try:
            prediction = selectors.prediction_get_for_caller(caller=caller, prediction_id=pid)
        except DomainError as exc:
            response = json_response(exc.as_dict(), exc.status_code)
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        actor = User.objects.filter(pk=caller.id).first() if caller.kind == "user" else None
        truth = services.prediction_feedback_record(
            actor=actor, caller=caller.label, prediction=prediction, label=body["label"]
        )
    except DomainError as exc:
        return json_response(exc.as_dict(), exc.status_code)
    return json_response(_truth_payload(truth, prediction))


def _truth_payload(truth: Any, prediction: Any) -> dict[str, Any]:
    return {
        "prediction_id": str(prediction.pk),
        "model": prediction.model_version.registered_model.name,
        "version": prediction.model_version.version,
        "prediction": prediction.prediction,
        "label": truth.label,
        "correct": truth.correct,
        "abs_error": truth.abs_error,
        "source": truth.source,
        "labeled_at": truth.labeled_at.isoformat(),
    }
