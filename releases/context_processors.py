from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from releases.selectors import user_is_admin, user_roles


def navigation(request: HttpRequest) -> dict[str, Any]:
    """What the navigation bar offers: decided by the roles the user holds in any team."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_roles": set(), "nav_is_admin": False}
    return {"nav_roles": user_roles(user=user), "nav_is_admin": user_is_admin(user=user)}
