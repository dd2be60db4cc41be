"""Django admin for ModelGate admins: teams and roles, models, people, versions (read-only), and
the audit log (read-only: the database refuses changes anyway).

Least privilege: access comes from the ModelGate admin role (``selectors.user_is_admin``), not
from Django superuser powers or permission rows, and every write goes through the same services
as the API and ``adduser``, so it leaves an audit row. API keys are never shown (only their
``mg_…`` prefix); an admin can revoke a person's keys but never read or mint one.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.models import Group, User
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from releases import selectors, services
from releases.models import (
    AuditEvent,
    EvaluationDataset,
    Membership,
    ModelVersion,
    RegisteredModel,
    StageEvent,
    Team,
)


def _is_modelgate_admin(request: HttpRequest) -> bool:
    return request.user.is_active and selectors.user_is_admin(user=request.user)


class ModelGateAdmin(admin.ModelAdmin):
    """Grants by ModelGate role. Subclasses opt in to the writes their services support."""

    allow_add = allow_change = allow_delete = False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_modelgate_admin(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_modelgate_admin(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allow_add and _is_modelgate_admin(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allow_change and _is_modelgate_admin(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allow_delete and _is_modelgate_admin(request)


class MembershipInline(admin.TabularInline):
    """Add or remove roles on the team page; a role is changed on the membership's own page."""

    model = Membership
    extra = 1
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_modelgate_admin(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_modelgate_admin(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_modelgate_admin(request)


@admin.register(Team)
class TeamAdmin(ModelGateAdmin):
    allow_add = allow_change = True
    list_display = ["name", "display_name", "created_at"]
    search_fields = ["name", "display_name"]
    fields = ["name", "display_name"]
    inlines = [MembershipInline]

    def save_model(self, request: HttpRequest, obj: Team, form: ModelForm, change: bool) -> None:
        data = form.cleaned_data
        if change:
            saved = services.team_update(
                actor=request.user, team=obj, name=data["name"], display_name=data["display_name"]
            )
        else:
            saved = services.team_create(
                actor=request.user, name=data["name"], display_name=data["display_name"]
            )
        obj.pk = saved.pk

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool
    ) -> None:
        formset.save(commit=False)  # fills new_objects / deleted_objects without writing
        for membership in formset.deleted_objects:
            services.membership_remove(actor=request.user, membership=membership)
        for membership in formset.new_objects:
            services.membership_add(
                actor=request.user, user=membership.user, team=form.instance, role=membership.role
            )


@admin.register(Membership)
class MembershipAdmin(ModelGateAdmin):
    allow_add = allow_change = allow_delete = True
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "team__name"]
    list_select_related = ["user", "team"]
    autocomplete_fields = ["user", "team"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Moving a role to another person or team is a removal plus an addition.
        return ["user", "team", "created_at"] if obj is not None else []

    def save_model(
        self, request: HttpRequest, obj: Membership, form: ModelForm, change: bool
    ) -> None:
        if change:
            services.membership_change_role(actor=request.user, membership=obj, role=obj.role)
            return
        saved = services.membership_add(
            actor=request.user, user=obj.user, team=obj.team, role=obj.role
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_remove(actor=request.user, membership=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset:
            services.membership_remove(actor=request.user, membership=membership)


@admin.register(RegisteredModel)
class RegisteredModelAdmin(ModelGateAdmin):
    allow_change = True
    list_display = ["name", "team", "description", "updated_at"]
    list_filter = ["team"]
    search_fields = ["name", "description"]
    fields = ["name", "team", "description", "model_card", "created_by", "created_at"]
    readonly_fields = ["name", "team", "created_by", "created_at"]
    list_select_related = ["team"]

    def save_model(
        self, request: HttpRequest, obj: RegisteredModel, form: ModelForm, change: bool
    ) -> None:
        services.registered_model_update(
            actor=request.user,
            registered_model=obj,
            description=form.cleaned_data["description"],
            model_card=form.cleaned_data["model_card"],
        )


def _artifact_link(obj: ModelVersion) -> str:
    url = reverse("api-version-artifact", args=[obj.registered_model.name, obj.version])
    return format_html('<a href="{}">Download ({})</a>', url, obj.format)


@admin.register(ModelVersion)
class ModelVersionAdmin(ModelGateAdmin):
    list_display = [
        "registered_model", "version", "status", "format", "uploaded_by", "created_at",
        "artifact_download",
    ]  # fmt: skip
    list_filter = ["status", "format", "registered_model__team"]
    search_fields = ["registered_model__name", "sha256"]
    list_select_related = ["registered_model", "uploaded_by"]
    # The stored file's own URL is not served (MEDIA_URL); link the authorized, audited download.
    exclude = ["artifact"]
    readonly_fields = ["artifact_download"]

    @admin.display(description="Artifact")
    def artifact_download(self, obj: ModelVersion) -> str:
        return _artifact_link(obj)


@admin.register(EvaluationDataset)
class EvaluationDatasetAdmin(ModelGateAdmin):
    list_display = ["registered_model", "target", "n_rows", "sha256", "created_at"]
    list_select_related = ["registered_model"]
    exclude = ["file"]  # its URL is not served
    readonly_fields = ["stored_as"]

    @admin.display(description="Stored as")
    def stored_as(self, obj: EvaluationDataset) -> str:
        return obj.file.name


@admin.register(AuditEvent)
class AuditEventAdmin(ModelGateAdmin):
    list_display = ["created_at", "actor", "action", "team", "registered_model", "model_version"]
    list_filter = ["action", "team"]
    search_fields = ["action", "actor__username", "registered_model__name"]
    list_select_related = ["actor", "team", "registered_model", "model_version"]
    date_hierarchy = "created_at"


@admin.register(StageEvent)
class StageEventAdmin(ModelGateAdmin):
    """Which version held which stage when (read-only: promotions go through the review pages
    and the API, which check approvals, gates and the artifact)."""

    list_display = [
        "created_at", "registered_model", "stage", "kind", "from_version", "to_version", "actor",
    ]  # fmt: skip
    list_filter = ["stage", "kind", "registered_model__team"]
    search_fields = ["registered_model__name", "actor__username", "comment"]
    list_select_related = ["registered_model", "from_version", "to_version", "actor"]
    date_hierarchy = "created_at"


# People: Django's user admin would let an admin set passwords, superuser flags and permission
# rows; ModelGate admins see people and their roles, and may revoke their API keys.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class PersonAdmin(ModelGateAdmin):
    list_display = ["username", "email", "is_active", "is_staff", "last_login", "roles"]
    ordering = ["username"]
    list_filter = ["is_active", "memberships__role", "memberships__team"]
    search_fields = ["username", "email", "first_name", "last_name"]
    fields = [
        "username", "email", "first_name", "last_name", "is_active", "is_staff", "is_superuser",
        "last_login", "date_joined", "roles", "api_tokens",
    ]  # fmt: skip
    readonly_fields = ["roles", "api_tokens"]
    actions = ["revoke_api_tokens"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("memberships__team")

    @admin.display(description="Roles")
    def roles(self, obj: User) -> str:
        return ", ".join(f"{m.role}@{m.team.name}" for m in obj.memberships.all()) or "-"

    @admin.display(description="API tokens")
    def api_tokens(self, obj: User) -> str:
        # The prefix identifies a key (e.g. one found in a leak); the key itself is not stored.
        rows = obj.auth_token_set.order_by("-created")
        if not rows:
            return "none"
        return format_html_join(
            "; ",
            "<code>{}…</code> created {}, last used {}, expires {}",
            (
                (
                    t.token_key,
                    f"{t.created:%Y-%m-%d %H:%M}",
                    f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never",
                    f"{t.expiry:%Y-%m-%d %H:%M}" if t.expiry else "never",
                )
                for t in rows
            ),
        )

    @admin.action(description="Revoke the selected people's API tokens")
    def revoke_api_tokens(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        revoked = sum(
            services.api_tokens_revoke(actor=request.user, user=person) for person in queryset
        )
        self.message_user(
            request, f"Revoked {revoked} API token(s); they no longer work.", messages.SUCCESS
        )
