"""The batch scoring panel of the model page (a releases template, which cannot import scoring
code): ``{% load batch_panel %}{% batch_panel model %}`` renders it where the page puts it."""

from __future__ import annotations

from typing import Any

from django import template

from scoring.views import batch_panel_context

register = template.Library()


@register.inclusion_tag("scoring/_batch_panel.html", takes_context=True)
def batch_panel(context: Any, model: Any) -> dict[str, Any]:
    return batch_panel_context(context["request"], model)
