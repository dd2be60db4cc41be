from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from releases.models import Role
from releases.selectors import review_inbox_count, user_is_admin, user_roles


def navigation(request: HttpRequest) -> dict[str, Any]:
    """What the navigation bar offers: decided by the roles the user holds in any team."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_roles": set(), "nav_is_admin": False}
    roles = user_roles(user=user)
    is_admin = user_is_admin(user=user)
    reviews = is_admin or Role.REVIEWER in roles
    return {
        "nav_roles": roles,
        "nav_is_admin": is_admin,
        # One COUNT query, only for people who review.
        "nav_review_count": review_inbox_count(user=user) if reviews else 0,
    }
