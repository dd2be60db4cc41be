"""Reads of shadow mode: is it on, how often the shadowing versions agreed with production,
and the rows where they did not. Callers fetch the model through the access helper first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from releases.models import ModelVersion, RegisteredModel
from releases.selectors import staging_version
from scoring.models import ShadowMode, ShadowResult


@dataclass(frozen=True)
class Agreement:
    """Rows compared, and how many the shadowing version answered as production did."""

    compared: int
    agreed: int
    shadow_version: int | None = None  # None: every shadowing version together

    @property
    def disagreed(self) -> int:
        return self.compared - self.agreed

    @property
    def rate(self) -> float | None:
        return self.agreed / self.compared if self.compared else None


@dataclass(frozen=True)
class ShadowState:
    enabled: bool
    changed_by: str | None
    changed_at: datetime | None
    staging: ModelVersion | None  # what would shadow (or shadows) now
    overall: Agreement
    by_version: list[Agreement]


def shadow_state(*, registered_model: RegisteredModel) -> ShadowState:
    """Shadow mode of the model and its agreement so far (one grouped query on the index)."""
    mode = (
        ShadowMode.objects.filter(registered_model=registered_model)
        .select_related("changed_by")
        .first()
    )
    grouped = (
        ShadowResult.objects.filter(registered_model=registered_model)
        .values("shadow_version__version")
        .annotate(compared=Count("id"), agreed=Count("id", filter=Q(agree=True)))
        .order_by("-shadow_version__version")
    )
    by_version = [
        Agreement(
            compared=row["compared"],
            agreed=row["agreed"],
            shadow_version=row["shadow_version__version"],
        )
        for row in grouped
    ]
    return ShadowState(
        enabled=bool(mode and mode.enabled),
        changed_by=mode.changed_by.get_username() if mode and mode.changed_by else None,
        changed_at=mode.changed_at if mode else None,
        staging=staging_version(registered_model=registered_model),
        overall=Agreement(
            compared=sum(a.compared for a in by_version),
            agreed=sum(a.agreed for a in by_version),
        ),
        by_version=by_version,
    )


def shadow_disagreements(
    *, registered_model: RegisteredModel, shadow_version: int | None = None
) -> QuerySet[ShadowResult]:
    """The rows where a shadowing version answered differently, newest first, with the logged
    prediction (inputs and production's answer). Rows whose prediction is not written yet
    appear once the prediction log flushes."""
    qs = ShadowResult.objects.filter(registered_model=registered_model, agree=False)
    if shadow_version is not None:
        qs = qs.filter(shadow_version__version=shadow_version)
    return qs.select_related("prediction", "production_version", "shadow_version").order_by(
        "-created_at", "-pk"
    )
