"""Versions for pages and inboxes: visible, awaiting review or trust, recent uploads, what a
version's artifact and evaluation say.
"""

from __future__ import annotations

from typing import TypedDict

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Count, Q, QuerySet

from releases.errors import NotFound
from releases.models import (
    AuditEvent,
    ModelVersion,
    Review,
    ReviewDecision,
    VersionStatus,
)
from releases.selectors.access import (
    AnyUser,
    teams_for_user,
)


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
