"""Monitoring pieces for pages of other apps (the home page, a model's page), which may not
import scoring: ``{% load monitoring %}{% open_alerts %}`` / ``{% model_alerts model %}``."""

from __future__ import annotations

from typing import Any

from django import template

from scoring.selectors import alerts_for_model, alerts_visible

register = template.Library()


@register.inclusion_tag("scoring/_open_alerts.html", takes_context=True)
def open_alerts(context: dict[str, Any]) -> dict[str, Any]:
    """The open alerts the signed-in person can see (home page)."""
    request = context["request"]
    alerts = list(alerts_visible(user=request.user, active_only=True)[:20])
    return {
        "alerts": alerts, "show_model": True, "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"), "title": "Open alerts on your models",
    }  # fmt: skip


@register.inclusion_tag("scoring/_open_alerts.html", takes_context=True)
def model_alerts(context: dict[str, Any], model: Any) -> dict[str, Any]:
    """The model's open alerts (its page)."""
    request = context["request"]
    alerts = [a for a in alerts_for_model(registered_model=model)[:50] if a.is_active]
    return {
        "alerts": alerts, "show_model": False, "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"), "model": model,
        "title": f"Open alerts on {model.name}",
    }  # fmt: skip
