"""Reads of relabel queues, cut to what the user may see: the queues a person may work, one
item with what the labeling screen shows, disputes for reviewers, a model's policy."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from releases.errors import Forbidden, NotFound
from releases.models import Membership, RegisteredModel, Role
from releases.selectors import (
    AnyUser,
    registered_model_get_for_user,
    registered_models_visible,
    roles_by_team,
    user_can,
    user_is_admin,
)
from scoring.models import RelabelItem, RelabelLabel, RelabelPolicy, RelabelStatus

# A version's large columns, which no relabel page or service reads: left out of the joins.
VERSION_BULK = tuple(
    f"model_version__{name}"
    for name in (
        "validation_report", "parameters", "library_versions", "signature_diff", "notes",
        "untrusted_types", "trusted_types", "validation_error",
    )
)  # fmt: skip

# Who works a queue: labelers, and reviewers (who settle its disputes); admins everywhere.
LABEL_ACTIONS = ("label", "review")


def user_can_label(*, user: AnyUser, team_id: int) -> bool:
    return any(user_can(user=user, team_id=team_id, action=a) for a in LABEL_ACTIONS)


def user_can_settle(*, user: AnyUser, team_id: int) -> bool:
    return user_can(user=user, team_id=team_id, action="review")


def team_labeler_ids(*, team_id: int) -> set[int]:
    """Active people whose role in the team lets them work its queues."""
    return set(
        Membership.objects.filter(
            team_id=team_id, role__in=[Role.LABELER, Role.REVIEWER], user__is_active=True
        ).values_list("user_id", flat=True)
    )


def user_labels_anywhere(*, user: AnyUser) -> bool:
    if user_is_admin(user=user):
        return True
    return any(roles & {"labeler", "reviewer"} for roles in roles_by_team(user=user).values())


def relabel_model_get_for_user(
    *, user: AnyUser, name: str, action: str = "label"
) -> RegisteredModel:
    """The model whose queue the user works (``label``) or whose disputes they settle
    (``settle``): 404 when they may not see it, 403 when their role may not."""
    model = registered_model_get_for_user(user=user, name=name)
    allowed = (user_can_settle if action == "settle" else user_can_label)(
        user=user, team_id=model.team_id
    )
    if not allowed:
        what = "settle disputed labels" if action == "settle" else "label"
        raise Forbidden(
            f"Your role in team {model.team.name!r} does not allow you to {what}; labelers, "
            "reviewers and admins work the relabel queue."
        )
    return model


def relabel_item_get_for_user(*, user: AnyUser, item_id: int, action: str = "label") -> RelabelItem:
    """An item of a model the user may see (404 otherwise), with what the services need."""
    item = (
        RelabelItem.objects.select_related("registered_model__team", "model_version", "prediction")
        .defer(*VERSION_BULK)
        .filter(pk=item_id, registered_model__in=registered_models_visible(user=user))
        .first()
    )
    if item is None:
        raise NotFound(f"No relabel item {item_id} is visible to you.")
    relabel_model_get_for_user(user=user, name=item.registered_model.name, action=action)
    return item


def _item_count(condition: Q) -> Any:
    """How many of the model's items match, as a scalar subquery that PostgreSQL answers from
    an index (relabel_model_status) without reading the items. A Count over a join to the items
    read every item's row, done ones included (EXPLAIN in the commit that made this change)."""
    items = (
        RelabelItem.objects.filter(condition, registered_model=OuterRef("pk"))
        .order_by()
        .values("registered_model")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(items, output_field=IntegerField()), 0)


def relabel_queues_for_user(*, user: AnyUser) -> QuerySet[RegisteredModel]:
    """The models whose queues the user may work, with open / disputed / unresolved / done
    counts, the fullest queue first. One query."""
    qs = registered_models_visible(user=user)
    if not user_is_admin(user=user):
        teams = [t for t in roles_by_team(user=user) if user_can_label(user=user, team_id=t)]
        qs = qs.filter(team_id__in=teams)
    return qs.annotate(
        open_count=_item_count(Q(status=RelabelStatus.OPEN)),
        disputed_count=_item_count(Q(status=RelabelStatus.DISPUTED)),
        unresolved_count=_item_count(Q(status=RelabelStatus.UNRESOLVED)),
        done_count=_item_count(Q(status__in=RelabelStatus.done())),
    ).order_by("-open_count", "name")


def relabel_queue_counts(*, registered_model: RegisteredModel) -> dict[str, int]:
    """Items of the model's queue by status, and how many are leased right now. One query."""
    groups = {status: Q(status=status) for status in RelabelStatus.values}
    groups["leased"] = Q(status=RelabelStatus.OPEN, lease_expires_at__gt=timezone.now())
    counts = {f"{name}_n": _item_count(condition) for name, condition in groups.items()}
    row = (
        RegisteredModel.objects.filter(pk=registered_model.pk)
        .annotate(**counts)
        .values(*counts)
        .first()
    ) or {}
    return {name: int(row.get(f"{name}_n") or 0) for name in groups}


def relabel_labels_today(*, user: AnyUser) -> int:
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return RelabelLabel.objects.filter(
        labeler_id=user.pk, kind=RelabelLabel.Kind.LABEL, created_at__gte=start
    ).count()


def relabel_disputed_items(*, registered_model: RegisteredModel) -> QuerySet[RelabelItem]:
    """Items waiting for a reviewer, oldest first, with their answers: the labelers disagreed
    (disputed), or passed on it (unresolved)."""
    return (
        RelabelItem.objects.filter(
            registered_model=registered_model, status__in=RelabelStatus.to_settle()
        )
        .select_related("model_version", "prediction")
        .prefetch_related("labels__labeler")
        .order_by("id")
    )


def relabel_policy_for(*, registered_model: RegisteredModel) -> RelabelPolicy:
    """The model's policy, or an unsaved one holding the defaults."""
    policy = RelabelPolicy.objects.filter(registered_model=registered_model).first()
    return policy or RelabelPolicy(registered_model=registered_model)


def relabel_item_payload(item: RelabelItem) -> dict[str, Any]:
    """What a labeler (or a labeling tool) sees of an item: the input features, the model's
    answer and its class probabilities, and until when the item is theirs."""
    signature = item.model_version.signature or {}
    prediction = item.prediction
    return {
        "id": item.pk,
        "model": item.registered_model.name,
        "version": item.model_version.version,
        "reason": item.reason,
        "uncertainty": item.uncertainty,
        "features": prediction.inputs,
        "prediction": prediction.prediction,
        "probabilities": prediction.probabilities,
        "classes": signature.get("classes") or [],
        "task": signature.get("task", ""),
        "status": item.status,
        "labels_needed": item.labels_needed,
        "label_count": item.label_count,
        "predicted_at": prediction.created_at,
        "lease_expires_at": item.lease_expires_at,
    }


def relabel_item_explanation(item: RelabelItem) -> dict[str, Any]:
    """The SHAP explanation of the item's prediction by the version that made it (409 when
    that version cannot be explained)."""
    from django.conf import settings

    from explain.local import explain_rows
    from releases.request_rows import rows_from_body

    version = item.model_version
    frame = rows_from_body(
        {"instances": [item.prediction.inputs]},
        signature=version.signature or {},
        max_rows=settings.MODELGATE_EXPLAIN_MAX_ROWS,
    )
    return {
        "model": item.registered_model.name,
        "version": version.version,
        **explain_rows(model_version=version, frame=frame),
    }
