"""HTML pages of the relabel queues: your queues, the labeling screen (which works through the
JSON API, so the next item appears without a reload), a queue's disputes for reviewers, and a
model's queue settings."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from releases.errors import DomainError
from releases.selectors import registered_model_get_for_user
from scoring import selectors, services
from scoring.models import RegressionRule, RelabelStrategy
from scoring.services.relabel_policy import user_can_set_relabel_policy


@login_required
def queues(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "scoring/relabel_queues.html",
        {
            "queues": selectors.relabel_queues_for_user(user=user),
            "labeled_today": selectors.relabel_labels_today(user=user),
        },
    )


@login_required
def label_screen(request: HttpRequest, name: str) -> HttpResponse:
    model = selectors.relabel_model_get_for_user(user=request.user, name=name)
    counts = selectors.relabel_queue_counts(registered_model=model)
    config = {
        "model": model.name,
        "next": reverse("api-relabel-next", args=[model.name]),
        "counts": reverse("api-relabel-counts", args=[model.name]),
        "item": reverse("api-relabel-label", args=[0]).removesuffix("0/label/"),
        "queues": reverse("relabel-queues"),
    }
    return render(
        request,
        "scoring/relabel_label.html",
        {"model": model, "counts": counts, "config": config},
    )


@login_required
@require_http_methods(["GET", "POST"])
def disputes(request: HttpRequest, name: str) -> HttpResponse:
    model = selectors.relabel_model_get_for_user(user=request.user, name=name, action="settle")
    if request.method == "POST":
        item = selectors.relabel_item_get_for_user(
            user=request.user, item_id=_int(request.POST.get("item")), action="settle"
        )
        try:
            services.relabel_item_settle(
                actor=request.user, item=item, label=request.POST.get("label")
            )
        except DomainError as exc:
            messages.error(request, f"Item {item.pk}: {exc.message}")
        else:
            messages.success(request, f"Item {item.pk} settled as {request.POST.get('label')}.")
        return redirect(reverse("relabel-disputes", args=[model.name]))
    items = list(selectors.relabel_disputed_items(registered_model=model)[:50])
    return render(request, "scoring/relabel_disputes.html", {"model": model, "items": items})


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class PolicyForm(forms.Form):
    enabled = forms.BooleanField(
        required=False, label="Route predictions to the queue", help_text="Off: nothing new enters."
    )
    strategy = forms.ChoiceField(choices=RelabelStrategy.choices, label="How unsure is unsure")
    threshold = forms.FloatField(
        min_value=0, max_value=1, label="Certainty threshold",
        help_text="A prediction whose certainty is below this enters the queue (0.6: the top "
        "class had less than 60%).",
    )  # fmt: skip
    sample_rate = forms.FloatField(
        min_value=0, max_value=1, label="Random sample of the rest",
        help_text="Share of confident predictions labeled too, so accuracy is estimated without "
        "bias (0.02 = 2%).",
    )  # fmt: skip
    regression_rule = forms.ChoiceField(
        choices=RegressionRule.choices, label="Regression models route"
    )
    regression_min = forms.FloatField(required=False, label="Route predictions below")
    regression_max = forms.FloatField(required=False, label="Route predictions above")
    labels_per_item = forms.IntegerField(
        min_value=1, max_value=5, label="Labels per item",
        help_text="More than 1: labelers who disagree send the item to a reviewer.",
    )  # fmt: skip
    skips_to_close = forms.IntegerField(
        min_value=1, max_value=20, label="Skips before a reviewer decides",
        help_text="Labelers passing on an item (skip or unsure) before it leaves the queue for "
        "the reviewers' settle screen; sooner when every labeler of the team has answered it.",
    )  # fmt: skip
    lease_seconds = forms.IntegerField(
        required=False, min_value=5, max_value=86400, label="Lease (seconds)",
        help_text="How long a labeler holds an item. Empty: the server default.",
    )  # fmt: skip


@login_required
@require_http_methods(["GET", "POST"])
def policy(request: HttpRequest, name: str) -> HttpResponse:
    model = registered_model_get_for_user(user=request.user, name=name)
    current = selectors.relabel_policy_for(registered_model=model)
    can_change = user_can_set_relabel_policy(user=request.user, registered_model=model)
    initial = {f: getattr(current, f) for f in PolicyForm.base_fields}
    form = PolicyForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.relabel_policy_update(
                    actor=request.user, registered_model=model, changes=form.cleaned_data
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = exc.status_code
            else:
                messages.success(request, f"Queue settings of {model.name} saved.")
                return redirect(reverse("relabel-policy", args=[model.name]))
    return render(
        request,
        "scoring/relabel_policy.html",
        {
            "model": model,
            "form": form,
            "can_change": can_change,
            "counts": selectors.relabel_queue_counts(registered_model=model),
            "default_lease": settings.MODELGATE_RELABEL_LEASE_SECONDS,
            "may_label": selectors.user_can_label(user=request.user, team_id=model.team_id),
            "may_settle": selectors.user_can_settle(user=request.user, team_id=model.team_id),
        },
        status=status,
    )
