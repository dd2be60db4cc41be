"""HTML pages of the scoring app: a model's app tokens (list, create, revoke); its batch scoring
panel (upload form, jobs with live progress, downloads); the corrected dataset's "use as the
evaluation set" button; turning shadow mode on and off (its card is on the model page,
``scoring/templatetags/shadow.py``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from releases.errors import DomainError
from releases.models import RegisteredModel
from releases.selectors import registered_model_get_for_user
from scoring import selectors, services, serving
from scoring.batch_apis import create_job
from scoring.models import BATCH_TERMINAL

_PANEL_JOBS = 10


class AppTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label="App name",
        help_text="Who will use the key, e.g. checkout-service.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def app_tokens(request: HttpRequest, name: str) -> HttpResponse:
    model = registered_model_get_for_user(user=request.user, name=name, action="promote")
    form = AppTokenForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                token, key = services.app_token_create(
                    actor=request.user, registered_model=model, name=form.cleaned_data["name"]
                )
            except DomainError as exc:
                form.add_error("name" if exc.field == "name" else None, exc.message)
                status = exc.status_code
            else:
                response = render(
                    request,
                    "scoring/app_token_created.html",
                    {"model": model, "token": token, "key": key},
                    status=201,
                )
                # The only response that carries the key must not be kept anywhere.
                add_never_cache_headers(response)
                return response
    tokens = selectors.app_tokens_for_model(registered_model=model)
    return render(
        request,
        "scoring/app_tokens.html",
        {"model": model, "form": form, "tokens": tokens},
        status=status,
    )


@login_required
@require_http_methods(["POST"])
def app_token_revoke(request: HttpRequest, name: str, token_id: int) -> HttpResponse:
    token = selectors.app_token_get_for_user(user=request.user, name=name, token_id=token_id)
    services.app_token_revoke(actor=request.user, app_token=token)
    messages.success(request, f"App token {token.name!r} revoked; it can no longer predict.")
    return redirect(reverse("app-tokens", args=[name]))


@login_required
@require_http_methods(["POST"])
def corrected_dataset_use(request: HttpRequest, name: str) -> HttpResponse:
    """The model page's "Use as the evaluation set" button."""
    model = registered_model_get_for_user(user=request.user, name=name)
    try:
        dataset = services.corrected_dataset_use_as_evaluation_set(
            actor=request.user, registered_model=model
        )
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"The corrected dataset ({dataset.n_rows} labeled rows) is now the evaluation set: "
            "the next version validates on it.",
        )
    return redirect(reverse("model-detail", args=[name]))


@login_required
@require_http_methods(["POST"])
def shadow_mode(request: HttpRequest, name: str) -> HttpResponse:
    model = registered_model_get_for_user(user=request.user, name=name, action="promote")
    enabled = request.POST.get("enabled", "").lower()
    if enabled not in ("true", "false"):
        messages.error(request, "Choose whether staging should shadow production.")
    else:
        try:
            services.shadow_mode_set(
                actor=request.user, registered_model=model, enabled=enabled == "true"
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                "Staging now shadows production; live answers are unchanged."
                if enabled == "true"
                else "Shadow mode is off; live answers are unchanged.",
            )
    return redirect(reverse("model-detail", args=[name]) + "#shadow")


def batch_panel_context(request: HttpRequest, model: RegisteredModel) -> dict[str, Any]:
    """What the panel shows: the upload form and the model's latest jobs; it keeps polling
    while one of them is still queued or running."""
    jobs = list(selectors.batch_jobs_for_model(registered_model=model)[:_PANEL_JOBS])
    return {
        "model": model,
        "jobs": jobs,
        "poll": any(job.status not in BATCH_TERMINAL for job in jobs),
        "max_bytes": settings.MODELGATE_BATCH_MAX_BYTES,
        "retention_days": settings.MODELGATE_BATCH_RETENTION_DAYS,
        "api_url": reverse("api-batch-create", args=[model.name]),
        "panel_url": reverse("batch-panel", args=[model.name]),
        "request": request,
    }


@login_required
@require_http_methods(["GET"])
def batch_panel(request: HttpRequest, name: str) -> HttpResponse:
    """The panel alone, for static/batch.js to swap in while jobs run."""
    model = registered_model_get_for_user(user=request.user, name=name)
    response = render(request, "scoring/_batch_panel.html", batch_panel_context(request, model))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["POST"])
def batch_upload(request: HttpRequest, name: str) -> HttpResponse:
    """The panel's form: the same checks as the API, then back to the model page."""
    model = registered_model_get_for_user(user=request.user, name=name)
    try:
        serving.refresh()
        job = create_job(
            request,
            name=model.name,
            caller=serving.caller_for_user(request.user),
            actor=request.user,
        )
    except DomainError as exc:
        messages.error(request, f"Batch file refused: {exc.message}")
    else:
        messages.success(
            request, f"Batch job queued: {job.input_name or 'your file'} is being scored."
        )
    return redirect(reverse("model-detail", args=[model.name]) + "#batch")
