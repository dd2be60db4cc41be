"""What the labels feed, over the API: app feedback on a prediction, live accuracy per served
version, the corrected dataset of a model and turning it into the model's evaluation set.

Feedback is a plain Django view like predict (scoring/apis.py): apps call it with their app
token at the rate they predict, and DRF's authentication refuses app tokens on purpose (they
may call nothing else). It is described in the schema by ``scoring.openapi``. The rest are DRF
views for people.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from releases.apis import ERROR
from releases.downloads import CSV_MEDIA_TYPE, PARQUET_MEDIA_TYPE, attachment
from releases.errors import Conflict, DomainError, InvalidInput
from releases.models import RegisteredModel
from releases.selectors import model_version_get_for_user, registered_model_get_for_user
from scoring import corrected_dataset, selectors, services
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
            with contextlib.suppress(Exception):  # logged by flush; the rows stay buffered
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


# --- Live accuracy (DRF: people and dashboards) -------------------------------------------------


class EstimateOutput(serializers.Serializer):
    value = serializers.FloatField()
    low = serializers.FloatField(allow_null=True, help_text="95% interval, lower bound.")
    high = serializers.FloatField(allow_null=True, help_text="95% interval, upper bound.")
    count = serializers.IntegerField(help_text="Labeled predictions behind the figure.")
    correct = serializers.IntegerField(allow_null=True, help_text="Classifiers: how many right.")


class LiveAccuracyOutput(serializers.Serializer):
    stage = serializers.CharField(allow_null=True)
    version = serializers.IntegerField()
    metric = serializers.ChoiceField(choices=["accuracy", "mae"])
    unbiased = EstimateOutput(
        allow_null=True,
        help_text="From randomly sampled queue items and app feedback only: the estimate to "
        "trust (Wilson interval for accuracy, Student's t for MAE).",
    )
    all_labels = EstimateOutput(
        allow_null=True,
        help_text="From every labeled prediction: biased towards the hard ones the queues pick.",
    )
    validation = serializers.FloatField(allow_null=True, help_text="On the evaluation set.")
    delta = serializers.FloatField(allow_null=True, help_text="unbiased - validation")
    verdict = serializers.ChoiceField(choices=["better", "worse", "same"])
    beyond_chance = serializers.BooleanField(
        help_text="The validation figure lies outside the live interval."
    )


def _since(request: Request) -> datetime | None:
    raw = request.query_params.get("since")
    if not raw:
        return None
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise InvalidInput(
            f"{raw!r} is not a date and time; use ISO 8601, e.g. 2026-01-31T00:00:00Z.",
            field="since",
        )
    return value if timezone.is_aware(value) else timezone.make_aware(value)


class LiveAccuracyApi(APIView):
    @extend_schema(
        summary="Live accuracy of the served versions, from labels, with 95% intervals",
        parameters=[
            OpenApiParameter(
                "since", OpenApiTypes.DATETIME, description="Only predictions made since then."
            ),
            OpenApiParameter(
                "version", int, description="One version instead of production and staging."
            ),
        ],
        responses={200: LiveAccuracyOutput(many=True), 400: ERROR, 404: ERROR},
    )
    def get(self, request: Request, name: str) -> Response:
        since = _since(request)
        raw_version = request.query_params.get("version")
        if raw_version:
            if not raw_version.isdigit():
                raise InvalidInput("version is a version number, e.g. 3.", field="version")
            version = model_version_get_for_user(
                user=request.user, name=name, version=int(raw_version)
            )
            served = [(None, selectors.live_accuracy(model_version=version, since=since))]
        else:
            model = registered_model_get_for_user(user=request.user, name=name)
            served = list(selectors.live_accuracy_served(registered_model=model, since=since))
        return Response([{"stage": stage, **result.as_dict()} for stage, result in served])


# --- Corrected dataset ------------------------------------------------------------------------


class _FormatIsNotARenderer(DefaultContentNegotiation):
    """``?format=csv|parquet`` picks the file, not a DRF renderer: answer errors as JSON."""

    def select_renderer(
        self, request: Request, renderers: list[Any], format_suffix: str | None = None
    ) -> tuple[Any, str]:
        return renderers[0], renderers[0].media_type


def corrected_dataset_response(*, registered_model: RegisteredModel, fmt: str) -> Any:
    """The model's corrected dataset as a streamed CSV or Parquet download."""
    if fmt not in ("csv", "parquet"):
        raise InvalidInput(f"format is 'csv' or 'parquet', not {fmt!r}.", field="format")
    signature = selectors.corrected_dataset_signature(registered_model=registered_model)
    if signature is None:
        raise Conflict(
            f"{registered_model.name} has no validated version yet, so the dataset's columns "
            "are unknown; upload a version first.",
            code="no_signature",
        )
    features, target = corrected_dataset.columns(signature)
    rows = selectors.corrected_rows(registered_model=registered_model)
    if fmt == "csv":
        content: Any = corrected_dataset.csv_lines(rows, features=features, target=target)
        media_type = CSV_MEDIA_TYPE
    else:
        content = corrected_dataset.parquet_chunks(
            rows, signature=signature, features=features, target=target
        )
        media_type = PARQUET_MEDIA_TYPE
    return attachment(
        content, filename=f"{registered_model.name}-corrected.{fmt}", content_type=media_type
    )


class EvaluationSetOutput(serializers.Serializer):
    sha256 = serializers.CharField()
    target = serializers.CharField()
    rows = serializers.IntegerField(source="n_rows")
    columns = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()


class CorrectedDatasetApi(APIView):
    content_negotiation_class = _FormatIsNotARenderer

    @extend_schema(
        summary="Download the model's corrected dataset (labeled predictions), CSV or Parquet",
        description="Every labeled prediction of the model, newest first: the production "
        "signature's features in order, then the true label (column named as the signature's "
        "target, else `label`). Members of the model's team. CSV cells that a spreadsheet "
        "would run as a formula start with an apostrophe.",
        parameters=[
            OpenApiParameter("format", str, enum=["csv", "parquet"], description="Default csv.")
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, PARQUET_MEDIA_TYPE): OpenApiTypes.BINARY,
            400: ERROR,
            404: ERROR,
            409: ERROR,
        },
    )
    def get(self, request: Request, name: str) -> Any:
        model = registered_model_get_for_user(user=request.user, name=name)
        return corrected_dataset_response(
            registered_model=model, fmt=request.query_params.get("format", "csv")
        )


class CorrectedDatasetEvaluationSetApi(APIView):
    @extend_schema(
        summary="Use the corrected dataset as the model's evaluation set",
        description="The next version validates on it. Data scientists, reviewers and admins "
        "of the team; audited as model.evaluation_set.",
        request=None,
        responses={201: EvaluationSetOutput, 403: ERROR, 404: ERROR, 409: ERROR},
    )
    def post(self, request: Request, name: str) -> Response:
        model = registered_model_get_for_user(user=request.user, name=name)
        dataset = services.corrected_dataset_use_as_evaluation_set(
            actor=request.user, registered_model=model
        )
        return Response(EvaluationSetOutput(dataset).data, status=201)
