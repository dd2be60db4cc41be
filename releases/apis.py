"""REST API: one view per operation; validate → authorize → call one service → serialize."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from releases import selectors, services
from releases.downloads import CSV_MEDIA_TYPE, attachment
from releases.errors import PayloadTooLarge
from releases.filters import AuditEventFilter
from releases.models import WEBHOOK_EVENTS, Stage
from releases.parsers import JSONParser
from releases.serializers import (
    ArchiveInput,
    ModelVersionOutput,
    ModelVersionUploadInput,
    PromoteInput,
    RegisteredModelInput,
    RegisteredModelOutput,
    RegisteredModelUpdateInput,
    ReviewInput,
    RollbackInput,
    StagesOutput,
    TrustTypesInput,
)
from releases.uploads import upload_too_large

ERROR = OpenApiResponse(
    response={"type": "object", "properties": {"error": {"type": "string"},
                                               "detail": {"type": "string"}}},
    description="What went wrong and what to fix.",
)  # fmt: skip


def _parsed_body(request: Request, *, field: str) -> Any:
    """``request.data``, parsed through the size-limiting upload handler: a body it refused (by
    declared length or while streaming) is a 413, not an empty form. Call after authorizing."""
    data = request.data
    too_large = upload_too_large(request)
    if too_large:
        raise PayloadTooLarge(too_large, field=field)
    return data


class MeApi(APIView):
    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()
        roles = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
        is_admin = serializers.BooleanField()

    @extend_schema(responses=OutputSerializer, summary="Who am I: my teams and roles")
    def get(self, request: Request) -> Response:
        teams = {t.id: t.name for t in selectors.teams_for_user(user=request.user)}
        roles = {
            teams[team_id]: sorted(r)
            for team_id, r in selectors.roles_by_team(user=request.user).items()
            if team_id in teams
        }
        data = {
            "username": request.user.get_username(),
            "roles": roles,
            "is_admin": selectors.user_is_admin(user=request.user),
        }
        return Response(self.OutputSerializer(data).data)


class ModelListApi(APIView):
    @extend_schema(
        summary="List the models of my teams",
        parameters=[
            OpenApiParameter("search", str, description="Substring of name or description"),
            OpenApiParameter("team", str),
            OpenApiParameter("status", str, description="Has a version with this status"),
            OpenApiParameter("tag", str, description="Has a version with this tag"),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=RegisteredModelOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = selectors.registered_model_list(
            user=request.user,
            search=request.query_params.get("search", ""),
            team=request.query_params.get("team", ""),
            status=request.query_params.get("status", ""),
            tag=request.query_params.get("tag", ""),
        ).select_related("evaluation_dataset")
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(RegisteredModelOutput(page, many=True).data)

    @extend_schema(
        summary="Register a model in one of my teams",
        request=RegisteredModelInput,
        responses={201: RegisteredModelOutput, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
    )
    def post(self, request: Request) -> Response:
        data = RegisteredModelInput(data=request.data)
        data.is_valid(raise_exception=True)
        model = services.registered_model_create(
            actor=request.user,
            name=data.validated_data["name"],
            team_name=data.validated_data["team"],
            description=data.validated_data.get("description", ""),
            model_card=data.validated_data.get("model_card", ""),
        )
        return Response(RegisteredModelOutput(model).data, status=status.HTTP_201_CREATED)


class ModelDetailApi(APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(summary="A model", responses={200: RegisteredModelOutput, 404: ERROR})
    def get(self, request: Request, name: str) -> Response:
        model = selectors.registered_model_get_for_user(user=request.user, name=name)
        return Response(RegisteredModelOutput(model).data)

    @extend_schema(
        summary="Edit a model's description, model card, gates or standing evaluation set",
        description="Send JSON to change `description` or `model_card`, or multipart with "
        "`evaluation_data` (CSV) and `target` to replace the standing evaluation set; it is "
        "checked exactly as on upload. `gates` replaces the release-gate policy; an unknown key "
        "or metric is a 400 naming it. Fields left out stay as they are. `name` and `team` "
        "cannot be changed (400). Data scientists and admins of the model's team only, except "
        "`required_approvals` (approvals from different reviewers a version needs), which "
        "reviewers and admins set.",
        request={
            "application/json": RegisteredModelUpdateInput,
            "multipart/form-data": RegisteredModelUpdateInput,
        },
        responses={200: RegisteredModelOutput, 400: ERROR, 403: ERROR, 404: ERROR, 413: ERROR},
    )
    def patch(self, request: Request, name: str) -> Response:
        model = selectors.registered_model_get_for_user(user=request.user, name=name)
        data = RegisteredModelUpdateInput(data=_parsed_body(request, field="evaluation_data"))
        data.is_valid(raise_exception=True)
        v = data.validated_data
        # The approval policy is the reviewers' to set; every other field the data scientists'.
        if "required_approvals" in v:
            selectors.registered_model_get_for_user(user=request.user, name=name, action="review")
        if set(v) - {"required_approvals"} or not v:
            selectors.registered_model_get_for_user(user=request.user, name=name, action="edit")
            model = services.registered_model_update(
                actor=request.user,
                registered_model=model,
                description=v.get("description"),
                model_card=v.get("model_card"),
                evaluation_data=v.get("evaluation_data"),
                target=v.get("target", ""),
                gates=v.get("gates"),
            )
        if "required_approvals" in v:
            model = services.registered_model_set_required_approvals(
                actor=request.user,
                registered_model=model,
                required_approvals=v["required_approvals"],
            )
        return Response(RegisteredModelOutput(model).data)


class VersionListApi(APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(summary="A model's versions, newest first",
                   responses={200: ModelVersionOutput(many=True), 404: ERROR})  # fmt: skip
    def get(self, request: Request, name: str) -> Response:
        model = selectors.registered_model_get_for_user(user=request.user, name=name)
        qs = selectors.model_versions_for_model(registered_model=model)
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ModelVersionOutput(page, many=True).data)

    @extend_schema(
        summary="Upload a new version (multipart)",
        description="The artifact is checked by content before anything is stored: skops or "
        "ONNX only; pickle, joblib and cloudpickle are refused (415). Validation then runs in a "
        "worker; poll the version until its status leaves `pending`/`validating`.",
        request={"multipart/form-data": ModelVersionUploadInput},
        responses={201: ModelVersionOutput, 400: ERROR, 403: ERROR, 404: ERROR, 413: ERROR,
                   415: ERROR, 422: ERROR},
    )  # fmt: skip
    def post(self, request: Request, name: str) -> Response:
        model = selectors.registered_model_get_for_user(
            user=request.user, name=name, action="upload"
        )
        data = ModelVersionUploadInput(data=_parsed_body(request, field="artifact"))
        data.is_valid(raise_exception=True)
        v = data.validated_data
        version = services.model_version_upload(
            actor=request.user,
            registered_model=model,
            artifact=v["artifact"],
            evaluation_data=v.get("evaluation_data"),
            target=v.get("target", ""),
            notes=v.get("notes", ""),
            tags=(v.get("tags") or "").split(","),
        )
        version = selectors.model_version_get_for_user(
            user=request.user, name=name, version=version.version
        )
        return Response(ModelVersionOutput(version).data, status=status.HTTP_201_CREATED)


class VersionDetailApi(APIView):
    @extend_schema(summary="A version: status, signature, reports",
                   responses={200: ModelVersionOutput, 404: ERROR})  # fmt: skip
    def get(self, request: Request, name: str, version: int) -> Response:
        mv = selectors.model_version_get_for_user(user=request.user, name=name, version=version)
        return Response(ModelVersionOutput(mv).data)


class VersionArtifactApi(APIView):
    @extend_schema(
        summary="Download the artifact",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: ERROR},
    )
    def get(self, request: Request, name: str, version: int) -> FileResponse:
        mv = selectors.model_version_get_for_user(user=request.user, name=name, version=version)
        services.audit_record(
            actor=request.user, action="version.download", model_version=mv,
            payload={"sha256": mv.sha256},
        )  # fmt: skip
        response = FileResponse(
            default_storage.open(mv.artifact.name, "rb"),
            as_attachment=True,
            filename=f"{name}-v{version}.{mv.format}",
            content_type="application/octet-stream",
        )
        response["X-Content-SHA256"] = mv.sha256
        return response


class VersionTrustApi(APIView):
    @extend_schema(
        summary="Trust untrusted types for this version only (reviewers)",
        request=TrustTypesInput,
        responses={200: ModelVersionOutput, 400: ERROR, 403: ERROR, 404: ERROR},
    )
    def post(self, request: Request, name: str, version: int) -> Response:
        data = TrustTypesInput(data=request.data)
        data.is_valid(raise_exception=True)
        mv = selectors.model_version_get_for_user(
            user=request.user, name=name, version=version, action="review"
        )
        mv = services.model_version_trust_types(
            actor=request.user, model_version=mv, types=data.validated_data["types"]
        )
        mv = selectors.model_version_get_for_user(user=request.user, name=name, version=version)
        return Response(ModelVersionOutput(mv).data)


class VersionValidationApi(APIView):
    @extend_schema(
        summary="The whole validation report",
        description="Status and stage (live while the job runs), timings, metrics, per-class "
        "metrics, confusion matrix, curve data, slices, comparison with production, serving "
        "cost, gates and errors.",
        responses={200: OpenApiTypes.OBJECT, 404: ERROR},
    )
    def get(self, request: Request, name: str, version: int) -> Response:
        mv = selectors.model_version_get_for_user(user=request.user, name=name, version=version)
        report = dict(mv.validation_report or {})
        comparison = report.get("comparison")
        if isinstance(comparison, dict) and comparison.pop("disagreements_file", None):
            comparison = dict(comparison)
            comparison["disagreements_url"] = reverse(
                "api-version-disagreements", args=[name, version]
            )
            report["comparison"] = comparison
        return Response(
            {
                "model": name,
                "version": mv.version,
                "status": mv.status,
                "stage": report.pop("stage", None),
                "validation_error": mv.validation_error,
                **report,
            }
        )


class VersionValidationRerunApi(APIView):
    @extend_schema(
        summary="Validate a version again (uploader, reviewers, admins)",
        request=None,
        responses={202: OpenApiTypes.OBJECT, 403: ERROR, 404: ERROR, 409: ERROR},
    )
    def post(self, request: Request, name: str, version: int) -> Response:
        mv = selectors.model_version_get_for_user(user=request.user, name=name, version=version)
        mv = services.model_version_rerun_validation(actor=request.user, model_version=mv)
        return Response(
            {"model": name, "version": mv.version, "status": mv.status},
            status=status.HTTP_202_ACCEPTED,
        )


class VersionDisagreementsApi(APIView):
    @extend_schema(
        summary="The rows where this version and production disagree (CSV)",
        responses={(200, "text/csv"): OpenApiTypes.STR, 404: ERROR},
    )
    def get(self, request: Request, name: str, version: int) -> HttpResponse:
        mv = selectors.model_version_get_for_user(user=request.user, name=name, version=version)
        text = selectors.disagreement_csv(model_version=mv)
        return attachment(
            text, filename=f"{name}-v{version}-disagreements.csv", content_type=CSV_MEDIA_TYPE
        )


class AuditEventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor = serializers.CharField(source="actor.username", allow_null=True)
    action = serializers.CharField()
    team = serializers.CharField(source="team.name", allow_null=True)
    model = serializers.CharField(source="registered_model.name", allow_null=True)
    version = serializers.IntegerField(source="model_version.version", allow_null=True)
    payload = serializers.JSONField(
        help_text="What the action recorded: comment, before / after where it has them."
    )


class AuditListApi(ListAPIView):
    """The audit trail, newest first, cut to what the caller may see."""

    serializer_class = AuditEventOutput
    filterset_class = AuditEventFilter
    filter_backends = [DjangoFilterBackend]

    @extend_schema(
        summary="The audit trail: admins see every event, others their teams' and their own",
        description="A filter value that cannot be read (a date that is not ISO, 'until' "
        "before 'since') is a 400 whose `field` names the parameter.",
        responses={200: AuditEventOutput(many=True), 400: ERROR},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        return selectors.audit_events_visible(user=self.request.user)


class WebhookOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True)


class WebhookCreatedOutput(WebhookOutput):
    secret = serializers.CharField(
        help_text="The signing secret: shown in this response only, store it now."
    )


class WebhookInput(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(WEBHOOK_EVENTS)),
        required=False,
        allow_empty=False,
        help_text="Events to send; all of them when left out.",
    )


class WebhookListApi(APIView):
    @extend_schema(
        summary="A model's webhooks (reviewers and admins of its team)",
        responses={200: WebhookOutput(many=True), 403: ERROR, 404: ERROR},
    )
    def get(self, request: Request, name: str) -> Response:
        model = selectors.registered_model_get_for_user(
            user=request.user, name=name, action="review"
        )
        hooks = selectors.webhooks_for_model(registered_model=model)
        return Response(WebhookOutput(hooks, many=True).data)

    @extend_schema(
        summary="Add a webhook; the response carries its signing secret, once",
        description="The URL must be http(s) and resolve to a public address. Each delivery is "
        "a JSON POST with `X-ModelGate-Event` and `X-ModelGate-Signature: t=<unix>,v1=<hex>`, "
        "where hex is HMAC-SHA256(secret, `<t>.<body>`).",
        request=WebhookInput,
        responses={201: WebhookCreatedOutput, 400: ERROR, 403: ERROR, 404: ERROR},
    )
    def post(self, request: Request, name: str) -> Response:
        data = WebhookInput(data=request.data)
        data.is_valid(raise_exception=True)
        model = selectors.registered_model_get_for_user(
            user=request.user, name=name, action="review"
        )
        webhook, secret = services.webhook_create(
            actor=request.user,
            registered_model=model,
            url=data.validated_data["url"],
            events=data.validated_data.get("events"),
        )
        body = {**WebhookOutput(webhook).data, "secret": secret}
        response = Response(body, status=status.HTTP_201_CREATED)
        add_never_cache_headers(response)
        return response


class WebhookDetailApi(APIView):
    @extend_schema(summary="Delete a webhook", responses={204: None, 403: ERROR, 404: ERROR})
    def delete(self, request: Request, name: str, webhook_id: int) -> Response:
        webhook = selectors.webhook_get_for_user(
            user=request.user, name=name, webhook_id=webhook_id
        )
        services.webhook_delete(actor=request.user, webhook=webhook)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    event = serializers.CharField()
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    response_status = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.FloatField(allow_null=True)
    error = serializers.CharField()
    attempt_log = serializers.ListField(child=serializers.DictField())
    created_at = serializers.DateTimeField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)


class WebhookDeliveryListApi(APIView):
    @extend_schema(
        summary="A webhook's deliveries, newest first, with every attempt",
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses={200: WebhookDeliveryOutput(many=True), 403: ERROR, 404: ERROR},
    )
    def get(self, request: Request, name: str, webhook_id: int) -> Response:
        webhook = selectors.webhook_get_for_user(
            user=request.user, name=name, webhook_id=webhook_id
        )
        qs = webhook.deliveries.order_by("-created_at", "-id")
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(WebhookDeliveryOutput(page, many=True).data)


def _version_out(request: Request, name: str, version: int) -> Response:
    mv = selectors.model_version_get_for_user(user=request.user, name=name, version=version)
    return Response(ModelVersionOutput(mv).data)


class VersionReviewApi(APIView):
    @extend_schema(
        summary="Approve or reject a validated version (reviewers and admins)",
        description="Four eyes: the uploader never reviews their own version (403). A version "
        "becomes `approved` once the model's `required_approvals` different reviewers approved "
        "it; one rejection makes it `rejected`. A comment is required to reject. Each approval "
        "records the artifact's sha256. Refused with 409 while untrusted types are pending "
        "(listed in `pending_trust`) or when the version is not `validated` (the answer names "
        "its status and what may happen next). Repeating your own decision changes nothing.",
        request=ReviewInput,
        responses={200: ModelVersionOutput, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
    )
    def post(self, request: Request, name: str, version: int) -> Response:
        data = ReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        mv = selectors.model_version_get_for_user(
            user=request.user, name=name, version=version, action="review"
        )
        services.model_version_review(
            actor=request.user,
            model_version=mv,
            decision=data.validated_data["decision"],
            comment=data.validated_data.get("comment", ""),
        )
        return _version_out(request, name, version)


class VersionPromoteApi(APIView):
    @extend_schema(
        summary="Promote an approved version to staging or production (reviewers and admins)",
        description="The version must be `approved` and its stored file must still hash to the "
        "sha256 its reviewers approved (else 409). Production also needs passing release gates; "
        "an admin may override failing gates with `override_reason`, which is recorded. The "
        "version that held the stage keeps its status. Promoting the version already holding "
        "the stage changes nothing.",
        request=PromoteInput,
        responses={200: ModelVersionOutput, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
    )
    def post(self, request: Request, name: str, version: int) -> Response:
        data = PromoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        mv = selectors.model_version_get_for_user(
            user=request.user, name=name, version=version, action="promote"
        )
        v = data.validated_data
        services.model_version_promote(
            actor=request.user,
            model_version=mv,
            stage=v["stage"],
            comment=v.get("comment", ""),
            override_reason=v.get("override_reason", ""),
        )
        return _version_out(request, name, version)


class VersionArchiveApi(APIView):
    @extend_schema(
        summary="Archive a version: out of every stage, never served again",
        description="Reviewers and admins archive any version of their team; data scientists "
        "only their own, and only while it holds no stage. Archiving an archived version "
        "changes nothing.",
        request=ArchiveInput,
        responses={200: ModelVersionOutput, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
    )
    def post(self, request: Request, name: str, version: int) -> Response:
        data = ArchiveInput(data=request.data)
        data.is_valid(raise_exception=True)
        mv = selectors.model_version_get_for_user(
            user=request.user, name=name, version=version, action="archive"
        )
        services.model_version_archive(
            actor=request.user, model_version=mv, comment=data.validated_data.get("comment", "")
        )
        return _version_out(request, name, version)


class ModelRollbackApi(APIView):
    @extend_schema(
        summary="Give a stage back to the version that held it before (reviewers and admins)",
        description="One step back through the stage's history; archived versions are "
        "skipped. Each call goes one version further back. 409 when there is nothing earlier.",
        request=RollbackInput,
        responses={200: ModelVersionOutput, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
    )
    def post(self, request: Request, name: str) -> Response:
        data = RollbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        model = selectors.registered_model_get_for_user(
            user=request.user, name=name, action="promote"
        )
        restored = services.registered_model_rollback(
            actor=request.user,
            registered_model=model,
            stage=data.validated_data["stage"],
            comment=data.validated_data.get("comment", ""),
        )
        return _version_out(request, name, restored.version)


class ModelStagesApi(APIView):
    @extend_schema(
        summary="Which version holds each stage now, and the stages' history",
        responses={200: StagesOutput, 404: ERROR},
    )
    def get(self, request: Request, name: str) -> Response:
        model = selectors.registered_model_get_for_user(user=request.user, name=name)
        current = selectors.stages_of_model(registered_model=model)
        data = {
            "current": {s: (current[s].version if s in current else None) for s in Stage.values},
            "history": selectors.stage_events_for_model(registered_model=model),
        }
        return Response(StagesOutput(data).data)
