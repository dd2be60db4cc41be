"""Shadow mode API: is it on, how often staging agreed with production on live traffic, the
disagreeing rows; reviewers and admins turn it on and off. DRF: management, not the hot path."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from releases.apis import ERROR
from releases.errors import InvalidInput
from releases.selectors import registered_model_get_for_user
from scoring import selectors, services


class AgreementOutput(serializers.Serializer):
    shadow_version = serializers.IntegerField(allow_null=True)
    compared = serializers.IntegerField(help_text="Rows scored by the shadowing version.")
    agreed = serializers.IntegerField()
    disagreed = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True, help_text="agreed / compared; null before any.")


class ShadowDisagreementOutput(serializers.Serializer):
    prediction_id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    inputs = serializers.JSONField(source="prediction.inputs")
    production_version = serializers.IntegerField(source="production_version.version")
    production_prediction = serializers.JSONField(source="prediction.prediction")
    production_probabilities = serializers.JSONField(source="prediction.probabilities")
    shadow_version = serializers.IntegerField(source="shadow_version.version")
    shadow_prediction = serializers.JSONField()
    shadow_probabilities = serializers.JSONField(source="probabilities")


class ShadowDisagreementPage(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ShadowDisagreementOutput(many=True)


class ShadowModeOutput(serializers.Serializer):
    enabled = serializers.BooleanField()
    shadow_version = serializers.IntegerField(
        source="staging.version", allow_null=True, help_text="The version in staging now."
    )
    changed_by = serializers.CharField(allow_null=True)
    changed_at = serializers.DateTimeField(allow_null=True)


class ShadowOutput(ShadowModeOutput):
    agreement = AgreementOutput(source="overall")
    by_version = AgreementOutput(many=True)
    disagreements = ShadowDisagreementPage()


class ShadowModeInput(serializers.Serializer):
    enabled = serializers.BooleanField(
        help_text="true: the approved staging version scores live production requests."
    )


class ShadowApi(APIView):
    @extend_schema(
        summary="Does staging agree with production on live traffic? (shadow mode)",
        parameters=[
            OpenApiParameter(
                "shadow_version", int, description="Only this shadowing version's disagreements."
            ),
            OpenApiParameter("limit", int, description="Disagreeing rows per page (default 50)."),
            OpenApiParameter("offset", int, description="Disagreeing rows to skip."),
        ],
        responses={200: ShadowOutput, 400: ERROR, 404: ERROR},
    )
    def get(self, request: Request, name: str) -> Response:
        raw = request.query_params.get("shadow_version")
        shadow_version = None
        if raw is not None:
            try:
                shadow_version = int(raw)
            except ValueError:
                raise InvalidInput(
                    "shadow_version is a version number, e.g. ?shadow_version=3.",
                    field="shadow_version",
                ) from None
        model = registered_model_get_for_user(user=request.user, name=name)
        state = selectors.shadow_state(registered_model=model)
        rows = selectors.shadow_disagreements(registered_model=model, shadow_version=shadow_version)
        paginator = LimitOffsetPagination()
        paginator.default_limit = 50
        page = paginator.paginate_queryset(rows, request, view=self)
        data = ShadowModeOutput(state).data
        data["agreement"] = AgreementOutput(state.overall).data
        data["by_version"] = AgreementOutput(state.by_version, many=True).data
        data["disagreements"] = paginator.get_paginated_response(
            ShadowDisagreementOutput(page, many=True).data
        ).data
        return Response(data)

    @extend_schema(
        summary="Turn shadow mode on or off (reviewers and admins of the model's team)",
        description="Live answers never change: production keeps serving every request. Needs "
        "an approved version in staging to turn on (409 otherwise).",
        request=ShadowModeInput,
        responses={200: ShadowModeOutput, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
    )
    def put(self, request: Request, name: str) -> Response:
        data = ShadowModeInput(data=request.data)
        data.is_valid(raise_exception=True)
        model = registered_model_get_for_user(user=request.user, name=name, action="promote")
        services.shadow_mode_set(
            actor=request.user, registered_model=model, enabled=data.validated_data["enabled"]
        )
        return Response(ShadowModeOutput(selectors.shadow_state(registered_model=model)).data)
