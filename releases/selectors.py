"""Reads that are more than ``.get()``: every queryset here is already cut to what the user may
see. Access helpers fetch and authorize in one step: 404 when the user may not see the object,
403 when they may see it but not act.
"""

from __future__ import annotations

from typing import TypedDict

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.files.storage import default_storage
from django.db.models import Count, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from releases.errors import Forbidden, NotFound
from releases.models import (
    ApiToken,
    AuditEvent,
    Membership,
    ModelVersion,
    RegisteredModel,
    Review,
    ReviewDecision,
    Role,
    Stage,
    StageAssignment,
    StageEvent,
    Team,
    VersionStatus,
    Webhook,
    WebhookDelivery,
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


def audit_events_for_version(
    *, model_version: ModelVersion, limit: int = 100
) -> QuerySet[AuditEvent]:
    """The version's history, newest first, cut to ``limit`` rows for the page."""
    return AuditEvent.objects.filter(model_version=model_version).select_related("actor")[:limit]


def disagreement_csv(*, model_version: ModelVersion) -> str:
    """The rows of the evaluation set where this version and production disagreed, as CSV safe
    to open in a spreadsheet, rebuilt from the stored positions and the evaluation set."""
    import numpy as np

    from releases.artifact_store import local_copy
    from releases.evaluation import disagreement_csv as to_csv
    from releases.signature import read_evaluation_csv

    comparison = (model_version.validation_report or {}).get("comparison") or {}
    name = comparison.get("disagreements_file")
    dataset = model_version.evaluation_dataset
    if not name or dataset is None or not model_version.signature:
        raise NotFound(
            f"Version {model_version.version} has no rows that disagree with production."
        )
    with default_storage.open(name, "rb") as handle, np.load(handle, allow_pickle=False) as npz:
        positions = npz["positions"]
        candidate, production = npz["candidate"], npz["production"]
    with local_copy(str(dataset.file.name), suffix=".csv") as path:
        frame = read_evaluation_csv(
            path_or_file=path,
            target=dataset.target,
            max_rows=settings.MODELGATE_MAX_EVALUATION_ROWS,
        )
    frame = frame.dropna(subset=[dataset.target])
    names = [f["name"] for f in model_version.signature.get("features", [])]
    keep = (positions >= 0) & (positions < len(frame))
    return to_csv(
        features=frame[[n for n in names if n in frame.columns]],
        positions=positions[keep],
        candidate=candidate[keep],
        production=production[keep],
        actual=frame[dataset.target].to_numpy()[positions[keep]],
    )


def versions_visible(
    *, user: AnyUser, team: str = "", action: str = "view"
) -> QuerySet[ModelVersion]:
    """Versions of the teams where the user may do ``action``, optionally of one team only."""
    qs = ModelVersion.objects.filter(
        registered_model__team__in=teams_for_user(user=user, action=action)
    ).select_related("registered_model__team", "uploaded_by")
    if team:
        qs = qs.filter(registered_model__team__name=team)
    return qs


def _awaiting_my_review(user: AnyUser, team: str = "") -> QuerySet[ModelVersion]:
    # Validated, not uploaded by me, and not already decided by me (with N approvals required
    # a version I approved waits for someone else, not for me).
    return (
        versions_visible(user=user, team=team, action="review")
        .filter(status=VersionStatus.VALIDATED)
        .exclude(uploaded_by_id=user.pk)
        .exclude(reviews__reviewer_id=user.pk)
    )


def versions_awaiting_review(
    *, user: AnyUser, team: str = "", limit: int = 20
) -> list[ModelVersion]:
    """Validated versions a reviewer may decide on (never their own uploads, never ones they
    already decided), oldest first."""
    return list(
        _awaiting_my_review(user, team)
        .annotate(
            approval_count=Count("reviews", filter=Q(reviews__decision=ReviewDecision.APPROVE))
        )
        .order_by("created_at", "pk")[:limit]
    )


def review_inbox_count(*, user: AnyUser) -> int:
    """How many versions wait for this reviewer (decision or trust), in one query, for the
    navigation. Counts pending uploads with untrusted types nobody trusted for the version; the
    home page also subtracts the admin's global allowlist, which lives in settings."""
    if not user.is_authenticated:
        return 0
    mine = Q(status=VersionStatus.VALIDATED) & ~Q(
        id__in=Review.objects.filter(reviewer_id=user.pk).values("model_version_id")
    )
    waiting_trust = Q(status=VersionStatus.PENDING) & ~Q(untrusted_types=[])
    return (
        versions_visible(user=user, action="review")
        .exclude(uploaded_by_id=user.pk)
        .filter(mine | waiting_trust)
        .count()
    )


# Versions waiting for trust are few (each blocks an uploader); this bounds the Python filter.
_TRUST_SCAN_LIMIT = 500


def versions_awaiting_trust(
    *, user: AnyUser, team: str = "", limit: int = 20
) -> list[ModelVersion]:
    """Pending versions with types nobody has vouched for yet, that this reviewer may trust
    (never their own uploads), oldest first."""
    candidates = (
        versions_visible(user=user, team=team, action="review")
        .filter(status=VersionStatus.PENDING)
        .exclude(untrusted_types=[])
        .exclude(uploaded_by_id=user.pk)
        .order_by("created_at", "pk")[:_TRUST_SCAN_LIMIT]
    )
    # pending_trust also subtracts the admin's allowlist, which lives in settings, not the DB.
    return [v for v in candidates if v.pending_trust][:limit]


def my_recent_uploads(*, user: AnyUser, team: str = "", limit: int = 10) -> list[ModelVersion]:
    """The user's own uploads, newest first, in the teams they can still see."""
    return list(
        versions_visible(user=user, team=team)
        .filter(uploaded_by_id=user.pk)
        .order_by("-created_at", "-pk")[:limit]
    )


class UntrustedTypeRow(TypedDict):
    name: str
    explanation: str
    reviewer_may_trust: bool
    trusted: bool


def untrusted_type_rows(model_version: ModelVersion) -> list[UntrustedTypeRow]:
    """Each type skops reported in the version's file: what it is, whether a reviewer may trust
    it, and whether someone already vouched for it (a reviewer here, or an admin everywhere)."""
    from releases.artifact_safety import describe_type

    vouched = set(model_version.trusted_types) | settings.MODELGATE_EXTRA_TRUSTED_TYPES
    rows: list[UntrustedTypeRow] = []
    for name in model_version.untrusted_types:
        info = describe_type(name)
        rows.append(
            {
                "name": name,
                "explanation": info.explanation,
                "reviewer_may_trust": info.reviewer_may_trust,
                "trusted": name in vouched,
            }
        )
    return rows


def stage_version(*, registered_model: RegisteredModel, stage: str) -> ModelVersion | None:
    """The version holding ``stage`` of the model now, from the stage rows."""
    assignment = (
        StageAssignment.objects.filter(registered_model=registered_model, stage=stage)
        .select_related("model_version__registered_model__team", "model_version__uploaded_by")
        .first()
    )
    return assignment.model_version if assignment else None


def production_version(*, registered_model: RegisteredModel) -> ModelVersion | None:
    """The version live traffic gets: the one holding the production stage, or None."""
    return stage_version(registered_model=registered_model, stage=Stage.PRODUCTION)


def staging_version(*, registered_model: RegisteredModel) -> ModelVersion | None:
    return stage_version(registered_model=registered_model, stage=Stage.STAGING)


def stages_of_model(*, registered_model: RegisteredModel) -> dict[str, ModelVersion]:
    """stage -> the version holding it now (absent stages are left out), in one query."""
    return {
        a.stage: a.model_version
        for a in StageAssignment.objects.filter(registered_model=registered_model).select_related(
            "model_version"
        )
    }


def stage_events_for_model(
    *, registered_model: RegisteredModel, limit: int = 100
) -> list[StageEvent]:
    """The model's stage history, newest first."""
    return list(
        StageEvent.objects.filter(registered_model=registered_model)
        .select_related("from_version", "to_version", "actor")
        .order_by("-created_at", "-pk")[:limit]
    )


def rollback_target(*, registered_model: RegisteredModel, stage: str) -> ModelVersion | None:
    """The version that held ``stage`` before the current one, replaying the stage's history
    as a stack: a promotion pushes its version, a rollback pops the version it replaced, a
    version archived out of the stage leaves it. Repeated rollbacks walk further back, past
    versions no longer approved."""
    events = StageEvent.objects.filter(registered_model=registered_model, stage=stage).order_by(
        "created_at", "pk"
    )
    stack: list[int] = []
    for from_id, to_id, kind in events.values_list("from_version_id", "to_version_id", "kind"):
        if to_id is None or kind == "rollback":
            stack = [v for v in stack if v != from_id]
        if to_id is not None:
            stack = [v for v in stack if v != to_id] + [to_id]
    current = StageAssignment.objects.filter(
        registered_model=registered_model, stage=stage
    ).values_list("model_version_id", flat=True)
    current_id = current.first()
    # Only a version that may still serve is a target: archived ones are gone for good.
    servable = set(
        ModelVersion.objects.filter(pk__in=stack, status=VersionStatus.APPROVED).values_list(
            "pk", flat=True
        )
    )
    candidates = [v for v in stack if v != current_id and v in servable]
    if not candidates:
        return None
    return ModelVersion.objects.get(pk=candidates[-1])


def version_artifact_intact(version: ModelVersion) -> bool:
    """Does the stored file still hash to what was uploaded and to what every reviewer
    approved? Re-reads the whole file through the storage API, streaming: call it before
    promoting or serving, not on every page."""
    from releases.artifact_store import stored_sha256

    approved = set(
        Review.objects.filter(model_version=version, decision=ReviewDecision.APPROVE).values_list(
            "artifact_sha256", flat=True
        )
    )
    actual = stored_sha256(str(version.artifact.name))
    return actual is not None and {version.sha256, *approved} == {actual}


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
