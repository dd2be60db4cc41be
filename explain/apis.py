"""REST API of explain: local explanations. Validate -> authorize -> explain -> serialize."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from explain import selectors
from releases.errors import Conflict, InvalidInput, NotFound
from releases.models import ModelVersion, Stage
from releases.parsers import JSONParser
from releases.selectors import registered_model_get_for_user, stage_version

ERROR = OpenApiResponse(
    response={"type": "object", "properties": {"error": {"type": "string"},
                                               "detail": {"type": "string"}}},
    description="What went wrong and what to fix.",
)  # fmt: skip

EXPLAIN_REQUEST = {
    "type": "object",
    "description": 'The predict body: {"instances": [{feature: value, ...}, ...]} (or '
    "dataframe_split / dataframe_records).",
    "properties": {"instances": {"type": "array", "items": {"type": "object"}}},
}
EXPLAIN_RESPONSE = OpenApiResponse(
    response={
        "type": "object",
        "properties": {
            "model": {"type": "string"},
            "version": {"type": "integer"},
            "explainer": {"type": "string"},
            "output": {"type": "string", "description": "probability, margin or prediction"},
            "outputs": {"type": "array", "items": {"type": "string"}},
            "explanations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "prediction": {},
                        "base_value": {},
                        "shap_values": {
                            "type": "object",
                            "description": "{feature: value}, or {class: {feature: value}} "
                            "when several outputs are explained",
                        },
                    },
                },
            },
        },
    },
    description="Per row: each input feature's SHAP value, the base value and the prediction.",
)
DESCRIPTION = (
    "SHAP values of each input feature for each row, the base value and the prediction; base "
    "value + sum of the values equals the explained output. At most MODELGATE_EXPLAIN_MAX_ROWS "
    "rows (default 100) per request; more is a 413."
)


def _explain(request: Request, model_version: ModelVersion) -> Response:
    from explain.local import explain_rows
    from releases.request_rows import rows_from_body

    if not model_version.signature:
        raise Conflict(
            f"Version {model_version.version} has no signature yet (it is "
            f"{model_version.status}); explain it once it is validated."
        )
    frame = rows_from_body(
        request.data,
        signature=model_version.signature,
        max_rows=settings.MODELGATE_EXPLAIN_MAX_ROWS,
    )
    body: dict[str, Any] = {
        "model": model_version.registered_model.name,
        "version": model_version.version,
        **explain_rows(model_version=model_version, frame=frame),
    }
    return Response(body)


class ModelExplainApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Explain predictions of the version in production (or ?stage=staging)",
        description=DESCRIPTION,
        parameters=[OpenApiParameter("stage", OpenApiTypes.STR, enum=Stage.values)],
        request={"application/json": EXPLAIN_REQUEST},
        responses={200: EXPLAIN_RESPONSE, 400: ERROR, 404: ERROR, 409: ERROR, 413: ERROR},
    )
    def post(self, request: Request, name: str) -> Response:
        stage = request.query_params.get("stage", Stage.PRODUCTION)
        if stage not in Stage.values:
            raise InvalidInput(
                f"Unknown stage {stage!r}; use one of: {', '.join(Stage.values)}.", field="stage"
            )
        model = registered_model_get_for_user(user=request.user, name=name)
        version = stage_version(registered_model=model, stage=stage)
        if version is None:
            raise NotFound(f"Model {name!r} has no version in {stage}.")
        return _explain(request, version)


class VersionExplainApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Explain predictions of one version (data scientists, reviewers)",
        description=DESCRIPTION,
        request={"application/json": EXPLAIN_REQUEST},
        responses={200: EXPLAIN_RESPONSE, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR,
                   413: ERROR},
    )  # fmt: skip
    def post(self, request: Request, name: str, version: int) -> Response:
        model_version = selectors.version_for_explanation(
            user=request.user, name=name, version=version
        )
        return _explain(request, model_version)
