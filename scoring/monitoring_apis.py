"""Monitoring API: drift of a served model, its monitoring thresholds, alerts."""

from __future__ import annotations

from typing import Any

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
from scoring.models import Alert, AlertStatus, MonitoringSettings
from scoring.selectors.monitoring import DriftReport
from scoring.services.alerts import SETTINGS_FIELDS


class FeatureDriftOutput(serializers.Serializer):
    feature = serializers.CharField()
    kind = serializers.CharField(help_text="numeric or categorical")
    test = serializers.CharField(
        allow_null=True,
        help_text="ks, wasserstein, psi, chisquare or jensenshannon; null when the window has "
        "no value of the feature",
    )
    statistic = serializers.FloatField(
        allow_null=True, help_text="Test statistic (normalised distance for wasserstein)."
    )
    p_value = serializers.FloatField(allow_null=True, help_text="For ks and chisquare only.")
    threshold = serializers.FloatField(
        allow_null=True, help_text="p-value below it (ks, chisquare) or distance at or above it."
    )
    drifted = serializers.BooleanField()
    current_rows = serializers.IntegerField()
    missing_rate = serializers.FloatField(allow_null=True)
    out_of_range_rate = serializers.FloatField(
        allow_null=True, help_text="Numeric: outside the reference minimum and maximum."
    )
    unseen_rate = serializers.FloatField(
        allow_null=True, help_text="Categorical: a category the reference never had."
    )
    mean = serializers.FloatField(allow_null=True)
    std = serializers.FloatField(allow_null=True)
    reference_mean = serializers.FloatField(allow_null=True)
    reference_std = serializers.FloatField(allow_null=True)


class DriftOutput(serializers.Serializer):
    model = serializers.CharField()
    version = serializers.IntegerField()
    window = serializers.CharField(help_text="1h..720h, or a number of latest predictions.")
    features = FeatureDriftOutput(many=True, help_text="Worst first.")
    drift_share = serializers.FloatField(help_text="Share of tested features that drifted.")
    drift_share_threshold = serializers.FloatField()
    dataset_drifted = serializers.BooleanField()
    reference_rows = serializers.IntegerField(help_text="0: the version has no reference.")
    current_rows = serializers.IntegerField()
    has_reference = serializers.BooleanField()


def drift_payload(report: DriftReport) -> dict[str, Any]:
    features = sorted(report.features, key=selectors.drift_rank)
    version = report.model_version
    return {
        "model": version.registered_model.name,
        "version": version.version,
        "window": str(report.window),
        "features": [f.as_dict() for f in features],
        "drift_share": report.drift_share,
        "drift_share_threshold": report.thresholds.drift_share,
        "dataset_drifted": report.dataset_drifted,
        "reference_rows": report.reference_rows,
        "current_rows": report.current_rows,
        "has_reference": report.has_reference,
    }


class DriftApi(APIView):
    @extend_schema(
        summary="Drift and data quality of a served model's inputs against its reference",
        description="Per feature: the drift test against the version's reference (its "
        "evaluation data, frozen when it was first served), missing, out-of-range and unseen "
        "rates, mean and std; and the share of drifted features. Reflects predictions logged "
        "up to a minute ago. Defaults: the production version (else staging), window 24h.",
        parameters=[
            OpenApiParameter("version", int, description="Version number (default: production)"),
            OpenApiParameter(
                "window",
                str,
                description="`1h`, `24h` (up to `720h`) or a number of latest "
                "predictions (up to 10000)",
            ),
        ],
        responses={200: DriftOutput, 400: ERROR, 404: ERROR},
    )
    def get(self, request: Request, name: str) -> Response:
        window = selectors.window_parse(request.query_params.get("window"))
        model = registered_model_get_for_user(user=request.user, name=name)
        version = selectors.monitored_version(
            registered_model=model, number=request.query_params.get("version")
        )
        report = selectors.drift_report(model_version=version, window=window)
        return Response(drift_payload(report))


class MonitoringSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = MonitoringSettings
        fields = list(SETTINGS_FIELDS)


class MonitoringSettingsApi(APIView):
    @extend_schema(
        summary="A model's monitoring thresholds (defaults until changed)",
        responses={200: MonitoringSettingsSerializer, 404: ERROR},
    )
    def get(self, request: Request, name: str) -> Response:
        model = registered_model_get_for_user(user=request.user, name=name)
        chosen = selectors.monitoring_settings_for(registered_model=model)
        return Response(MonitoringSettingsSerializer(chosen).data)

    @extend_schema(
        summary="Change a model's monitoring thresholds (data scientists, reviewers, admins)",
        request=MonitoringSettingsSerializer(partial=True),
        responses={200: MonitoringSettingsSerializer, 400: ERROR, 403: ERROR, 404: ERROR},
    )
    def patch(self, request: Request, name: str) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidInput("Send a JSON object of settings to change.")
        model = registered_model_get_for_user(user=request.user, name=name)
        data = MonitoringSettingsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        unknown = sorted(set(request.data) - set(MonitoringSettingsSerializer.Meta.fields))
        if unknown:
            raise InvalidInput(f"Unknown setting {unknown[0]!r}.", field=unknown[0])
        row = services.monitoring_settings_update(
            actor=request.user, registered_model=model, changes=dict(data.validated_data)
        )
        return Response(MonitoringSettingsSerializer(row).data)


class AlertOutput(serializers.ModelSerializer):
    model = serializers.CharField(source="registered_model.name")
    version = serializers.IntegerField(source="model_version.version")
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.username", allow_null=True, default=None
    )

    class Meta:
        model = Alert
        fields = [
            "id", "model", "version", "kind", "feature", "value", "threshold", "message",
            "status", "opened_at", "acknowledged_at", "acknowledged_by", "resolved_at",
        ]  # fmt: skip


class AlertListApi(APIView):
    @extend_schema(
        summary="Alerts on the models I can see, newest first",
        parameters=[
            OpenApiParameter(
                "status",
                str,
                enum=["active", *AlertStatus.values],
                description="`active` = open or acknowledged",
            ),
            OpenApiParameter("model", str, description="Only this model's alerts"),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses={200: AlertOutput(many=True), 400: ERROR},
    )
    def get(self, request: Request) -> Response:
        wanted = request.query_params.get("status", "")
        if wanted and wanted not in ("active", *AlertStatus.values):
            raise InvalidInput(
                f"status {wanted!r}: use active, {', '.join(AlertStatus.values)}.", field="status"
            )
        qs = selectors.alerts_visible(user=request.user, active_only=wanted == "active")
        if wanted and wanted != "active":
            qs = qs.filter(status=wanted)
        if request.query_params.get("model"):
            qs = qs.filter(registered_model__name=request.query_params["model"])
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(AlertOutput(page, many=True).data)


class AlertAcknowledgeApi(APIView):
    @extend_schema(
        summary="Acknowledge an alert: a person has seen it and owns it",
        description="Data scientists, reviewers and admins of the model's team. Idempotent; a "
        "resolved alert is a 409.",
        request=None,
        responses={200: AlertOutput, 403: ERROR, 404: ERROR, 409: ERROR},
    )
    def post(self, request: Request, alert_id: int) -> Response:
        alert = selectors.alert_get_for_user(user=request.user, alert_id=alert_id)
        alert = services.alert_acknowledge(actor=request.user, alert=alert)
        return Response(AlertOutput(alert).data)
