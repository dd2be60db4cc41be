"""Review and release pages: the review screen, and the confirmations for promoting, rolling
back and archiving, each saying what changes for live traffic. Validate → authorize → call one
service → render, as in ``releases.views``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from explain.selectors import importance_comparison
from releases import review_page, selectors, services, version_page
from releases.errors import DomainError, InvalidInput
from releases.forms import (
    ApprovalPolicyForm,
    PromoteForm,
    ReviewForm,
    StageChangeForm,
    TrustTypesForm,
)
from releases.models import ModelVersion, Stage, VersionStatus
from releases.services.review import gates_passed, refusal


def _stage_or_400(request: HttpRequest) -> str:
    stage = request.GET.get("stage") or request.POST.get("stage") or ""
    if stage not in Stage.values:
        raise InvalidInput("Choose the stage: staging or production.", field="stage")
    return stage


def _serves(version: ModelVersion | None) -> str:
    return f"v{version.version}" if version else "nothing"


def traffic_sentence(stage: str, *, after: ModelVersion | None, before: ModelVersion | None) -> str:
    """What a change means for callers: 'Production will serve v7 instead of v5.'"""
    if before is None:
        return f"{stage.capitalize()} serves nothing yet; it will serve {_serves(after)}."
    if after is None:
        return (
            f"{stage.capitalize()} will serve nothing instead of v{before.version}, until "
            "someone promotes a version."
        )
    return f"{stage.capitalize()} will serve v{after.version} instead of v{before.version}."


def _review_context(request: HttpRequest, mv: ModelVersion) -> dict[str, Any]:
    user = request.user
    model = mv.registered_model
    production = selectors.production_version(registered_model=model)
    baseline = production if production and production.pk != mv.pk else None
    approvals = review_page.approval_summary(mv)
    can_review = selectors.user_can(user=user, team_id=model.team_id, action="review")
    own = mv.uploaded_by_id == user.pk
    type_rows = selectors.untrusted_type_rows(mv) if mv.untrusted_types else []
    trustable = [r["name"] for r in type_rows if r["reviewer_may_trust"] and not r["trusted"]]
    comparison = review_page.comparison_of(mv)
    # Re-hashing reads the whole file: only for versions a decision or promotion is about.
    check_integrity = mv.status in (VersionStatus.VALIDATED, VersionStatus.APPROVED)
    return {
        "model": model,
        "mv": mv,
        "production": production,
        "baseline": baseline,
        "stages": review_page.stages_held(mv),
        "approvals": approvals,
        "own_upload": own,
        "can_review": can_review,
        "can_decide": can_review
        and not own
        and mv.status == VersionStatus.VALIDATED
        and user.pk not in approvals["reviewer_ids"],
        "already_decided": user.pk in approvals["reviewer_ids"],
        "can_promote": selectors.user_can(user=user, team_id=model.team_id, action="promote")
        and mv.status == VersionStatus.APPROVED,
        "metric_rows": review_page.candidate_metric_rows(mv, baseline),
        "comparison": comparison,
        "compared_against": (comparison or {}).get("against_version"),
        "agreement_percent": review_page.agreement_percent(comparison),
        "signature_diff": review_page.signature_diff_of(mv),
        "parameter_diff": review_page.parameter_diff(
            mv.parameters, baseline.parameters if baseline else None
        ),
        "gates": review_page.gate_rows(mv),
        "importance_rows": review_page.importance_rows(importance_comparison(mv)),
        "gates_passed": gates_passed(mv),
        "intact": selectors.version_artifact_intact(mv) if check_integrity else None,
        "in_progress": mv.status in version_page.IN_PROGRESS_STATUSES,
        "type_rows": type_rows,
        "can_trust": bool(trustable) and can_review and not own,
        "trust_form": TrustTypesForm(types=trustable),
        "checked_types": [],
        "return_to": "review",
        "form": ReviewForm(),
    }


@login_required
@require_http_methods(["GET", "POST"])
def version_review(request: HttpRequest, name: str, version: int) -> HttpResponse:
    """One screen to decide: the candidate beside production, gates, types to trust, approvals,
    and the comment box with the decision buttons."""
    action = "view" if request.method == "GET" else "review"
    mv = selectors.model_version_get_for_user(
        user=request.user, name=name, version=version, action=action
    )
    if request.method == "GET":
        return render(request, "releases/version_review.html", _review_context(request, mv))
    form = ReviewForm(request.POST)
    status = 400
    if form.is_valid():
        decision = form.cleaned_data["decision"]
        try:
            decided = services.model_version_review(
                actor=request.user,
                model_version=mv,
                decision=decision,
                comment=form.cleaned_data["comment"],
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            status = exc.status_code
        else:
            done = "approved" if decision == "approve" else "rejected"
            more = ""
            if decided.status == VersionStatus.VALIDATED:
                more = " It needs another reviewer's approval before it can be promoted."
            messages.success(request, f"You {done} v{mv.version}.{more}")
            return redirect("version-review", name=name, version=version)
    mv = selectors.model_version_get_for_user(user=request.user, name=name, version=version)
    context = _review_context(request, mv)
    context["form"] = form
    return render(request, "releases/version_review.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def version_promote(request: HttpRequest, name: str, version: int) -> HttpResponse:
    """The confirmation says what live traffic gets after the move; POST makes it."""
    stage = _stage_or_400(request)
    mv = selectors.model_version_get_for_user(
        user=request.user, name=name, version=version, action="promote"
    )
    model = mv.registered_model
    current = selectors.stage_version(registered_model=model, stage=stage)
    form = PromoteForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.model_version_promote(
                    actor=request.user,
                    model_version=mv,
                    stage=stage,
                    comment=form.cleaned_data["comment"],
                    override_reason=form.cleaned_data["override_reason"],
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = exc.status_code
            else:
                messages.success(request, f"{stage.capitalize()} now serves v{mv.version}.")
                return redirect("model-detail", name=name)
    needs_override = stage == Stage.PRODUCTION and not gates_passed(mv)
    blocked = "" if mv.status == VersionStatus.APPROVED else refusal(mv, f"promoted to {stage}")
    return render(
        request,
        "releases/stage_confirm.html",
        {
            "model": model,
            "mv": mv,
            "stage": stage,
            "action": "promote",
            "title": f"Promote {model.name} v{mv.version} to {stage}?",
            "sentence": traffic_sentence(stage, after=mv, before=current),
            "already": current is not None and current.pk == mv.pk,
            "gates": review_page.gate_rows(mv),
            "gates_passed": gates_passed(mv),
            "approvals": review_page.approval_summary(mv),
            "nothing": bool(blocked),
            "blocked": blocked,
            "needs_override": needs_override,
            "may_override": needs_override and selectors.user_is_admin(user=request.user),
            "form": form,
            "button": f"Promote v{mv.version} to {stage}",
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def model_rollback(request: HttpRequest, name: str) -> HttpResponse:
    stage = _stage_or_400(request)
    model = selectors.registered_model_get_for_user(user=request.user, name=name, action="promote")
    current = selectors.stage_version(registered_model=model, stage=stage)
    target = selectors.rollback_target(registered_model=model, stage=stage)
    form = StageChangeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                restored = services.registered_model_rollback(
                    actor=request.user,
                    registered_model=model,
                    stage=stage,
                    comment=form.cleaned_data["comment"],
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status_code
            else:
                messages.success(request, f"Rolled back: {stage} serves v{restored.version} again.")
                return redirect("model-detail", name=name)
    return render(
        request,
        "releases/stage_confirm.html",
        {
            "model": model,
            "mv": target,
            "stage": stage,
            "action": "rollback",
            "title": f"Roll back {stage} of {model.name}?",
            "sentence": traffic_sentence(stage, after=target, before=current)
            if target
            else f"{model.name} has no earlier {stage} version to roll back to.",
            "nothing": target is None,
            "form": form,
            "button": f"Roll back {stage} to v{target.version}" if target else "",
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def version_archive(request: HttpRequest, name: str, version: int) -> HttpResponse:
    mv = selectors.model_version_get_for_user(
        user=request.user, name=name, version=version, action="archive"
    )
    model = mv.registered_model
    form = StageChangeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.model_version_archive(
                    actor=request.user, model_version=mv, comment=form.cleaned_data["comment"]
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status_code
            else:
                messages.success(request, f"v{mv.version} is archived.")
                return redirect("version-detail", name=name, version=version)
    held = review_page.stages_held(mv)
    sentences = [traffic_sentence(s, after=None, before=mv) for s in held]
    return render(
        request,
        "releases/stage_confirm.html",
        {
            "model": model,
            "mv": mv,
            "action": "archive",
            "title": f"Archive {model.name} v{mv.version}?",
            "sentence": " ".join(sentences)
            or f"v{mv.version} holds no stage: live traffic does not change.",
            "form": form,
            "button": f"Archive v{mv.version}",
        },
        status=status,
    )


@login_required
@require_POST
def model_approval_policy(request: HttpRequest, name: str) -> HttpResponse:
    model = selectors.registered_model_get_for_user(user=request.user, name=name, action="review")
    form = ApprovalPolicyForm(request.POST)
    if not form.is_valid():
        raise InvalidInput(" ".join(form.errors.get("required_approvals", ["Invalid value."])))
    services.registered_model_set_required_approvals(
        actor=request.user,
        registered_model=model,
        required_approvals=form.cleaned_data["required_approvals"],
    )
    n = form.cleaned_data["required_approvals"]
    messages.success(request, f"Versions of {model.name} now need {n} approval{'s' * (n != 1)}.")
    return redirect("model-detail", name=name)
