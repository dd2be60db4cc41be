"""HTML pages: validate → authorize → call one service → render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from releases import selectors, services
from releases.forms import ModelFilterForm, RegisteredModelForm
from releases.markdown import render_markdown
from releases.models import ModelVersion, Role, VersionStatus
from webapp.errors import DomainError, Forbidden


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    roles = selectors.user_roles(user=user)
    models = selectors.registered_model_list(user=user)[:10]
    review_teams = selectors.teams_for_user(user=user, action="review")
    awaiting_review = (
        ModelVersion.objects.filter(
            registered_model__team__in=review_teams, status=VersionStatus.VALIDATED
        )
        .exclude(uploaded_by=user)
        .select_related("registered_model", "uploaded_by")
        .order_by("created_at")[:20]
        if Role.REVIEWER in roles or Role.ADMIN in roles
        else []
    )
    my_uploads = (
        ModelVersion.objects.filter(uploaded_by=user)
        .select_related("registered_model")
        .order_by("-created_at")[:10]
    )
    return render(
        request,
        "releases/home.html",
        {
            "roles": sorted(roles),
            "models": models,
            "awaiting_review": awaiting_review,
            "my_uploads": my_uploads,
            "teams": selectors.teams_for_user(user=user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def my_token(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        services.user_token_rotate(actor=request.user)
        messages.success(request, "Your API token was rotated; the old one no longer works.")
        return redirect("my-token")
    token, _ = Token.objects.get_or_create(user=request.user)
    return render(request, "releases/token.html", {"token": token})


@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    filters = ModelFilterForm(request.GET)
    filters.is_valid()
    f = filters.cleaned_data
    qs = selectors.registered_model_list(
        user=request.user,
        search=f.get("q", ""),
        team=f.get("team", ""),
        status=f.get("status", ""),
        tag=f.get("tag", ""),
    )
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "releases/model_list.html",
        {
            "page": page,
            "filters": f,
            "query": query.urlencode(),
            "teams": selectors.teams_for_user(user=request.user),
            "statuses": VersionStatus.choices,
            "can_register": selectors.teams_for_user(user=request.user, action="upload").exists(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def model_create(request: HttpRequest) -> HttpResponse:
    team_names = list(
        selectors.teams_for_user(user=request.user, action="upload").values_list("name", flat=True)
    )
    if not team_names:
        raise Forbidden("Only data scientists and admins can register models.")
    form = RegisteredModelForm(request.POST or None, team_names=team_names)
    if request.method == "POST" and form.is_valid():
        try:
            model = services.registered_model_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                team_name=form.cleaned_data["team"],
                description=form.cleaned_data["description"],
                model_card=form.cleaned_data["model_card"],
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Model {model.name} registered. Upload its first version.")
            return redirect("model-detail", name=model.name)
    return render(request, "releases/model_create.html", {"form": form})


@login_required
def model_detail(request: HttpRequest, name: str) -> HttpResponse:
    model = selectors.registered_model_get_for_user(user=request.user, name=name)
    versions = selectors.model_versions_for_model(registered_model=model)
    return render(
        request,
        "releases/model_detail.html",
        {
            "model": model,
            "versions": versions,
            "model_card": render_markdown(model.model_card),
            "can_upload": selectors.user_can(
                user=request.user, team_id=model.team_id, action="upload"
            ),
        },
    )


@login_required
def version_detail(request: HttpRequest, name: str, version: int) -> HttpResponse:
    mv = selectors.model_version_get_for_user(user=request.user, name=name, version=version)
    return render(
        request,
        "releases/version_detail.html",
        {
            "model": mv.registered_model,
            "mv": mv,
            "audit": selectors.audit_events_for_version(model_version=mv)[:100],
        },
    )
