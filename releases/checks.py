from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def trusted_types_are_not_forbidden(app_configs: Any, **kwargs: Any) -> list[Error]:
    from releases.artifact_safety import is_forbidden_type

    bad = sorted(t for t in settings.MODELGATE_EXTRA_TRUSTED_TYPES if is_forbidden_type(t))
    return (
        [
            Error(
                f"MODELGATE_EXTRA_TRUSTED_TYPES lists {', '.join(bad)}, which can run code and can "
                "never be trusted.",
                hint="Remove them from MODELGATE_EXTRA_TRUSTED_TYPES.",
                id="releases.E001",
            )
        ]
        if bad
        else []
    )
