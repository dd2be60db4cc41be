"""The audit trail and webhooks, cut to what the user may see."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from releases.errors import NotFound
from releases.models import (
    AuditEvent,
    RegisteredModel,
    Webhook,
    WebhookDelivery,
)
from releases.selectors.access import (
    AnyUser,
    registered_model_get_for_user,
    roles_by_team,
    user_is_admin,
)

# --- Audit trail and webhooks ------------------------------------------------------------------


def audit_events_visible(*, user: AnyUser) -> QuerySet[AuditEvent]:
    """Admins see every event; others the events of their teams, their own actions, and the
    changes to their own API token (also when an admin revoked it)."""
    qs = AuditEvent.objects.select_related("actor", "team", "registered_model", "model_version")
    if user_is_admin(user=user):
        return qs
    if not user.is_authenticated:
        return qs.none()
    own_token = Q(
        team__isnull=True, action__startswith="token.", payload__username=user.get_username()
    )
    return qs.filter(
        Q(team_id__in=list(roles_by_team(user=user))) | Q(actor_id=user.pk) | own_token
    )


def audit_events_for_model(
    *, registered_model: RegisteredModel, limit: int = 20
) -> QuerySet[AuditEvent]:
    """The model's history (its own events and its versions'), newest first."""
    return (
        AuditEvent.objects.filter(registered_model=registered_model)
        .select_related("actor", "model_version")
        .order_by("-created_at", "-id")[:limit]
    )


def audit_action_names(*, user: AnyUser) -> list[str]:
    """The actions that occur in what the user may see, for the filter's choices."""
    return sorted(
        set(audit_events_visible(user=user).order_by().values_list("action", flat=True).distinct())
    )


def webhooks_for_model(*, registered_model: RegisteredModel) -> QuerySet[Webhook]:
    return Webhook.objects.filter(registered_model=registered_model).select_related("created_by")


def webhook_get_for_user(*, user: AnyUser, name: str, webhook_id: int) -> Webhook:
    """A webhook of a model the user may manage webhooks of (reviewers and admins)."""
    model = registered_model_get_for_user(user=user, name=name, action="review")
    webhook = webhooks_for_model(registered_model=model).filter(pk=webhook_id).first()
    if webhook is None:
        raise NotFound(f"Model {name!r} has no webhook {webhook_id}.")
    return webhook


def webhook_deliveries_for_model(
    *, registered_model: RegisteredModel, limit: int = 20
) -> QuerySet[WebhookDelivery]:
    return (
        WebhookDelivery.objects.filter(webhook__registered_model=registered_model)
        .select_related("webhook")
        .order_by("-created_at", "-id")[:limit]
    )
