"""``{% shadow_section model %}``: the shadow-mode card of the model page.

The model page belongs to ``releases``, which never imports ``scoring``; the page's template
loads this tag instead, which reads through the scoring selectors (a read, no logic) and
renders ``scoring/_shadow_section.html``."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.paginator import Paginator

from releases.models import RegisteredModel, VersionStatus
from releases.selectors import user_can
from scoring import selectors

register = template.Library()

DISAGREEMENTS_PER_PAGE = 20


@register.inclusion_tag("scoring/_shadow_section.html", takes_context=True)
def shadow_section(context: Any, model: RegisteredModel) -> dict[str, Any]:
    request = context["request"]
    state = selectors.shadow_state(registered_model=model)
    rows = selectors.shadow_disagreements(registered_model=model)
    page = Paginator(rows, DISAGREEMENTS_PER_PAGE).get_page(request.GET.get("disagreements"))
    features: list[str] = []
    for row in page.object_list:
        for name in row.prediction.inputs:
            if name not in features:
                features.append(name)
    return {
        "model": model,
        "state": state,
        "page": page,
        "features": features,
        "can_toggle": user_can(user=request.user, team_id=model.team_id, action="promote"),
        "staging_servable": state.staging is not None
        and state.staging.status == VersionStatus.APPROVED,
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def percent(rate: float | None) -> str:
    """0.8125 → "81.3%"; no rate yet → "—"."""
    return "—" if rate is None else f"{rate * 100:.1f}%"
