"""API shapes. Serializers validate and present; they hold no business logic."""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from releases.limits import COMMENT_MAX_CHARS
from releases.models import (
    MAX_REQUIRED_APPROVALS,
    ModelVersion,
    RegisteredModel,
    ReviewDecision,
    Stage,
    StageEvent,
    VersionStatus,
)


class StrictStringMixin:
    """Text fields take only JSON strings: DRF's CharField turns 123 or true into "123" and
    "True", which hides a client's bug. Form fields always arrive as strings."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError(
                f"Send text (a JSON string), not {_json_type(data)}.", code="invalid"
            )
        return super().to_internal_value(data)  # type: ignore[misc]


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


class StrictCharField(StrictStringMixin, serializers.CharField):
    pass


class StrictRegexField(StrictStringMixin, serializers.RegexField):
    pass


class RegisteredModelInput(serializers.Serializer):
    name = StrictRegexField(
        r"^[a-z0-9][a-z0-9_-]{0,62}$",
        error_messages={
            "invalid": "Use 1–63 lowercase letters, digits, '-' or '_', starting with a letter "
            "or digit."
        },
    )
    team = StrictCharField(max_length=63)
    description = StrictCharField(max_length=500, required=False, allow_blank=True)
    model_card = StrictCharField(required=False, allow_blank=True, max_length=100_000)


class RegisteredModelUpdateInput(serializers.Serializer):
    """PATCH body: JSON for the texts, multipart when it brings a new evaluation CSV."""

    IMMUTABLE = ("name", "team")

    description = StrictCharField(max_length=500, required=False, allow_blank=True)
    model_card = StrictCharField(required=False, allow_blank=True, max_length=100_000)
    evaluation_data = serializers.FileField(
        required=False,
        help_text="A new standing evaluation set: CSV with the model's features and the target.",
    )
    target = StrictCharField(
        required=False, allow_blank=True, max_length=255, help_text="Required with a new CSV."
    )
    gates = serializers.JSONField(
        required=False,
        help_text='Release gates, e.g. {"min_metrics": {"accuracy": 0.9}, "max_regression": '
        '{"roc_auc": 0.01}, "max_latency_ms": 50, "block_breaking_signature_change": true}; '
        "{} removes them. Replaces the whole policy.",
    )

    def validate_gates(self, value: Any) -> dict[str, Any]:
        from releases.gates import GatePolicyError, clean_policy

        if isinstance(value, str):  # multipart sends the policy as JSON text
            try:
                value = json.loads(value)
            except ValueError:
                raise serializers.ValidationError("gates must be a JSON object.") from None
        try:
            return clean_policy(value)
        except GatePolicyError as exc:
            raise serializers.ValidationError(exc.message) from None

    required_approvals = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_REQUIRED_APPROVALS,
        help_text="Approvals from different reviewers a version needs (reviewers and admins).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Unknown fields are ignored, but silently ignoring a rename would mislead the caller.
        refused = {
            name: f"A model's {name} cannot be changed; register a new model instead."
            for name in self.IMMUTABLE
            if name in self.initial_data
        }
        if refused:
            raise serializers.ValidationError(refused)
        return attrs


class RegisteredModelOutput(serializers.ModelSerializer):
    team = serializers.CharField(source="team.name")
    url = serializers.SerializerMethodField()
    version_count = serializers.IntegerField(read_only=True, required=False)
    latest_version = serializers.IntegerField(read_only=True, required=False, allow_null=True)
    evaluation_dataset = serializers.SerializerMethodField()

    class Meta:
        model = RegisteredModel
        fields = [
            "name", "team", "description", "model_card", "created_at", "updated_at",
            "version_count", "latest_version", "evaluation_dataset", "required_approvals",
            "gates", "url",
        ]  # fmt: skip

    def get_url(self, obj: RegisteredModel) -> str:
        return reverse("api-model-detail", args=[obj.name])

    def get_evaluation_dataset(self, obj: RegisteredModel) -> dict[str, Any] | None:
        ds = obj.evaluation_dataset
        if ds is None:
            return None
        return {"sha256": ds.sha256, "target": ds.target, "rows": ds.n_rows, "columns": ds.columns}


class ModelVersionUploadInput(serializers.Serializer):
    artifact = serializers.FileField(
        help_text="A .skops file (skops.io.dump) or an .onnx file. Pickle/joblib are refused."
    )
    evaluation_data = serializers.FileField(
        required=False, help_text="CSV with the model's features and the target column."
    )
    target = StrictCharField(required=False, allow_blank=True, max_length=255)
    notes = StrictCharField(required=False, allow_blank=True, max_length=10_000)
    tags = StrictCharField(
        required=False, allow_blank=True, max_length=1000, help_text="Comma-separated."
    )


class ReviewOutput(serializers.Serializer):
    reviewer = serializers.CharField(source="reviewer.username")
    decision = serializers.ChoiceField(choices=ReviewDecision.choices)
    comment = serializers.CharField()
    artifact_sha256 = serializers.CharField()
    created_at = serializers.DateTimeField()


class ApprovalsOutput(serializers.Serializer):
    required = serializers.IntegerField(help_text="Approvals the model's policy asks for.")
    received = serializers.IntegerField()
    reviews = ReviewOutput(many=True)


class ModelVersionOutput(serializers.ModelSerializer):
    model = serializers.CharField(source="registered_model.name")
    uploaded_by = serializers.CharField(source="uploaded_by.username", default=None)
    tags = serializers.SerializerMethodField()
    pending_trust = serializers.ListField(child=serializers.CharField(), read_only=True)
    evaluation_dataset = serializers.SerializerMethodField()
    artifact_url = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=VersionStatus.choices)
    validation_report = serializers.SerializerMethodField()
    validation_url = serializers.SerializerMethodField()
    stages = serializers.SerializerMethodField()
    approvals = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "model", "version", "status", "sha256", "size", "format", "library_versions",
            "estimator_class", "parameters", "signature", "signature_diff", "untrusted_types",
            "trusted_types", "pending_trust", "validation_error", "validation_report",
            "evaluation_dataset", "notes", "tags", "uploaded_by", "created_at",
            "status_changed_at", "stages", "approvals", "artifact_url", "validation_url",
            "url", "serving_runtime", "compiled_check", "compiled_evidence",
        ]  # fmt: skip

    # The version keeps a short summary; the whole report is at validation_url.
    SUMMARY_KEYS = ("stage", "failed_stage", "error_code", "steps", "load_seconds", "gates_passed")
    EVALUATION_SUMMARY_KEYS = ("rows", "task", "metrics", "undefined_metrics", "predict_ms_per_row")

    def get_validation_report(self, obj: ModelVersion) -> dict[str, Any]:
        report = obj.validation_report or {}
        summary = {k: report[k] for k in self.SUMMARY_KEYS if k in report}
        if "evaluation" in report:
            evaluation = report["evaluation"]
            summary["evaluation"] = (
                {k: evaluation[k] for k in self.EVALUATION_SUMMARY_KEYS if k in evaluation}
                if isinstance(evaluation, dict)
                else evaluation
            )
        return summary

    def get_validation_url(self, obj: ModelVersion) -> str:
        return reverse("api-version-validation", args=[obj.registered_model.name, obj.version])

    def get_stages(self, obj: ModelVersion) -> list[str]:
        """The stages this version holds now (prefetched by the selector)."""
        return sorted(a.stage for a in obj.stage_assignments.all())

    @extend_schema_field(ApprovalsOutput)
    def get_approvals(self, obj: ModelVersion) -> dict[str, Any]:
        reviews = list(obj.reviews.all())
        return {
            "required": obj.registered_model.required_approvals,
            "received": sum(r.decision == ReviewDecision.APPROVE for r in reviews),
            "reviews": ReviewOutput(reviews, many=True).data,
        }

    def get_tags(self, obj: ModelVersion) -> list[str]:
        return [t.name for t in obj.tags.all()]

    def get_evaluation_dataset(self, obj: ModelVersion) -> dict[str, Any] | None:
        ds = obj.evaluation_dataset
        if ds is None:
            return None
        return {"sha256": ds.sha256, "target": ds.target, "rows": ds.n_rows}

    def get_artifact_url(self, obj: ModelVersion) -> str:
        return reverse("api-version-artifact", args=[obj.registered_model.name, obj.version])

    def get_url(self, obj: ModelVersion) -> str:
        return reverse("api-version-detail", args=[obj.registered_model.name, obj.version])


class TrustTypesInput(serializers.Serializer):
    types = serializers.ListField(child=StrictCharField(max_length=300), min_length=1)


def _comment(**kwargs: Any) -> StrictCharField:
    return StrictCharField(required=False, allow_blank=True, max_length=COMMENT_MAX_CHARS, **kwargs)


class ReviewInput(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=ReviewDecision.choices,
        error_messages={"invalid_choice": "Decide 'approve' or 'reject', not {input!r}."},
    )
    comment = _comment(help_text="Why; required to reject.")


class PromoteInput(serializers.Serializer):
    stage = serializers.ChoiceField(
        choices=Stage.choices,
        error_messages={"invalid_choice": "Promote to 'staging' or 'production', not {input!r}."},
    )
    comment = _comment()
    override_reason = _comment(
        help_text="Admins only: promote to production although release gates failed, and why."
    )


class RollbackInput(serializers.Serializer):
    stage = serializers.ChoiceField(
        choices=Stage.choices,
        error_messages={"invalid_choice": "Roll back 'staging' or 'production', not {input!r}."},
    )
    comment = _comment()


class ArchiveInput(serializers.Serializer):
    comment = _comment()


class StageEventOutput(serializers.ModelSerializer):
    from_version = serializers.IntegerField(source="from_version.version", default=None)
    to_version = serializers.IntegerField(source="to_version.version", default=None)
    actor = serializers.CharField(source="actor.username", default=None)

    class Meta:
        model = StageEvent
        fields = [
            "stage", "kind", "from_version", "to_version", "actor", "comment",
            "override_reason", "created_at",
        ]  # fmt: skip


class StagesOutput(serializers.Serializer):
    current = serializers.DictField(
        child=serializers.IntegerField(allow_null=True),
        help_text="stage -> the version number holding it, or null.",
    )
    history = StageEventOutput(many=True, help_text="Newest first.")
