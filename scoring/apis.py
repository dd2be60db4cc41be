"""The predict endpoints: plain Django views, not DRF.

This is the hot path: on a warm process a request does no database work (callers, stage
resolution and models come from ``scoring.serving``'s caches), parses with orjson, checks rows
column-wise (``releases.request_rows``), scores, hands the log entry to a background writer and
answers with orjson. DRF's request wrapping, content negotiation and serializers would cost more
than a linear model takes to score, so they stay out; errors keep the API's shape
(``{"error", "detail", "field"}``).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import random
import time
import uuid
from typing import Any

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework import status as status_codes
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from releases.apis import ERROR
from releases.errors import DomainError, InvalidInput, PayloadTooLarge, UnsupportedFormat
from releases.request_rows import Rows, checked_rows_from_body, parse_json_body
from releases.selectors import registered_model_get_for_user
from scoring import metrics, predictor, selectors, services, serving
from scoring.models import AppToken
from scoring.prediction_log import Entry, prediction_log
from scoring.relabel_routing import low_confidence_threshold
from scoring.shadow import shadow

access_log = logging.getLogger("modelgate.access")


class ModelFailed(DomainError):
    status_code = 422
    code = "model_failed"


def json_response(payload: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(
        orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY),
        status=status,
        content_type="application/json",
    )


def read_json(request: HttpRequest) -> Any:
    """The body as JSON: 415 unless it is UTF-8 JSON, 413 past the size limit, read at most
    one byte past the limit whatever the client declares."""
    content_type = request.META.get("CONTENT_TYPE", "")
    media, _, params = content_type.partition(";")
    if media.strip().lower() != "application/json":
        raise UnsupportedFormat(
            f"Send the rows as JSON with 'Content-Type: application/json' (got "
            f"{media.strip() or 'none'!r}).",
            field="Content-Type",
        )
    # Other parameters (MLflow clients once sent "format=pandas-split") change nothing here.
    for param in params.lower().replace(" ", "").split(";"):
        if param.startswith("charset=") and param not in ("charset=utf-8", "charset=utf8"):
            raise UnsupportedFormat("Send JSON encoded as UTF-8.", field="Content-Type")
    limit = settings.MODELGATE_PREDICT_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise InvalidInput("Content-Length is not a number.", field="Content-Length") from None
    if declared > limit:
        raise PayloadTooLarge(
            f"The request body is {declared:,} bytes; the limit is {limit:,}. Send fewer rows "
            "per request, or use batch scoring.",
            field="body",
        )
    return parse_json_body(request.read(limit + 1), max_bytes=limit)


def authenticate(request: HttpRequest) -> serving.Caller:
    serving.refresh()
    return serving.caller_from_header(request.META.get("HTTP_AUTHORIZATION", ""))


@csrf_exempt
def predict(request: HttpRequest, name: str) -> HttpResponse:
    """POST /api/v1/models/{name}/predict/ (?stage=staging): the version holding the stage."""
    return _serve(request, name=name, stage=request.GET.get("stage", "production"), version=None)


@csrf_exempt
def predict_version(request: HttpRequest, name: str, version: int) -> HttpResponse:
    """POST /api/v1/models/{name}/versions/{version}/predict/: any approved version."""
    return _serve(request, name=name, stage=None, version=version)


def _serve(
    request: HttpRequest, *, name: str, stage: str | None, version: int | None
) -> HttpResponse:
    started = time.perf_counter()
    version_label = str(version) if version is not None else str(stage)
    caller_label, rows, status = "-", 0, 200
    served: serving.ServedVersion | None = None
    scored: predictor.Scored | None = None
    try:
        if request.method != "POST":
            response = json_response(
                {"error": "method_not_allowed", "detail": "POST the rows to predict."}, 405
            )
            response["Allow"] = "POST"
            status = 405
            return response
        caller = authenticate(request)
        caller_label = caller.label
        model = serving.served_model(name, caller)
        served = serving.served_version(model, stage=stage, version=version)
        version_label = str(served.number)
        body = read_json(request)
        frame = checked_rows_from_body(
            body, signature=served.signature, max_rows=settings.MODELGATE_PREDICT_MAX_ROWS
        )
        rows = len(frame)
        scored = score(served, frame)
        ids = prediction_ids(rows)
        latency_ms = (time.perf_counter() - started) * 1000
        logged = log_predictions(
            served=served, stage=stage or "", frame=frame, scored=scored, ids=ids,
            caller=caller, latency_ms=latency_ms,
        )  # fmt: skip
        shadow.offer(
            served=served, stage=stage, logged=logged, frame=frame,
            predictions=scored.predictions, ids=ids,
        )  # fmt: skip
        payload: dict[str, Any] = {
            "model": served.model_name,
            "version": served.number,
            "predictions": scored.predictions,
        }
        if scored.probabilities is not None:
            payload["probabilities"] = scored.probabilities
            payload["classes"] = scored.classes
        payload["confidence"] = (
            scored.confidence if scored.confidence is not None else [None] * rows
        )
        payload["prediction_ids"] = [str(i) for i in ids]
        if not logged:
            payload["logged"] = False
        return json_response(payload)
    except DomainError as exc:
        status = exc.status_code
        return json_response(exc.as_dict(), status)
    except BaseException:
        status = 500  # a bug: counted as the 500 the caller gets, then raised
        raise
    finally:
        seconds = time.perf_counter() - started
        observe(served, scored, status=status, seconds=seconds, rows=rows)
        access_log.info(
            "predict model=%s version=%s status=%d rows=%d ms=%.2f caller=%s pid=%d",
            name, version_label, status, rows, seconds * 1000, caller_label, os.getpid(),
        )  # fmt: skip


# Version 7 (RFC 9562) in bits 76-79 and the RFC variant in bits 62-63 of every id.
_V7 = (0x7 << 76) | (0b10 << 62)
_RAND_B = (1 << 62) - 1


def prediction_ids(count: int) -> list[uuid.UUID]:
    """``count`` time-ordered ids (UUID version 7: the millisecond, then 74 random bits) from
    one ``os.urandom`` call.

    Time-ordered, so the prediction log's primary key grows at its end instead of at random
    places in its B-tree (bench/serving_profile.py: the log's inserts of 100-row requests
    cheaper by a quarter on SQLite; on PostgreSQL, random UUID keys are the classic cause of
    index bloat). Built here rather than one ``uuid6.uuid7()`` call per id (Python 3.11 has no
    ``uuid.uuid7``): a 100-row request would pay a hundred calls and system calls."""
    prefix = (time.time_ns() // 1_000_000) << 80 | _V7
    raw = os.urandom(10 * count)
    ids = []
    for i in range(0, 10 * count, 10):
        bits = int.from_bytes(raw[i : i + 10], "big")  # 80 random bits: 12 for rand_a, 62 for b
        ids.append(uuid.UUID(int=prefix | (bits >> 68) << 64 | (bits & _RAND_B)))
    return ids


def observe(
    served: serving.ServedVersion | None,
    scored: predictor.Scored | None,
    *,
    status: int,
    seconds: float,
    rows: int,
) -> None:
    """Count one predict or v2 infer request in /metrics and, once it reached a version, in
    that version's hourly request counts (its error rate; any status)."""
    confidence = scored.confidence if scored is not None else None
    if served is not None:
        prediction_log.count_request(
            registered_model_id=served.registered_model_id, model_version_id=served.id,
            status=status,
        )  # fmt: skip
    # Labelled by what was served, never by the URL: made-up names must not mint series.
    metrics.observe(
        model=served.model_name if served is not None else "-",
        version=str(served.number) if served is not None else "-",
        status=status, seconds=seconds, rows=rows, confidence=confidence,
        low_confidence_below=(
            low_confidence_threshold(served.registered_model_id)
            if served is not None and confidence is not None
            else 0.0
        ),
    )  # fmt: skip


