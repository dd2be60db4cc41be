"""Who may see and do what, and the access helpers that fetch a model or version for a user
(404 when they may not see it, 403 when they may see it but not act).
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from releases.errors import Forbidden, NotFound
from releases.models import (
    ApiToken,
    Membership,
    ModelVersion,
    RegisteredModel,
    Review,
    Role,
    StageAssignment,
    Team,
)

AnyUser = User | AnonymousUser

# Which team roles allow an action; admins may do everything everywhere.
ACTION_ROLES: dict[str, frozenset[str]] = {
    "view": frozenset(Role.values),
    "upload": frozenset({Role.DATA_SCIENTIST}),
    "edit": frozenset({Role.DATA_SCIENTIST}),
    "review": frozenset({Role.REVIEWER}),
    "promote": frozenset({Role.REVIEWER}),
    # Data scientists archive only their own versions that hold no stage (the service checks).
    "archive": frozenset({Role.REVIEWER, Role.DATA_SCIENTIST}),
    "label": frozenset({Role.LABELER}),
    # Tune how a served model is watched and relabeled (monitoring thresholds, alerts, the
    # relabel policy): the people who build it and the people who answer for it.
    "operate": frozenset({Role.DATA_SCIENTIST, Role.REVIEWER}),
    "admin": frozenset(),
}


def user_is_admin(*, user: AnyUser) -> bool:
    if not user.is_authenticated:
        return False
    if getattr(user, "is_superuser", False):
        return True
    cached = getattr(user, "_modelgate_is_admin", None)
    if cached is None:
        cached = Membership.objects.filter(user_id=user.pk, role=Role.ADMIN).exists()
        user._modelgate_is_admin = cached  # type: ignore[union-attr,attr-defined]
    return bool(cached)


def roles_by_team(*, user: AnyUser) -> dict[int, set[str]]:
    """team id -> the user's roles in it (one query, cached on the user object)."""
    if not user.is_authenticated:
        return {}
    cached = getattr(user, "_modelgate_roles", None)
    if cached is None:
        cached = {}
        memberships = Membership.objects.filter(user_id=user.pk)
        for team_id, role in memberships.values_list("team_id", "role"):
            cached.setdefault(team_id, set()).add(role)
        user._modelgate_roles = cached  # type: ignore[union-attr,attr-defined]
    return cached


def user_roles(*, user: AnyUser) -> set[str]:
    roles: set[str] = set()
    for team_roles in roles_by_team(user=user).values():
        roles |= team_roles
    if user_is_admin(user=user):
        roles.add(Role.ADMIN)
    return roles


def user_can(*, user: AnyUser, team_id: int, action: str) -> bool:
    if user_is_admin(user=user):
        return True
    return bool(roles_by_team(user=user).get(team_id, set()) & ACTION_ROLES[action])


def teams_for_user(*, user: AnyUser, action: str = "view") -> QuerySet[Team]:
    if user_is_admin(user=user):
        return Team.objects.all()
    team_ids = [t for t, roles in roles_by_team(user=user).items() if roles & ACTION_ROLES[action]]
    return Team.objects.filter(id__in=team_ids)


def team_names_for_user(*, user: AnyUser, action: str = "view") -> list[str]:
    return list(teams_for_user(user=user, action=action).values_list("name", flat=True))


def user_can_anywhere(*, user: AnyUser, action: str) -> bool:
    """May the user do ``action`` in at least one team (e.g. register a model)?"""
    return user_is_admin(user=user) or any(
        roles & ACTION_ROLES[action] for roles in roles_by_team(user=user).values()
    )


def registered_models_visible(*, user: AnyUser) -> QuerySet[RegisteredModel]:
    qs = RegisteredModel.objects.select_related("team")
    if user_is_admin(user=user):
        return qs
    return qs.filter(team_id__in=list(roles_by_team(user=user)))


def registered_model_list(
    *,
    user: AnyUser,
    search: str = "",
    team: str = "",
    status: str = "",
    tag: str = "",
) -> QuerySet[RegisteredModel]:
    """Models the user may see, with the counts the list page shows (no per-row queries)."""
    qs = registered_models_visible(user=user)
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if team:
        qs = qs.filter(team__name=team)
    # Filter through a subquery so the counts below still cover every version of the model.
    if status:
        qs = qs.filter(
            id__in=ModelVersion.objects.filter(status=status).values("registered_model_id")
        )
    if tag:
        qs = qs.filter(
            id__in=ModelVersion.objects.filter(tags__name=tag).values("registered_model_id")
        )
    return qs.annotate(
        version_count=Count("versions", distinct=True),
        latest_version=Max("versions__version"),
        latest_status=Subquery(
            ModelVersion.objects.filter(registered_model=OuterRef("pk"))
            .order_by("-version")
            .values("status")[:1]
        ),
    ).order_by("name")


def registered_model_get_for_user(
    *, user: AnyUser, name: str, action: str = "view"
) -> RegisteredModel:
    model = registered_models_visible(user=user).filter(name=name).first()
    if model is None:
        raise NotFound(f"No model named {name!r} is visible to you.")
    if not user_can(user=user, team_id=model.team_id, action=action):
        raise Forbidden(f"Your role in team {model.team.name!r} does not allow '{action}'.")
    return model


def model_versions_for_model(*, registered_model: RegisteredModel) -> QuerySet[ModelVersion]:
    return (
        ModelVersion.objects.filter(registered_model=registered_model)
        .select_related("uploaded_by", "evaluation_dataset", "registered_model__team")
        .prefetch_related(
            "tags",
            Prefetch("stage_assignments", queryset=StageAssignment.objects.order_by("stage")),
            Prefetch("reviews", queryset=Review.objects.select_related("reviewer")),
        )
        .order_by("-version")
    )


def model_version_get_for_user(
    *, user: AnyUser, name: str, version: int, action: str = "view"
) -> ModelVersion:
    registered_model = registered_model_get_for_user(user=user, name=name, action="view")
    mv = model_versions_for_model(registered_model=registered_model).filter(version=version).first()
    if mv is None:
        raise NotFound(f"Model {name!r} has no version {version}.")
    if not user_can(user=user, team_id=registered_model.team_id, action=action):
        raise Forbidden(
            f"Your role in team {registered_model.team.name!r} does not allow '{action}'."
        )
    return mv


def api_token_current(*, user: AnyUser) -> ApiToken | None:
    """The person's usable API token row (never the key itself), or None."""
    if not user.is_authenticated:
        return None
    return (
        ApiToken.objects.filter(user_id=user.pk)
        .filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()))
        .order_by("-created")
        .first()
    )
