"""HTML pages: validate → authorize → call one service → render."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from releases import report_page, selectors, services, version_page
from releases.audit_export import audit_csv_lines
from releases.downloads import CSV_MEDIA_TYPE, attachment
from releases.errors import DomainError, Forbidden
from releases.filters import AuditEventFilter
from releases.forms import (
    ApprovalPolicyForm,
    ModelFilterForm,
    RegisteredModelEditForm,
    RegisteredModelForm,
    TrustTypesForm,
    WebhookForm,
)
from releases.markdown import render_markdown
from releases.models import (
    ALLOWED_TRANSITIONS,
    WEBHOOK_EVENTS,
    CompiledCheckStatus,
    ModelVersion,
    RegisteredModel,
    Role,
    VersionStatus,
)
from releases.uploads import upload_too_large


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    roles = selectors.user_roles(user=user)
    teams = selectors.team_names_for_user(user=user)
    # ?team= narrows every list on the page to one team; an unknown name shows everything.
    team = request.GET.get("team", "")
    team = team if team in teams else ""
    reviews = Role.REVIEWER in roles or Role.ADMIN in roles
    awaiting_review = selectors.versions_awaiting_review(user=user, team=team) if reviews else []
    awaiting_trust = selectors.versions_awaiting_trust(user=user, team=team) if reviews else []
    return render(
        request,
        "releases/home.html",
        {
            "roles": sorted(roles),
            "models": selectors.registered_model_list(user=user, team=team)[:10],
            "awaiting_review": awaiting_review,
            "awaiting_trust": awaiting_trust,
            "awaiting_count": len(awaiting_review) + len(awaiting_trust),
            "my_uploads": selectors.my_recent_uploads(user=user, team=team),
            "teams": teams,
            "team": team,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def my_token(request: HttpRequest) -> HttpResponse:
    """The person's API token: its prefix, dates and last use; the key only in the response that
    creates it (never stored, so it cannot be shown again)."""
    new_key = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            services.api_tokens_revoke(actor=request.user, user=request.user)
            messages.success(request, "Your API token was revoked; it no longer works.")
            return redirect("my-token")
        _, new_key = services.api_token_rotate(actor=request.user, user=request.user)
    response = render(
        request,
        "releases/token.html",
        {"token": selectors.api_token_current(user=request.user), "new_key": new_key},
    )
    # The one response that carries a key must not be kept by the browser or a proxy.
    add_never_cache_headers(response)  # no-store, private
    return response


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
            "teams": selectors.team_names_for_user(user=request.user),
            "statuses": VersionStatus.choices,
            "can_register": selectors.user_can_anywhere(user=request.user, action="upload"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def model_create(request: HttpRequest) -> HttpResponse:
    team_names = selectors.team_names_for_user(user=request.user, action="upload")
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
    versions = list(selectors.model_versions_for_model(registered_model=model))
    stages = selectors.stages_of_model(registered_model=model)
    can_promote = selectors.user_can(user=request.user, team_id=model.team_id, action="promote")
    return render(
        request,
        "releases/model_detail.html",
        {
            "model": model,
            "versions": versions,
            "production": stages.get("production"),
            "staging": stages.get("staging"),
            "stage_events": selectors.stage_events_for_model(registered_model=model, limit=50),
            "can_promote": can_promote,
            "rollback_targets": {
                stage: selectors.rollback_target(registered_model=model, stage=stage)
                for stage in ("production", "staging")
            }
            if can_promote
            else {},
            "approval_form": ApprovalPolicyForm(
                initial={"required_approvals": model.required_approvals}
            )
            if selectors.user_can(user=request.user, team_id=model.team_id, action="review")
            else None,
            "dataset": model.evaluation_dataset,
            "model_card": render_markdown(model.model_card),
            "can_upload": selectors.user_can(
                user=request.user, team_id=model.team_id, action="upload"
            ),
            "can_edit": selectors.user_can(user=request.user, team_id=model.team_id, action="edit"),
            "api_upload_url": request.build_absolute_uri(
                reverse("api-version-list", args=[model.name])
            ),
            "history": selectors.audit_events_for_model(registered_model=model),
            **_webhook_context(request, model),
        },
    )


def _webhook_context(request: HttpRequest, model: RegisteredModel) -> dict[str, Any]:
    """Webhooks and their deliveries, for the people who manage them (reviewers, admins)."""
    if not selectors.user_can(user=request.user, team_id=model.team_id, action="review"):
        return {"can_manage_webhooks": False}
    return {
        "can_manage_webhooks": True,
        "webhooks": selectors.webhooks_for_model(registered_model=model),
        "deliveries": selectors.webhook_deliveries_for_model(registered_model=model),
    }


@login_required
@require_http_methods(["GET", "POST"])
def model_edit(request: HttpRequest, name: str) -> HttpResponse:
    model = selectors.registered_model_get_for_user(user=request.user, name=name, action="edit")
    dataset = model.evaluation_dataset
    initial = {
        "description": model.description,
        "model_card": model.model_card,
        "target": dataset.target if dataset else "",
        "gates": json.dumps(model.gates, indent=2) if model.gates else "",
    }
    form = RegisteredModelEditForm(initial=initial)
    status = 200
    if request.method == "POST":
        too_large = upload_too_large(request)
        # A refused body may have lost fields: show the stored values, never blanks to save.
        data = {**initial, **request.POST.dict()} if too_large else request.POST
        form = RegisteredModelEditForm(data, request.FILES, initial=initial)
        status = 400
        if form.is_valid() and too_large:
            form.add_error("evaluation_data", too_large)
            status = 413
        elif form.is_valid():
            f = form.cleaned_data
            try:
                updated = services.registered_model_update(
                    actor=request.user,
                    registered_model=model,
                    description=f["description"],
                    model_card=f["model_card"],
                    evaluation_data=f["evaluation_data"],
                    target=f["target"],
                    gates=f["gates"],
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = exc.status_code
            else:
                changed = updated.updated_at != model.updated_at
                messages.success(
                    request,
                    f"Saved your changes to {model.name}."
                    if changed
                    else f"Nothing changed: {model.name} is as it was.",
                )
                return redirect("model-detail", name=model.name)
    return render(
        request,
        "releases/model_edit.html",
        {
            "model": model,
            "dataset": dataset,
            "form": form,
            # Browsers never refill a file input: say so rather than let it vanish silently.
            "csv_dropped": request.FILES.get("evaluation_data"),
        },
        status=status,
    )


@login_required
def version_upload(request: HttpRequest, name: str) -> HttpResponse:
    """The form posts to the upload API with XMLHttpRequest (static/upload.js) for progress."""
    model = selectors.registered_model_get_for_user(user=request.user, name=name, action="upload")
    return render(
        request,
        "releases/version_upload.html",
        {
            "model": model,
            "dataset": model.evaluation_dataset,
            "api_upload_url": reverse("api-version-list", args=[model.name]),
            "max_upload_bytes": settings.MODELGATE_MAX_UPLOAD_BYTES,
        },
    )


def _version_context(request: HttpRequest, mv: ModelVersion) -> dict[str, Any]:
    model: RegisteredModel = mv.registered_model
    user = request.user
    production = selectors.production_version(registered_model=model)
    can_review = selectors.user_can(user=user, team_id=model.team_id, action="review")
    type_rows = selectors.untrusted_type_rows(mv) if mv.untrusted_types else []
    trustable = [r["name"] for r in type_rows if r["reviewer_may_trust"] and not r["trusted"]]
    report = version_page.report_of(mv)
    in_progress = mv.status in version_page.IN_PROGRESS_STATUSES
    compiling = mv.compiled_check in (CompiledCheckStatus.QUEUED, CompiledCheckStatus.RUNNING)
    return {
        "model": model,
        "mv": mv,
        "production": production,
        "in_progress": in_progress,
        "compiling": compiling,
        "poll": in_progress or compiling,
        "failed": mv.status == VersionStatus.VALIDATION_FAILED,
        "fingerprint": version_page.live_fingerprint(mv),
        "stages": version_page.stage_steps(mv),
        "failure": version_page.failure_summary(mv),
        "signature_rows": version_page.signature_rows(mv.signature),
        "metric_rows": version_page.metric_rows(mv, production),
        "evaluation": report.get("evaluation"),
        "steps": report.get("steps") or [],
        "parameter_rows": version_page.parameter_rows(mv.parameters),
        "library_rows": version_page.library_rows(mv.library_versions),
        "can_upload": selectors.user_can(user=user, team_id=model.team_id, action="upload"),
        "can_trust": bool(trustable) and can_review and mv.uploaded_by_id != user.pk,
        "type_rows": type_rows,
        "trust_form": TrustTypesForm(types=trustable),
        "checked_types": [],
        "live_url": reverse("version-live", args=[model.name, mv.version]),
        "artifact_url": reverse("api-version-artifact", args=[model.name, mv.version]),
        "audit": selectors.audit_events_for_version(model_version=mv),
        **_release_context(user, mv),
    }


def _release_context(user: Any, mv: ModelVersion) -> dict[str, Any]:
    """Stage chips and the review / promote / archive links the version page offers."""
    team_id = mv.registered_model.team_id
    held = sorted(a.stage for a in mv.stage_assignments.all())
    releaser = selectors.user_can(user=user, team_id=team_id, action="promote")
    may_archive = VersionStatus.ARCHIVED in ALLOWED_TRANSITIONS[mv.status] and (
        releaser
        or (
            selectors.user_can(user=user, team_id=team_id, action="archive")
            and mv.uploaded_by_id == user.pk
            and not held
        )
    )
    return {
        "stage_chips": held,
        "can_open_review": selectors.user_can(user=user, team_id=team_id, action="review")
        and mv.status in (VersionStatus.VALIDATED, VersionStatus.APPROVED),
        "can_promote": releaser and mv.status == VersionStatus.APPROVED,
        "can_archive": may_archive,
    }


@login_required
def version_detail(request: HttpRequest, name: str, version: int) -> HttpResponse:
    mv = selectors.model_version_get_for_user(user=request.user, name=name, version=version)
    return render(request, "releases/version_detail.html", _version_context(request, mv))


@login_required
@require_GET
def version_live(request: HttpRequest, name: str, version: int) -> HttpResponse:
    """The live part of the version page, for static/version.js to swap in while validation
    runs; 204 when nothing changed since the fingerprint the page already shows."""
    mv = selectors.model_version_get_for_user(user=request.user, name=name, version=version)
    if request.GET.get("since") == version_page.live_fingerprint(mv):
        response = HttpResponse(status=204)
    else:
        response = render(request, "releases/_version_live.html", _version_context(request, mv))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def version_trust(request: HttpRequest, name: str, version: int) -> HttpResponse:
    """Ticked types are trusted only once the reviewer confirmed the list naming each of them:
    without ``confirmed`` the answer is that confirmation (the page's dialog does it in place)."""
    mv = selectors.model_version_get_for_user(
        user=request.user, name=name, version=version, action="review"
    )
    # Every listed type is a valid choice, so the service (not the form) says why one may not
    # be trusted, and a repeated confirmation of already-trusted types stays harmless.
    form = TrustTypesForm(request.POST, types=mv.untrusted_types)
    # The review page has the same form; the reviewer goes back to where they trusted.
    return_to = "review" if request.POST.get("return_to") == "review" else ""
    back = "version-review" if return_to else "version-detail"
    status = 400
    if form.is_valid() and not form.cleaned_data["confirmed"]:
        chosen = set(form.cleaned_data["types"])
        rows = [r for r in selectors.untrusted_type_rows(mv) if r["name"] in chosen]
        return render(
            request,
            "releases/version_trust_confirm.html",
            {"model": mv.registered_model, "mv": mv, "rows": rows, "return_to": return_to},
        )
    if form.is_valid():
        try:
            services.model_version_trust_types(
                actor=request.user, model_version=mv, types=form.cleaned_data["types"]
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = exc.status_code
        else:
            messages.success(
                request,
                f"Trusted for v{mv.version} only: {', '.join(form.cleaned_data['types'])}. "
                "Validation starts once no untrusted type is left.",
            )
            return redirect(back, name=name, version=version)
    # Refused: show the page again with the reason beside the trust form, ticks kept.
    mv = selectors.model_version_get_for_user(user=request.user, name=name, version=version)
    context = _version_context(request, mv)
    context.update(trust_form=form, can_trust=True, checked_types=request.POST.getlist("types"))
    return render(request, "releases/version_detail.html", context, status=status)


# --- Audit trail -------------------------------------------------------------------------------


def _audit_filtered(request: HttpRequest) -> tuple[AuditEventFilter, Any]:
    filterset = AuditEventFilter(
        request.GET, queryset=selectors.audit_events_visible(user=request.user)
    )
    return filterset, filterset.qs if filterset.is_valid() else None


@login_required
@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    """Admins see every event; others their teams' events and their own token changes."""
    filterset, qs = _audit_filtered(request)
    page = Paginator(qs if qs is not None else [], 50).get_page(request.GET.get("page"))
    for event in page.object_list:
        event.payload_json = json.dumps(event.payload, indent=2, sort_keys=True, default=str)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "releases/audit_list.html",
        {
            "page": page,
            "filterset": filterset,
            "errors": filterset.errors,
            "values": {k: request.GET.get(k, "") for k in ("model", "actor", "action", "since",
                                                           "until")},
            "query": query.urlencode(),
            "actions": selectors.audit_action_names(user=request.user),
            "models": selectors.registered_models_visible(user=request.user).values_list(
                "name", flat=True
            ),
            "is_admin": selectors.user_is_admin(user=request.user),
        },
        status=200 if qs is not None else 400,
    )  # fmt: skip


@login_required
@require_GET
def audit_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The filtered list as CSV, streamed row by row (no size limit in memory)."""
    filterset, qs = _audit_filtered(request)
    if qs is None:
        field, messages_ = next(iter(filterset.errors.items()))
        return HttpResponse(
            f"{field}: {' '.join(messages_)}", status=400, content_type="text/plain"
        )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return attachment(
        audit_csv_lines(qs.iterator(chunk_size=500)),
        filename=f"modelgate-audit-{stamp}.csv",
        content_type=CSV_MEDIA_TYPE,
    )


# --- Webhooks ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def webhook_create(request: HttpRequest, name: str) -> HttpResponse:
    model = selectors.registered_model_get_for_user(user=request.user, name=name, action="review")
    form = WebhookForm(request.POST or None, initial={"events": list(WEBHOOK_EVENTS)})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                webhook, secret = services.webhook_create(
                    actor=request.user,
                    registered_model=model,
                    url=form.cleaned_data["url"],
                    events=form.cleaned_data["events"],
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = exc.status_code
            else:
                response = render(
                    request,
                    "releases/webhook_created.html",
                    {"model": model, "webhook": webhook, "secret": secret},
                    status=201,
                )
                # The only response that carries the secret must not be kept anywhere.
                add_never_cache_headers(response)
                return response
    return render(
        request, "releases/webhook_form.html", {"model": model, "form": form}, status=status
    )


@login_required
@require_http_methods(["GET", "POST"])
def webhook_delete(request: HttpRequest, name: str, webhook_id: int) -> HttpResponse:
    webhook = selectors.webhook_get_for_user(user=request.user, name=name, webhook_id=webhook_id)
    if request.method == "POST":
        services.webhook_delete(actor=request.user, webhook=webhook)
        messages.success(request, f"Webhook to {webhook.url} deleted; it gets no more events.")
        return redirect(reverse("model-detail", args=[name]) + "#webhooks-h")
    return render(
        request,
        "releases/webhook_confirm_delete.html",
        {"model": webhook.registered_model, "webhook": webhook},
    )


# --- Validation report page -----------------------------------------------------------------


def _report_context(request: HttpRequest, mv: ModelVersion) -> dict[str, Any]:
    model: RegisteredModel = mv.registered_model
    user = request.user
    report = version_page.report_of(mv)
    in_progress = mv.status in version_page.IN_PROGRESS_STATUSES
    failed = mv.status == VersionStatus.VALIDATION_FAILED
    may_rerun = mv.uploaded_by_id == user.pk or selectors.user_can(
        user=user, team_id=model.team_id, action="review"
    )
    evaluation = report.get("evaluation") if isinstance(report.get("evaluation"), dict) else None
    api_base = reverse("api-version-detail", args=[model.name, mv.version])
    slice_rows = report_page.slice_rows(report)
    return {
        "model": model,
        "mv": mv,
        "report": report,
        "evaluation": evaluation,
        "in_progress": in_progress,
        "failed": failed,
        "fingerprint": version_page.live_fingerprint(mv),
        "stages": version_page.stage_steps(mv),
        "failure": version_page.failure_summary(mv),
        "failure_headline": report_page.failure_headline(report) if failed else "",
        "metric_rows": report_page.metric_rows(report),
        "per_class_rows": report_page.per_class_rows(report),
        "slice_rows": slice_rows,
        "slices_flagged": sum(1 for row in slice_rows if row["flagged"]),
        "gate_rows": report_page.gate_rows(report),
        "comparison": report_page.comparison_view(report),
        "cost": report_page.cost_view(report),
        "timing_rows": report_page.timing_rows(report),
        "readings": report_page.chart_readings(report),
        "chart_data": report_page.chart_data(report),
        "can_rerun": may_rerun and not in_progress,
        "live_url": reverse("version-report-live", args=[model.name, mv.version]),
        "report_json_url": f"{api_base}validation/",
        "disagreements_csv_url": f"{api_base}validation/disagreements.csv",
    }


@login_required
@require_GET
def version_report(request: HttpRequest, name: str, version: int) -> HttpResponse:
    mv = selectors.model_version_get_for_user(user=request.user, name=name, version=version)
    return render(request, "releases/version_report.html", _report_context(request, mv))


@login_required
@require_GET
def version_report_live(request: HttpRequest, name: str, version: int) -> HttpResponse:
    """The report page's live part while validation runs (static/version.js polls it); 204 when
    nothing changed since the fingerprint the page shows."""
    mv = selectors.model_version_get_for_user(user=request.user, name=name, version=version)
    if request.GET.get("since") == version_page.live_fingerprint(mv):
        response = HttpResponse(status=204)
    else:
        response = render(request, "releases/_report_live.html", _report_context(request, mv))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def version_report_rerun(request: HttpRequest, name: str, version: int) -> HttpResponse:
    """The page's "Re-run validation" button: the uploader or a reviewer of the team."""
    mv = selectors.model_version_get_for_user(user=request.user, name=name, version=version)
    try:
        services.model_version_rerun_validation(actor=request.user, model_version=mv)
    except Forbidden:
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Validation of v{mv.version} queued again.")
    return redirect("version-report", name=name, version=version)
