"""Alerts the user may see."""

from __future__ import annotations

from django.db.models import QuerySet

from releases.errors import NotFound
from releases.models import RegisteredModel
from releases.selectors import AnyUser, registered_model_get_for_user, registered_models_visible
from scoring.models import ALERT_ACTIVE, Alert


def alerts_visible(*, user: AnyUser, active_only: bool = False) -> QuerySet[Alert]:
    qs = Alert.objects.filter(registered_model__in=registered_models_visible(user=user))
    if active_only:
        qs = qs.filter(status__in=ALERT_ACTIVE)
    return qs.select_related("registered_model__team", "model_version", "acknowledged_by").order_by(
        "-opened_at", "-pk"
    )


def alerts_for_model(*, registered_model: RegisteredModel) -> QuerySet[Alert]:
    return (
        Alert.objects.filter(registered_model=registered_model)
        .select_related("model_version", "acknowledged_by")
        .order_by("-opened_at", "-pk")
    )


def alert_get_for_user(*, user: AnyUser, alert_id: int) -> Alert:
    """An alert on a model the user may see (404 otherwise; acting is checked by the service)."""
    alert = alerts_visible(user=user).filter(pk=alert_id).first()
    if alert is None:
        raise NotFound(f"No alert {alert_id} is visible to you.")
    return alert


def model_for_monitoring(*, user: AnyUser, name: str) -> RegisteredModel:
    return registered_model_get_for_user(user=user, name=name, action="view")
