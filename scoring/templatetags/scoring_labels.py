"""The model and version pages' "what the labels say" panels.

The model page belongs to releases, which never imports scoring; the page's template loads this
library instead, so the panel's reads stay in scoring's selectors.
"""

from __future__ import annotations

from typing import Any

from django import template

from releases.models import ModelVersion, RegisteredModel, VersionStatus
from releases.selectors import user_can
from scoring import selectors

register = template.Library()


@register.inclusion_tag("scoring/_live_accuracy.html", takes_context=True)
def live_accuracy_panel(context: dict[str, Any], model: RegisteredModel) -> dict[str, Any]:
    user = context["request"].user
    team_id = model.team_id
    return {
        "model": model,
        "served": selectors.live_accuracy_served(registered_model=model),
        "labeled": selectors.corrected_dataset_count(registered_model=model),
        "can_use": user_can(user=user, team_id=team_id, action="upload")
        or user_can(user=user, team_id=team_id, action="review"),
        "csrf_token": context.get("csrf_token"),
        "feedback_url": context["request"].build_absolute_uri("/api/v1/predictions/")
        + "<prediction_id>/feedback/",
    }


@register.inclusion_tag("scoring/_live_accuracy_version_card.html")
def version_live_accuracy(model_version: ModelVersion) -> dict[str, Any]:
    """Live accuracy of one version, on its page, once it has served (approved or later)."""
    shown = model_version.status in (VersionStatus.APPROVED, VersionStatus.ARCHIVED)
    return {
        "shown": shown,
        "model": model_version.registered_model,
        "r": selectors.live_accuracy(model_version=model_version) if shown else None,
    }
