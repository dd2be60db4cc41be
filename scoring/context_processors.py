from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def relabel(request: HttpRequest) -> dict[str, Any]:
    """Whether the navigation offers "Queues", and the user's queues with counts, computed only
    by a page that shows them (the home page)."""
    from scoring.selectors import relabel_queues_for_user, user_labels_anywhere

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_labels": False}
    return {
        "nav_labels": user_labels_anywhere(user=user),
        "my_queues": SimpleLazyObject(lambda: list(relabel_queues_for_user(user=user))),
    }
