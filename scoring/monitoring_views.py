"""Monitoring pages: every served model's health at a glance, a model's dashboard, alerts."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from releases.errors import DomainError
from releases.selectors import registered_model_get_for_user, stages_of_model, user_can
from scoring import selectors, services
from scoring.models import MonitoringSettings
from scoring.monitoring_apis import drift_payload
from scoring.selectors.monitoring import Window
from scoring.selectors.overview import HEALTH_LABELS, health_of
from scoring.services.alerts import SETTINGS_FIELDS

WINDOWS = [("1h", "last hour"), ("24h", "last 24 hours"), ("168h", "last 7 days")]


class ThresholdsForm(forms.ModelForm):
    class Meta:
        model = MonitoringSettings
        fields = list(SETTINGS_FIELDS)


@login_required
@require_http_methods(["GET"])
def overview(request: HttpRequest) -> HttpResponse:
    served = selectors.served_versions(user=request.user)
    alerts = selectors.alerts_visible(user=request.user, active_only=True)[:50]
    return render(request, "scoring/monitoring_overview.html", {"served": served, "alerts": alerts})


@login_required
@require_http_methods(["GET"])
def alert_list(request: HttpRequest) -> HttpResponse:
    show_all = request.GET.get("all") == "1"
    alerts = selectors.alerts_visible(user=request.user, active_only=not show_all)[:200]
    return render(
        request, "scoring/monitoring_alerts.html", {"alerts": alerts, "show_all": show_all}
    )


@login_required
@require_http_methods(["POST"])
def alert_acknowledge(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = selectors.alert_get_for_user(user=request.user, alert_id=alert_id)
    try:
        services.alert_acknowledge(actor=request.user, alert=alert)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Alert acknowledged: {alert.message}")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("monitoring-alerts")
    return redirect(back)


def _chart_data(report: Any, series: dict[str, Any]) -> dict[str, Any]:
    histograms = {name: selectors.feature_histogram(report, name) for name in report.references}
    return {"series": series, "histograms": histograms}


@login_required
@require_http_methods(["POST"])
def thresholds(request: HttpRequest, name: str) -> HttpResponse:
    model = registered_model_get_for_user(user=request.user, name=name)
    form = ThresholdsForm(
        request.POST, instance=selectors.monitoring_settings_for(registered_model=model)
    )
    if form.is_valid():
        try:
            services.monitoring_settings_update(
                actor=request.user, registered_model=model, changes=form.cleaned_data
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Thresholds saved; the next run (within a minute) uses them.")
    else:
        name_, errors = next(iter(form.errors.items()))
        messages.error(request, f"{form.fields[name_].label}: {' '.join(errors)}")
    return redirect(reverse("monitoring-dashboard", args=[model.name]) + "#settings-h")


@login_required
@require_http_methods(["GET"])
def dashboard(request: HttpRequest, name: str) -> HttpResponse:
    model = registered_model_get_for_user(user=request.user, name=name)
    status = 200
    try:
        window = selectors.window_parse(request.GET.get("window"))
    except DomainError as exc:
        messages.error(request, exc.message)
        window, status = Window(24, "hours"), 400
    version = selectors.monitored_version(registered_model=model, number=request.GET.get("version"))
    report = selectors.drift_report(model_version=version, window=window)
    hours = window.size if window.unit == "hours" else 24
    stats = selectors.prediction_stats(model_version=version, hours=hours)
    series = selectors.hourly_series(model_version=version, hours=max(hours, 48))
    stage = next(
        (s for s, v in stages_of_model(registered_model=model).items() if v.pk == version.pk), ""
    )
    chosen = selectors.monitoring_settings_for(registered_model=model)
    payload = drift_payload(report)
    alerts = list(selectors.alerts_for_model(registered_model=model)[:20])
    open_alerts = sum(1 for a in alerts if a.model_version_id == version.pk and a.is_active)
    health = health_of(open_alerts=open_alerts, rows=stats.rows, drifted=report.dataset_drifted)
    return render(
        request,
        "scoring/monitoring_dashboard.html",
        {
            "model": model, "mv": version, "stage": stage, "report": report,
            "features": payload["features"], "stats": stats, "window": str(window),
            "windows": WINDOWS, "settings": chosen,
            "thresholds_form": ThresholdsForm(instance=chosen),
            "versions": model.versions.order_by("-version").values_list("version", flat=True),
            "alerts": alerts, "health": health, "health_label": HEALTH_LABELS[health],
            "charts": _chart_data(report, series),
            "can_act": user_can(user=request.user, team_id=model.team_id, action="operate"),
        },
        status=status,
    )  # fmt: skip