def score(served: serving.ServedVersion, frame: Rows | Any) -> predictor.Scored:
    try:
        return predictor.score(served.model, frame, signature=served.signature)
    except Exception as exc:
        # Rows passed the signature check, so this is the model's own limit; say which, and
        # keep the traceback for the operator.
        access_log.exception("model %s v%s failed", served.model_name, served.number)
        raise ModelFailed(
            f"{served.model_name} v{served.number} could not score these rows: "
            f"{type(exc).__name__}: {str(exc)[:300]}"
        ) from exc


def log_predictions(
    *,
    served: serving.ServedVersion,
    stage: str,
    frame: Any,
    scored: predictor.Scored,
    ids: list[uuid.UUID],
    caller: serving.Caller,
    latency_ms: float,
) -> bool:
    """Hand the rows to the background writer; False when sampled out or dropped."""
    sample = settings.MODELGATE_PREDICTION_LOG_SAMPLE
    if sample < 1.0 and random.random() >= sample:  # noqa: S311 -- sampling, not security
        return False
    return prediction_log.append(
        Entry(
            ids=ids,
            request_id=prediction_ids(1)[0],
            registered_model_id=served.registered_model_id,
            model_version_id=served.id,
            stage=stage,
            frame=frame,
            predictions=scored.predictions,
            probabilities=scored.probabilities,
            confidence=scored.confidence,
            latency_ms=latency_ms,
            caller=caller.label,
            user_id=caller.id if caller.kind == "user" else None,
            app_token_id=caller.id if caller.kind == "app" else None,
            created_at=timezone.now(),
        )
    )


