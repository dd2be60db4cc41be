"""Django admin for ModelGate admins: teams and roles, models, versions (read-only), and the
audit log (read-only: the database refuses changes anyway)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from releases.models import (
    AuditEvent,
    EvaluationDataset,
    Membership,
    ModelVersion,
    RegisteredModel,
    Team,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services (audit trail, immutable versions)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "display_name", "created_at"]
    search_fields = ["name", "display_name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "team__name"]
    list_select_related = ["user", "team"]


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "description", "updated_at"]
    list_filter = ["team"]
    search_fields = ["name", "description"]
    readonly_fields = ["name", "team", "evaluation_dataset", "created_by", "created_at"]
    list_select_related = ["team"]


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ["registered_model", "version", "status", "format", "uploaded_by", "created_at"]
    list_filter = ["status", "format", "registered_model__team"]
    search_fields = ["registered_model__name", "sha256"]
    list_select_related = ["registered_model", "uploaded_by"]


@admin.register(EvaluationDataset)
class EvaluationDatasetAdmin(ReadOnlyAdmin):
    list_display = ["registered_model", "target", "n_rows", "sha256", "created_at"]
    list_select_related = ["registered_model"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "team", "registered_model", "model_version"]
    list_filter = ["action", "team"]
    search_fields = ["action", "actor__username", "registered_model__name"]
    list_select_related = ["actor", "team", "registered_model", "model_version"]
    date_hierarchy = "created_at"
