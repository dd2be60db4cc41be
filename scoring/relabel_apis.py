"""REST API of the relabel queues, for the labeling screen and for external labeling tools.

Validate -> authorize (the selectors' access helpers: 404 outside the user's teams, 403 for a
role that may not label) -> call one service -> serialize. Items are leased by ``GET .../next/``
(204 when nothing is left for the caller) and answered by ``POST /items/{id}/label/`` or
``/skip/``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from releases.apis import ERROR
from releases.parsers import JSONParser
from scoring import selectors, services
from scoring.models import RegressionRule, RelabelItem, RelabelStatus, RelabelStrategy
from scoring.services.relabel_policy import relabel_policy_snapshot


class RelabelItemOutput(serializers.Serializer):
    id = serializers.IntegerField()
    model = serializers.CharField()
    version = serializers.IntegerField(help_text="The exact version that made the prediction.")
    reason = serializers.ChoiceField(
        choices=["uncertain", "sample"], help_text="Routed as unsure, or as a random sample."
    )
    uncertainty = serializers.FloatField(allow_null=True)
    features = serializers.DictField(child=serializers.JSONField(), help_text="feature -> value")
    prediction = serializers.JSONField()
    probabilities = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    classes = serializers.ListField(child=serializers.JSONField())
    task = serializers.CharField()
    status = serializers.CharField()
    labels_needed = serializers.IntegerField()
    label_count = serializers.IntegerField()
    predicted_at = serializers.DateTimeField()
    lease_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="The item is yours until then; afterwards it returns."
    )


class RelabelAnswerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=RelabelStatus.values)
    label_count = serializers.IntegerField()
    labels_needed = serializers.IntegerField()


class LabelInput(serializers.Serializer):
    label = serializers.JSONField(help_text="One of the model's classes (or a number).")


class SkipInput(serializers.Serializer):
    unsure = serializers.BooleanField(
        default=False, help_text="true: you looked and could not tell (recorded as unsure)."
    )


class QueueOutput(serializers.Serializer):
    model = serializers.CharField(source="name")
    team = serializers.CharField(source="team.name")
    open = serializers.IntegerField(source="open_count")
    disputed = serializers.IntegerField(source="disputed_count")
    unresolved = serializers.IntegerField(source="unresolved_count")
    done = serializers.IntegerField(source="done_count")


class QueueCountsOutput(serializers.Serializer):
    open = serializers.IntegerField()
    leased = serializers.IntegerField()
    labeled = serializers.IntegerField()
    disputed = serializers.IntegerField()
    unresolved = serializers.IntegerField()
    settled = serializers.IntegerField()


class PolicySerializer(serializers.Serializer):
    enabled = serializers.BooleanField(required=False)
    strategy = serializers.ChoiceField(choices=RelabelStrategy.choices, required=False)
    threshold = serializers.FloatField(
        required=False,
        help_text="Route a prediction when its certainty (by the strategy) is below this.",
    )
    sample_rate = serializers.FloatField(
        required=False, help_text="Share of the other predictions routed at random (0-1)."
    )
    regression_rule = serializers.ChoiceField(choices=RegressionRule.choices, required=False)
    regression_min = serializers.FloatField(required=False, allow_null=True)
    regression_max = serializers.FloatField(required=False, allow_null=True)
    labels_per_item = serializers.IntegerField(required=False)
    skips_to_close = serializers.IntegerField(
        required=False,
        help_text="Labelers passing on an item (skip or unsure) before it leaves the queue "
        "as unresolved for a reviewer (1-20); sooner when every labeler of the team answered.",
    )
    lease_seconds = serializers.IntegerField(
        required=False, allow_null=True, help_text="null: the server's default."
    )


class PolicyOutput(PolicySerializer):
    default_lease_seconds = serializers.IntegerField()


def _answer(item: RelabelItem) -> Response:
    return Response(RelabelAnswerOutput(item).data)


def _policy(policy: Any) -> dict[str, Any]:
    return {
        **relabel_policy_snapshot(policy),
        "default_lease_seconds": settings.MODELGATE_RELABEL_LEASE_SECONDS,
    }


class QueueListApi(APIView):
    @extend_schema(
        summary="Relabel queues you may work, with counts",
        responses={200: QueueOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        queues = selectors.relabel_queues_for_user(user=request.user)
        return Response(QueueOutput(queues, many=True).data)


class QueueCountsApi(APIView):
    @extend_schema(
        summary="Items of a model's relabel queue by status",
        responses={200: QueueCountsOutput, 403: ERROR, 404: ERROR},
    )
    def get(self, request: Request, name: str) -> Response:
        model = selectors.relabel_model_get_for_user(user=request.user, name=name)
        return Response(selectors.relabel_queue_counts(registered_model=model))


class NextItemApi(APIView):
    @extend_schema(
        summary="Lease the next item of a model's relabel queue",
        description="The item is leased to you until `lease_expires_at` "
        "(MODELGATE_RELABEL_LEASE_SECONDS or the model's policy); asking again returns the "
        "item you hold. 204 when nothing is left for you.",
        responses={
            200: RelabelItemOutput,
            204: OpenApiResponse(description="Nothing left for you in this queue."),
            403: ERROR,
            404: ERROR,
        },
    )
    def get(self, request: Request, name: str) -> Response:
        model = selectors.relabel_model_get_for_user(user=request.user, name=name)
        item = services.relabel_item_lease_next(actor=request.user, registered_model=model)
        if item is None:
            response = Response(status=204)
        else:
            item = selectors.relabel_item_get_for_user(user=request.user, item_id=item.pk)
            response = Response(RelabelItemOutput(selectors.relabel_item_payload(item)).data)
        add_never_cache_headers(response)
        return response


class LabelItemApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Label a relabel item",
        description="A label outside the model's classes is a 400 naming them; an item leased "
        "to someone else, already answered by you, or already done is a 409.",
        request=LabelInput,
        responses={200: RelabelAnswerOutput, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
    )
    def post(self, request: Request, item_id: int) -> Response:
        data = LabelInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = selectors.relabel_item_get_for_user(user=request.user, item_id=item_id)
        item = services.relabel_item_label(
            actor=request.user, item=item, label=data.validated_data["label"]
        )
        return _answer(item)


class SkipItemApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Skip a relabel item (or mark it unsure)",
        description="It returns to the queue for others and is not offered to you again.",
        request=SkipInput,
        responses={200: RelabelAnswerOutput, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
    )
    def post(self, request: Request, item_id: int) -> Response:
        data = SkipInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = selectors.relabel_item_get_for_user(user=request.user, item_id=item_id)
        item = services.relabel_item_skip(
            actor=request.user, item=item, unsure=data.validated_data["unsure"]
        )
        return _answer(item)


class SettleItemApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Settle a disputed or unresolved relabel item (reviewers)",
        request=LabelInput,
        responses={200: RelabelAnswerOutput, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
    )
    def post(self, request: Request, item_id: int) -> Response:
        data = LabelInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = selectors.relabel_item_get_for_user(
            user=request.user, item_id=item_id, action="settle"
        )
        item = services.relabel_item_settle(
            actor=request.user, item=item, label=data.validated_data["label"]
        )
        return _answer(item)


class ItemExplanationApi(APIView):
    @extend_schema(
        summary="SHAP explanation of a relabel item's prediction",
        description="Each input feature's SHAP value for this prediction, computed by the "
        "version that made it (as POST /api/v1/models/{name}/versions/{v}/explain/). 409 when "
        "the version cannot be explained (no evaluation data, not a scikit-learn model).",
        responses={
            200: OpenApiResponse(description="base_value, shap_values and prediction."),
            403: ERROR,
            404: ERROR,
            409: ERROR,
        },
    )
    def get(self, request: Request, item_id: int) -> Response:
        item = selectors.relabel_item_get_for_user(user=request.user, item_id=item_id)
        return Response(selectors.relabel_item_explanation(item))


class PolicyApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="What enters a model's relabel queue",
        responses={200: PolicyOutput, 404: ERROR},
    )
    def get(self, request: Request, name: str) -> Response:
        from releases.selectors import registered_model_get_for_user

        model = registered_model_get_for_user(user=request.user, name=name)
        return Response(_policy(selectors.relabel_policy_for(registered_model=model)))

    @extend_schema(
        summary="Change what enters a model's relabel queue (audited)",
        description="Settings you leave out keep their value. Applies to predictions logged "
        "from now on (within MODELGATE_RELABEL_POLICY_TTL_SECONDS in every serving process).",
        request=PolicySerializer,
        responses={200: PolicyOutput, 400: ERROR, 403: ERROR, 404: ERROR},
    )
    def put(self, request: Request, name: str) -> Response:
        from releases.selectors import registered_model_get_for_user

        data = PolicySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = registered_model_get_for_user(user=request.user, name=name)
        policy = services.relabel_policy_update(
            actor=request.user, registered_model=model, changes=dict(data.validated_data)
        )
        return Response(_policy(policy))