# --- App tokens (DRF: management, not the hot path) ---------------------------------------------


class AppTokenOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's first characters, to recognise it.")
    models = serializers.SerializerMethodField()
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)

    def get_models(self, token: AppToken) -> list[str]:
        return sorted(m.name for m in token.registered_models.all())


class AppTokenCreatedOutput(AppTokenOutput):
    key = serializers.CharField(help_text="The key: shown in this response only, store it now.")


class AppTokenInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="The app that will use the key.")
    models = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=50,
        help_text="Other models of the same team the key may also predict on.",
    )


class AppTokenListApi(APIView):
    @extend_schema(
        summary="App tokens that may predict on a model (reviewers and admins of its team)",
        responses={200: AppTokenOutput(many=True), 403: ERROR, 404: ERROR},
    )
    def get(self, request: Request, name: str) -> Response:
        model = registered_model_get_for_user(user=request.user, name=name, action="promote")
        tokens = selectors.app_tokens_for_model(registered_model=model)
        return Response(AppTokenOutput(tokens, many=True).data)

    @extend_schema(
        summary="Create an app token; the response carries its key, once",
        description="An app token may only call the predict and inference endpoints of the "
        "models it names (`Authorization: Token mga_...`); every other endpoint refuses it.",
        request=AppTokenInput,
        responses={201: AppTokenCreatedOutput, 400: ERROR, 403: ERROR, 404: ERROR},
    )
    def post(self, request: Request, name: str) -> Response:
        data = AppTokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        model = registered_model_get_for_user(user=request.user, name=name, action="promote")
        token, key = services.app_token_create(
            actor=request.user,
            registered_model=model,
            name=data.validated_data["name"],
            also_models=data.validated_data.get("models"),
        )
        response = Response(
            {**AppTokenOutput(token).data, "key": key}, status=status_codes.HTTP_201_CREATED
        )
        add_never_cache_headers(response)
        return response


class AppTokenDetailApi(APIView):
    @extend_schema(
        summary="Revoke an app token", responses={200: AppTokenOutput, 403: ERROR, 404: ERROR}
    )
    def delete(self, request: Request, name: str, token_id: int) -> Response:
        token = selectors.app_token_get_for_user(user=request.user, name=name, token_id=token_id)
        token = services.app_token_revoke(actor=request.user, app_token=token)
        return Response(AppTokenOutput(token).data)


# --- Prometheus (not the hot path) --------------------------------------------------------------


@csrf_exempt
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    """GET /metrics: serving metrics of every worker, for Prometheus. With
    MODELGATE_METRICS_TOKEN set a scrape must carry it as a bearer token; without one, only
    MODELGATE_METRICS_ALLOW_IPS may scrape."""
    if request.method != "GET":
        response = json_response({"error": "method_not_allowed", "detail": "GET /metrics."}, 405)
        response["Allow"] = "GET"
        return response
    token = settings.MODELGATE_METRICS_TOKEN
    if token:
        scheme, _, sent = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            sent.strip().encode("utf-8", "surrogateescape"), token.encode()
        ):
            response = json_response(
                {
                    "error": "not_authenticated",
                    "detail": "Send the metrics token as 'Authorization: Bearer <token>'.",
                },
                401,
            )
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not _address_allowed(request.META.get("REMOTE_ADDR", "")):
        return json_response(
            {
                "error": "forbidden",
                "detail": "Metrics are served only to MODELGATE_METRICS_ALLOW_IPS, or to "
                "scrapes carrying MODELGATE_METRICS_TOKEN.",
            },
            403,
        )
    body, content_type = metrics.exposition()
    response = HttpResponse(body, content_type=content_type)
    add_never_cache_headers(response)
    return response


def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return any(
        ip in ipaddress.ip_network(network, strict=False)
        for network in settings.MODELGATE_METRICS_ALLOW_IPS
    )
